"""The evidence parsers on reports the real tools write here and now: pytest --junitxml, coverage.py,
bandit -f sarif, cyclonedx-py and pip-audit.

pip-audit needs an advisory service. This machine has no network, so the test serves the OSV query API
(`POST /v1/query`) on 127.0.0.1 from advisories vendored from the PyPA advisory database, and points
pip-audit at it with `--osv-url`; pip-audit itself runs unchanged.
"""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Iterator
from importlib.metadata import distribution
from pathlib import Path
from textwrap import dedent
from typing import Any

import pytest

from clearance.gates.evidence import (
    JUnitReport,
    Sbom,
    Severity,
    VulnerabilityReport,
    detect_kind,
    evidence_from_json,
    parse_report,
)
from support.osv import osv_server
from support.tools import BIN, PIP_AUDIT
from support.tools import run_tool as run


def report(path: Path, kind: str) -> Any:
    data = path.read_bytes()
    assert detect_kind(data) == kind
    parsed = parse_report(kind, data, source=path.name)
    # Whatever the tool wrote must survive the trip through the store's JSON.
    assert evidence_from_json(json.loads(json.dumps(parsed.to_json()))) == parsed
    return parsed


# --- pytest --junitxml -------------------------------------------------------------------------------


def test_pytest_junitxml_counts_every_outcome_and_names_the_failures(tmp_path: Path) -> None:
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    (tmp_path / "test_shop.py").write_text(
        dedent(
            """
            import pytest

            @pytest.fixture
            def prices():
                raise RuntimeError("price service unavailable")

            def test_total():
                assert 2 + 3 == 5

            def test_discount():
                assert 100 * 0.9 == 80, "discount not applied"

            def test_catalogue(prices):
                pass

            @pytest.mark.skip(reason="no payment sandbox here")
            def test_payment():
                pass

            @pytest.mark.xfail(reason="rounding bug #12")
            def test_rounding():
                assert round(2.675, 2) == 2.68

            class TestBasket:
                def test_empty(self):
                    assert [] == []
            """
        )
    )
    run(
        sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-c", "pytest.ini", "--rootdir", ".",
        "--junitxml", "junit.xml", "test_shop.py", cwd=tmp_path, ok=(1,),
    )  # fmt: skip

    result = report(tmp_path / "junit.xml", "junit")

    assert isinstance(result, JUnitReport)
    assert (result.tests, result.passed, result.failed, result.errored, result.skipped) == (6, 2, 1, 1, 2)
    failed, errored = result.failures
    assert (failed.name, failed.outcome) == ("test_shop::test_discount", "failed")
    assert failed.message is not None and failed.message.startswith("AssertionError: discount not applied")
    assert (errored.name, errored.outcome) == ("test_shop::test_catalogue", "errored")
    assert errored.message == 'failed on setup with "RuntimeError: price service unavailable"'
    skips = {case.name: (case.message, case.type) for case in result.skips}
    assert skips == {
        "test_shop::test_payment": ("no payment sandbox here", "pytest.skip"),
        "test_shop::test_rounding": ("rounding bug #12", "pytest.xfail"),
    }
    assert result.summary()["failing"] == ["test_shop::test_discount", "test_shop::test_catalogue"]


# --- coverage.py -------------------------------------------------------------------------------------

PRICING = '''\
"""A tiny module for coverage.py to measure."""


def price(amount, customer):
    if amount < 0:
        raise ValueError("negative amount")
    if customer == "member":
        return amount * 0.9
    return amount


def shipping(country):
    if country == "FR":
        return 0
    return 12
'''


@pytest.mark.parametrize("branch", [True, False], ids=["branch", "lines-only"])
def test_coverage_xml_gives_line_and_branch_rates(tmp_path: Path, branch: bool) -> None:
    (tmp_path / "pricing.py").write_text(PRICING)
    (tmp_path / "use_pricing.py").write_text(
        'from pricing import price\n\nassert price(100, "member") == 90.0\nassert price(100, "guest") == 100\n'
    )
    data_file = f"--data-file={tmp_path / '.coverage'}"
    measure = ["--branch"] if branch else []
    run(sys.executable, "-m", "coverage", "run", *measure, data_file, "use_pricing.py", cwd=tmp_path)
    run(
        sys.executable,
        "-m",
        "coverage",
        "xml",
        data_file,
        "--include=pricing.py",
        "-o",
        "coverage.xml",
        cwd=tmp_path,
    )

    result = report(tmp_path / "coverage.xml", "cobertura")

    # 10 statements; the test never raises and never calls shipping(): 4 missed, 60 %.
    assert (result.lines_valid, result.lines_covered, result.line_rate) == (10, 6, 60.0)
    if branch:
        # 3 two-way branches; `amount < 0` true, `country == "FR"` both ways: 3 of 6 missed.
        assert (result.branches_valid, result.branches_covered, result.branch_rate) == (6, 3, 50.0)
        assert [(p.name, p.line_rate, p.branch_rate) for p in result.packages] == [(".", 60.0, 50.0)]
    else:
        assert result.branch_rate is None
        assert [(p.name, p.line_rate, p.branch_rate) for p in result.packages] == [(".", 60.0, None)]


