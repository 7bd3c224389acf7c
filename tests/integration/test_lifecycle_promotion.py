"""A user moves releases through the lifecycle: deploy, promote, auto-deploy, hotfixes and pre-releases.

Every refusal names what is missing, is kept in the audit trail and changes nothing else.
"""

from __future__ import annotations

from typing import Any

from support.cli import CliRunner, Result
from support.store import execute, snapshot

from .conftest import Project

STEP = """\
process:
  - name: hello
    script: echo "deploying $CLEARANCE_SERVICE $CLEARANCE_RELEASE_VERSION to $CLEARANCE_ENVIRONMENT"
"""

AUTO_CONFIG = (
    """\
project: shop
services:
  - name: web
  - name: api
environments:
  - name: dev
  - name: staging
  - name: prod
    production: true
lifecycle:
  phases:
    - environments: [dev]
      auto_deploy: true
    - environments: [staging]
    - environments: [prod]
      auto_deploy: true
"""
    + STEP
)

QA_CONFIG = (
    """\
project: shop
services:
  - name: web
  - name: api
environments:
  - name: dev
  - name: qa-east
  - name: qa-west
  - name: perf
  - name: prod
    production: true
lifecycle:
  phases:
    - environments: [dev]
    - name: qa
      environments: [qa-east, qa-west]
      required: 1
    - environments: [perf]
      required: optional
    - environments: [prod]
"""
    + STEP
)

HOTFIX_CONFIG = (
    """\
project: shop
services:
  - name: web
  - name: api
environments:
  - name: dev
  - name: staging
  - name: prod
    production: true
lifecycle:
  phases:
    - environments: [dev]
    - environments: [staging]
    - environments: [prod]
hotfix_lifecycle:
  phases:
    - environments: [staging]
    - environments: [prod]
"""
    + STEP
)


def _ok(result: Result) -> Result:
    assert result.exit_code == 0, result
    return result


def _said(result: Result) -> str:
    """stderr as one line: the console wraps long messages at its width."""
    return " ".join(result.stderr.split())


def _deployed(result: Result) -> list[tuple[str, str, str, str]]:
    """(environment, service, version, state) of each deployment a --json command reports, in order."""
    document = result.json()
    assert document["schema_version"] == 1
    return [(d["environment"], d["service"], d["version"], d["state"]) for d in document["deployments"]]


def _stored_deployments(project: Project) -> list[tuple[str, str, str, str, str]]:
    rows = execute(
        project.database_url,
        "SELECT r.version, d.environment, d.service, d.kind, d.state FROM deployments d "
        "JOIN releases r ON r.id = d.release_id ORDER BY d.id",
    )
    return [tuple(row) for row in rows]


def _audit(cli: CliRunner, tag: str) -> list[dict[str, Any]]:
    result = _ok(cli("audit", "list", "--json", "--tag", tag, "--limit", "100"))
    return list(result.json()["entries"])


def _only_audit_grew(before: dict[str, Any], after: dict[str, Any], entries: int) -> None:
    """The command wrote `entries` audit entries and nothing else."""
    changed = {table for table in before if before[table] != after[table]}
    assert changed <= {"audit_entries", "audit_head"}, changed
    assert len(after["audit_entries"]) == len(before["audit_entries"]) + entries
    assert set(before["audit_entries"]) <= set(after["audit_entries"])


def test_skipping_staging_is_refused_audited_and_changes_nothing_else(
    project: Project, cli: CliRunner
) -> None:
    _ok(cli("release", "create", "1.0.0"))
    _ok(cli("deploy", "1.0.0", "--to", "dev"))
    before = snapshot(project.database_url)

    result = cli("deploy", "1.0.0", "--to", "prod", "--json")

    assert result.exit_code == 3, result
    assert "staging" in _said(result)
    assert "cannot deploy 1.0.0 to prod" in _said(result)
    error = result.json()["error"]
    assert result.json()["schema_version"] == 1
    assert error["code"] == "lifecycle-violation"
    assert error["data"]["missing"] == ["staging"]
    assert "deploy 1.0.0 to staging first" in error["hint"]
    _only_audit_grew(before, snapshot(project.database_url), entries=1)
    [refusal] = _audit(cli, "promotion:refused")
    assert refusal["actor"] == "alice"
    assert refusal["subject"] == "release:shop@1.0.0"
    assert refusal["data"]["environment"] == "prod"
    assert refusal["data"]["version"] == "1.0.0"
    assert refusal["data"]["code"] == "lifecycle-violation"
    assert refusal["data"]["missing"] == ["staging"]
    assert all(d[1] != "prod" for d in _stored_deployments(project))


