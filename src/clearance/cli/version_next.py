"""`clearance version next`, run: it is in every CI pipeline and must answer in well under 0.3 s,
so it starts without Typer (see `cli/fast.py`); `cli/versions.py` declares it for Typer.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from clearance.cli.fast import Options, emit, err, out, parse
from clearance.errors import NotFound
from clearance.project.files import find_config
from clearance.versioning.bumps import Effect, Level
from clearance.versioning.service import Target, VersionOptions, VersionReport, plan_version, targets
from clearance.versioning.settings import VersioningSettings, load_versioning

CHANNELS = ("alpha", "beta", "rc")
BUMPS = ("major", "minor", "patch")
OPTIONS = Options(
    values={
        "--service": "service",
        "-s": "service",
        "--channel": "channel",
        "--from-tag": "from_tag",
        "--bump": "bump",
        "--release-as": "release_as",
        "--config": "config",
        "-c": "config",
    },
    flags={
        "--all": "every",
        "--allow-shallow": "allow_shallow",
        "--explain": "explain",
        "--verbose": "verbose",
        "-v": "verbose",
        "--json": "as_json",
    },
    choices={"channel": CHANNELS, "bump": BUMPS},
)


def fast_path(args: Sequence[str]) -> int | None:
    """Run `version next ARGS` without Typer; None when Typer has to (help, usage errors)."""
    options = parse(args, OPTIONS)
    if options is None:
        return None
    run_next(**options)
    return 0


def load_settings(config: Path | None) -> VersioningSettings:
    path = config if config is not None else find_config(Path.cwd())
    if not path.exists():
        raise NotFound(f"no config file at {path}", hint="run `clearance init` to write one")
    return load_versioning(path)


def run_next(
    *,
    service: str | None,
    every: bool,
    channel: str | None,
    from_tag: str | None,
    bump: str | None,
    release_as: str | None,
    allow_shallow: bool,
    explain: bool,
    verbose: bool,
    config: Path | None,
    as_json: bool,
) -> None:
    settings = load_settings(config)
    options = VersionOptions(
        channel=channel,
        from_tag=from_tag,
        allow_shallow=allow_shallow,
        bump=Level.named(bump) if bump else None,
        release_as=release_as,
    )
    reports = [plan_version(settings, target, options) for target in targets(settings, service, every)]
    for warning in dict.fromkeys(w for report in reports for w in report.warnings):
        err(f"warning: {warning}")
    if verbose:
        for report in reports:
            if report.ignored_tags:
                err(f"ignored tags (not {report.target.tags.text}): {', '.join(report.ignored_tags)}")
    if every:
        _show_all(reports, as_json)
        return
    report = reports[0]
    if as_json:
        emit({**report_json(report), "changes": [effect_json(e) for e in report.decision.effects]})
        return
    out(str(report.next.version))
    if not report.next.release_needed:
        since = report.latest.name if report.latest else "the start"
        err(f"nothing to release since {since}: no change bumps the version")
    if explain:
        out(explanation(report))


def report_json(report: VersionReport) -> dict[str, Any]:
    return {
        "service": report.target.service,
        "version": str(report.next.version),
        "tag": report.tag,
        "release_needed": report.next.release_needed,
        "bump": str(report.next.level),
        "current": str(report.latest.version) if report.latest else None,
        "current_tag": report.latest.name if report.latest else None,
        "base_tag": report.base.name if report.base else None,
        "hotfix": report.hotfix,
        "branch": report.head.branch,
        "head": report.head.commit,
        "decided_by": [effect.change.ident for effect in report.decision.decisive()],
        "reasons": report.next.reasons,
        "warnings": report.warnings,
        "ignored_tags": report.ignored_tags,
    }


def effect_json(effect: Effect) -> dict[str, Any]:
    change = effect.change
    return {
        "commit": change.hash,
        "id": change.ident,
        "header": change.message.header,
        "type": change.type,
        "bump": str(effect.level),
        "reason": effect.reason,
        "counts": effect.counts,
        "cancelled_by": effect.cancelled_by,
    }


def explanation(report: VersionReport) -> str:
    """Every change in the range with its effect; ▲ marks those that decided the bump."""
    effects = report.decision.effects
    since = f"since {report.base.name}" if report.base else "since the first commit"
    where = f"on {report.head.branch}" if report.head.branch else "(detached HEAD)"
    lines = [f"{len(effects)} change{'s' if len(effects) != 1 else ''} {since} {where}:"]
    decisive = {id(effect) for effect in report.decision.decisive()}
    for effect in effects:
        mark = "▲" if id(effect) in decisive else " "
        level = str(effect.level) if effect.counts else "-"
        header = effect.change.message.header
        header = header if len(header) <= 60 else header[:57] + "..."
        why = effect.cancelled_by or effect.reason
        lines.append(f"  {mark} {level:6} {effect.change.ident:9} {header:60}  {why}")
    bump = str(report.next.level) if report.next.release_needed else "nothing to release"
    lines.append(f"bump: {bump}" + (" (maintenance line)" if report.hotfix else ""))
    lines += [f"  {reason}" for reason in report.next.reasons]
    return "\n".join(lines)


def _show_all(reports: list[VersionReport], as_json: bool) -> None:
    needed = [report for report in reports if report.next.release_needed]
    if as_json:
        up_to_date = [report.target.service for report in reports if not report.next.release_needed]
        emit({"services": [report_json(report) for report in needed], "up_to_date": up_to_date})
        return
    if not needed:
        err("every service is up to date: no change bumps a version")
        return
    rows = [("service", "current", "next", "bump", "changes")]
    for report in needed:
        rows.append(
            (
                _name(report.target),
                report.latest.name if report.latest else "-",
                report.tag,
                str(report.next.level),
                str(len(report.decision.effects)),
            )
        )
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    for row in rows:
        out("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())


def _name(target: Target) -> str:
    return target.service or "(project)"
