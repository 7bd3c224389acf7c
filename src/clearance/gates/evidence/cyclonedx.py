"""CycloneDX JSON SBOMs (cyclonedx-py, pip-audit `-f cyclonedx-json`, …; spec 1.4–1.7): components with
their purl, version and licences, the vulnerabilities attached to them through `affects` refs, and
when the SBOM was made (`metadata.timestamp`)."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

from clearance.gates.evidence.base import (
    CYCLONEDX_SEVERITIES,
    Report,
    Severity,
    normalize_severity,
)
from clearance.gates.evidence.decoding import JsonReader, decode_json, sniff_json, wrong_kind
from clearance.gates.evidence.timestamps import iso_time
from clearance.gates.evidence.vulnerabilities import (
    SuppressedVulnerability,
    Vulnerability,
    count_by_severity,
)

__all__ = ["Component", "License", "LicenseMatch", "Sbom", "parse_cyclonedx"]

SPEC_VERSIONS = ("1.4", "1.5", "1.6", "1.7")
# VEX analysis states in which the SBOM's author says the component is not exposed.
_NOT_EXPOSED = ("not_affected", "false_positive", "resolved", "resolved_with_pedigree")
_SPDX_OPERATORS = {"and", "or", "with"}


@dataclass(frozen=True)
class License:
    """One licence entry: an SPDX `id`, a free-text `name`, or an SPDX `expression`."""

    id: str | None = None
    name: str | None = None
    expression: str | None = None

    @property
    def label(self) -> str:
        return self.id or self.expression or self.name or "(unnamed licence)"

    def spdx_ids(self) -> tuple[str, ...]:
        """The SPDX licence ids this entry names (for an expression: every id in it, exceptions included)."""
        if self.id:
            return (self.id,)
        if self.expression:
            tokens = re.split(r"[\s()]+", self.expression)
            return tuple(token for token in tokens if token and token.lower() not in _SPDX_OPERATORS)
        return ()


@dataclass(frozen=True)
class Component:
    name: str
    version: str | None = None
    purl: str | None = None
    bom_ref: str | None = None
    type: str | None = None
    group: str | None = None
    licenses: tuple[License, ...] = ()


@dataclass(frozen=True)
class LicenseMatch:
    """A component whose licence names one of the ids looked for. `via` is `id` for a plain licence,
    `expression` when the id appears inside an SPDX expression (e.g. one side of an OR) — the gate
    decides what an OR means."""

    component: Component
    license: License
    spdx_id: str
    via: Literal["id", "expression"]


@dataclass(frozen=True, kw_only=True)
class Sbom(Report):
    """Every component (nested ones flattened, the SBOM's own subject apart) and attached vulnerabilities,
    one per affected component; those the SBOM's VEX analysis clears are in `suppressed`."""

    kind: Literal["cyclonedx"] = "cyclonedx"
    spec_version: str
    subject: Component | None = None
    components: tuple[Component, ...] = ()
    vulnerabilities: tuple[Vulnerability, ...] = ()
    suppressed: tuple[SuppressedVulnerability, ...] = ()

    def licensed_under(self, spdx_ids: Iterable[str]) -> tuple[LicenseMatch, ...]:
        """Components whose licences name any of `spdx_ids` (compared case-insensitively, as SPDX does)."""
        wanted = {spdx_id.strip().casefold(): spdx_id.strip() for spdx_id in spdx_ids}
        matches = []
        for component in self.components:
            for entry in component.licenses:
                for spdx_id in entry.spdx_ids():
                    if spdx_id.casefold() in wanted:
                        via: Literal["id", "expression"] = "id" if entry.id else "expression"
                        matches.append(LicenseMatch(component, entry, wanted[spdx_id.casefold()], via))
        return tuple(matches)

    def unlicensed(self) -> tuple[Component, ...]:
        """Components with no licence information at all."""
        return tuple(component for component in self.components if not component.licenses)

    def license_counts(self) -> dict[str, int]:
        """Components per licence label, most common first."""
        return dict(Counter(entry.label for c in self.components for entry in c.licenses).most_common())

    def counts_by_severity(self) -> dict[str, int]:
        return count_by_severity(self.vulnerabilities)

    def summary(self) -> dict[str, Any]:
        return {
            "components": len(self.components),
            "unlicensed": len(self.unlicensed()),
            "licenses": self.license_counts(),
            "vulnerabilities": len(self.vulnerabilities),
            "by_severity": self.counts_by_severity(),
            "suppressed": len(self.suppressed),
        }


def parse_cyclonedx(data: bytes, *, source: str) -> Sbom:
    """The components and vulnerabilities of a CycloneDX JSON SBOM."""
    document = decode_json(data, source=source, kind="cyclonedx")
    reader = JsonReader(source, "cyclonedx")
    if not isinstance(document, dict) or document.get("bomFormat") != "CycloneDX":
        raise wrong_kind("cyclonedx", source, 'it has no `"bomFormat": "CycloneDX"`', sniff_json(document))
    spec_version = reader.required_text(document, "specVersion", "")
    if spec_version not in SPEC_VERSIONS:
        reader.fail(
            f"unsupported CycloneDX specVersion {spec_version!r} (read: {', '.join(SPEC_VERSIONS)})",
            "specVersion",
        )
    metadata = reader.child(document, "metadata", "")
    subject = (
        _component(reader, "metadata.component", metadata["component"]) if metadata.get("component") else None
    )
    components = tuple(_components(reader, document, ""))
    by_ref = {c.bom_ref: c for c in (*components, *([subject] if subject else [])) if c.bom_ref}
    active: list[Vulnerability] = []
    suppressed: list[SuppressedVulnerability] = []
    for path, item in reader.objects(document, "vulnerabilities", ""):
        analysis = reader.child(item, "analysis", path)
        state = reader.text(analysis, "state", f"{path}.analysis")
        for vulnerability in _vulnerabilities(reader, path, item, by_ref):
            if state in _NOT_EXPOSED:
                reason = reader.text(analysis, "justification", f"{path}.analysis") or reader.text(
                    analysis, "detail", f"{path}.analysis"
                )
                suppressed.append(SuppressedVulnerability(vulnerability, status=state or "", reason=reason))
            else:
                active.append(vulnerability)
    return Sbom(
        source=source,
        tool=_tools(reader, metadata),
        produced_at=iso_time(metadata.get("timestamp")),
        spec_version=spec_version,
        subject=subject,
        components=components,
        vulnerabilities=tuple(active),
        suppressed=tuple(suppressed),
    )


def _components(reader: JsonReader, parent: dict[str, Any], path: str) -> Iterator[Component]:
    for item_path, item in reader.objects(parent, "components", path):
        yield _component(reader, item_path, item)
        yield from _components(reader, item, item_path)


def _component(reader: JsonReader, path: str, item: Any) -> Component:
    item = reader.object(item, path)
    return Component(
        name=reader.required_text(item, "name", path),
        version=reader.text(item, "version", path),
        purl=reader.text(item, "purl", path),
        bom_ref=reader.text(item, "bom-ref", path),
        type=reader.text(item, "type", path),
        group=reader.text(item, "group", path),
        licenses=tuple(_licenses(reader, path, item)),
    )


def _licenses(reader: JsonReader, path: str, item: dict[str, Any]) -> Iterator[License]:
    for entry_path, entry in reader.objects(item, "licenses", path):
        expression = reader.text(entry, "expression", entry_path)
        if expression:
            yield License(expression=expression)
            continue
        licence = reader.child(entry, "license", entry_path)
        spdx_id = reader.text(licence, "id", f"{entry_path}.license")
        name = reader.text(licence, "name", f"{entry_path}.license")
        if not spdx_id and not name:
            reader.fail("a licence needs an id, a name or an expression", entry_path)
        yield License(id=spdx_id, name=name)


def _vulnerabilities(
    reader: JsonReader, path: str, item: dict[str, Any], by_ref: dict[str, Component]
) -> Iterator[Vulnerability]:
    vulnerability_id = reader.required_text(item, "id", path)
    ratings = [
        normalize_severity(
            reader.text(r, "severity", p), CYCLONEDX_SEVERITIES, reader=reader, path=f"{p}.severity"
        )
        for p, r in reader.objects(item, "ratings", path)
    ]
    # Several sources may rate one vulnerability; the highest rating is the one a gate must see.
    severity = max(ratings, key=lambda s: s.rank, default=Severity.UNKNOWN)
    aliases = [reader.text(ref, "id", p) for p, ref in reader.objects(item, "references", path)]
    title = reader.text(item, "description", path) or reader.text(item, "detail", path)
    for affect_path, affect in reader.objects(item, "affects", path):
        ref = reader.required_text(affect, "ref", affect_path)
        component = by_ref.get(ref)
        fixed = [
            reader.text(v, "version", p)
            for p, v in reader.objects(affect, "versions", affect_path)
            if v.get("status") == "unaffected"
        ]
        yield Vulnerability(
            id=vulnerability_id,
            severity=severity,
            package=component.name if component else ref,
            installed_version=component.version if component else None,
            fixed_versions=tuple(version for version in fixed if version),
            aliases=tuple(dict.fromkeys(a for a in aliases if a and a != vulnerability_id)),
            purl=component.purl if component else None,
            target=ref,
            title=" ".join(title.split())[:200] if title else None,
        )


def _tools(reader: JsonReader, metadata: dict[str, Any]) -> str | None:
    """The producing tools: `metadata.tools` is a list before spec 1.5 and `{components: […]}` after."""
    tools = metadata.get("tools")
    if isinstance(tools, dict):
        entries = reader.objects(tools, "components", "metadata.tools")
    else:
        entries = reader.objects(metadata, "tools", "metadata") if tools is not None else []
    names = []
    for path, tool in entries:
        name = reader.text(tool, "name", path)
        version = reader.text(tool, "version", path)
        if name:
            names.append(f"{name} {version}" if version else name)
    return ", ".join(names) or None
