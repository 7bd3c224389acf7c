"""Reading report bytes safely — XML without entity expansion, JSON with the parser's position — telling
which kind of report they hold, and checking a document's shape with errors that name the file and place."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, NoReturn
from xml.etree.ElementTree import Element, ParseError
from xml.parsers.expat import ErrorString

import defusedxml.ElementTree as safe_xml
from defusedxml import DefusedXmlException

from clearance.errors import ReportInvalid

__all__ = [
    "JsonReader",
    "decode_json",
    "decode_xml",
    "detect_kind",
    "label",
    "local_name",
    "sniff_json",
    "sniff_xml",
    "wrong_kind",
]

_LABELS = {
    "junit": "JUnit XML",
    "cobertura": "Cobertura XML",
    "sarif": "SARIF",
    "trivy": "Trivy JSON",
    "pip-audit": "pip-audit JSON",
    "grype": "grype JSON",
    "cyclonedx": "CycloneDX JSON",
}


def local_name(element: Element) -> str:
    """The element's tag without its `{namespace}`."""
    return element.tag.rsplit("}", 1)[-1]


def sniff_xml(root: Element) -> str | None:
    """The report kind an XML document's root element belongs to, or None."""
    name = local_name(root)
    if name in ("testsuites", "testsuite"):
        return "junit"
    if name == "coverage":
        return "cobertura"
    if name == "bom" and "cyclonedx" in root.tag:
        return "cyclonedx"
    return None


def sniff_json(document: Any) -> str | None:
    """The report kind a decoded JSON document belongs to, or None when nothing tells."""
    if isinstance(document, list):
        return "pip-audit" if document and all(_is_pip_audit_dependency(item) for item in document) else None
    if not isinstance(document, dict):
        return None
    if document.get("bomFormat") == "CycloneDX":
        return "cyclonedx"
    if isinstance(document.get("runs"), list) and (
        "sarif" in str(document.get("$schema", "")).lower()
        or str(document.get("version", "")).startswith("2.")
    ):
        return "sarif"
    if "SchemaVersion" in document and ("Results" in document or "ArtifactName" in document):
        return "trivy"
    if isinstance(document.get("matches"), list) and ("descriptor" in document or "source" in document):
        return "grype"
    dependencies = document.get("dependencies")
    if isinstance(dependencies, list) and (
        "fixes" in document or (dependencies and all(_is_pip_audit_dependency(d) for d in dependencies))
    ):
        return "pip-audit"
    return None


def detect_kind(data: bytes) -> str | None:
    """The kind of report `data` holds, or None when it is not one clearance reads (or not well-formed).

    Parsing is safe (no entity expansion) and the whole document is read: reports are small.
    """
    head = data.lstrip()[:1]
    if head == b"<":
        try:
            return sniff_xml(safe_xml.fromstring(data))
        # Malformed, or refused by defusedxml: "cannot tell"; parse_report says why.
        except (ParseError, ValueError):
            return None
    if head in (b"{", b"["):
        try:
            return sniff_json(json.loads(data))
        except (ValueError, RecursionError):
            return None
    return None


def _is_pip_audit_dependency(item: Any) -> bool:
    return isinstance(item, dict) and "name" in item and ("vulns" in item or "skip_reason" in item)


def label(kind: str) -> str:
    """How a report kind is named in messages."""
    return _LABELS.get(kind, kind)


def wrong_kind(kind: str, source: str, found: str, guess: str | None) -> ReportInvalid:
    """The error for a well-formed document that is not a `kind` report; `guess` is what it looks like."""
    message = f"{source}: not a {label(kind)} report: {found}"
    if guess == kind:  # the right report in a format clearance does not read (CycloneDX XML)
        hint: str | None = f"clearance reads {label(kind)}: ask the tool for that format"
    else:
        hint = f"it looks like a {label(guess)} report: use --kind {guess}" if guess else None
    return ReportInvalid(message, source=source, kind=kind, hint=hint)


def decode_xml(data: bytes, *, source: str, kind: str) -> Element:
    """The root element of an XML report, parsed without expanding entities or fetching anything."""
    _refuse_empty(data, source, kind)
    if data.lstrip()[:1] in (b"{", b"["):
        raise wrong_kind(kind, source, "the file is JSON, not XML", _json_guess(data))
    try:
        return safe_xml.fromstring(data)
    except ParseError as exc:
        line, column = exc.position
        reason = ErrorString(exc.code) if isinstance(exc.code, int) else str(exc)
        raise ReportInvalid(
            f"{source}: not well-formed XML at line {line}, column {column + 1}: {reason}",
            source=source,
            kind=kind,
            line=line,
            column=column + 1,
            hint="the file may be truncated or corrupt: produce the report again",
        ) from exc
    except DefusedXmlException as exc:
        raise ReportInvalid(
            f"{source}: refused to parse: the XML declares entities or external references ({exc})",
            source=source,
            kind=kind,
            hint="reports never need a DTD with entities; this file may be an attack (XXE, billion laughs)",
        ) from exc


