"""SARIF 2.1.0 static-analysis reports (bandit, semgrep, CodeQL, …): findings by level and rule, with
locations, suppressions, baseline state, whether the tool ran to the end and when it did."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from clearance.gates.evidence.base import Report
from clearance.gates.evidence.decoding import JsonReader, decode_json, sniff_json, wrong_kind
from clearance.gates.evidence.timestamps import iso_time, oldest

__all__ = ["LEVELS", "SarifFinding", "SarifLevel", "SastReport", "SourceLocation", "parse_sarif"]

SarifLevel = Literal["none", "note", "warning", "error"]
LEVELS: tuple[SarifLevel, ...] = ("none", "note", "warning", "error")  # lowest to highest


@dataclass(frozen=True)
class SourceLocation:
    uri: str | None
    line: int | None = None


@dataclass(frozen=True)
class SarifFinding:
    """One result. `level` is resolved as SARIF §3.27.10 says: the result's own level, else `none` for
    a non-failure `kind`, else the rule's `defaultConfiguration.level`, else `warning`."""

    rule_id: str | None
    level: SarifLevel
    message: str
    tool: str
    locations: tuple[SourceLocation, ...] = ()
    suppressed: bool = False
    baseline_state: str | None = None

    @property
    def active(self) -> bool:
        """Counted by gates: not suppressed, and not a result that has disappeared since the baseline."""
        return not self.suppressed and self.baseline_state != "absent"


@dataclass(frozen=True, kw_only=True)
class SastReport(Report):
    """All runs of one SARIF log. `execution_successful` is False when any run says it did not finish;
    `tool_errors` holds its error-level tool execution notifications."""

    kind: Literal["sarif"] = "sarif"
    runs: int
    tools: tuple[str, ...] = ()
    findings: tuple[SarifFinding, ...] = ()
    execution_successful: bool = True
    tool_errors: tuple[str, ...] = ()

    @property
    def active(self) -> tuple[SarifFinding, ...]:
        return tuple(finding for finding in self.findings if finding.active)

    def counts_by_level(self) -> dict[str, int]:
        """Active findings per level, every level present, highest first."""
        counts = Counter(finding.level for finding in self.active)
        return {level: counts[level] for level in reversed(LEVELS)}

    def counts_by_rule(self) -> dict[str, int]:
        return dict(Counter(finding.rule_id or "(no rule)" for finding in self.active).most_common())

    @property
    def max_level(self) -> SarifLevel | None:
        """The highest level among active findings, None when there are none."""
        levels = {finding.level for finding in self.active}
        return next((level for level in reversed(LEVELS) if level in levels), None)

    def above(self, level: SarifLevel) -> tuple[SarifFinding, ...]:
        """Active findings strictly above `level` (e.g. above `warning` = the errors)."""
        floor = LEVELS.index(level)
        return tuple(finding for finding in self.active if LEVELS.index(finding.level) > floor)

    def summary(self) -> dict[str, Any]:
        return {
            "findings": len(self.active),
            "by_level": self.counts_by_level(),
            "max_level": self.max_level,
            "suppressed": sum(finding.suppressed for finding in self.findings),
            "execution_successful": self.execution_successful,
        }


def parse_sarif(data: bytes, *, source: str) -> SastReport:
    """The findings of a SARIF 2.1.0 log."""
    document = decode_json(data, source=source, kind="sarif")
    reader = JsonReader(source, "sarif")
    if not isinstance(document, dict) or not isinstance(document.get("runs"), list):
        found = "it has no `runs` array"
        raise wrong_kind("sarif", source, found, sniff_json(document))
    version = document.get("version")
    if version != "2.1.0":
        reader.fail(f"unsupported SARIF version {version!r}, only 2.1.0 is read", "version")
    tools: list[str] = []
    findings: list[SarifFinding] = []
    tool_errors: list[str] = []
    successful = True
    ran_at: list[datetime | None] = []
    for path, run in reader.objects(document, "runs", ""):
        parsed = _Run(reader, path, run)
        tools.append(parsed.tool)
        ran_at.append(parsed.ran_at())
        findings += parsed.findings()
        successful &= parsed.execution_successful()
        tool_errors += parsed.tool_errors()
    return SastReport(
        source=source,
        tool=", ".join(dict.fromkeys(tools)) or None,
        # A log merged from several runs is as old as its oldest run.
        produced_at=oldest(ran_at),
        runs=len(tools),
        tools=tuple(tools),
        findings=tuple(findings),
        execution_successful=successful,
        tool_errors=tuple(tool_errors),
    )


