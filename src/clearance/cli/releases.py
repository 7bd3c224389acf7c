"""`clearance release create|list|show|flag`."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from clearance.cli.deployments import warn_refused
from clearance.cli.options import Actor, ConfigPath, Json
from clearance.cli.output import age, emit_json, err, local_time, out, state_text
from clearance.cli.progress import ConsoleProgress
from clearance.cli.release_evidence import print_gate_records, release_decisions, release_gate_records
from clearance.delivery import service as delivery
from clearance.delivery.views import deployment_summary, release_deployments
from clearance.errors import UsageError
from clearance.flags.release_links import link_flag, release_flags
from clearance.planning.releases import (
    ReleaseType,
    WorkItem,
    infer_release_type,
    parse_commit,
    parse_work_item,
)
from clearance.planning.service import NewRelease, create_release, find_release, list_releases
from clearance.store import Release
from clearance.versioning.changelog import GitRelease, release_from_git, tag_release, untag_release
from clearance.versioning.semver import Version
from clearance.versioning.settings import load_versioning
from clearance.workspace import open_workspace

release_app = typer.Typer(help="Plan and record releases.", no_args_is_help=True)


def release_json(release: Release) -> dict[str, Any]:
    return {
        "id": release.id,
        "version": release.version,
        "type": release.type,
        "notes": release.notes,
        "planned_date": release.planned_date.isoformat() if release.planned_date else None,
        "risk_notes": release.risk_notes,
        "rollback_plan": release.rollback_plan,
        "created_by": release.created_by,
        "created_at": release.created_at.isoformat(),
        "commit": release.commit,
        "scope": [{"id": w.key, "title": w.title, "url": w.url} for w in release.work_items],
    }


@release_app.command("create")
def create(
    version: Annotated[
        str | None,
        typer.Argument(
            help="SemVer 2.0 version, e.g. 1.4.0 or 2.0.0-rc.1 (left out with --from-git).",
            show_default=False,
        ),
    ] = None,
    release_type: Annotated[
        ReleaseType | None, typer.Option("--type", help="Inferred when omitted.", show_default=False)
    ] = None,
    notes_file: Annotated[Path | None, typer.Option("--notes-file", help="Release notes (Markdown).")] = None,
    notes: Annotated[str, typer.Option("--notes", help="Release notes, inline.")] = "",
    scope: Annotated[
        list[str] | None, typer.Option("--scope", help="Work item ID:TITLE[:URL]; repeatable.")
    ] = None,
    planned: Annotated[str | None, typer.Option("--planned", help="Planned date, YYYY-MM-DD.")] = None,
    risk: Annotated[str, typer.Option("--risk", help="Risk notes.")] = "",
    rollback_plan: Annotated[str, typer.Option("--rollback-plan", help="How to go back.")] = "",
    commit: Annotated[
        str | None, typer.Option("--commit", help="The commit it is built from (evidence must match).")
    ] = None,
    deploy: Annotated[
        bool, typer.Option("--deploy/--no-deploy", help="Deploy to auto_deploy phases it may enter now.")
    ] = True,
    from_git: Annotated[
        bool,
        typer.Option(
            "--from-git", help="Version, type, notes and scope from the commits since the last release tag."
        ),
    ] = False,
    service: Annotated[
        str | None, typer.Option("--service", help="With --from-git: the service whose path and tags count.")
    ] = None,
    tag: Annotated[
        bool,
        typer.Option("--tag", help="With --from-git: also create the annotated release tag (never pushed)."),
    ] = False,
    allow_shallow: Annotated[
        bool, typer.Option("--allow-shallow", help="With --from-git: accept a shallow clone's history.")
    ] = False,
    actor: Actor = None,
    config: ConfigPath = None,
    as_json: Json = False,
) -> None:
    """Record a release with its scope, dates, risks and rollback plan; then deploy it to the
    lifecycle's auto_deploy phases that it may enter (unless --no-deploy). With --from-git, the
    version, type, notes and scope come from the Conventional Commits since the last release tag."""
    items = tuple(parse_work_item(s) for s in scope or ())
    commit_id = parse_commit(commit) if commit else None
    if from_git == (version is not None):
        raise UsageError(
            "give either a VERSION or --from-git",
            hint="--from-git computes the version from the commits since the last release tag",
        )
    if not from_git and (service is not None or tag or allow_shallow):
        raise UsageError("--service, --tag and --allow-shallow go with --from-git")
    if notes_file is not None:
        try:
            notes = notes_file.read_text(encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"cannot read --notes-file {notes_file}: {exc.strerror}") from exc
    planned_date = None
    if planned:
        try:
            planned_date = date.fromisoformat(planned)
        except ValueError as exc:
            raise UsageError(f"--planned '{planned}' is not a date", hint="use YYYY-MM-DD") from exc
    ws = open_workspace(config, actor=actor)
    git = None
    versioning = load_versioning(ws.loaded.path) if from_git else None
    if versioning is not None:
        git = release_from_git(versioning, service, allow_shallow)
        version = git.version
        notes = notes or git.markdown
        items = _git_work_items(git) + items
        release_type = release_type or infer_release_type(Version.parse(git.version), git.existing)
    assert version is not None
    if git is not None:
        commit_id = commit_id or git.report.head.commit  # what the version and notes were read from
    # The tag first: when git cannot make it (no identity, a tag of that name), nothing is recorded;
    # when the release cannot be recorded, the tag just made is taken back.
    tag_name = tag_release(versioning, git) if versioning is not None and git is not None and tag else None
    try:
        release = create_release(
            ws,
            NewRelease(
                version=version,
                type=release_type,
                notes=notes,
                scope=items,
                planned_date=planned_date,
                risk_notes=risk,
                rollback_plan=rollback_plan,
                commit=commit_id,
            ),
        )
    except BaseException:
        if tag_name is not None and versioning is not None:
            untag_release(versioning, tag_name)
        raise
    if not as_json:
        err().print(
            f"[green]✔[/] release [bold]{escape(release.version)}[/] created ({release.type}, "
            f"{len(items)} work item{'s' if len(items) != 1 else ''})"
        )
    if tag_name and not as_json:
        err().print(
            f"[green]✔[/] tag [bold]{escape(tag_name)}[/] created (not pushed: `git push origin {escape(tag_name)}`)"
        )
    outcome = delivery.auto_deploy(ws, release.version, progress=ConsoleProgress()) if deploy else None
    with ws.store.transaction() as session:
        release = find_release(session, ws.project_id, release.version)
        document = release_json(release)
    deployed = outcome.deployments if outcome else []
    refused = outcome.refused if outcome else []
    if outcome is not None:
        warn_refused(outcome)
    if as_json:
        emit_json(
            {
                "release": document,
                "deployments": [deployment_summary(d) for d in deployed],
                "refused": [r.to_problem() for r in refused],
                "tag": tag_name,
            }
        )
    if outcome is not None and not outcome.ok:
        raise typer.Exit(1)


def _git_work_items(git: GitRelease) -> tuple[WorkItem, ...]:
    return tuple(WorkItem(id=item.id, title=item.title, url=item.url) for item in git.notes.work_items)


@release_app.command("list")
def list_(config: ConfigPath = None, as_json: Json = False) -> None:
    """Releases, newest version first, with where each one is deployed."""
    ws = open_workspace(config)
    with ws.store.transaction() as session:
        rows = []
        for release in list_releases(session, ws.project_id):
            done = [d for d in release_deployments(session, release) if d.state == "succeeded"]
            envs = [e for e in ws.config.environment_names() if any(d.environment == e for d in done)]
            rows.append((release_json(release), envs))
    if as_json:
        emit_json({"releases": [{**r, "deployed_to": envs} for r, envs in rows]})
        return
    table = Table(title=f"releases of {ws.config.project}")
    for column in ("version", "type", "scope", "deployed to", "created", "by"):
        table.add_column(column)
    for r, envs in rows:
        table.add_row(
            r["version"],
            r["type"],
            str(len(r["scope"])),
            ", ".join(envs) or "-",
            r["created_at"][:19].replace("T", " "),
            r["created_by"],
        )
    out().print(table)


@release_app.command("show")
def show(
    version: Annotated[str, typer.Argument(help="The release's version.")],
    config: ConfigPath = None,
    as_json: Json = False,
) -> None:
    """One release: scope, notes, risks, rollback plan and its deployments."""
    ws = open_workspace(config)
    with ws.store.transaction() as session:
        release = find_release(session, ws.project_id, version)
        document = release_json(release)
        deployments = release_deployments(session, release)
        document["deployments"] = [deployment_summary(d) for d in deployments]
        rows = [
            (
                d.id,
                d.environment,
                d.service,
                state_text(d.state, d.reason),
                d.requested_by,
                age(d.finished_at or d.created_at),
            )
            for d in deployments
        ]
        created = local_time(release.created_at)
        document |= release_gate_records(session, release)
        document |= release_decisions(ws, session, release)
        document["flags"] = [view.to_json() for view in release_flags(ws, session, release)]
    if as_json:
        emit_json({"release": document})
        return
    console = out()
    console.print(
        f"[bold]{escape(document['version'])}[/] ({document['type']}) — created {created} "
        f"by {escape(document['created_by'])}"
    )
    if document["planned_date"]:
        console.print(f"planned: {document['planned_date']}")
    if document["commit"]:
        console.print(f"commit: {document['commit']}")
    for label, key in (("risks", "risk_notes"), ("rollback plan", "rollback_plan")):
        if document[key]:
            console.print(f"{label}: {escape(document[key])}")
    if document["scope"]:
        console.print("scope:")
        for item in document["scope"]:
            link = f" <{item['url']}>" if item["url"] else ""
            console.print(f"  • {escape(item['id'])} {escape(item['title'])}{escape(link)}")
    if document["notes"]:
        console.print("notes:")
        console.print(escape(document["notes"].rstrip()))
    table = Table(title="deployments")
    for column in ("id", "environment", "service", "state", "by", "when"):
        table.add_column(column)
    for row in rows:
        table.add_row(str(row[0]), row[1], row[2], row[3], row[4], row[5])
    console.print(table if rows else "[dim]not deployed yet[/]")
    _print_flags(console, document["flags"])
    print_gate_records(console, document)


def _print_flags(console: Console, flags: list[dict[str, Any]]) -> None:
    if not flags:
        return
    console.print("flags:")
    for flag in flags:
        shares = ", ".join(
            f"{env} {'off' if share is None else f'{share}%'}" for env, share in flag["rollout"].items()
        )
        cleanup = " — [yellow]proposed for clean-up[/] (fully rolled out)" if flag["cleanup_proposed"] else ""
        console.print(f"  • {escape(flag['name'])}: {shares}{cleanup}")


@release_app.command("flag")
def flag(
    version: Annotated[str, typer.Argument(help="The release's version.")],
    name: Annotated[str, typer.Argument(help="The flag the release needs.")],
    unlink: Annotated[bool, typer.Option("--unlink", help="Remove the link instead.")] = False,
    actor: Actor = None,
    config: ConfigPath = None,
    as_json: Json = False,
) -> None:
    """Link a feature flag to the release that needs it: a `flag-rollout` deployment rolls it out,
    and once it is fully out in production `release show` proposes it for clean-up."""
    changed = link_flag(open_workspace(config, actor=actor), version, name, unlink=unlink)
    if as_json:
        emit_json({"version": version, "flag": name, "linked": not unlink, "changed": changed})
        return
    if not changed:
        err().print(f"flag {escape(name)} is already linked to release {escape(version)}")
    elif unlink:
        err().print(f"[green]✔[/] flag {escape(name)} unlinked from release {escape(version)}")
    else:
        err().print(f"[green]✔[/] flag {escape(name)} linked to release {escape(version)}")
