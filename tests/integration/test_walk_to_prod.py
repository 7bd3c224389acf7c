"""Issue 4 end to end, as a team lives it, on both databases: a small real Python package in git, its
reports written by the real tools (pytest --junitxml under coverage.py, coverage xml, bandit -f sarif,
pip-audit against a local OSV API, cyclonedx-py), its source tarball as the signed artifact, and one
release walked dev → staging → prod through the real CLI. Prod is refused while a gate fails or lacks
evidence, while the approvals are missing, self-given or stale, and while the change request waits for
the CAB; a freeze refuses everything but an emergency hotfix. After every decision, `clearance gates`,
`clearance release show` and the audit trail say what was decided and why; the chain verifies at the end.

No clock is faked: the freeze configured from the start recurs weekly on the day after tomorrow (UTC),
so it is in force only at a scheduled time, and the incident freeze declared later is in force all day."""

from __future__ import annotations

import json
import shutil
import sys
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from importlib.metadata import distribution
from pathlib import Path
from textwrap import indent
from typing import Any

import pytest

from support.cli import CliRunner, Result
from support.git import GitRepo
from support.osv import OsvServer, osv_server
from support.store import execute
from support.tools import BIN, PIP_AUDIT, run_tool

from .conftest import Project

WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
LAUNCH = (datetime.now(UTC) + timedelta(days=2)).replace(hour=12, minute=0, second=0, microsecond=0)

CONFIG = """\
project: shop
services:
  - name: shop
environments:
  - name: dev
  - name: staging
  - name: prod
    production: true
    gates:
      tests: {{max_failed: 0}}
      coverage: {{min_line: 80}}
      vulnerabilities:
        max: {{critical: 0, high: 0, medium: 0, low: 0, unknown: 0}}
        ignore:
          - {{id: CVE-2023-32681, until: 2099-12-31, reason: shop never sends requests through a proxy}}
      sast: {{max_level: warning}}
      licenses: {{deny: [AGPL-3.0-only, GPL-3.0-only]}}
      signature: required
      evidence_fresh: {{max_age: 7d}}
      approvals:
        require: "1 qa-lead and 1 release-manager"
      windows:
        timezone: UTC
        freeze:
          - {{name: launch-day, rrule: 'FREQ=WEEKLY;BYDAY={launch_day}', duration: 1d}}
{incident}
    trusted_keys:
      - name: release-ci
        public_key: |
{public_key}
    change_control:
      cab: "1 release-manager and 1 qa-lead"
      standard: {{types: [patch], max_risk: low}}
      emergency: {{types: [hotfix], approvers: "1 release-manager"}}
lifecycle:
  phases:
    - environments: [dev]
    - environments: [staging]
    - environments: [prod]
hotfix_lifecycle:
  phases:
    - environments: [staging]
    - environments: [prod]
process:
  - name: install
    script: echo "installing $CLEARANCE_SERVICE $CLEARANCE_RELEASE_VERSION in $CLEARANCE_ENVIRONMENT"
"""
# Declared by the release manager during an incident: opens every day at midnight for a whole day.
INCIDENT = "          - {name: incident-4711, rrule: 'FREQ=DAILY;BYHOUR=0', duration: 1d}"

# --- the package and its CI ------------------------------------------------------------------------

PRICING = '''\
"""Prices of the shop."""


def price(amount: float, customer: str) -> float:
    if amount < 0:
        raise ValueError("negative amount")
    if customer == "member":
        return round(amount * 0.9, 2)
    return amount


def shipping(country: str) -> int:
    return 0 if country == "FR" else 12
'''

BUILD_INFO = '''\
"""Which commit this build is (shown on the shop's status page)."""

import subprocess


def commit() -> str:
    return subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=False).stdout
'''

TESTS = """\
import os

import pytest

from shop.build_info import commit
from shop.pricing import price, shipping


def test_member_discount():
    assert price(100, "member") == 90.0
    assert price(100, "guest") == 100


def test_negative_amounts_are_refused():
    with pytest.raises(ValueError):
        price(-1, "guest")


def test_shipping():
    assert (shipping("FR"), shipping("DE")) == (0, 12)


def test_the_build_knows_its_commit():
    assert len(commit().strip()) == 40


def test_payment_sandbox_answers():
    assert os.environ.get("PAYMENT_SANDBOX"), "payment sandbox unavailable"
"""


