"""The git history reader: commits streamed from `git log -z`, tags, HEAD, and annotated tags.

Commits are read as git writes them, one NUL-terminated record at a time, so memory stays flat
however long the history is. Every git failure becomes a `ClearanceError` here, at the seam.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from clearance.errors import ClearanceError, NotFound, OperationFailed, UsageError
from clearance.versioning.changes import RawCommit

# hash, parents, author (after .mailmap), commit time, raw message; -z ends each record.
_FORMAT = "--format=%H%x1f%P%x1f%aN%x1f%ct%x1f%B"
_CHUNK = 1 << 16
# A user's log.showSignature or color settings must not leak into what we parse.
_QUIET = ("-c", "log.showSignature=false", "-c", "color.ui=never")


@dataclass(frozen=True)
class Head:
    commit: str
    branch: str | None  # None when HEAD is detached
    shallow: bool


class GitError(OperationFailed):
    code = "git-failed"


class Repository:
    """A git work tree; `root` is where commands run, so pathspecs are relative to it."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def head(self) -> Head:
        """HEAD's commit and branch; NotFound outside a repository or before the first commit."""
        # One call: "true|false", HEAD's commit, and refs/heads/BRANCH (or HEAD when detached).
        found = self._run(
            "rev-parse", "--is-shallow-repository", "HEAD", "--symbolic-full-name", "HEAD", check=False
        )
        lines = found.split()
        if len(lines) == 3:
            branch = lines[2].removeprefix("refs/heads/") if lines[2].startswith("refs/heads/") else None
            return Head(commit=lines[1], branch=branch, shallow=lines[0] == "true")
        try:
            self._run("rev-parse", "--is-shallow-repository")
        except GitError as exc:
            raise NotFound(
                f"{self.root} is not in a git repository",
                code="not-a-repository",
                hint="run clearance inside the project's git work tree (`git init` starts one)",
            ) from exc
        raise NotFound(
            "the repository has no commits yet: there is nothing to version",
            code="no-commits",
            hint="commit something first; the first release will get the initial version",
        )

    def resolve(self, ref: str) -> str:
        """The commit `ref` names; NotFound if it names none."""
        found = self._run("rev-parse", "-q", "--verify", "--end-of-options", f"{ref}^{{commit}}", check=False)
        if not found.strip():
            raise NotFound(f"no commit named {ref!r} in this repository", code="unknown-ref")
        return found.strip()

    def tags(self, merged_into: str | None = None) -> list[tuple[str, str]]:
        """(tag, commit) for every tag (only those reachable from `merged_into` if given)."""
        args = ["for-each-ref", "--format=%(refname:strip=2)%09%(objectname)%09%(*objectname)"]
        if merged_into is not None:
            args.append(f"--merged={merged_into}")
        result = []
        for line in self._run(*args, "refs/tags").splitlines():
            name, obj, peeled = line.split("\t")
            result.append((name, peeled or obj))  # an annotated tag points at its commit
        return result

    def log(
        self, revisions: Sequence[str], paths: Sequence[str] = (), merges: bool = False
    ) -> Iterator[RawCommit]:
        """Commits of `revisions` (e.g. `v1.2.0..HEAD`), newest first, streamed as git lists them.

        Merge commits are left out unless `merges` (a release may be tagged on one): the changes
        they bring are their branch's commits, which are listed too."""
        args = ["git", *_QUIET, "log", "-z", _FORMAT, "--no-color"]
        if not merges:
            args.append("--no-merges")
        args += [*revisions, "--", *paths]
        try:
            process = subprocess.Popen(
                args, cwd=self.root, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_env()
            )
        except OSError as exc:
            raise _no_git(exc) from exc
        assert process.stdout is not None
        try:
            yield from _records(process.stdout)
        finally:
            process.stdout.close()
            stderr = process.stderr.read() if process.stderr else b""
            if process.stderr:
                process.stderr.close()
            code = process.wait()
        if code != 0:
            raise GitError(f"git log failed: {stderr.decode(errors='replace').strip()}")

    def rev_list(self, revision: str) -> Iterator[str]:
        """Commit hashes from `revision` back, newest first; stop reading whenever you like."""
        try:
            process = subprocess.Popen(
                ["git", "rev-list", revision, "--"], cwd=self.root, stdout=subprocess.PIPE, env=_env()
            )
        except OSError as exc:
            raise _no_git(exc) from exc
        assert process.stdout is not None
        try:
            for line in process.stdout:
                yield line.decode().strip()
        finally:
            process.stdout.close()
            if process.poll() is None:
                process.terminate()
            process.wait()

    def tag_exists(self, name: str) -> bool:
        return bool(self._run("tag", "--list", "--", name).strip())

    def create_tag(self, name: str, message: str, commit: str) -> None:
        """An annotated tag with `message` kept as written (Markdown headings start with '#', which
        git's default clean-up would drop as comments); never pushed."""
        try:
            self._run("tag", "-a", "--cleanup=verbatim", "-F", "-", "--", name, commit, stdin=message)
        except GitError as exc:
            raise _tag_failed(name, exc.message.removeprefix("git tag failed: ")) from exc

    def delete_tag(self, name: str) -> None:
        """Take back a tag this process made (when what it tagged could not be recorded)."""
        self._run("tag", "-d", "--", name)

    def _run(self, *args: str, check: bool = True, stdin: str | None = None) -> str:
        try:
            completed = subprocess.run(
                ["git", *_QUIET, *args],
                cwd=self.root,
                input=stdin.encode() if stdin is not None else None,
                capture_output=True,
                env=_env(),
                check=False,
            )
        except OSError as exc:
            raise _no_git(exc) from exc
        if check and completed.returncode != 0:
            message = completed.stderr.decode(errors="replace").strip()
            raise GitError(f"git {args[0]} failed: {message}")
        return completed.stdout.decode("utf-8", errors="replace")