class _Run:
    """One `runs[i]`, with its rules indexed for level and message lookups."""

    def __init__(self, reader: JsonReader, path: str, run: dict[str, Any]) -> None:
        self.reader, self.path, self.run = reader, path, run
        tool = reader.child(run, "tool", path)
        self.driver = reader.child(tool, "driver", f"{path}.tool")
        name = reader.text(self.driver, "name", f"{path}.tool.driver") or "(unnamed tool)"
        version = reader.text(self.driver, "semanticVersion", "") or reader.text(self.driver, "version", "")
        self.tool = f"{name} {version}" if version else name
        self.extensions = [ext for _, ext in reader.objects(tool, "extensions", f"{path}.tool")]
        self.artifacts = [reader.child(a, "location", p) for p, a in reader.objects(run, "artifacts", path)]

    def findings(self) -> list[SarifFinding]:
        return [
            self._finding(path, result)
            for path, result in self.reader.objects(self.run, "results", self.path)
        ]

    def execution_successful(self) -> bool:
        invocations = self.reader.objects(self.run, "invocations", self.path)
        return all(invocation.get("executionSuccessful") is not False for _, invocation in invocations)

    def ran_at(self) -> datetime | None:
        """When the run's last invocation ended (`endTimeUtc`, else `startTimeUtc`), None when untold."""
        times = [
            iso_time(invocation.get("endTimeUtc")) or iso_time(invocation.get("startTimeUtc"))
            for _, invocation in self.reader.objects(self.run, "invocations", self.path)
        ]
        return max((time for time in times if time is not None), default=None)

    def tool_errors(self) -> list[str]:
        errors = []
        for path, invocation in self.reader.objects(self.run, "invocations", self.path):
            for note_path, note in self.reader.objects(invocation, "toolExecutionNotifications", path):
                if note.get("level") == "error":
                    message = self.reader.child(note, "message", note_path)
                    errors.append(self.reader.text(message, "text", note_path) or "(no message)")
        return errors

    def _finding(self, path: str, result: dict[str, Any]) -> SarifFinding:
        rule = self._rule(path, result)
        rule_id = self.reader.text(result, "ruleId", path) or _text(rule, "id")
        return SarifFinding(
            rule_id=rule_id,
            level=self._level(path, result, rule),
            message=self._message(path, result, rule),
            tool=self.tool,
            locations=self._locations(path, result),
            suppressed=_suppressed(self.reader, path, result),
            baseline_state=self.reader.text(result, "baselineState", path),
        )

    def _rule(self, path: str, result: dict[str, Any]) -> dict[str, Any]:
        """The reportingDescriptor a result refers to (by index, else by id), or {}."""
        reference = self.reader.child(result, "rule", path)
        component_ref = self.reader.child(reference, "toolComponent", f"{path}.rule")
        component_index = self.reader.integer(component_ref, "index", f"{path}.rule.toolComponent")
        # toolComponent.index points into tool.extensions (CodeQL's query packs); absent means the driver.
        component = self.driver
        if component_index is not None and 0 <= component_index < len(self.extensions):
            component = self.extensions[component_index]
        rules = [rule for _, rule in self.reader.objects(component, "rules", f"{self.path}.tool")]
        index = self.reader.integer(reference, "index", f"{path}.rule")
        if index is None:
            index = self.reader.integer(result, "ruleIndex", path)
        if index is not None and 0 <= index < len(rules):
            return rules[index]
        rule_id = self.reader.text(result, "ruleId", path) or self.reader.text(
            reference, "id", f"{path}.rule"
        )
        return next((rule for rule in rules if rule.get("id") == rule_id), {})

    def _level(self, path: str, result: dict[str, Any], rule: dict[str, Any]) -> SarifLevel:
        level = self.reader.text(result, "level", path)
        where = f"{path}.level"
        if level is None and result.get("kind", "fail") != "fail":
            level = "none"
        if level is None:
            configuration = rule.get("defaultConfiguration")
            level = _text(configuration, "level") if isinstance(configuration, dict) else None
            where = "the rule's defaultConfiguration.level"
        if level is None:
            return "warning"
        if level not in LEVELS:
            self.reader.fail(f"unknown SARIF level {level!r} (known: {', '.join(LEVELS)})", where)
        return level

    def _message(self, path: str, result: dict[str, Any], rule: dict[str, Any]) -> str:
        message = self.reader.child(result, "message", path)
        text = self.reader.text(message, "text", f"{path}.message")
        if text is None and isinstance(message.get("id"), str):
            strings = rule.get("messageStrings") or self.driver.get("globalMessageStrings") or {}
            template = strings.get(message["id"], {}) if isinstance(strings, dict) else {}
            text = _text(template, "text") if isinstance(template, dict) else None
            for i, argument in enumerate(message.get("arguments") or []):
                text = text.replace(f"{{{i}}}", str(argument)) if text else text
        return text or "(no message)"

    def _locations(self, path: str, result: dict[str, Any]) -> tuple[SourceLocation, ...]:
        locations = []
        for location_path, location in self.reader.objects(result, "locations", path):
            physical = self.reader.child(location, "physicalLocation", location_path)
            artifact = self.reader.child(physical, "artifactLocation", f"{location_path}.physicalLocation")
            uri = self.reader.text(artifact, "uri", f"{location_path}.physicalLocation.artifactLocation")
            index = self.reader.integer(
                artifact, "index", f"{location_path}.physicalLocation.artifactLocation"
            )
            if uri is None and index is not None and 0 <= index < len(self.artifacts):
                uri = _text(self.artifacts[index], "uri")
            region = self.reader.child(physical, "region", f"{location_path}.physicalLocation")
            line = self.reader.integer(region, "startLine", f"{location_path}.physicalLocation.region")
            locations.append(SourceLocation(uri=uri, line=line))
        return tuple(locations)


def _suppressed(reader: JsonReader, path: str, result: dict[str, Any]) -> bool:
    """SARIF §3.35.3: a suppression's status defaults to `accepted`; the result is suppressed when at
    least one suppression is accepted. `underReview` and `rejected` ones hide nothing."""
    statuses = [reader.text(item, "status", p) for p, item in reader.objects(result, "suppressions", path)]
    return any(status in (None, "accepted") for status in statuses)


def _text(value: Any, key: str) -> str | None:
    found = value.get(key) if isinstance(value, dict) else None
    return found if isinstance(found, str) else None