def test_promote_walks_dev_staging_prod_then_refuses(project: Project, cli: CliRunner) -> None:
    _ok(cli("release", "create", "1.0.0"))
    walked = [_deployed(_ok(cli("promote", "1.0.0", "--json"))) for _ in range(3)]

    assert walked == [
        [(env, "web", "1.0.0", "succeeded"), (env, "api", "1.0.0", "succeeded")]
        for env in ("dev", "staging", "prod")
    ]
    listed = _ok(cli("release", "list", "--json")).json()["releases"]
    assert listed[0]["deployed_to"] == ["dev", "staging", "prod"]
    before = snapshot(project.database_url)

    done = cli("promote", "1.0.0", "--json")

    assert done.exit_code == 3, done
    assert "1.0.0 has completed its lifecycle" in _said(done)
    assert done.json()["error"]["code"] == "nothing-to-promote"
    after = snapshot(project.database_url)
    assert after["deployments"] == before["deployments"]
    assert after["deployment_steps"] == before["deployment_steps"]


def test_promote_moves_each_service_to_its_own_next_phase(project: Project, cli: CliRunner) -> None:
    _ok(cli("release", "create", "1.0.0"))
    _ok(cli("deploy", "1.0.0", "--to", "dev", "--service", "web"))

    promoted = _deployed(_ok(cli("promote", "1.0.0", "--json")))

    assert sorted(promoted) == [
        ("dev", "api", "1.0.0", "succeeded"),
        ("staging", "web", "1.0.0", "succeeded"),
    ]


def test_release_create_auto_deploys_the_first_phase(project: Project, cli: CliRunner) -> None:
    project.write_config(AUTO_CONFIG)

    created = _ok(cli("release", "create", "1.0.0", "--json"))

    assert created.json()["release"]["version"] == "1.0.0"
    assert _deployed(created) == [("dev", "web", "1.0.0", "succeeded"), ("dev", "api", "1.0.0", "succeeded")]
    assert "deploying web 1.0.0 to dev" in _said(created)

    quiet = _ok(cli("release", "create", "1.1.0", "--no-deploy", "--json"))
    assert quiet.json()["deployments"] == []
    assert [d for d in _stored_deployments(project) if d[0] == "1.1.0"] == []


def test_completing_a_phase_auto_deploys_the_next_auto_phase(project: Project, cli: CliRunner) -> None:
    project.write_config(AUTO_CONFIG)
    _ok(cli("release", "create", "1.0.0"))

    # staging is not automatic; once it is complete, prod (auto_deploy) follows without being asked.
    promoted = _ok(cli("promote", "1.0.0", "--json"))

    assert _deployed(promoted) == [
        ("staging", "web", "1.0.0", "succeeded"),
        ("staging", "api", "1.0.0", "succeeded"),
        ("prod", "web", "1.0.0", "succeeded"),
        ("prod", "api", "1.0.0", "succeeded"),
    ]
    assert _stored_deployments(project) == [
        ("1.0.0", env, svc, "deploy", "succeeded")
        for env in ("dev", "staging", "prod")
        for svc in ("web", "api")
    ]


def test_a_refused_automatic_follow_up_does_not_fail_the_promotion(project: Project, cli: CliRunner) -> None:
    project.write_config(AUTO_CONFIG)
    _ok(cli("release", "create", "2.0.0-rc.1"))
    before = snapshot(project.database_url)

    # staging is what the user asked for; prod (auto_deploy, production) refuses a pre-release.
    promoted = _ok(cli("promote", "2.0.0-rc.1", "--json"))

    assert _deployed(promoted) == [
        ("staging", "web", "2.0.0-rc.1", "succeeded"),
        ("staging", "api", "2.0.0-rc.1", "succeeded"),
    ]
    [refused] = promoted.json()["refused"]
    assert refused["code"] == "lifecycle-violation"
    assert "2.0.0-rc.1 is a pre-release and prod is a production environment" in refused["message"]
    assert "automatic deployment refused: cannot deploy 2.0.0-rc.1 to prod" in _said(promoted)
    assert _audit(cli, "promotion:refused")[0]["data"]["environment"] == "prod"
    after = snapshot(project.database_url)
    assert len(after["deployments"]) == len(before["deployments"]) + 2


def test_an_auto_phase_of_two_environments_deploys_each_once(project: Project, cli: CliRunner) -> None:
    project.write_config("""\
        project: shop
        services:
          - name: web
        environments:
          - name: dev-a
          - name: dev-b
          - name: prod
        lifecycle:
          phases:
            - environments: [dev-a, dev-b]
              auto_deploy: true
            - environments: [prod]
        process:
          - name: hello
            script: echo "$CLEARANCE_ENVIRONMENT"
        """)

    created = _ok(cli("release", "create", "1.0.0", "--json"))

    assert sorted(_deployed(created)) == [
        ("dev-a", "web", "1.0.0", "succeeded"),
        ("dev-b", "web", "1.0.0", "succeeded"),
    ]
    assert sorted(_stored_deployments(project)) == [
        ("1.0.0", "dev-a", "web", "deploy", "succeeded"),
        ("1.0.0", "dev-b", "web", "deploy", "succeeded"),
    ]


