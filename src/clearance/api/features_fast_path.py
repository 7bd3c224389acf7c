"""`GET /api/client/features` answered before FastAPI when all it needs is in memory.

SDKs poll this route every few seconds, most of the time for a 304. FastAPI's routing, dependency
solving and middleware cost several times more than the answer itself, so this ASGI layer answers
the common case — a known client token of a configured environment, a snapshot in memory, no
query, no change check due — from the cache with headers built once per snapshot. Anything else
(first request, a check due, an unknown token, a query string) goes on to the FastAPI route, which
is the reference behaviour and gives the same answers.
"""

from __future__ import annotations

from collections.abc import Iterable

from starlette.types import ASGIApp, Receive, Scope, Send

from clearance.flags.client_cache import ClientApiCache
from clearance.flags.client_service import ServedSnapshot, TokenView

PATH = "/api/client/features"


def not_modified(etag: str, if_none_match: str) -> bool:
    """Whether `If-None-Match` names the snapshot's ETag (strong or weak, in a list or not)."""
    candidates = {tag.strip() for tag in if_none_match.split(",")}
    return etag in candidates or f"W/{etag}" in candidates


def _headers(served: ServedSnapshot, *, body: bool) -> list[tuple[bytes, bytes]]:
    headers = [(b"etag", served.etag.encode()), (b"cache-control", b"no-cache")]
    if body:
        headers += [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(served.body))]
    else:
        headers.append((b"content-length", b"0"))
    return headers


class FeaturesFastPath:
    def __init__(self, app: ASGIApp, cache: ClientApiCache, environments: Iterable[str]) -> None:
        self.app = app
        self.cache = cache
        self.environments = frozenset(environments)
        self._built: dict[str, tuple[list[tuple[bytes, bytes]], list[tuple[bytes, bytes]]]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        served = self._servable(scope)
        if served is None:
            await self.app(scope, receive, send)
            return
        if_none_match = next((v for k, v in scope["headers"] if k == b"if-none-match"), None)
        fresh = if_none_match is not None and not_modified(served.etag, if_none_match.decode("latin-1"))
        full, empty = self._built_headers(served)
        await send(
            {
                "type": "http.response.start",
                "status": 304 if fresh else 200,
                "headers": empty if fresh else full,
            }
        )
        await send({"type": "http.response.body", "body": b"" if fresh else served.body})

    def _servable(self, scope: Scope) -> ServedSnapshot | None:
        if (
            scope["type"] != "http"
            or scope["path"] != PATH
            or scope["method"] != "GET"
            or scope["query_string"]
            or self.cache.check_due()
        ):
            return None
        authorization = next((v for k, v in scope["headers"] if k == b"authorization"), None)
        if authorization is None:
            return None
        token = self.cache.peek_token(authorization.decode("latin-1"))
        if not isinstance(token, TokenView) or token.admin or token.environment not in self.environments:
            return None
        return self.cache.peek_snapshot(token.environment)

    def _built_headers(
        self, served: ServedSnapshot
    ) -> tuple[list[tuple[bytes, bytes]], list[tuple[bytes, bytes]]]:
        built = self._built.get(served.etag)
        if built is None:
            if len(self._built) > 64:
                self._built.clear()
            built = self._built[served.etag] = (_headers(served, body=True), _headers(served, body=False))
        return built
