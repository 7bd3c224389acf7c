"""Port allocation for replicas: free loopback ports, round-robin, never one another replica holds."""

from __future__ import annotations

import socket

import pytest

from clearance.agent.ports import PortAllocator, port_is_free
from clearance.errors import OperationFailed


def listening(first: int) -> socket.socket:
    for port in range(first, first + 200):
        sock = socket.socket()
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            sock.close()
            continue
        sock.listen()
        return sock
    raise AssertionError("no free port")


def test_a_listening_port_is_not_free() -> None:
    with listening(23000) as sock:
        port = sock.getsockname()[1]
        assert not port_is_free(port)
    assert port_is_free(port)


def test_allocation_skips_taken_and_busy_ports_and_walks_round_robin() -> None:
    with listening(23300) as sock:
        busy = sock.getsockname()[1]
        allocator = PortAllocator((busy, busy + 5))
        first = allocator.allocate(taken={busy + 1})
        assert first not in (busy, busy + 1)
        # A port given up is not handed out again at once: the walk goes on from there.
        second = allocator.allocate(taken=set())
        assert second != first and busy < second <= busy + 5


def test_an_exhausted_range_is_an_operation_failure() -> None:
    with listening(23600) as sock:
        busy = sock.getsockname()[1]
        with pytest.raises(OperationFailed) as raised:
            PortAllocator((busy, busy + 1)).allocate(taken={busy + 1})
    assert raised.value.code == "no-free-port" and raised.value.hint


@pytest.mark.parametrize("bad", [(0, 10), (2000, 1000), (1, 70000)])
def test_an_invalid_range_is_refused(bad: tuple[int, int]) -> None:
    with pytest.raises(ValueError):
        PortAllocator(bad)
