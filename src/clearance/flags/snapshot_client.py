"""Where an SDK-side provider gets its snapshot: a flag server over HTTP (with ETag), or a fixed one.

`HttpSnapshotSource` asks `GET {url}/client/features` with the environment's client token and
`If-None-Match`, so an unchanged snapshot costs a 304 and no parsing. `StaticSnapshotSource` is the
shipped fake: tests (and offline tools) hand it a snapshot, change it, or make it fail.
"""

from __future__ import annotations

import threading
from typing import Literal, Protocol

import httpx

from clearance.flags.model import Snapshot
from clearance.flags.parsing import FlagDefinitionInvalid, parse_snapshot

FailureKind = Literal["unreachable", "rejected", "invalid"]


class SnapshotUnavailable(Exception):
    """No snapshot could be had this time; `kind` says why.

    unreachable: network failure or a server error (worth retrying); rejected: the token was refused
    (retrying will not help); invalid: the server answered something that is not a snapshot.
    """

    def __init__(self, kind: FailureKind, message: str) -> None:
        super().__init__(message)
        self.kind: FailureKind = kind
        self.message = message


class SnapshotSource(Protocol):
    """One method to fetch, one to let go of resources."""

    def fetch(self) -> Snapshot | None:
        """The current snapshot, or None when it has not changed since the last fetch.

        Raises SnapshotUnavailable when there is no answer to give.
        """
        ...

    def close(self) -> None: ...


class HttpSnapshotSource:
    """Fetches one environment's snapshot from `clearance serve` (or any Unleash-compatible server).

    `url` is the API base, e.g. `http://127.0.0.1:4242/api`; `token` a client token of the
    environment. `fetches` and `not_modified` count requests and 304 answers.
    """

    def __init__(
        self,
        url: str,
        token: str,
        *,
        timeout: float = 5.0,
        app_name: str | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        headers = {"Authorization": token, "Accept": "application/json"}
        if app_name:
            headers["UNLEASH-APPNAME"] = app_name
        self._client = httpx.Client(
            base_url=url.rstrip("/"), headers=headers, timeout=timeout, transport=transport
        )
        self._etag: str | None = None
        self._lock = threading.Lock()
        self.fetches = 0
        self.not_modified = 0

    def fetch(self) -> Snapshot | None:
        with self._lock:
            return self._fetch()

    def _fetch(self) -> Snapshot | None:
        headers = {"If-None-Match": self._etag} if self._etag else {}
        self.fetches += 1
        try:
            response = self._client.get("/client/features", headers=headers)
        except httpx.HTTPError as exc:
            raise SnapshotUnavailable("unreachable", f"flag server unreachable: {exc}") from exc
        if response.status_code == 304:
            self.not_modified += 1
            return None
        if response.status_code in (401, 403):
            raise SnapshotUnavailable(
                "rejected", f"flag server refused the client token ({response.status_code})"
            )
        if response.status_code != 200:
            raise SnapshotUnavailable("unreachable", f"flag server answered {response.status_code}")
        try:
            snapshot = parse_snapshot(response.json())
        except (ValueError, FlagDefinitionInvalid) as exc:
            raise SnapshotUnavailable("invalid", f"flag server sent an unreadable snapshot: {exc}") from exc
        self._etag = response.headers.get("ETag")
        return snapshot

    def close(self) -> None:
        self._client.close()


class StaticSnapshotSource:
    """A snapshot held in memory: the first fetch returns it, later ones None until it is replaced.

    `snapshot=None` starts with nothing to serve (fetch raises "unreachable"); `fail()` makes the
    following fetches raise until `set()` gives a snapshot again.
    """

    def __init__(self, snapshot: Snapshot | None = None) -> None:
        self._snapshot = snapshot
        self._pending = snapshot is not None
        self._failure: SnapshotUnavailable | None = None
        self.fetches = 0

    def set(self, snapshot: Snapshot) -> None:
        self._snapshot, self._pending, self._failure = snapshot, True, None

    def fail(self, kind: FailureKind = "unreachable", message: str = "flag server unreachable") -> None:
        self._failure = SnapshotUnavailable(kind, message)

    def fetch(self) -> Snapshot | None:
        self.fetches += 1
        if self._failure is not None:
            raise self._failure
        if self._snapshot is None:
            raise SnapshotUnavailable("unreachable", "no snapshot yet")
        if not self._pending:
            return None
        self._pending = False
        return self._snapshot

    def close(self) -> None:
        """Nothing to release."""
