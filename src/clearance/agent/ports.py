"""Free loopback ports for replicas: each one gets a port nobody listens on and no other replica holds."""

from __future__ import annotations

import errno
import random
import socket
from collections.abc import Collection

from clearance.errors import OperationFailed


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    """True when `host:port` can be bound right now (a bind test, then the socket is closed at once)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        # No SO_REUSEADDR: a port that still has connections in TIME_WAIT is skipped, so a replica that
        # restarts on it cannot fail with "address in use" for a minute.
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES, errno.EADDRNOTAVAIL):
                return False
            raise
    return True


class PortAllocator:
    """Hands out ports from a range, walking it round-robin so a port just given up is reused last.

    Another process may take a port between the bind test and the replica's own bind; the replica then
    exits with "address in use" and the supervisor restarts it on a new port.
    """

    def __init__(self, port_range: tuple[int, int]) -> None:
        low, high = port_range
        if not 1 <= low <= high <= 65535:
            raise ValueError(f"invalid port range {low}-{high}")
        self.low = low
        self.high = high
        # A random start: two agents on one machine with the same range rarely race for a port.
        self._next = low + random.randrange(high - low + 1)

    def allocate(self, taken: Collection[int]) -> int:
        """The next free port of the range that is not in `taken`."""
        size = self.high - self.low + 1
        for step in range(size):
            port = self.low + (self._next - self.low + step) % size
            if port in taken or not port_is_free(port):
                continue
            self._next = self.low + (port - self.low + 1) % size
            return port
        raise OperationFailed(
            f"no free port left in {self.low}-{self.high} for a new replica",
            code="no-free-port",
            hint="stop unused replicas or widen the agent's port range",
        )
