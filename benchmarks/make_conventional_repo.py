"""Make a git repository with a long, realistic Conventional Commits history, for benchmarks.

Commits touch files of three services and the docs; messages mix features, fixes, performance
work, chores, docs, breaking changes with migration notes, issue and pull-request references, Jira
keys, reverts, GitHub squash merges listing several messages, and commits that are not
conventional at all. A release tag comes every `--tag-every` commits; the last few commits are
not released yet. The history is written with
`git fast-import`, so 30,000 commits take seconds. Deterministic for a given `--seed`.

    .venv/bin/python benchmarks/make_conventional_repo.py /tmp/conventional-30k --commits 30000
"""

from __future__ import annotations

import argparse
import random
import subprocess
import sys
from pathlib import Path

SERVICES = ("api", "web", "worker")
SCOPES = ("cart", "checkout", "search", "auth", "catalogue", "payments", "orders", "ui", "db", None, None)
TYPES = (
    ("feat", 24),
    ("fix", 26),
    ("perf", 4),
    ("refactor", 7),
    ("docs", 8),
    ("chore", 8),
    ("test", 6),
    ("ci", 3),
    ("build", 3),
    ("style", 2),
)
VERBS = ("add", "support", "handle", "remove", "rework", "cache", "validate", "expose", "speed up", "log")
THINGS = (
    "coupon codes",
    "the search index",
    "empty carts",
    "session refresh",
    "currency rounding",
    "order export",
    "rate limits",
    "retry on timeout",
    "the settings page",
    "image thumbnails",
    "webhook signatures",
    "dark mode",
)
PROSE = (
    "Update README",
    "Merge remote-tracking branch 'origin/main'",
    "WIP",
    "Bump version",
    "Fix typo",
    "Address review comments",
)
AUTHORS = [f"Developer {n} <dev{n}@example.com>" for n in range(1, 41)]
CZ_CONFIG = '[tool.commitizen]\nname = "cz_conventional_commits"\ntag_format = "v$version"\nversion_scheme = "semver"\n'
CLEARANCE_CONFIG = """\
project: bench
services:
  - name: shop
environments:
  - name: dev
lifecycle:
  phases:
    - environments: [dev]
versioning:
  links:
    forge: github
    repository: https://github.com/acme/bench
    jira: https://acme.atlassian.net
    jira_projects: [SHOP]
"""


class History:
    def __init__(self, seed: int) -> None:
        self.random = random.Random(seed)
        self.kinds = [kind for kind, weight in TYPES for _ in range(weight)]
        self.headers: list[str] = []

    def header(self) -> tuple[str, bool]:
        r = self.random
        kind = r.choice(self.kinds)
        scope = r.choice(SCOPES)
        breaking = r.random() < 0.01
        subject = f"{r.choice(VERBS)} {r.choice(THINGS)}"
        text = f"{kind}{f'({scope})' if scope else ''}{'!' if breaking else ''}: {subject}"
        if r.random() < 0.3:
            text += f" (#{r.randint(100, 9000)})"
        return text, breaking

    def message(self) -> str:
        r = self.random
        roll = r.random()
        if roll < 0.08:
            return r.choice(PROSE) + "\n"
        if roll < 0.09 and self.headers:
            reverted = r.choice(self.headers[-50:])
            return f'Revert "{reverted}"\n\nThis reverts commit {r.getrandbits(160):040x}.\n'
        header, breaking = self.header()
        self.headers.append(header)
        lines = [header, ""]
        if roll < 0.12:  # a squash merge listing the pull request's commits
            for _ in range(r.randint(2, 5)):
                lines += [f"* {self.header()[0]}", ""]
        if r.random() < 0.25:
            lines += [
                "The old behaviour surprised users when the cart held more than one item;",
                "now it is explicit.",
                "",
            ]
        if breaking:
            lines += ["BREAKING CHANGE: the v1 payloads are gone; send the v2 fields instead.", ""]
        if r.random() < 0.15:
            lines.append(f"Closes #{r.randint(1, 4000)}")
        if r.random() < 0.08:
            lines.append(f"Refs: SHOP-{r.randint(1, 900)}")
        if r.random() < 0.1:
            lines.append(f"Co-authored-by: {r.choice(AUTHORS)}")
        return "\n".join(lines).rstrip("\n") + "\n"


def _data(text: str) -> bytes:
    raw = text.encode("utf-8")
    return b"data %d\n" % len(raw) + raw + b"\n"


def generate(path: Path, commits: int, tag_every: int, seed: int) -> None:
    history = History(seed)
    stream: list[bytes] = []
    start = 1_600_000_000
    version = [0, 1, 0]
    for number in range(1, commits + 1):
        author = history.random.choice(AUTHORS)
        when = start + number * 600
        target = history.random.choice(
            [f"services/{s}/module_{number % 40}.py" for s in SERVICES] + ["docs/guide.md"]
        )
        stream.append(b"commit refs/heads/main\nmark :%d\n" % number)
        stream.append(f"author {author} {when} +0000\ncommitter {author} {when} +0000\n".encode())
        stream.append(_data(history.message()))
        if number > 1:
            stream.append(b"from :%d\n" % (number - 1))
        else:
            stream.append(b"M 100644 inline clearance.yaml\n" + _data(CLEARANCE_CONFIG))
            stream.append(b"M 100644 inline .cz.toml\n" + _data(CZ_CONFIG))
        stream.append(f"M 100644 inline {target}\n".encode() + _data(f"# change {number}\n"))
        stream.append(b"\n")
        if number % tag_every == 0 and number <= commits - 20:  # the newest commits are not released yet
            stream.append(
                f"reset refs/tags/v{version[0]}.{version[1]}.{version[2]}\nfrom :{number}\n\n".encode()
            )
            version = _next(version, history.random.random())
    subprocess.run(["git", "init", "-q", "-b", "main", str(path)], check=True)
    subprocess.run(["git", "fast-import", "--quiet"], cwd=path, input=b"".join(stream), check=True)
    subprocess.run(["git", "checkout", "-q", "main"], cwd=path, check=True)


def _next(version: list[int], roll: float) -> list[int]:
    if roll < 0.03:
        return [version[0] + 1, 0, 0]
    if roll < 0.5:
        return [version[0], version[1] + 1, 0]
    return [version[0], version[1], version[2] + 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", type=Path)
    parser.add_argument("--commits", type=int, default=30_000)
    parser.add_argument("--tag-every", type=int, default=150)
    parser.add_argument("--seed", type=int, default=6)
    args = parser.parse_args()
    if args.path.exists() and any(args.path.iterdir()):
        sys.exit(f"{args.path} exists and is not empty")
    generate(args.path, args.commits, args.tag_every, args.seed)
    count = subprocess.run(
        ["git", "rev-list", "--count", "HEAD"], cwd=args.path, capture_output=True, text=True
    )
    tags = subprocess.run(["git", "tag"], cwd=args.path, capture_output=True, text=True).stdout.split()
    print(f"{args.path}: {count.stdout.strip()} commits, {len(tags)} tags")


if __name__ == "__main__":
    main()
