"""Engine overhead: deployments per second through the whole state machine (queue, lease, lock,
running, succeeded, audit entries) with nothing to run, on SQLite and on PostgreSQL.

PostgreSQL is started from the machine's binaries in a temporary folder, as in the tests. Each
database is measured as a one-shot command opens the store (a connection per unit of work) and as
`clearance serve` does (a pool of connections).

    .venv/bin/python benchmarks/engine_overhead.py [--deployments 200]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from clearance.cli.serve import pool_size
from clearance.delivery import service as delivery
from clearance.planning.service import NewRelease, create_release
from clearance.workspace import open_workspace
from support.postgres import start_postgres

CONFIG = """\
project: bench
services:
  - name: web
environments:
  - name: dev
lifecycle:
  phases:
    - environments: [dev]
"""


def run(label: str, deployments: int, pool_size: int) -> None:
    home = Path.cwd()
    root = Path(tempfile.mkdtemp(prefix="clearance-engine-"))
    (root / "clearance.yaml").write_text(CONFIG, encoding="utf-8")
    os.chdir(root)
    ws = open_workspace(None, actor="bench", pool_size=pool_size)
    create_release(ws, NewRelease(version="1.0.0"))
    delivery.deploy(ws, "1.0.0", "dev")  # warm up: connections, caches, first audit entries
    started = time.perf_counter()
    for _ in range(deployments):
        outcome = delivery.deploy(ws, "1.0.0", "dev")
        assert outcome.ok
    took = time.perf_counter() - started
    ws.store.dispose()
    os.chdir(home)
    shutil.rmtree(root, ignore_errors=True)
    print(
        f"  {label:24s} {deployments} deployments in {took:.2f} s: {deployments / took:6.1f} per second "
        f"({1000 * took / deployments:.1f} ms each)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deployments", type=int, default=200)
    args = parser.parse_args()
    print("engine overhead: a deployment with no steps, through every recorded state change")
    os.environ.pop("CLEARANCE_DATABASE_URL", None)
    serve_pool = pool_size(workers=2)  # `clearance serve`'s default
    run("SQLite, one-shot", args.deployments, 0)
    run("SQLite, serve's pool", args.deployments, serve_pool)
    base = Path(tempfile.mkdtemp(prefix="clearance-pg-"))
    server = start_postgres(base)
    try:
        for label, size in (("one-shot", 0), ("serve's pool", serve_pool)):
            database = f"bench_{size}"
            server.psql(f"CREATE DATABASE {database}")
            os.environ["CLEARANCE_DATABASE_URL"] = server.url(database)
            run(f"PostgreSQL, {label}", args.deployments, size)
    finally:
        server.stop()
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
