"""What every piece of evidence shares: its kind, the file it came from, the tool that made it, a
summary for gates, the JSON form it is stored in (`to_json` / `from_json`, schema_version 1), and the
one severity scale every scanner's names are mapped onto, explicitly."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Self

from pydantic import TypeAdapter, ValidationError

from clearance.errors import ReportInvalid
from clearance.gates.evidence.decoding import JsonReader

__all__ = [
    "CYCLONEDX_SEVERITIES",
    "GRYPE_SEVERITIES",
    "SCHEMA_VERSION",
    "TRIVY_SEVERITIES",
    "Report",
    "Severity",
    "normalize_severity",
]

SCHEMA_VERSION = 1


@dataclass(frozen=True, kw_only=True)
class Report:
    """The normalized result of one report file.

    `kind` is the report kind it was parsed as (`junit`, `trivy`, …), `source` the file name the user
    gave, `tool` the producer named in the report when it names one (`Bandit`, `trivy 0.58.1`),
    `produced_at` when the report says it was made (UTC; see `timestamps`), None when it does not say
    — and for evidence stored before clearance read it, which the stored JSON lacks.
    """

    kind: str
    source: str
    tool: str | None = None
    produced_at: datetime | None = None

    def summary(self) -> dict[str, Any]:
        """The few figures a gate or a person looks at first (JSON-ready)."""
        raise NotImplementedError

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready document holding everything; `from_json` gives back an equal object."""
        return {"schema_version": SCHEMA_VERSION, **_adapter(type(self)).dump_python(self, mode="json")}

    @classmethod
    def from_json(cls, document: Mapping[str, Any]) -> Self:
        """The result stored by `to_json`; a document that does not fit is a `ReportInvalid`."""
        source = str(document.get("source", "stored evidence"))
        version = document.get("schema_version")
        if version != SCHEMA_VERSION:
            raise ReportInvalid(
                f"{source}: stored evidence has schema_version {version!r}, expected {SCHEMA_VERSION}",
                source=source,
            )
        fields = {key: value for key, value in document.items() if key != "schema_version"}
        try:
            result = _adapter(cls).validate_python(fields)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(part) for part in first["loc"])
            raise ReportInvalid(
                f"{source}: stored evidence is not a valid {cls.__name__}: {where}: {first['msg']}",
                source=source,
                path=where,
            ) from exc
        assert isinstance(result, cls)
        return result


_ADAPTERS: dict[type[Report], TypeAdapter[Any]] = {}


def _adapter(cls: type[Report]) -> TypeAdapter[Any]:
    adapter = _ADAPTERS.get(cls)
    if adapter is None:
        adapter = _ADAPTERS[cls] = TypeAdapter(cls)
    return adapter


class Severity(StrEnum):
    CRITICAL = "CRITICAL"
    HIGH = "HIGH"
    MEDIUM = "MEDIUM"
    LOW = "LOW"
    UNKNOWN = "UNKNOWN"

    @property
    def rank(self) -> int:
        """4 for CRITICAL down to 0 for UNKNOWN (UNKNOWN is not "below LOW": it is unrated)."""
        return _RANKS[self]


_RANKS = {Severity.CRITICAL: 4, Severity.HIGH: 3, Severity.MEDIUM: 2, Severity.LOW: 1, Severity.UNKNOWN: 0}

# Each source's severity names, mapped explicitly (keys are lower-cased). A name not listed is an
# error, never a silent UNKNOWN: a scanner that grows a new level must be looked at.
TRIVY_SEVERITIES: Mapping[str, Severity] = {s.value.lower(): s for s in Severity}
# grype's lowest level, "Negligible", is below Low: it is counted as LOW, never dropped.
GRYPE_SEVERITIES: Mapping[str, Severity] = {**TRIVY_SEVERITIES, "negligible": Severity.LOW}
# CycloneDX ratings add "info" and "none" (rated, no real impact): both are counted as LOW.
CYCLONEDX_SEVERITIES: Mapping[str, Severity] = {
    **TRIVY_SEVERITIES,
    "info": Severity.LOW,
    "none": Severity.LOW,
}


def normalize_severity(
    name: str | None, known: Mapping[str, Severity], *, reader: JsonReader, path: str
) -> Severity:
    """`name` mapped through `known`; absent is UNKNOWN, a name not in `known` is a ReportInvalid."""
    if name is None or not name.strip():
        return Severity.UNKNOWN
    severity = known.get(name.strip().lower())
    if severity is None:
        reader.fail(
            f"unknown severity {name!r} (known: {', '.join(sorted(known))})",
            path,
            hint="clearance maps every severity name explicitly; report this tool version's new name",
        )
    return severity
