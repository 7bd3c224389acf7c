"""Real git repositories for tests: commits with fixed dates and authors, tags, branches, merges."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

_START = 1_700_000_000  # commit times count up from here, a minute apart


class GitRepo:
    def __init__(self, root: Path, branch: str = "main") -> None:
        self.root = root
        self._clock = 0
        root.mkdir(parents=True, exist_ok=True)
        self.git("init", "-q", "-b", branch)
        for key, value in (
            ("user.name", "Alice Example"),
            ("user.email", "alice@example.com"),
            ("commit.gpgsign", "false"),
            ("tag.gpgsign", "false"),
        ):
            self.git("config", key, value)

    def git(self, *args: str, env: dict[str, str] | None = None, input: bytes | None = None) -> str:
        completed = subprocess.run(
            ["git", *args],
            cwd=self.root,
            env={**os.environ, "GIT_CONFIG_NOSYSTEM": "1", **(env or {})},
            input=input,
            capture_output=True,
            check=False,
        )
        if completed.returncode != 0:
            raise AssertionError(f"git {' '.join(args)} failed: {completed.stderr.decode(errors='replace')}")
        return completed.stdout.decode("utf-8", errors="replace").strip()

    def _dates(self) -> dict[str, str]:
        self._clock += 60
        stamp = f"@{_START + self._clock} +0000"
        return {"GIT_AUTHOR_DATE": stamp, "GIT_COMMITTER_DATE": stamp}

    def commit(
        self,
        message: str | bytes,
        *,
        files: dict[str, str] | None = None,
        author: str | None = None,
        encoding: str | None = None,
    ) -> str:
        """Commit `files` (path → content; an empty commit without), return the commit's hash."""
        for name, content in (files or {}).items():
            path = self.root / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(content, encoding="utf-8")
            self.git("add", "--", name)
        env = self._dates()
        if author is not None:
            name, _, email = author.partition(" <")
            env.update(GIT_AUTHOR_NAME=name, GIT_AUTHOR_EMAIL=email.rstrip(">"))
        args = ["commit", "-q", "--allow-empty", "--cleanup=verbatim", "-F", "-"]
        if encoding is not None:
            args = ["-c", f"i18n.commitEncoding={encoding}", *args]
        raw = message if isinstance(message, bytes) else message.encode("utf-8")
        self.git(*args, env=env, input=raw)
        return self.git("rev-parse", "HEAD")

    def raw_commit(self, message: bytes) -> str:
        """A commit whose message is `message` byte for byte: `git commit` would repair bytes that
        are not UTF-8 (reading them as Latin-1), so the commit object is written directly."""
        tree = self.git("rev-parse", "HEAD^{tree}")
        parent = self.git("rev-parse", "HEAD")
        self._clock += 60
        who = f"Alice Example <alice@example.com> {_START + self._clock} +0000"
        body = f"tree {tree}\nparent {parent}\nauthor {who}\ncommitter {who}\n\n".encode() + message
        commit = self.git("hash-object", "-t", "commit", "-w", "--stdin", input=body)
        self.git("update-ref", "HEAD", commit)
        return commit

    def tag(self, name: str, ref: str = "HEAD", annotated: bool = False) -> None:
        if annotated:
            self.git("tag", "-a", "-m", f"release {name}", name, ref, env=self._dates())
        else:
            self.git("tag", name, ref)

    def checkout(self, *args: str) -> None:
        self.git("checkout", "-q", *args)

    def merge(self, branch: str, message: str) -> str:
        self.git("merge", "-q", "--no-ff", "-m", message, branch, env=self._dates())
        return self.git("rev-parse", "HEAD")