@dataclass
class Reports:
    junit: Path
    coverage: Path | None = None
    sarif: Path | None = None
    vulnerabilities: Path | None = None
    sbom: Path | None = None

    def items(self) -> list[tuple[str, Path]]:
        """(evidence kind, report) for every report this run wrote."""
        kinds = (
            ("junit", self.junit), ("cobertura", self.coverage), ("sarif", self.sarif),
            ("pip-audit", self.vulnerabilities), ("cyclonedx", self.sbom),
        )  # fmt: skip
        return [(kind, path) for kind, path in kinds if path is not None]


class Package:
    """The `shop` package in a git repository, and its CI: the real tools writing real reports."""

    def __init__(self, root: Path, osv: OsvServer) -> None:
        self.root, self.osv, self.runs = root, osv, 0
        self.repo = GitRepo(root)

    def commit(self, version: str, requests: str, message: str) -> str:
        return self.repo.commit(
            message,
            files={
                "pyproject.toml": f'[project]\nname = "shop"\nversion = "{version}"\nlicense = "Apache-2.0"\n'
                f'dependencies = ["requests=={requests}"]\n',
                "requirements.txt": f"requests=={requests}\n",
                "pytest.ini": "[pytest]\n",
                "shop/__init__.py": "",
                "shop/pricing.py": PRICING,
                "shop/build_info.py": BUILD_INFO,
                "tests/test_pricing.py": TESTS,
            },
        )

    def ci(self, *, sandbox: bool, scans: bool = True) -> Reports:
        """One CI run on the checked-out commit. Without the payment sandbox one test fails, and the
        pipeline stops after the tests and the static analysis."""
        self.runs += 1
        out = self.root / f"ci-{self.runs}"
        out.mkdir()
        env_prefix = ["env", f"PAYMENT_SANDBOX={'http://127.0.0.1:9' if sandbox else ''}"]
        run_tool(
            *env_prefix, sys.executable, "-m", "coverage", "run", f"--data-file={out / '.coverage'}",
            "--source=shop", "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--junitxml={out / f'junit-{self.runs}.xml'}",
            "tests", cwd=self.root, ok=(0,) if sandbox else (1,),
        )  # fmt: skip
        run_tool(
            BIN / "bandit",
            "-q",
            "-r",
            "shop",
            "-f",
            "sarif",
            "-o",
            out / f"bandit-{self.runs}.sarif",
            cwd=self.root,
            ok=(0, 1),
        )
        reports = Reports(junit=out / f"junit-{self.runs}.xml", sarif=out / f"bandit-{self.runs}.sarif")
        if not sandbox or not scans:
            return reports
        run_tool(
            sys.executable, "-m", "coverage", "xml", f"--data-file={out / '.coverage'}", "-o", out / f"coverage-{self.runs}.xml",
            cwd=self.root,
        )  # fmt: skip
        run_tool(
            PIP_AUDIT, "-r", "requirements.txt", "--no-deps", "--disable-pip", "-s", "osv", "--osv-url",
            self.osv.url, "--cache-dir", out / "pip-audit-cache", "--progress-spinner", "off", "-f", "json",
            "-o", out / f"pip-audit-{self.runs}.json", cwd=self.root, ok=(0, 1),
        )  # fmt: skip
        reports.coverage = out / f"coverage-{self.runs}.xml"
        reports.vulnerabilities = out / f"pip-audit-{self.runs}.json"
        reports.sbom = self.sbom(out)
        return reports

    def sbom(self, out: Path) -> Path:
        """cyclonedx-py over the environment the package installs into: its pinned requests and the
        real metadata of requests' own dependencies."""
        venv = out / "venv"
        run_tool(sys.executable, "-m", "venv", "--without-pip", venv, cwd=out)
        site = next(venv.glob("lib/python3*/site-packages"))
        for name in ("idna", "certifi", "urllib3", "charset-normalizer"):
            installed = distribution(name)
            metadata = next(f for f in installed.files or [] if f.name == "METADATA")
            source = Path(str(installed.locate_file(metadata))).parent
            shutil.copytree(source, site / source.name)
        pinned = (self.root / "requirements.txt").read_text().strip().split("==")[1]
        dist_info = site / f"requests-{pinned}.dist-info"
        dist_info.mkdir()
        (dist_info / "METADATA").write_text(
            f"Metadata-Version: 2.1\nName: requests\nVersion: {pinned}\nLicense: Apache 2.0\n"
            "Classifier: License :: OSI Approved :: Apache Software License\n"
        )
        (dist_info / "RECORD").write_text("")
        target = out / f"sbom-{self.runs}.json"
        run_tool(
            BIN / "cyclonedx-py", "environment", "--of", "JSON", "-o", target, "--pyproject", "pyproject.toml",
            venv, cwd=self.root,
        )  # fmt: skip
        return target

    def tarball(self, version: str) -> Path:
        path = self.root.parent / f"shop-{version}.tar.gz"
        with tarfile.open(path, "w:gz") as archive:
            for name in ("pyproject.toml", "shop"):
                archive.add(self.root / name, arcname=f"shop-{version}/{name}")
        return path