def test_a_phase_requiring_one_of_two_environments(project: Project, cli: CliRunner) -> None:
    project.write_config(QA_CONFIG)
    _ok(cli("release", "create", "1.0.0"))
    _ok(cli("deploy", "1.0.0", "--to", "dev"))
    before = snapshot(project.database_url)

    refused = cli("deploy", "1.0.0", "--to", "prod")

    assert refused.exit_code == 3, refused
    assert "phase 'qa' needs 1 of [qa-east, qa-west], has 0" in _said(refused)
    _only_audit_grew(before, snapshot(project.database_url), entries=1)

    _ok(cli("deploy", "1.0.0", "--to", "qa-west"))
    # One of the two is enough, and the optional perf phase may be skipped.
    shipped = _ok(cli("deploy", "1.0.0", "--to", "prod", "--json"))
    assert _deployed(shipped) == [
        ("prod", "web", "1.0.0", "succeeded"),
        ("prod", "api", "1.0.0", "succeeded"),
    ]
    assert "qa-east" not in {d[1] for d in _stored_deployments(project)}


def test_promote_offers_an_optional_phase_until_it_is_skipped(project: Project, cli: CliRunner) -> None:
    project.write_config(QA_CONFIG)
    _ok(cli("release", "create", "1.0.0"))
    _ok(cli("deploy", "1.0.0", "--to", "dev"))

    to_qa = _deployed(_ok(cli("promote", "1.0.0", "--json")))
    to_perf = _deployed(_ok(cli("promote", "1.0.0", "--json")))
    to_prod = _deployed(_ok(cli("promote", "1.0.0", "--json")))

    # Promote asks for the whole qa phase, even though one of its environments would do.
    assert sorted({(env, state) for env, _, _, state in to_qa}) == [
        ("qa-east", "succeeded"),
        ("qa-west", "succeeded"),
    ]
    assert {env for env, *_ in to_perf} == {"perf"}
    assert {env for env, *_ in to_prod} == {"prod"}
    assert cli("promote", "1.0.0").exit_code == 3


def test_a_hotfix_follows_the_hotfix_lifecycle(project: Project, cli: CliRunner) -> None:
    project.write_config(HOTFIX_CONFIG)
    _ok(cli("release", "create", "1.0.0"))
    _ok(cli("release", "create", "1.0.1", "--type", "hotfix"))
    _ok(cli("release", "create", "1.1.0"))

    # A hotfix skips dev: its lifecycle starts at staging.
    assert _deployed(_ok(cli("promote", "1.0.1", "--json")))[0][0] == "staging"
    assert _deployed(_ok(cli("deploy", "1.0.1", "--to", "prod", "--json"))) == [
        ("prod", "web", "1.0.1", "succeeded"),
        ("prod", "api", "1.0.1", "succeeded"),
    ]

    # dev is not in the hotfix lifecycle at all.
    outside = cli("deploy", "1.0.1", "--to", "dev")
    assert outside.exit_code == 3, outside
    assert "dev is not in the lifecycle" in _said(outside)

    # A normal release still has to start at dev.
    normal = cli("deploy", "1.1.0", "--to", "staging")
    assert normal.exit_code == 3, normal
    assert "missing: dev" in _said(normal)


def test_a_prerelease_stays_out_of_production_unless_allowed(project: Project, cli: CliRunner) -> None:
    _ok(cli("release", "create", "2.0.0-rc.1"))
    _ok(cli("deploy", "2.0.0-rc.1", "--to", "dev"))
    _ok(cli("deploy", "2.0.0-rc.1", "--to", "staging"))
    before = snapshot(project.database_url)

    refused = cli("deploy", "2.0.0-rc.1", "--to", "prod", "--json")

    assert refused.exit_code == 3, refused
    assert "2.0.0-rc.1 is a pre-release and prod is a production environment" in _said(refused)
    assert "allow_prerelease: true" in refused.json()["error"]["hint"]
    _only_audit_grew(before, snapshot(project.database_url), entries=1)
    assert _audit(cli, "promotion:refused")[0]["data"]["environment"] == "prod"

    project.write_config(BASIC_WITH_PRERELEASE_PROD)
    allowed = _ok(cli("deploy", "2.0.0-rc.1", "--to", "prod", "--json"))
    assert _deployed(allowed) == [
        ("prod", "web", "2.0.0-rc.1", "succeeded"),
        ("prod", "api", "2.0.0-rc.1", "succeeded"),
    ]


