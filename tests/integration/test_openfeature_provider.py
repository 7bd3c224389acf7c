"""The OpenFeature provider against a real `clearance serve`: flags made with the CLI evaluate
through the OpenFeature SDK, changes arrive at the next refresh (304 while nothing changes), and a
server that goes away leaves the last snapshot serving, with a PROVIDER_ERROR event."""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Callable, Iterator

import httpx
import pytest
from openfeature import api
from openfeature.evaluation_context import EvaluationContext
from openfeature.event import EventDetails, ProviderEvent
from openfeature.exception import ErrorCode
from openfeature.flag_evaluation import Reason
from openfeature.provider import ProviderStatus

from clearance.flags.openfeature import ClearanceProvider
from clearance.flags.snapshot_client import HttpSnapshotSource
from support.cli import CliRunner, clearance_command
from support.envoy import free_port

from .conftest import Project

pytestmark = pytest.mark.slow


def _wait(condition: Callable[[], bool], what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


@pytest.fixture
def serve(project: Project) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """A real `clearance serve --no-agent` on a free port: the API's base URL and the process."""
    port = free_port()
    log = (project.root.parent / "serve.log").open("wb")
    process = subprocess.Popen(
        [*clearance_command(), "serve", "--no-agent", "--workers", "1", "--port", str(port)],
        cwd=project.root,
        env=project.process_env("server"),
        stdout=subprocess.DEVNULL,
        stderr=log,
    )
    base = f"http://127.0.0.1:{port}/api"

    def answers() -> bool:
        assert process.poll() is None, (project.root.parent / "serve.log").read_text()
        try:
            return httpx.get(f"{base}/client/features").status_code == 401
        except httpx.TransportError:
            return False

    try:
        _wait(answers, "the API of clearance serve")
        yield base, process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=30)
        log.close()


@pytest.fixture
def sdk() -> Iterator[None]:
    yield
    api.clear_providers()


def _run(cli: CliRunner, *args: str) -> None:
    result = cli(*args)
    assert result.exit_code == 0, result


def test_the_provider_evaluates_served_flags_refreshes_with_etag_and_survives_the_server(
    project: Project, cli: CliRunner, serve: tuple[str, subprocess.Popen[bytes]], sdk: None
) -> None:
    base, process = serve
    _run(cli, "flag", "create", "new-checkout")
    _run(cli, "flag", "enable", "new-checkout", "--env", "dev")
    _run(cli, "flag", "create", "button-colour", "--type", "experiment")
    _run(cli, "flag", "enable", "button-colour", "--env", "dev")
    _run(cli, "flag", "variants", "button-colour", "--env", "dev", "blue=100", "--stickiness", "userId")
    _run(cli, "flag", "create", "kill-search", "--type", "kill-switch")
    token = cli("token", "create", "--env", "dev", "--json").json()["token"]

    provider = ClearanceProvider.connect(base, token, refresh_interval=0.2)
    source = provider.source
    assert isinstance(source, HttpSnapshotSource)
    api.set_provider_and_wait(provider)
    client = api.get_client()
    changes: list[EventDetails] = []
    errors: list[EventDetails] = []
    client.add_handler(ProviderEvent.PROVIDER_CONFIGURATION_CHANGED, changes.append)
    client.add_handler(ProviderEvent.PROVIDER_ERROR, errors.append)
    assert client.get_provider_status() == ProviderStatus.READY

    user = EvaluationContext("42", {"appVersion": "1.2.0"})
    checkout = client.get_boolean_details("new-checkout", False, user)
    assert (checkout.value, checkout.reason, checkout.error_code) == (True, Reason.TARGETING_MATCH, None)
    killed = client.get_boolean_details("kill-search", True, user)
    assert (killed.value, killed.reason) == (False, Reason.DISABLED)
    colour = client.get_string_details("button-colour", "grey", user)
    assert (colour.value, colour.variant, colour.reason) == ("blue", "blue", Reason.TARGETING_MATCH)
    number = client.get_integer_details("button-colour", 3, user)
    assert (number.value, number.variant, number.reason) == (3, "blue", Reason.DEFAULT)
    missing = client.get_object_details("nope", {"a": 1}, user)
    assert (missing.value, missing.error_code) == ({"a": 1}, ErrorCode.FLAG_NOT_FOUND)

    # Nothing changes: the refreshes are answered 304.
    _wait(lambda: source.not_modified >= 3, "three 304 answers")
    assert source.fetches - source.not_modified == 1
    assert changes == []

    # A change made with the CLI arrives at the next refresh, as one more 200.
    _run(cli, "flag", "disable", "new-checkout", "--env", "dev")
    _wait(lambda: not client.get_boolean_value("new-checkout", True, user), "the change to arrive")
    assert client.get_boolean_details("new-checkout", True, user).reason == Reason.DISABLED
    assert source.fetches - source.not_modified == 2
    _wait(lambda: len(changes) == 1, "the configuration-changed event")
    assert changes[0].flags_changed == ["new-checkout"]

    # The server goes away: one PROVIDER_ERROR, and the last snapshot keeps serving.
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=30)
    _wait(lambda: len(errors) == 1, "the PROVIDER_ERROR event")
    assert errors[0].error_code == ErrorCode.GENERAL and "unreachable" in (errors[0].message or "")
    assert client.get_provider_status() == ProviderStatus.ERROR
    fetches = source.fetches
    _wait(lambda: source.fetches >= fetches + 2, "more failed refreshes")
    assert len(errors) == 1
    still = client.get_string_details("button-colour", "grey", user)
    assert (still.value, still.reason, still.error_code) == ("blue", Reason.TARGETING_MATCH, None)
    assert client.get_boolean_value("new-checkout", True, user) is False

    provider.shutdown()
    fetches = source.fetches
    time.sleep(0.5)
    assert source.fetches == fetches
