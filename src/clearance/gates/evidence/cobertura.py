"""Cobertura XML coverage reports (coverage.py `coverage xml`, and other Cobertura writers): line and
branch rate as percentages, lines valid and covered, the same per package, and when it was measured."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, NoReturn
from xml.etree.ElementTree import Element

from clearance.errors import ReportInvalid
from clearance.gates.evidence.base import Report
from clearance.gates.evidence.decoding import decode_xml, local_name, sniff_xml, wrong_kind
from clearance.gates.evidence.timestamps import epoch_millis

__all__ = ["CoverageReport", "PackageCoverage", "parse_cobertura"]


@dataclass(frozen=True)
class PackageCoverage:
    """One `<package>`; rates are percentages (0–100), `branch_rate` None when no branch was measured."""

    name: str
    line_rate: float
    branch_rate: float | None = None


@dataclass(frozen=True, kw_only=True)
class CoverageReport(Report):
    """Whole-report coverage. Rates are percentages (0–100).

    The line rate is computed from `lines-covered / lines-valid` when the report gives the counts (it
    is then exact, where the `line-rate` attribute is rounded), else taken from `line-rate`.
    `branch_rate` is None when the report measured no branches (coverage.py without `--branch`).
    """

    kind: Literal["cobertura"] = "cobertura"
    line_rate: float
    branch_rate: float | None
    lines_valid: int
    lines_covered: int
    branches_valid: int | None = None
    branches_covered: int | None = None
    packages: tuple[PackageCoverage, ...] = ()

    def package(self, name: str) -> PackageCoverage | None:
        return next((package for package in self.packages if package.name == name), None)

    def summary(self) -> dict[str, Any]:
        return {
            "line_rate": round(self.line_rate, 2),
            "branch_rate": None if self.branch_rate is None else round(self.branch_rate, 2),
            "lines_valid": self.lines_valid,
            "lines_covered": self.lines_covered,
            "branches_valid": self.branches_valid,
            "branches_covered": self.branches_covered,
        }


def parse_cobertura(data: bytes, *, source: str) -> CoverageReport:
    """The coverage figures of a Cobertura XML report (root `<coverage>`)."""
    root = decode_xml(data, source=source, kind="cobertura")
    if local_name(root) != "coverage":
        found = f"the root element is <{local_name(root)}>, expected <coverage>"
        raise wrong_kind("cobertura", source, found, sniff_xml(root))
    attrs = _Attributes(source)
    lines_valid = attrs.count(root, "lines-valid")
    lines_covered = attrs.count(root, "lines-covered")
    if lines_valid is None or lines_covered is None:
        lines_valid, lines_covered = _count_lines(root, attrs)
    branches_valid = attrs.count(root, "branches-valid")
    branches_covered = attrs.count(root, "branches-covered")
    if lines_valid:
        line_rate = 100.0 * lines_covered / lines_valid
    else:
        line_rate = attrs.rate(root, "line-rate", required=True) or 0.0
    return CoverageReport(
        source=source,
        # Milliseconds since the epoch, as coverage.py and Cobertura write it; a writer that gives
        # seconds lands in 1970 and is ignored, like any time that cannot be read.
        produced_at=epoch_millis(root.get("timestamp")),
        line_rate=line_rate,
        branch_rate=_branch_rate(root, attrs, branches_valid, branches_covered),
        lines_valid=lines_valid,
        lines_covered=lines_covered,
        branches_valid=branches_valid,
        branches_covered=branches_covered,
        packages=tuple(_packages(root, attrs)),
    )


def _branch_rate(root: Element, attrs: _Attributes, valid: int | None, covered: int | None) -> float | None:
    if valid is not None and covered is not None:
        return 100.0 * covered / valid if valid else None
    rate = attrs.rate(root, "branch-rate")
    # Without counts, a zero rate cannot be told apart from "branches were not measured".
    return rate if rate else None


def _packages(root: Element, attrs: _Attributes) -> list[PackageCoverage]:
    packages = []
    for element in root.iter():
        if local_name(element) != "package":
            continue
        branches = [
            line for line in element.iter() if local_name(line) == "line" and line.get("branch") == "true"
        ]
        branch_rate = attrs.rate(element, "branch-rate")
        packages.append(
            PackageCoverage(
                name=element.get("name", ""),
                line_rate=attrs.rate(element, "line-rate", required=True) or 0.0,
                branch_rate=branch_rate if branches else None,
            )
        )
    return packages


def _count_lines(root: Element, attrs: _Attributes) -> tuple[int, int]:
    """Lines valid and covered from the `<line hits>` elements, for writers that omit the totals."""
    seen: dict[tuple[str, str], bool] = {}
    for cls in root.iter():
        if local_name(cls) != "class":
            continue
        for line in cls.iter():
            if local_name(line) == "line":
                key = (cls.get("filename", ""), line.get("number", ""))
                seen[key] = seen.get(key, False) or (attrs.count(line, "hits") or 0) > 0
    return len(seen), sum(seen.values())


@dataclass(frozen=True)
class _Attributes:
    """Reads numeric attributes; a value that is not a number is a ReportInvalid naming it."""

    source: str

    def count(self, element: Element, name: str) -> int | None:
        raw = element.get(name)
        if raw is None:
            return None
        try:
            value = int(raw)
        except ValueError:
            self._fail(element, name, raw, "a whole number")
        if value < 0:
            self._fail(element, name, raw, "a whole number ≥ 0")
        return value

    def rate(self, element: Element, name: str, *, required: bool = False) -> float | None:
        """A `0..1` rate attribute as a percentage."""
        raw = element.get(name)
        if raw is None:
            if required:
                self._fail(element, name, None, "a rate between 0 and 1")
            return None
        try:
            value = float(raw)
        except ValueError:
            self._fail(element, name, raw, "a rate between 0 and 1")
        if not 0.0 <= value <= 1.0:
            self._fail(element, name, raw, "a rate between 0 and 1")
        return 100.0 * value

    def _fail(self, element: Element, name: str, raw: str | None, expected: str) -> NoReturn:
        tag = local_name(element)
        where = f"<{tag} name={element.get('name')!r}>" if element.get("name") is not None else f"<{tag}>"
        found = "missing" if raw is None else f"{raw!r}"
        raise ReportInvalid(
            f"{self.source}: {where} attribute {name} is {found}, expected {expected}",
            source=self.source,
            kind="cobertura",
            path=f"{tag}@{name}",
        )