@pytest.fixture
def package(tmp_path: Path) -> Iterator[Package]:
    with osv_server() as osv:
        yield Package(tmp_path / "shop", osv)


# --- reading what clearance says -------------------------------------------------------------------


class Story:
    """The CLI as the team uses it, and a cursor on the audit trail: what each step appended."""

    def __init__(self, cli: CliRunner) -> None:
        self.cli, self.seen = cli, 0

    def __call__(self, *args: str | Path, actor: str = "ops", code: int = 0) -> Result:
        result = self.cli(*(str(a) for a in args), "--actor", actor)
        assert result.exit_code == code, result
        return result

    def gates(self, version: str, code: int) -> dict[str, Any]:
        result = self.cli("gates", version, "--env", "prod", "--json")
        assert result.exit_code == code, result
        document: dict[str, Any] = result.json()
        assert document["schema_version"] == 1 and document["passed"] is (code == 0)
        return document

    def statuses(self, version: str, code: int) -> dict[str, str]:
        return {g["gate"]: g["status"] for g in self.gates(version, code)["gates"]}

    def show(self, version: str) -> dict[str, Any]:
        result = self.cli("release", "show", version, "--json")
        assert result.exit_code == 0, result
        release: dict[str, Any] = result.json()["release"]
        return release

    def new_entries(self) -> list[dict[str, Any]]:
        """The audit entries appended since the last call, oldest first (from `audit export`)."""
        result = self.cli("audit", "export")
        assert result.exit_code == 0, result
        entries = [json.loads(line) for line in result.stdout.splitlines()]
        fresh, self.seen = entries[self.seen :], len(entries)
        return fresh

    def new_tags(self) -> list[str]:
        return [e["tag"] for e in self.new_entries()]


def gate(document: dict[str, Any], name: str) -> dict[str, Any]:
    found: list[dict[str, Any]] = [g for g in document["gates"] if g["gate"] == name]
    assert len(found) == 1, name
    return found[0]


# --- the story -------------------------------------------------------------------------------------


