"""Unleash's REGEX operator speaks Rust's `regex` dialect; this compiles it with Python's `re`.

The dialects differ where it matters for flags:
- Rust has no look-around and no back-references (linear-time matching); such patterns are
  refused, as Unleash refuses them, rather than given Python's exponential-time meaning.
- Rust allows inline flags anywhere (`^(?i)abc$` applies to the rest of the group); Python only at
  the start, so they become scoped groups `(?i:…)`.
- Rust has POSIX classes (`[[:alpha:]]`), `\\z`, and `$` that never matches before a final
  newline; Python spells them `[a-zA-Z]`, `\\Z` and `\\Z`.
"""

from __future__ import annotations

import re

_POSIX_CLASSES = {
    "alnum": "0-9A-Za-z",
    "alpha": "A-Za-z",
    "ascii": "\\x00-\\x7F",
    "blank": "\\t ",
    "cntrl": "\\x00-\\x1F\\x7F",
    "digit": "0-9",
    "graph": "!-~",
    "lower": "a-z",
    "print": " -~",
    "punct": "!-/:-@\\[-`{-~",
    "space": "\\t\\n\\v\\f\\r ",
    "upper": "A-Z",
    "word": "0-9A-Za-z_",
    "xdigit": "0-9A-Fa-f",
}
_POSIX = re.compile(r"\[:(\^?)([a-z]+):\]")
_INLINE_FLAGS = re.compile(r"\(\?([a-zA-Z]*)(?:-([a-zA-Z]*))?\)")
_PYTHON_FLAGS = set("ims")
_REFUSED_GROUPS = ("(?=", "(?!", "(?<=", "(?<!", "(?P=", "(?#", "(?>")


class RegexRefused(ValueError):
    """The pattern is not valid in Unleash's dialect (or cannot be given its meaning here)."""


def compile_unleash_regex(pattern: str, *, ignore_case: bool = False) -> re.Pattern[str]:
    """Compile `pattern` with Rust-regex semantics; raise `RegexRefused` when it is not valid."""
    translated = _translate(pattern)
    try:
        return re.compile(translated, re.IGNORECASE if ignore_case else 0)
    except re.error as exc:
        raise RegexRefused(f"invalid regular expression {pattern!r}: {exc}") from exc


def _translate(pattern: str) -> str:
    multiline = _uses_multiline(pattern)
    out: list[str] = []
    # For each open group: how many scoped-flag groups were opened inside it and must close with it.
    pending = [0]
    i, length = 0, len(pattern)
    while i < length:
        char = pattern[i]
        if char == "\\":
            i = _escape(pattern, i, out)
            continue
        if char == "[":
            i = _character_class(pattern, i, out)
            continue
        if char == "(":
            if pattern.startswith(_REFUSED_GROUPS, i):
                raise RegexRefused(f"{pattern!r} uses look-around or atomic groups, which Unleash refuses")
            flags = _INLINE_FLAGS.match(pattern, i)
            if flags:
                out.append(f"(?{_flags(flags[1], flags[2], pattern)}:")
                pending[-1] += 1
                i = flags.end()
                continue
            pending.append(0)
            out.append(char)
        elif char == ")":
            out.append(")" * pending.pop())
            if not pending:
                raise RegexRefused(f"{pattern!r} has an unbalanced ')'")
            out.append(char)
        elif char == "$" and not multiline:
            out.append(r"\Z")
        else:
            out.append(char)
        i += 1
    out.append(")" * pending.pop())
    if pending:
        raise RegexRefused(f"{pattern!r} has an unclosed '('")
    return "".join(out)


def _escape(pattern: str, i: int, out: list[str]) -> int:
    if i + 1 >= len(pattern):
        raise RegexRefused(f"{pattern!r} ends with a lone backslash")
    escaped = pattern[i + 1]
    if (escaped.isdigit() and escaped != "0") or escaped == "k":
        raise RegexRefused(f"{pattern!r} uses a back-reference, which Unleash refuses")
    if escaped == "z":
        out.append(r"\Z")
    elif escaped in "pPQEhHKG":
        # Unicode classes and other Rust/PCRE escapes Python reads differently or not at all.
        raise RegexRefused(f"{pattern!r} uses \\{escaped}, which is not supported")
    else:
        out.append(pattern[i : i + 2])
    return i + 2


def _character_class(pattern: str, i: int, out: list[str]) -> int:
    """Copy one `[...]` class, expanding POSIX names; Python would read `[[:` as a nested set."""
    j = i + 1
    if j < len(pattern) and pattern[j] == "^":
        j += 1
    if j < len(pattern) and pattern[j] == "]":
        j += 1
    while j < len(pattern) and pattern[j] != "]":
        if pattern[j] == "\\":
            j += 2
            continue
        if pattern[j] == "[":
            posix = _POSIX.match(pattern, j)
            if posix is None:
                raise RegexRefused(f"{pattern!r} nests character classes, which is not supported")
            j = posix.end()
            continue
        j += 1
    if j >= len(pattern):
        raise RegexRefused(f"{pattern!r} has an unclosed '['")
    body = pattern[i : j + 1]

    def expand(match: re.Match[str]) -> str:
        negated, name = match[1], match[2]
        if name not in _POSIX_CLASSES:
            raise RegexRefused(f"{pattern!r} uses an unknown class [:{name}:]")
        if negated:
            raise RegexRefused(f"{pattern!r} uses a negated POSIX class, which is not supported")
        return _POSIX_CLASSES[name]

    out.append(_POSIX.sub(expand, body))
    return j + 1


def _flags(on: str, off: str | None, pattern: str) -> str:
    for flag in on + (off or ""):
        if flag not in _PYTHON_FLAGS:
            raise RegexRefused(f"{pattern!r} uses the inline flag {flag!r}, which is not supported")
    return on + (f"-{off}" if off else "")


def _uses_multiline(pattern: str) -> bool:
    return any("m" in match[1] for match in _INLINE_FLAGS.finditer(pattern))