BASIC_WITH_PRERELEASE_PROD = (
    """\
project: shop
services:
  - name: web
  - name: api
environments:
  - name: dev
  - name: staging
  - name: prod
    production: true
    allow_prerelease: true
lifecycle:
  phases:
    - environments: [dev]
    - environments: [staging]
    - environments: [prod]
"""
    + STEP
)


def test_unknown_release_or_environment_is_not_found_and_changes_nothing(
    project: Project, cli: CliRunner
) -> None:
    _ok(cli("release", "create", "1.0.0"))
    before = snapshot(project.database_url)

    no_release = cli("deploy", "9.9.9", "--to", "dev", "--json")
    assert no_release.exit_code == 4, no_release
    assert "no release 9.9.9" in _said(no_release)
    assert "known releases: 1.0.0" in no_release.json()["error"]["hint"]

    no_env = cli("deploy", "1.0.0", "--to", "stagign")
    assert no_env.exit_code == 4, no_env
    assert "unknown environment 'stagign'" in _said(no_env)
    assert "did you mean 'staging'?" in _said(no_env)

    no_service = cli("deploy", "1.0.0", "--to", "dev", "--service", "wbe")
    assert no_service.exit_code == 4, no_service
    assert "did you mean 'web'?" in _said(no_service)

    assert cli("promote", "9.9.9").exit_code == 4
    assert snapshot(project.database_url) == before


def test_service_selection_deploys_only_the_named_services(project: Project, cli: CliRunner) -> None:
    _ok(cli("release", "create", "1.0.0"))

    web = _ok(cli("deploy", "1.0.0", "--to", "dev", "--service", "web", "--json"))
    assert _deployed(web) == [("dev", "web", "1.0.0", "succeeded")]
    _ok(cli("deploy", "1.0.0", "--to", "staging", "-s", "web"))

    # api never reached dev, so its staging is refused while web's went through.
    api = cli("deploy", "1.0.0", "--to", "staging", "--service", "api")
    assert api.exit_code == 3, api
    assert "missing: dev" in _said(api)
    assert _audit(cli, "promotion:refused")[0]["data"]["services"] == ["api"]
    assert _stored_deployments(project) == [
        ("1.0.0", "dev", "web", "deploy", "succeeded"),
        ("1.0.0", "staging", "web", "deploy", "succeeded"),
    ]


def test_status_matrix_and_history(project: Project, cli: CliRunner) -> None:
    _ok(cli("release", "create", "1.0.0"))
    _ok(cli("release", "create", "1.1.0"))
    _ok(cli("promote", "1.0.0"))
    _ok(cli("promote", "1.0.0"))
    _ok(cli("deploy", "1.1.0", "--to", "dev", "--service", "web"))

    status = _ok(cli("status", "--json")).json()

    assert status["schema_version"] == 1
    assert status["project"] == "shop"
    assert status["environments"] == ["dev", "staging", "prod"]
    assert status["services"] == ["web", "api"]
    cells = {(c["environment"], c["service"]): c["deployment"] for c in status["matrix"]}
    assert len(status["matrix"]) == 6
    assert {key: (d["version"], d["state"]) for key, d in cells.items() if d is not None} == {
        ("dev", "web"): ("1.1.0", "succeeded"),
        ("dev", "api"): ("1.0.0", "succeeded"),
        ("staging", "web"): ("1.0.0", "succeeded"),
        ("staging", "api"): ("1.0.0", "succeeded"),
    }
    assert cells[("prod", "web")] is None and cells[("prod", "api")] is None
    assert cells[("dev", "web")]["requested_by"] == "alice"
    assert cells[("dev", "web")]["finished_at"].endswith("Z")

    dev = _ok(cli("history", "dev", "--json")).json()
    assert dev["schema_version"] == 1
    assert [(d["version"], d["service"], d["kind"]) for d in dev["deployments"]] == [
        ("1.1.0", "web", "deploy"),
        ("1.0.0", "api", "deploy"),
        ("1.0.0", "web", "deploy"),
    ]
    ids = [d["id"] for d in dev["deployments"]]
    assert ids == sorted(ids, reverse=True)

    everything = _ok(cli("history", "--json", "--limit", "2")).json()["deployments"]
    assert [(d["environment"], d["version"]) for d in everything] == [("dev", "1.1.0"), ("staging", "1.0.0")]

    unknown = cli("history", "prdo")
    assert unknown.exit_code == 4, unknown
    assert "did you mean 'prod'?" in _said(unknown)