def decode_json(data: bytes, *, source: str, kind: str) -> Any:
    """The decoded JSON document of a report."""
    _refuse_empty(data, source, kind)
    if data.lstrip()[:1] == b"<":
        raise wrong_kind(kind, source, "the file is XML, not JSON", _xml_guess(data))
    try:
        return json.loads(data)
    except json.JSONDecodeError as exc:
        raise ReportInvalid(
            f"{source}: not valid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}",
            source=source,
            kind=kind,
            line=exc.lineno,
            column=exc.colno,
            hint="the file may be truncated or corrupt: produce the report again",
        ) from exc
    except UnicodeDecodeError as exc:
        raise ReportInvalid(
            f"{source}: not UTF-8 text: invalid byte at offset {exc.start}", source=source, kind=kind
        ) from exc
    except RecursionError as exc:
        raise ReportInvalid(f"{source}: the JSON is nested too deeply", source=source, kind=kind) from exc


def _refuse_empty(data: bytes, source: str, kind: str) -> None:
    if not data.strip():
        raise ReportInvalid(
            f"{source}: the file is empty, expected a {label(kind)} report", source=source, kind=kind
        )


def _json_guess(data: bytes) -> str | None:
    try:
        return sniff_json(json.loads(data))
    except (ValueError, RecursionError):
        return None


def _xml_guess(data: bytes) -> str | None:
    try:
        return sniff_xml(safe_xml.fromstring(data))
    except (ParseError, ValueError):  # only a hint: a document that does not parse gives none
        return None


@dataclass(frozen=True)
class JsonReader:
    """Checks the shape of a decoded JSON report; each failure names the file and the JSON path."""

    source: str
    kind: str

    def fail(self, message: str, path: str | None = None, *, hint: str | None = None) -> NoReturn:
        where = f" at {path}" if path else ""
        raise ReportInvalid(
            f"{self.source}: {message}{where}", source=self.source, kind=self.kind, path=path, hint=hint
        )

    def object(self, value: Any, path: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            self.fail(f"expected an object, found {_json_type(value)}", path or "the top level")
        return value

    def array(self, value: Any, path: str) -> list[Any]:
        if not isinstance(value, list):
            self.fail(f"expected an array, found {_json_type(value)}", path or "the top level")
        return value

    def objects(self, parent: dict[str, Any], key: str, path: str) -> list[tuple[str, dict[str, Any]]]:
        """The objects of the array `parent[key]` with their paths; an absent or null array is empty."""
        where = _join(path, key)
        value = parent.get(key)
        if value is None:
            return []
        return [
            (f"{where}[{i}]", self.object(item, f"{where}[{i}]"))
            for i, item in enumerate(self.array(value, where))
        ]

    def child(self, parent: dict[str, Any], key: str, path: str) -> dict[str, Any]:
        """The object `parent[key]`; an absent or null one is empty."""
        value = parent.get(key)
        return {} if value is None else self.object(value, _join(path, key))

    def text(self, parent: dict[str, Any], key: str, path: str) -> str | None:
        """The string `parent[key]`, None when absent or null."""
        value = parent.get(key)
        if value is None or isinstance(value, str):
            return value
        self.fail(f"expected a string, found {_json_type(value)}", _join(path, key))

    def required_text(self, parent: dict[str, Any], key: str, path: str) -> str:
        value = self.text(parent, key, path)
        if not value:
            self.fail("missing required string", _join(path, key))
        return value

    def texts(self, parent: dict[str, Any], key: str, path: str) -> tuple[str, ...]:
        """The strings of the array `parent[key]`; an absent or null array is empty."""
        where = _join(path, key)
        value = parent.get(key)
        if value is None:
            return ()
        items = self.array(value, where)
        for i, item in enumerate(items):
            if not isinstance(item, str):
                self.fail(f"expected a string, found {_json_type(item)}", f"{where}[{i}]")
        return tuple(items)

    def integer(self, parent: dict[str, Any], key: str, path: str) -> int | None:
        value = parent.get(key)
        if value is None or (isinstance(value, int) and not isinstance(value, bool)):
            return value
        self.fail(f"expected an integer, found {_json_type(value)}", _join(path, key))


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return f"the number {value}"
    if isinstance(value, str):
        return f"the string {value[:40]!r}"
    return "an array" if isinstance(value, list) else "an object"
