"""A YAML text read into plain data plus the line of every key, so any problem can name its line.

PyYAML loses line numbers and silently keeps the last of two equal keys; composing the node tree
ourselves keeps both the lines and the duplicates.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import yaml

KeyPath = tuple[str | int, ...]
Problem = tuple[KeyPath, str]
# A problem whose line is not the line of its key path (e.g. the second of two equal keys).
LocatedProblem = tuple[int, KeyPath, str]

_YAML_TAG = "tag:yaml.org,2002:"
_MERGE_TAG = f"{_YAML_TAG}merge"
# Mappings and lists are read as plain dicts and lists: any other tag on them would be dropped.
_COLLECTION_TAGS = {f"{_YAML_TAG}map", f"{_YAML_TAG}seq"}
# What a scalar with an explicit tag (`!!int abc`) should have been.
_TAG_MEANING = {
    "int": "a whole number",
    "float": "a number",
    "bool": "true or false",
    "null": "null",
    "timestamp": "a date (YYYY-MM-DD) or date and time",
    "binary": "base64 data",
}


class InvalidYAML(Exception):
    """The text is not YAML at all; `line` is 1-based."""

    def __init__(self, line: int, problem: str) -> None:
        super().__init__(problem)
        self.line = line
        self.problem = problem


def format_path(path: KeyPath) -> str:
    """`('lifecycle', 'phases', 2, 'environments', 0)` → `lifecycle.phases[2].environments[0]`."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else part
    return text


@dataclass
class Document:
    """The data of a YAML mapping, with the 1-based line of every key path in it."""

    data: object
    lines: dict[KeyPath, int] = field(default_factory=dict)
    # Problems found while reading (duplicate keys), before any schema is applied.
    problems: list[LocatedProblem] = field(default_factory=list)
    # Plain scalars that YAML typed as int, float, bool or date, with the text the user wrote.
    raw_text: dict[KeyPath, str] = field(default_factory=dict)

    def line_of(self, path: KeyPath) -> int:
        """The line of `path`, or of its deepest ancestor that exists (e.g. for a missing key)."""
        for end in range(len(path), -1, -1):
            line = self.lines.get(path[:end])
            if line is not None:
                return line
        return 1


def read_document(text: str) -> Document:
    """Parse `text`; raise InvalidYAML for text that is not one YAML document."""
    try:
        return _compose(text)
    except yaml.MarkedYAMLError as exc:
        raise InvalidYAML(*_describe_yaml_error(exc)) from exc
    except yaml.reader.ReaderError as exc:
        raise InvalidYAML(text.count("\n", 0, exc.position) + 1, exc.reason) from exc
    except yaml.YAMLError as exc:
        raise InvalidYAML(1, str(exc)) from exc


def _describe_yaml_error(exc: yaml.MarkedYAMLError) -> tuple[int, str]:
    mark = exc.problem_mark or exc.context_mark
    problem = str(exc.problem or exc)
    # The context says where the broken construct began, e.g. the line of an unclosed quote.
    if exc.context and exc.context_mark:
        problem += f" ({exc.context} at line {exc.context_mark.line + 1})"
    return (mark.line + 1 if mark else 1), problem


def _compose(text: str) -> Document:
    loader = yaml.SafeLoader(text)
    try:
        root = loader.get_single_node()
        if root is None:
            return Document(data=None, lines={(): 1})
        document = Document(data=None, lines={(): root.start_mark.line + 1})
        document.data = _Reader(loader, document).read(root, ())
        return document
    finally:
        loader.dispose()


_PLAIN = "clearance.yaml holds text, numbers, true/false, dates, lists and mappings"


def _short(tag: str) -> str:
    return f"!!{tag.removeprefix(_YAML_TAG)}" if tag.startswith(_YAML_TAG) else tag


def _shown(text: str) -> str:
    return f"'{text}'" if len(text) <= 40 else f"'{text[:37]}...'"