def test_a_release_walks_to_prod_only_through_passing_gates_and_valid_approvals(
    project: Project, cli: CliRunner, package: Package
) -> None:
    story = Story(cli)
    keys = cli(
        "keys", "generate", "--out", str(project.root.parent / "keys"), "--name", "release-ci", "--json"
    )
    assert keys.exit_code == 0, keys
    signing_key = Path(keys.json()["private_key"])
    public_key = indent(Path(keys.json()["public_key"]).read_text(), " " * 10)

    def configure(incident: str = "") -> None:
        launch_day = WEEKDAYS[LAUNCH.weekday()]
        project.write_config(CONFIG.format(launch_day=launch_day, incident=incident, public_key=public_key))

    configure()
    for name, role in (
        ("carol", "qa-lead"),
        ("dana", "qa-lead"),
        ("rita", "release-manager"),
        ("ops", "devops"),
    ):
        story("user", "add", name, "--role", role, actor="admin")
    story.new_entries()

    # carol cuts 1.0.0 from the commit CI builds; its source tarball is the artifact.
    commit = package.commit("1.0.0", "2.20.0", "feat: prices and shipping")
    story(
        "release", "create", "1.0.0", "--commit", commit, "--type", "minor", "--no-deploy",
        "--rollback-plan", "redeploy the previous version", actor="carol",
    )  # fmt: skip
    story("artifact", "add", "1.0.0", package.tarball("1.0.0"), "--kind", "tarball", actor="carol")
    assert story.new_tags() == ["release:created", "artifact:added"]

    # dev and staging have no gates.
    story("deploy", "1.0.0", "--to", "dev")
    story("deploy", "1.0.0", "--to", "staging")
    deployed = [(d["environment"], d["state"]) for d in story.show("1.0.0")["deployments"]]
    assert deployed == [("dev", "succeeded"), ("staging", "succeeded")]
    assert "gate:cleared" not in story.new_tags()

    # The first CI run: the payment sandbox was down, so the pipeline stopped after tests and bandit.
    first = package.ci(sandbox=False)
    for kind, path in first.items():
        story("evidence", "add", "1.0.0", "--kind", kind, path, "--commit", commit, actor="ci")
    assert story.new_tags() == ["evidence:added", "evidence:added"]

    refused = story("deploy", "1.0.0", "--to", "prod", code=3)
    failing_test = "tests.test_pricing::test_payment_sandbox_answers (failed)"
    assert "6 gate(s) not passed: tests: fail — 1 failed of 5 (max 0): " + failing_test in refused.stderr
    document = story.gates("1.0.0", 3)
    assert {g["gate"]: g["status"] for g in document["gates"]} == {
        "tests": "fail", "coverage": "missing", "vulnerabilities": "missing", "sast": "pass",
        "licenses": "missing", "signature": "missing", "evidence_fresh": "pass", "approvals": "missing",
        "windows": "pass",
    }  # fmt: skip
    assert [e["source"] for e in gate(document, "tests")["evidence"]] == ["junit-1.xml"]
    assert gate(document, "tests")["details"]["failing"] == [failing_test]
    assert gate(document, "sast")["reason"] == "3 finding(s), none above warning"  # bandit's B404, B603, B607
    assert gate(document, "coverage")["reason"].startswith("no coverage evidence")
    assert (
        gate(document, "signature")["reason"]
        == "the release's artifacts are not signed: `clearance artifact sign`"
    )
    assert document["change_request"]["state"] == "pending"
    entries = story.new_entries()
    assert [e["tag"] for e in entries] == ["change:created", "promotion:refused"]
    assert entries[1]["data"]["code"] == "gate-failed" and entries[1]["data"]["change_request_id"] == 1
    assert [g["gate"] for g in entries[1]["data"]["gates"]] == [
        "tests", "coverage", "vulnerabilities", "licenses", "signature", "approvals",
    ]  # fmt: skip
    shown = story.show("1.0.0")
    assert shown["change_requests"][0]["state"] == "pending"
    # `release show` judges the gated environment now and keeps the refusal from the audit trail.
    assert shown["gates"]["prod"]["passed"] is False
    assert [b["gate"] for b in shown["gates"]["prod"]["blocking"]] == [
        "tests", "coverage", "vulnerabilities", "licenses", "signature", "approvals",
    ]  # fmt: skip
    assert [(r["environment"], r["code"]) for r in shown["refusals"]] == [("prod", "gate-failed")]

    # Scheduled for launch day, it would land in the freeze: refused at once, nothing stored.
    frozen = story("deploy", "1.0.0", "--to", "prod", "--at", LAUNCH.isoformat(), code=3)
    assert "windows: fail — freeze 'launch-day' is in force until " in frozen.stderr
    [entry] = story.new_entries()
    assert entry["tag"] == "promotion:refused" and entry["data"]["gates"][-1]["gate"] == "windows"
    assert execute(project.database_url, "SELECT count(*) FROM deployments WHERE environment = 'prod'") == [
        (0,)
    ]

    # CI again with the sandbox up: every report, and the tarball signed with the CI key.
    second = package.ci(sandbox=True)
    for kind, path in second.items():
        story("evidence", "add", "1.0.0", "--kind", kind, path, "--commit", commit, actor="ci")
    story("artifact", "sign", "1.0.0", "--key", signing_key, actor="ci")
    # Each report or signature that changes what the gates judge reassesses the pending change request.
    assert story.new_tags() == [
        "evidence:added", "change:reassessed", "evidence:added", "change:reassessed", "evidence:added",
        "evidence:added", "change:reassessed", "evidence:added", "change:reassessed",
        "artifact:signed", "change:reassessed",
    ]  # fmt: skip
    document = story.gates("1.0.0", 3)
    assert [g["gate"] for g in document["gates"] if g["status"] != "pass"] == ["approvals"]
    assert gate(document, "tests")["reason"] == "5 tests, 0 failed (max 0)"
    assert [e["source"] for e in gate(document, "tests")["evidence"]] == ["junit-2.xml"]
    assert gate(document, "coverage")["reason"] == "line 100.0%"
    # pip-audit found CVE-2023-32681 in requests 2.20.0 (PYSEC-2023-74): ignored, with a reason.
    assert gate(document, "vulnerabilities")["reason"] == "no vulnerabilities (1 ignored: CVE-2023-32681)"
    assert gate(document, "licenses")["reason"].startswith("5 component(s), none under AGPL-3.0-only")
    assert gate(document, "signature")["reason"].startswith("signed by key ")
    assert [e["source"] for e in gate(document, "evidence_fresh")["evidence"]] == [
        "junit-2.xml", "bandit-2.sarif", "coverage-2.xml", "pip-audit-2.json", "sbom-2.json",
    ]  # fmt: skip
    shown = story.show("1.0.0")
    assert len(shown["evidence"]) == 7 and len(shown["signatures"]) == 1

    # Approvals: the release's creator may not approve her own release; dana and rita do.
    own = story("approve", "1.0.0", "--env", "prod", actor="carol", code=3)
    assert "carol created release 1.0.0 and may not approve or reject it (separation of duties)" in own.stderr
    story("approve", "1.0.0", "--env", "prod", "--comment", "QA signed off", actor="dana")
    story("approve", "1.0.0", "--env", "prod", "--comment", "go", actor="rita")
    entries = story.new_entries()
    assert [(e["tag"], e["actor"]) for e in entries] == [
        ("approval:refused", "carol"), ("approval:approved", "dana"), ("approval:approved", "rita"),
    ]  # fmt: skip
    assert entries[0]["data"]["code"] == "separation-of-duties"
    approvals = gate(story.gates("1.0.0", 0), "approvals")
    assert approvals["reason"] == "approved by dana (qa-lead), rita (release-manager)"
    assert [(a["approver"], a["state"]) for a in story.show("1.0.0")["approvals"]] == [
        ("dana", "valid"), ("rita", "valid"),
    ]  # fmt: skip

    # Every gate passes; the change request still waits for the CAB.
    cab = story("deploy", "1.0.0", "--to", "prod", code=3)
    assert (
        "change request #1 (normal change, risk medium) is not approved: needs 1 release-manager, 1 qa-lead"
        in cab.stderr
    )
    entries = story.new_entries()
    assert [e["tag"] for e in entries] == ["gate:cleared", "promotion:refused"]  # reassessed already
    assert entries[1]["data"]["code"] == "change-not-approved"
    story("change", "approve", "1", "--comment", "CAB 2 Dec", actor="rita")
    story("change", "approve", "1", "--comment", "QA ok", actor="dana")
    assert story.new_tags() == ["change:decided", "change:decided", "change:approved"]

    # ops deploys: every gate passed, with the approvals that counted, is in the trail.
    story("deploy", "1.0.0", "--to", "prod")
    entries = story.new_entries()
    assert [e["tag"] for e in entries] == [
        "gate:cleared", "deployment:queued", "change:implementing", "deployment:started",
        "deployment:succeeded", "change:implemented",
    ]  # fmt: skip
    cleared = entries[0]["data"]
    assert (cleared["environment"], cleared["requester"], cleared["bypassed"]) == ("prod", "ops", [])
    assert {g["gate"]: g["status"] for g in cleared["gates"]} == dict.fromkeys(
        ("tests", "coverage", "vulnerabilities", "sast", "licenses", "signature", "evidence_fresh",
         "approvals", "windows"), "pass",
    )  # fmt: skip
    assert gate(cleared, "approvals")["details"]["approved_by"] == [
        {"approver": "dana", "roles": ["qa-lead"]}, {"approver": "rita", "roles": ["release-manager"]},
    ]  # fmt: skip
    shown = story.show("1.0.0")
    assert [(d["environment"], d["state"], d["change_request_id"]) for d in shown["deployments"]][-1] == (
        "prod", "succeeded", 1,
    )  # fmt: skip
    assert [(c["id"], c["state"]) for c in shown["change_requests"]] == [(1, "implemented")]
    assert story.gates("1.0.0", 0)["change_request"]["state"] == "implemented"

    # The nightly SBOM job writes a new report: the approvals no longer cover what the release is.
    nightly = package.root / "nightly"
    nightly.mkdir()
    story(
        "evidence",
        "add",
        "1.0.0",
        "--kind",
        "cyclonedx",
        package.sbom(nightly),
        "--commit",
        commit,
        actor="ci",
    )
    approvals = gate(story.gates("1.0.0", 3), "approvals")
    assert approvals["status"] == "missing"
    assert "dana: stale, the release's artifacts or evidence changed since" in approvals["reason"]
    again = story("deploy", "1.0.0", "--to", "prod", code=3)
    assert "1 gate(s) not passed: approvals: missing" in again.stderr and "rita: stale" in again.stderr
    assert [(a["approver"], a["state"]) for a in story.show("1.0.0")["approvals"]] == [
        ("dana", "stale"), ("rita", "stale"),
    ]  # fmt: skip
    entries = story.new_entries()
    assert [e["tag"] for e in entries] == ["evidence:added", "change:created", "promotion:refused"]
    assert [g["gate"] for g in entries[2]["data"]["gates"]] == ["approvals"]

    # An incident: the release manager declares a freeze, and the hotfix goes through as an emergency.
    configure(INCIDENT)
    fix = package.commit("1.0.1", "2.20.0", "fix: round member prices")
    story(
        "release", "create", "1.0.1", "--commit", fix, "--type", "hotfix", "--no-deploy",
        "--rollback-plan", "redeploy 1.0.0", actor="carol",
    )  # fmt: skip
    story("artifact", "add", "1.0.1", package.tarball("1.0.1"), "--kind", "tarball", actor="carol")
    hotfix = package.ci(sandbox=True)
    for kind, path in hotfix.items():
        story("evidence", "add", "1.0.1", "--kind", kind, path, "--commit", fix, actor="ci")
    story("artifact", "sign", "1.0.1", "--key", signing_key, actor="ci")
    story("deploy", "1.0.1", "--to", "staging")  # the hotfix lifecycle skips dev
    story("approve", "1.0.1", "--env", "prod", actor="dana")
    story("approve", "1.0.1", "--env", "prod", actor="rita")
    assert story.new_tags()[0] == "config:loaded"  # the freeze's declaration, with the file's sha256

    hot = story("deploy", "1.0.1", "--to", "prod", code=3)
    assert "1 gate(s) not passed: windows: fail — freeze 'incident-4711' is in force until " in hot.stderr
    assert "change request #3 is an emergency change" in hot.stderr
    document = story.gates("1.0.1", 3)
    assert [g["gate"] for g in document["gates"] if g["status"] != "pass"] == ["windows"]
    assert (document["change_request"]["id"], document["change_request"]["kind"]) == (3, "emergency")
    assert story.new_tags() == ["change:created", "promotion:refused"]

    story("change", "approve", "3", "--emergency", "--comment", "checkout is down", actor="rita")
    story("deploy", "1.0.1", "--to", "prod")
    entries = story.new_entries()
    assert [e["tag"] for e in entries] == [
        "change:decided", "change:approved", "gate:cleared", "deployment:queued", "change:implementing",
        "change:freeze-bypassed", "deployment:started", "deployment:succeeded", "change:implemented",
    ]  # fmt: skip
    assert entries[2]["data"]["bypassed"] == ["windows"]
    assert entries[5]["data"]["emergency_approvers"] == ["rita"]
    shown = story.show("1.0.1")
    assert [(d["environment"], d["state"]) for d in shown["deployments"]] == [
        ("staging", "succeeded"), ("prod", "succeeded"),
    ]  # fmt: skip
    assert [(c["id"], c["kind"], c["state"]) for c in shown["change_requests"]] == [
        (3, "emergency", "implemented")
    ]

    # The whole story, exported and verified.
    verified = cli("audit", "verify", "--json")
    assert verified.exit_code == 0 and verified.json()["ok"] is True, verified
    exported = project.root / "audit.jsonl"
    assert cli("audit", "export", "-o", str(exported)).exit_code == 0
    tags = [json.loads(line)["tag"] for line in exported.read_text().splitlines()]
    assert tags.count("promotion:refused") == 5 and tags.count("gate:cleared") == 3
    assert len(tags) == verified.json()["entries"]
    listed = cli("audit", "list", "--tag", "gate:", "--json")
    assert listed.exit_code == 0, listed
    assert [(e["data"]["version"], e["actor"]) for e in listed.json()["entries"]] == [
        ("1.0.1", "ops"),
        ("1.0.0", "ops"),
        ("1.0.0", "ops"),
    ]  # newest first: the hotfix, the deployment, the attempt the CAB held back