def _records(stream: IO[bytes]) -> Iterator[RawCommit]:
    read = stream.read
    pending = b""
    while True:
        chunk = read(_CHUNK)
        if not chunk:
            break
        pending += chunk
        end = pending.rfind(b"\0")
        if end < 0:
            continue
        # Records end in NUL, which no message holds: decode whole records, never half a character.
        text = pending[:end].decode("utf-8", errors="replace")
        pending = pending[end + 1 :]
        for record in text.split("\0"):
            yield _commit(record)
    if pending.strip():
        yield _commit(pending.decode("utf-8", errors="replace"))


def _commit(record: str) -> RawCommit:
    commit, parents, author, timestamp, message = record.split("\x1f", 4)
    return RawCommit(commit.lstrip("\n"), author, int(timestamp), message, " " in parents)


def _tag_failed(name: str, stderr: str) -> GitError:
    """git's many lines about a failed tag, as one line and what to do."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    fatal = next(
        (line for line in reversed(lines) if line.startswith(("fatal:", "error:"))),
        lines[-1] if lines else "",
    )
    reason = fatal.split(":", 1)[1].strip() if fatal.startswith(("fatal:", "error:")) else fatal
    hint = None
    if "identity" in stderr or "email" in stderr or "who you are" in stderr:
        hint = (
            "tell git who you are: git config user.name 'Your Name' && git config user.email you@example.com"
        )
    elif "already exists" in stderr:
        hint = "the tag names a release already tagged: delete it with `git tag -d` if it is wrong"
    return GitError(f"git could not create tag {name}: {reason}", hint=hint)


def _env() -> dict[str, str]:
    # Messages are read as bytes and decoded as UTF-8; git's own messages stay in English so the
    # errors we pass on read the same everywhere.
    return {**os.environ, "LC_ALL": "C", "GIT_TERMINAL_PROMPT": "0"}


def _no_git(exc: OSError) -> ClearanceError:
    return UsageError(f"cannot run git: {exc.strerror or exc}", code="git-missing", hint="install git")
