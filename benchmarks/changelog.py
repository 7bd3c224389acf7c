"""Changelog and next-version speed: clearance against git-cliff and commitizen, in the same run.

Times, on the git repository at PATH (each command run --runs times, the median kept):

- clearance full changelog (`clearance notes --full`) and next version (`clearance version next`),
  wall time including interpreter start, as a user runs them;
- git-cliff (PyPI `git-cliff`) full changelog (`git cliff`, its default config) and
  `git cliff --bumped-version`;
- commitizen (`cz changelog --dry-run`, default `cz_conventional_commits`, tags `v$version`).

It prints the medians and the ratios. The tools come from the `bench` extra:

    .venv/bin/pip install -e '.[bench]'
    .venv/bin/python benchmarks/make_conventional_repo.py /tmp/conventional-30k --commits 30000
    .venv/bin/python benchmarks/changelog.py /tmp/conventional-30k

The repository is not changed: when it has no clearance.yaml (or no commitizen config), one is
written to a temporary directory and passed with --config (clearance's is put in the work tree
only for the run, since clearance reads the repository its config lives in, and removed after).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

CLEARANCE_CONFIG = """\
project: benchmark
services:
  - name: app
environments:
  - name: dev
lifecycle:
  phases:
    - environments: [dev]
"""
CZ_CONFIG = '[tool.commitizen]\nname = "cz_conventional_commits"\ntag_format = "v$version"\nversion_scheme = "semver"\n'


def tool(name: str) -> str | None:
    """An executable next to this Python (the venv's bin), else on PATH."""
    beside = Path(sys.executable).parent / name
    return str(beside) if beside.exists() else shutil.which(name)


def timed(command: Sequence[str], cwd: Path, runs: int, timeout: float) -> tuple[float, str]:
    """Median wall time of `command` over `runs` runs, and its last output's first line."""
    times = []
    first_line = ""
    for _ in range(runs):
        started = time.perf_counter()
        done = subprocess.run(command, cwd=cwd, capture_output=True, timeout=timeout, check=False)
        times.append(time.perf_counter() - started)
        if done.returncode != 0:
            raise SystemExit(f"{' '.join(command)} failed ({done.returncode}): {done.stderr.decode()[-500:]}")
        first_line = done.stdout.decode(errors="replace").strip().split("\n", 1)[0]
    return statistics.median(times), first_line


@contextmanager
def clearance_config(repo: Path) -> Iterator[None]:
    path = repo / "clearance.yaml"
    if path.exists():
        yield
        return
    path.write_text(CLEARANCE_CONFIG, encoding="utf-8")
    try:
        yield
    finally:
        path.unlink()


def cz_args(repo: Path, scratch: Path) -> list[str]:
    if (repo / ".cz.toml").exists() or (repo / "cz.toml").exists():
        return []
    config = scratch / ".cz.toml"
    config.write_text(CZ_CONFIG, encoding="utf-8")
    return ["--config", str(config)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", type=Path, help="a git repository")
    parser.add_argument("--runs", type=int, default=5, help="runs of each fast command (default 5)")
    parser.add_argument("--slow-runs", type=int, default=1, help="runs of git-cliff, which can take minutes")
    parser.add_argument("--timeout", type=float, default=1800)
    args = parser.parse_args()
    repo = args.path.resolve()
    commits = subprocess.run(["git", "rev-list", "--count", "HEAD"], cwd=repo, capture_output=True, text=True)
    tags = subprocess.run(["git", "tag"], cwd=repo, capture_output=True, text=True).stdout.split()
    print(f"{repo}: {commits.stdout.strip()} commits, {len(tags)} tags; {os.cpu_count()} CPUs")
    clearance = [sys.executable, "-c", "from clearance.cli.main import run; run()"]
    installed = tool("clearance")
    if installed:
        clearance = [installed]
    results: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as scratch, clearance_config(repo):
        plan = [
            ("clearance notes --full", [*clearance, "notes", "--full"], args.runs),
            ("clearance version next", [*clearance, "version", "next"], args.runs),
        ]
        cz = tool("cz")
        if cz:
            plan.append(
                (
                    "cz changelog --dry-run",
                    [cz, *cz_args(repo, Path(scratch)), "changelog", "--dry-run"],
                    args.runs,
                )
            )
        cliff = tool("git-cliff")
        if cliff:
            plan += [
                ("git cliff", [cliff], args.slow_runs),
                ("git cliff --bumped-version", [cliff, "--bumped-version"], args.slow_runs),
            ]
        for label, command, runs in plan:
            seconds, first = timed(command, repo, runs, args.timeout)
            results[label] = seconds
            print(f"  {label:28s} {seconds:8.3f} s  (median of {runs})  {first[:60]}")
    if not cz or not cliff:
        print("  (install the bench extra for git-cliff and commitizen: pip install -e '.[bench]')")
    print("ratios (higher: clearance faster)")
    full, bumped = results["clearance notes --full"], results["clearance version next"]
    for label, other, ours in (
        ("git cliff / clearance notes --full", "git cliff", full),
        ("cz changelog / clearance notes --full", "cz changelog --dry-run", full),
        ("git cliff --bumped-version / clearance version next", "git cliff --bumped-version", bumped),
    ):
        if other in results:
            print(f"  {label:52s} {results[other] / ours:8.1f}x")


if __name__ == "__main__":
    main()