class _Reader:
    """Turns composed nodes into dicts, lists and scalars, recording lines and duplicate keys."""

    def __init__(self, loader: yaml.SafeLoader, document: Document) -> None:
        self._loader = loader
        self._document = document
        self._open: set[int] = set()  # nodes being read, to stop at recursive aliases

    def read(self, node: yaml.Node, path: KeyPath) -> object:
        if id(node) in self._open:
            raise InvalidYAML(node.start_mark.line + 1, "an alias refers to a node that contains it")
        self._open.add(id(node))
        try:
            if not isinstance(node, yaml.ScalarNode) and node.tag not in _COLLECTION_TAGS:
                raise InvalidYAML(node.start_mark.line + 1, f"unsupported tag {_short(node.tag)}: {_PLAIN}")
            if isinstance(node, yaml.MappingNode):
                return self._mapping(node, path)
            if isinstance(node, yaml.SequenceNode):
                return [self._item(child, (*path, index)) for index, child in enumerate(node.value)]
            if isinstance(node, yaml.ScalarNode):
                return self._scalar(node, path)
            raise InvalidYAML(node.start_mark.line + 1, f"unexpected YAML node {node.tag}")
        finally:
            self._open.discard(id(node))

    def _item(self, node: yaml.Node, path: KeyPath) -> object:
        self._document.lines[path] = node.start_mark.line + 1
        return self.read(node, path)

    def _scalar(self, node: yaml.ScalarNode, path: KeyPath) -> object:
        if node.tag not in self._loader.yaml_constructors:
            raise InvalidYAML(node.start_mark.line + 1, f"unsupported tag {_short(node.tag)}: {_PLAIN}")
        try:
            value: object = self._loader.construct_object(node, deep=True)
        except (ValueError, TypeError, LookupError, AttributeError, ArithmeticError) as exc:
            # PyYAML's constructors raise whatever Python's conversion raises (`2026-02-30` is a
            # timestamp by its form, and `date()` refuses it).
            self._loader.recursive_objects.pop(node, None)
            value = self._unconstructed(node, exc)
        if node.style is None and not isinstance(value, str) and value is not None:
            self._document.raw_text[path] = str(node.value)
        return value

    def _unconstructed(self, node: yaml.ScalarNode, exc: Exception) -> str:
        """A plain scalar YAML typed by its form alone stays the text the user wrote, which the
        schema then accepts as text or refuses at its line (`until: 2026-02-30` is not a date);
        one the user tagged explicitly (`!!int abc`) is a YAML error at its line."""
        implicit = self._loader.resolve(yaml.ScalarNode, node.value, (True, False))  # type: ignore[no-untyped-call]
        if node.style is None and node.tag == implicit:
            return str(node.value)
        meaning = _TAG_MEANING.get(node.tag.removeprefix(_YAML_TAG), "a value of that type")
        raise InvalidYAML(
            node.start_mark.line + 1, f"{_short(node.tag)} {_shown(node.value)} is not {meaning}"
        ) from exc

    def _mapping(self, node: yaml.MappingNode, path: KeyPath) -> dict[str, object]:
        result: dict[str, object] = {}
        first_line: dict[str, int] = {}
        merges: list[yaml.Node] = []
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                merges.append(value_node)
                continue
            line = key_node.start_mark.line + 1
            if not isinstance(key_node, yaml.ScalarNode):
                raise InvalidYAML(line, "a key must be plain text, not a list or a mapping")
            # The text as written, so `yes:` or `1:` stay keys instead of becoming True or 1.
            key = str(key_node.value)
            if key in first_line:
                message = f"duplicate key (first at line {first_line[key]}; YAML would keep only the last)"
                self._document.problems.append((line, (*path, key), message))
            first_line.setdefault(key, line)
            self._document.lines[(*path, key)] = line
            result[key] = self.read(value_node, (*path, key))
        for merged in self._merged_mappings(merges, path):
            for key, value in merged.items():
                result.setdefault(key, value)
        return result

    def _merged_mappings(self, merges: list[yaml.Node], path: KeyPath) -> list[dict[str, object]]:
        # `<<: *defaults` copies keys the mapping does not set itself; explicit keys win.
        mappings: list[dict[str, object]] = []
        for node in merges:
            sources = node.value if isinstance(node, yaml.SequenceNode) else [node]
            for source in sources:
                if not isinstance(source, yaml.MappingNode):
                    raise InvalidYAML(source.start_mark.line + 1, "'<<' must merge a mapping")
                lines = dict(self._document.lines)
                merged = self.read(source, path)  # through read(), which stops recursive aliases
                if isinstance(merged, dict):
                    mappings.append(merged)
                # Lines of explicit keys stay; merged keys point at where they were written.
                self._document.lines = {**self._document.lines, **lines}
        return mappings