# --- bandit -f sarif ---------------------------------------------------------------------------------

INSECURE = """\
import hashlib
import pickle
import subprocess


def run(command):
    return subprocess.call(command, shell=True)


def load(blob):
    return pickle.loads(blob)


def digest(data):
    return hashlib.md5(data).hexdigest()


def fetch(url):
    import urllib.request
    return urllib.request.urlopen(url)  # nosec B310 - reviewed: URLs come from our own config
"""


def test_bandit_sarif_levels_rules_and_locations(tmp_path: Path) -> None:
    (tmp_path / "insecure.py").write_text(INSECURE)
    run(BIN / "bandit", "-q", "-f", "sarif", "-o", "bandit.sarif", "insecure.py", cwd=tmp_path, ok=(1,))

    result = report(tmp_path / "bandit.sarif", "sarif")

    assert result.tool is not None and result.tool.startswith("Bandit")
    assert result.execution_successful
    found = {(f.rule_id, f.level, f.locations[0].uri, f.locations[0].line) for f in result.findings}
    assert found == {
        ("B403", "note", "insecure.py", 2),  # import pickle: LOW
        ("B404", "note", "insecure.py", 3),  # import subprocess: LOW
        ("B602", "error", "insecure.py", 7),  # shell=True: HIGH
        # pickle.loads is MEDIUM; bandit leaves `level` out, and SARIF's default level is warning.
        ("B301", "warning", "insecure.py", 11),
        ("B324", "error", "insecure.py", 15),  # md5: HIGH
    }
    assert result.counts_by_level() == {"error": 2, "warning": 1, "note": 2, "none": 0}
    assert result.max_level == "error"
    assert {f.rule_id for f in result.above("warning")} == {"B602", "B324"}


# --- cyclonedx-py ------------------------------------------------------------------------------------


def _install_metadata(site_packages: Path, name: str, version: str, licence_header: str) -> None:
    """A distribution's installed metadata, as an installer leaves it (the code itself is not needed)."""
    dist_info = site_packages / f"{name}-{version}.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text(
        f"Metadata-Version: 2.4\nName: {name}\nVersion: {version}\n{licence_header}\n"
    )
    (dist_info / "RECORD").write_text("")


@pytest.fixture
def small_environment(tmp_path: Path) -> Path:
    """A venv holding two real distributions' metadata (copied from this environment) and three local ones."""
    venv = tmp_path / "venv"
    run(sys.executable, "-m", "venv", "--without-pip", venv, cwd=tmp_path)
    site_packages = next(venv.glob("lib/python3*/site-packages"))
    for name in ("defusedxml", "packaging"):
        installed = distribution(name)
        metadata = next(file for file in installed.files or [] if file.name == "METADATA")
        source = Path(str(installed.locate_file(metadata))).parent
        shutil.copytree(source, site_packages / source.name)
    _install_metadata(site_packages, "ledgerkit", "1.2.0", "License-Expression: AGPL-3.0-only")
    _install_metadata(
        site_packages, "inhouse-utils", "0.3.1", "Classifier: License :: Other/Proprietary License"
    )
    _install_metadata(site_packages, "scratchpad", "0.0.1", "Summary: declares no licence at all")
    return venv


