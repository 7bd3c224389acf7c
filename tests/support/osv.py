"""A local OSV query API (`POST /v1/query`) for pip-audit's `--osv-url`: this machine has no network, so
the tests serve advisories vendored from the PyPA advisory database, and pip-audit runs unchanged."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import yaml
from packaging.utils import canonicalize_name
from packaging.version import Version

ADVISORIES = Path(__file__).parents[1] / "conformance" / "reports" / "osv-advisories"


def _affects(advisory: dict[str, Any], name: str, version: str) -> bool:
    """OSV's matching rule for one PyPI package version: listed in `versions` or inside an ECOSYSTEM range."""
    wanted = Version(version)
    for affected in advisory.get("affected", []):
        package = affected["package"]
        if package["ecosystem"] != "PyPI" or canonicalize_name(package["name"]) != canonicalize_name(name):
            continue
        if version in {str(listed) for listed in affected.get("versions", [])}:
            return True
        for span in affected.get("ranges", []):
            if span["type"] != "ECOSYSTEM":
                continue
            introduced: str | None = None
            for event in span["events"]:
                if "introduced" in event:
                    introduced = str(event["introduced"])
                elif "fixed" in event and introduced is not None:
                    if _at_least(wanted, introduced) and wanted < Version(str(event["fixed"])):
                        return True
                    introduced = None
            if introduced is not None and _at_least(wanted, introduced):
                return True
    return False


def _at_least(version: Version, bound: str) -> bool:
    return bound == "0" or version >= Version(bound)


class _OsvHandler(BaseHTTPRequestHandler):
    advisories: ClassVar[list[dict[str, Any]]] = []
    queries: ClassVar[list[dict[str, Any]]] = []

    def do_POST(self) -> None:
        query = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.queries.append(query)
        package, version = query["package"]["name"], query["version"]
        vulns = [advisory for advisory in self.advisories if _affects(advisory, package, version)]
        body = json.dumps({"vulns": vulns} if vulns else {}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # keep the test output clean


@dataclass
class OsvServer:
    url: str
    queries: list[dict[str, Any]] = field(default_factory=list)  # every query received, in order


@contextmanager
def osv_server(advisories: Path = ADVISORIES) -> Iterator[OsvServer]:
    """Serves every `*/*.yaml` advisory under `advisories` on 127.0.0.1 until the block ends."""
    queries: list[dict[str, Any]] = []
    handler = type(
        "Handler",
        (_OsvHandler,),
        {
            "advisories": [yaml.safe_load(p.read_text()) for p in sorted(advisories.glob("*/*.yaml"))],
            "queries": queries,
        },
    )
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield OsvServer(f"http://127.0.0.1:{server.server_address[1]}/v1/query", queries)
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
