"""Zero downtime and rollback reaction of real rollouts on this machine.

For each strategy (rolling, blue-green, canary) a sample project rolls a healthy release out under
steady load on 127.0.0.1 and the script counts failed requests (target: 0). Then a canary of a
release that fails every request is started with a 1 s background analysis, and the script measures
from the first failing answer to the moment all traffic is back on the stable version (target < 3 s).
The peer figure for a direct call is the same load on the same machine, so the ratio is printed too.

    .venv/bin/python benchmarks/rollouts.py [--rate 100] [--max-seconds 300]
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

from clearance.demo.loadgen import LoadGenerator

CLI = [sys.executable, "-c", "from clearance.cli.main import run; run()"]
SERVICE = (
    'if [ "$CLEARANCE_RELEASE_VERSION" = 9.9.9 ]; then export FAULT_ERROR_RATE=1; fi; '
    'exec "$CLEARANCE_PYTHON" -m clearance.demo.sample_service'
)
STRATEGIES = {
    "rolling": "      type: rolling\n      max_surge: 1\n      max_unavailable: 0\n",
    "blue-green": "      type: blue-green\n      scale_down_delay: 1s\n",
    "canary": "      type: canary\n      steps:\n        - set_weight: 20\n        - pause: {duration: 1s}\n"
    "        - set_weight: 60\n        - pause: {duration: 1s}\n",
}
FAULTY_CANARY = (
    "      type: canary\n      background_analysis: {template: errors}\n      steps:\n"
    "        - set_weight: 50\n        - pause: {duration: 60s}\n"
)
TEMPLATES = """\
analysis_templates:
  - name: errors
    metrics:
      - name: error-rate
        provider: {type: envoy, metric: error_rate}
        interval: 1s
        success_condition: result < 0.05
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def config(port: int, strategy: str) -> str:
    return f"""\
project: bench
services:
  - name: web
    run:
      command: '{SERVICE}'
      port: {port}
      replicas: 3
      health: {{path: /health, interval: 200ms}}
      drain_timeout: 2s
environments:
  - name: prod
    strategy:
{strategy}lifecycle:
  phases:
    - environments: [prod]
{TEMPLATES}"""


def clearance(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CLEARANCE_ACTOR": "bench"}
    return subprocess.run([*CLI, *args], cwd=root, env=env, capture_output=True, text=True, timeout=300)


def project(strategy: str) -> tuple[Path, int]:
    root = Path(tempfile.mkdtemp(prefix="clearance-bench-"))
    port = free_port()
    (root / "clearance.yaml").write_text(config(port, strategy), encoding="utf-8")
    for version in ("1.0.0", "1.1.0", "9.9.9"):
        clearance(root, "release", "create", version, "--no-deploy")
    done = clearance(root, "deploy", "1.0.0", "--to", "prod")
    if done.returncode != 0:
        sys.exit(f"setting up failed:\n{done.stderr}")
    return root, port


def zero_downtime(rate: float) -> None:
    print(f"zero downtime: failed requests during a healthy rollout, {rate:g} req/s on 127.0.0.1 (target 0)")
    for name, strategy in STRATEGIES.items():
        root, port = project(strategy)
        try:
            with LoadGenerator(f"http://127.0.0.1:{port}/", rate=rate, connections=8) as load:
                time.sleep(1)
                started = time.monotonic()
                done = clearance(root, "deploy", "1.1.0", "--to", "prod")
                took = time.monotonic() - started
                time.sleep(1)
                report = load.stop()
            status = "ok" if done.returncode == 0 else f"deploy failed: {done.stderr.strip()[-200:]}"
            non_2xx = sum(n for code, n in report.by_status.items() if code >= 300)
            print(
                f"  {name:10s} rollout {took:5.1f} s  sent {report.sent:5d}  failed {report.failed}  "
                f"non-2xx {non_2xx}  ({status})"
            )
        finally:
            clearance(root, "agent", "--stop")
            shutil.rmtree(root, ignore_errors=True)


def rollback_reaction(rate: float) -> None:
    print(
        "rollback reaction: first failing answer of a faulty canary → all traffic on stable "
        "(1 s background analysis; target < 3 s)"
    )
    root, port = project(FAULTY_CANARY)
    answers: list[tuple[float, str, int]] = []
    stop = threading.Event()

    def call() -> None:
        with httpx.Client(trust_env=False, timeout=2) as client:
            while not stop.is_set():
                try:
                    r = client.get(f"http://127.0.0.1:{port}/")
                    answers.append((time.monotonic(), r.headers.get("x-version", "?"), r.status_code))
                except httpx.HTTPError:
                    answers.append((time.monotonic(), "error", 0))
                time.sleep(1 / rate)

    threads = [threading.Thread(target=call, daemon=True) for _ in range(4)]
    try:
        for t in threads:
            t.start()
        done = clearance(root, "deploy", "9.9.9", "--to", "prod")
        time.sleep(1)
        stop.set()
        for t in threads:
            t.join()
        faulty = [t for t, version, _ in answers if version == "9.9.9"]
        if not faulty:
            print(f"  the faulty version never answered (deploy: {done.stderr.strip()[-200:]})")
            return
        reaction = max(faulty) - min(faulty)
        failed = sum(1 for _, _, code in answers if code >= 500 or code == 0)
        print(
            f"  first failure → stable only: {reaction:.2f} s   failing answers seen: {failed} "
            f"of {len(answers)}   deployment exit {done.returncode} ({'rolled back' if done.returncode == 1 else '?'})"
        )
    finally:
        clearance(root, "agent", "--stop")
        shutil.rmtree(root, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=100.0)
    args = parser.parse_args()
    zero_downtime(args.rate)
    rollback_reaction(args.rate / 4)


if __name__ == "__main__":
    main()