@pytest.mark.slow
@pytest.mark.parametrize("spec_version", ["1.4", "1.5", "1.6"])
def test_cyclonedx_py_environment_sbom_lists_components_and_licences(
    tmp_path: Path, small_environment: Path, spec_version: str
) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "shop"\nversion = "2.4.0"\nlicense = "Apache-2.0"\n'
    )
    # The tool validates its output against the schema; once (for the default 1.6) is enough.
    validate = "--validate" if spec_version == "1.6" else "--no-validate"
    run(
        BIN / "cyclonedx-py", "environment", "--sv", spec_version, "--of", "JSON", "-o", "sbom.json",
        validate, "--pyproject", "pyproject.toml", small_environment, cwd=tmp_path,
    )  # fmt: skip

    result = report(tmp_path / "sbom.json", "cyclonedx")

    assert isinstance(result, Sbom)
    assert result.spec_version == spec_version
    assert result.tool is not None and "cyclonedx-py" in result.tool
    assert result.subject is not None and (result.subject.name, result.subject.version) == ("shop", "2.4.0")
    components = {c.name: c for c in result.components}
    assert set(components) == {"defusedxml", "packaging", "ledgerkit", "inhouse-utils", "scratchpad"}
    packaging_metadata = distribution("packaging").metadata
    assert components["packaging"].version == packaging_metadata["Version"]
    assert components["packaging"].purl == f"pkg:pypi/packaging@{packaging_metadata['Version']}"
    assert [lic.expression for lic in components["packaging"].licenses] == [
        packaging_metadata["License-Expression"]
    ]
    assert components["defusedxml"].version == distribution("defusedxml").version
    assert [lic.label for lic in components["ledgerkit"].licenses] == ["AGPL-3.0-only"]
    assert [lic.name for lic in components["inhouse-utils"].licenses] == [
        "License :: Other/Proprietary License"
    ]
    assert [c.name for c in result.unlicensed()] == ["scratchpad"]

    denied = result.licensed_under(["AGPL-3.0-only", "GPL-3.0-only"])
    assert [(m.component.name, m.spdx_id) for m in denied] == [("ledgerkit", "AGPL-3.0-only")]
    either = result.licensed_under(["BSD-2-Clause"])
    assert [(m.component.name, m.via) for m in either] == [("packaging", "expression")]


# --- pip-audit against a local OSV API ---------------------------------------------------------------


@pytest.fixture
def osv_url() -> Iterator[str]:
    """The URL of a local OSV query API serving the vendored advisories."""
    with osv_server() as server:
        yield server.url
    assert sorted(q["package"]["name"] for q in server.queries) == ["click", "jinja2", "requests"]


def pip_audit(directory: Path, osv_url: str, output_format: str, output: str) -> None:
    (directory / "requirements.txt").write_text("requests==2.19.1\njinja2==2.10\nclick==8.1.7\n")
    run(
        PIP_AUDIT, "-r", "requirements.txt", "--no-deps", "--disable-pip",
        "-s", "osv", "--osv-url", osv_url, "--cache-dir", directory / "cache", "--progress-spinner", "off",
        "-f", output_format, "-o", output, cwd=directory, ok=(1,),
    )  # fmt: skip


EXPECTED_ADVISORIES = {
    ("requests", "PYSEC-2018-28", ("CVE-2018-18074",), ("2.20.0",)),
    ("requests", "PYSEC-2023-74", ("CVE-2023-32681", "GHSA-j8r2-6x86-q33q"), ("2.31.0",)),
    ("jinja2", "PYSEC-2019-217", ("CVE-2019-10906",), ("2.10.1",)),
    ("jinja2", "PYSEC-2021-66", ("CVE-2020-28493", "SNYK-PYTHON-JINJA2-1012994"), ("2.11.3",)),
}


def test_pip_audit_json_reports_vulnerabilities_without_severity(tmp_path: Path, osv_url: str) -> None:
    pip_audit(tmp_path, osv_url, "json", "audit.json")

    result = report(tmp_path / "audit.json", "pip-audit")

    assert isinstance(result, VulnerabilityReport)
    found = {(v.package, v.id, v.aliases, v.fixed_versions) for v in result.vulnerabilities}
    # Advisories for other versions (requests 2.1–2.5, jinja2 < 2.8.1) are vendored too and must not match.
    assert found == EXPECTED_ADVISORIES
    assert {v.severity for v in result.vulnerabilities} == {Severity.UNKNOWN}
    assert result.notes[0].startswith("pip-audit JSON carries no severity")
    assert result.packages_scanned == 3
    assert [v.package for v in result.find("CVE-2023-32681")] == ["requests"]
    assert result.summary()["by_severity"] == {"CRITICAL": 0, "HIGH": 0, "MEDIUM": 0, "LOW": 0, "UNKNOWN": 4}


def test_pip_audit_cyclonedx_attaches_vulnerabilities_to_components(tmp_path: Path, osv_url: str) -> None:
    pip_audit(tmp_path, osv_url, "cyclonedx-json", "audit.cdx.json")

    result = report(tmp_path / "audit.cdx.json", "cyclonedx")

    assert isinstance(result, Sbom)
    assert {(c.name, c.version) for c in result.components} == {
        ("requests", "2.19.1"),
        ("jinja2", "2.10"),
        ("click", "8.1.7"),
    }
    attached = {(v.package, v.installed_version, v.id) for v in result.vulnerabilities}
    assert attached == {
        (package, "2.19.1" if package == "requests" else "2.10", vid)
        for package, vid, _, _ in EXPECTED_ADVISORIES
    }
