"""The OpenFeature provider on a snapshot handed to it (StaticSnapshotSource, the shipped fake):
every flag type, resolution reason, error code and provider event."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest
from openfeature import api
from openfeature.evaluation_context import EvaluationContext
from openfeature.event import EventDetails, ProviderEvent, ProviderEventDetails
from openfeature.exception import ErrorCode, ProviderFatalError, ProviderNotReadyError
from openfeature.flag_evaluation import Reason
from openfeature.provider import FeatureProvider, ProviderStatus

from clearance.flags import Snapshot, parse_snapshot
from clearance.flags.openfeature import ClearanceProvider, to_context
from clearance.flags.snapshot_client import StaticSnapshotSource


def _variant(name: str, payload_type: str | None = None, value: str = "") -> dict[str, Any]:
    variant: dict[str, Any] = {"name": name, "weight": 1000, "stickiness": "default"}
    if payload_type is not None:
        variant["payload"] = {"type": payload_type, "value": value}
    return variant


def _flag(
    name: str, *, enabled: bool = True, strategies: list[dict[str, Any]] | None = None, **extra: Any
) -> dict[str, Any]:
    return {"name": name, "enabled": enabled, "strategies": strategies or [{"name": "default"}], **extra}


def _snapshot(*extra: dict[str, Any]) -> Snapshot:
    return parse_snapshot(
        {
            "version": 2,
            "features": [
                _flag("on"),
                _flag("off", enabled=False, variants=[_variant("blue", "string", "#00f")]),
                _flag("beta", strategies=[{"name": "userWithId", "parameters": {"userIds": "42,7"}}]),
                _flag("office", strategies=[{"name": "remoteAddress", "parameters": {"IPs": "10.0.0.1"}}]),
                _flag(
                    "pro-only",
                    strategies=[
                        {
                            "name": "default",
                            "constraints": [{"contextName": "plan", "operator": "IN", "values": ["pro"]}],
                        }
                    ],
                    variants=[_variant("pro", "string", "gold")],
                ),
                _flag("colour", variants=[_variant("blue", "string", "#00f")]),
                _flag("limit", variants=[_variant("ten", "number", "10")]),
                _flag("ratio", variants=[_variant("half", "number", "0.5")]),
                _flag("many", variants=[_variant("lots", "number", "lots")]),
                _flag("layout", variants=[_variant("grid", "json", '{"columns": 3, "tags": ["a"]}')]),
                _flag("broken-json", variants=[_variant("bad", "json", '{"columns": ')]),
                _flag("scalar-json", variants=[_variant("three", "json", "3")]),
                _flag("regions", variants=[_variant("eu", "csv", "fr, de,it")]),
                _flag("bare", variants=[_variant("treatment")]),
                *extra,
            ],
        }
    )


class _Events:
    """Collects what the provider emits, as the SDK's event dispatcher would receive it."""

    def __init__(self) -> None:
        self.seen: list[tuple[ProviderEvent, ProviderEventDetails]] = []

    def __call__(
        self, _provider: FeatureProvider, event: ProviderEvent, details: ProviderEventDetails
    ) -> None:
        self.seen.append((event, details))

    def kinds(self) -> list[ProviderEvent]:
        return [event for event, _ in self.seen]


@pytest.fixture
def source() -> StaticSnapshotSource:
    return StaticSnapshotSource(_snapshot())


@pytest.fixture
def provider(source: StaticSnapshotSource) -> Iterator[ClearanceProvider]:
    provider = ClearanceProvider(source, refresh_interval=3600)
    provider.initialize(EvaluationContext())
    yield provider
    provider.shutdown()


def test_a_boolean_flag_is_is_enabled_with_the_reason_it_is_on_or_off(provider: ClearanceProvider) -> None:
    on = provider.resolve_boolean_details("on", False)
    assert (on.value, on.reason, on.error_code) == (True, Reason.TARGETING_MATCH, None)
    off = provider.resolve_boolean_details("off", True)
    assert (off.value, off.reason, off.error_code) == (False, Reason.DISABLED, None)

    assert provider.resolve_boolean_details("beta", False, EvaluationContext("42")).value is True
    other = provider.resolve_boolean_details("beta", True, EvaluationContext("43"))
    assert (other.value, other.reason) == (False, Reason.DEFAULT)
    assert provider.resolve_boolean_details(
        "beta", False, EvaluationContext(attributes={"userId": "7"})
    ).value


def test_the_evaluation_context_maps_onto_clearance_context(provider: ClearanceProvider) -> None:
    context = EvaluationContext(
        "u1", {"sessionId": "s1", "remoteAddress": "10.0.0.1", "plan": "pro", "age": 30, "tags": ["x"]}
    )
    mapped = to_context(context)
    assert (mapped.user_id, mapped.session_id, mapped.remote_address) == ("u1", "s1", "10.0.0.1")
    assert mapped.properties == {"plan": "pro", "age": "30"}
    assert to_context(None).user_id is None

    assert provider.resolve_boolean_details("office", False, context).value is True
    assert provider.resolve_boolean_details("office", True, EvaluationContext("u1")).value is False
    gold = provider.resolve_string_details("pro-only", "plain", context)
    assert (gold.value, gold.variant, gold.reason) == ("gold", "pro", Reason.TARGETING_MATCH)
    plain = provider.resolve_string_details("pro-only", "plain", EvaluationContext("u1", {"plan": "free"}))
    assert (plain.value, plain.variant, plain.reason, plain.error_code) == (
        "plain",
        None,
        Reason.DEFAULT,
        None,
    )


def test_string_number_and_object_flags_are_the_variant_payload(provider: ClearanceProvider) -> None:
    colour = provider.resolve_string_details("colour", "#000")
    assert (colour.value, colour.variant, colour.reason) == ("#00f", "blue", Reason.TARGETING_MATCH)
    limit = provider.resolve_integer_details("limit", 1)
    assert (limit.value, limit.variant, limit.reason) == (10, "ten", Reason.TARGETING_MATCH)
    assert type(limit.value) is int
    assert provider.resolve_float_details("ratio", 1.0).value == 0.5
    assert provider.resolve_float_details("limit", 1.0).value == 10.0
    layout = provider.resolve_object_details("layout", {})
    assert (layout.value, layout.variant, layout.reason) == (
        {"columns": 3, "tags": ["a"]},
        "grid",
        Reason.TARGETING_MATCH,
    )
    assert provider.resolve_object_details("regions", []).value == ["fr", "de", "it"]


def test_a_variant_without_payload_names_string_flags_and_defaults_the_others(
    provider: ClearanceProvider,
) -> None:
    bare = provider.resolve_string_details("bare", "control")
    assert (bare.value, bare.variant, bare.reason) == ("treatment", "treatment", Reason.TARGETING_MATCH)
    number = provider.resolve_integer_details("bare", 5)
    assert (number.value, number.variant, number.reason, number.error_code) == (
        5,
        "treatment",
        Reason.DEFAULT,
        None,
    )
    # On, but no variants at all: the caller's default.
    no_variants = provider.resolve_string_details("on", "fallback")
    assert (no_variants.value, no_variants.reason, no_variants.variant) == ("fallback", Reason.DEFAULT, None)


def test_a_disabled_flag_answers_the_default_with_reason_disabled(provider: ClearanceProvider) -> None:
    details = provider.resolve_string_details("off", "#000")
    assert (details.value, details.reason, details.error_code) == ("#000", Reason.DISABLED, None)


@pytest.mark.parametrize(
    ("kind", "flag", "default", "code"),
    [
        ("string", "limit", "x", ErrorCode.TYPE_MISMATCH),
        ("string", "layout", "x", ErrorCode.TYPE_MISMATCH),
        ("integer", "colour", 1, ErrorCode.TYPE_MISMATCH),
        ("integer", "ratio", 1, ErrorCode.TYPE_MISMATCH),
        ("integer", "many", 1, ErrorCode.PARSE_ERROR),
        ("float", "many", 1.5, ErrorCode.PARSE_ERROR),
        ("float", "layout", 1.5, ErrorCode.TYPE_MISMATCH),
        ("object", "colour", {"d": 1}, ErrorCode.TYPE_MISMATCH),
        ("object", "scalar-json", {"d": 1}, ErrorCode.TYPE_MISMATCH),
        ("object", "broken-json", {"d": 1}, ErrorCode.PARSE_ERROR),
        ("boolean", "missing", True, ErrorCode.FLAG_NOT_FOUND),
        ("string", "missing", "x", ErrorCode.FLAG_NOT_FOUND),
        ("object", "missing", {"d": 1}, ErrorCode.FLAG_NOT_FOUND),
    ],
)
def test_errors_answer_the_default_with_an_error_code(
    provider: ClearanceProvider, kind: str, flag: str, default: Any, code: ErrorCode
) -> None:
    details = getattr(provider, f"resolve_{kind}_details")(flag, default)
    assert (details.value, details.reason, details.error_code) == (default, Reason.ERROR, code)
    assert flag in details.error_message


def test_before_the_first_snapshot_every_answer_is_provider_not_ready() -> None:
    provider = ClearanceProvider(StaticSnapshotSource(None), refresh_interval=3600)
    details = provider.resolve_boolean_details("on", True)
    assert (details.value, details.reason, details.error_code) == (
        True,
        Reason.ERROR,
        ErrorCode.PROVIDER_NOT_READY,
    )
    assert provider.resolve_object_details("layout", {"d": 1}).error_code == ErrorCode.PROVIDER_NOT_READY


class _ExplodingText(str):
    """A context value whose slicing fails, like a buggy str subclass from application code."""

    __slots__ = ()

    def __getitem__(self, index: Any) -> str:
        raise RuntimeError("boom")


def test_an_unexpected_failure_is_general_and_never_raises(
    provider: ClearanceProvider, caplog: pytest.LogCaptureFixture
) -> None:
    details = provider.resolve_boolean_details(
        "on", True, EvaluationContext(attributes={"plan": _ExplodingText("pro")})
    )
    assert (details.value, details.reason, details.error_code) == (True, Reason.ERROR, ErrorCode.GENERAL)
    assert "boom" in details.error_message
    assert "evaluating flag 'on' failed" in caplog.text


def test_refreshes_emit_configuration_changed_error_and_ready_again(
    source: StaticSnapshotSource, provider: ClearanceProvider
) -> None:
    events = _Events()
    provider.attach(events)

    provider.refresh()  # unchanged: nothing to say
    assert events.seen == []

    source.set(_snapshot(_flag("brand-new")))
    provider.refresh()
    assert events.kinds() == [ProviderEvent.PROVIDER_CONFIGURATION_CHANGED]
    assert events.seen[0][1].flags_changed == ["brand-new"]
    assert provider.resolve_boolean_details("brand-new", False).value is True

    source.fail()
    provider.refresh()
    provider.refresh()  # one event per outage
    assert events.kinds()[1:] == [ProviderEvent.PROVIDER_ERROR]
    assert events.seen[1][1].error_code == ErrorCode.GENERAL
    # The last snapshot keeps serving.
    assert provider.resolve_boolean_details("brand-new", False).value is True

    source.set(_snapshot())
    provider.refresh()
    assert events.kinds()[2:] == [ProviderEvent.PROVIDER_READY, ProviderEvent.PROVIDER_CONFIGURATION_CHANGED]
    assert events.seen[3][1].flags_changed == ["brand-new"]
    assert provider.resolve_boolean_details("brand-new", False).error_code == ErrorCode.FLAG_NOT_FOUND


def test_an_unreadable_snapshot_is_a_parse_error_event(
    source: StaticSnapshotSource, provider: ClearanceProvider
) -> None:
    events = _Events()
    provider.attach(events)
    source.fail("invalid", "flag server sent an unreadable snapshot")
    provider.refresh()
    assert [(e, d.error_code) for e, d in events.seen] == [
        (ProviderEvent.PROVIDER_ERROR, ErrorCode.PARSE_ERROR)
    ]


@pytest.fixture
def sdk() -> Iterator[None]:
    yield
    api.clear_providers()


def test_through_the_sdk_a_late_first_snapshot_makes_the_provider_ready(sdk: None) -> None:
    source = StaticSnapshotSource(None)
    provider = ClearanceProvider(source, refresh_interval=3600)
    seen: list[EventDetails] = []
    api.add_handler(ProviderEvent.PROVIDER_READY, seen.append)
    try:
        with pytest.raises(ProviderNotReadyError, match="no snapshot yet"):
            api.set_provider_and_wait(provider, domain="late")
        client = api.get_client("late")
        # initialize found nothing: the SDK reports the error, the provider answers not ready.
        assert client.get_provider_status() == ProviderStatus.ERROR
        details = client.get_boolean_details("on", False)
        assert (details.value, details.error_code) == (False, ErrorCode.PROVIDER_NOT_READY)

        source.set(_snapshot())
        provider.refresh()
        assert client.get_provider_status() == ProviderStatus.READY
        # Handlers run on the SDK's executor; the global one also heard the no-op default provider.
        deadline = time.monotonic() + 10
        while not any(event.provider_name == "clearance" for event in seen):
            assert time.monotonic() < deadline, seen
            time.sleep(0.01)
        assert [event.provider_name for event in seen if event.provider_name != "No-op Provider"] == [
            "clearance"
        ]
        details = client.get_string_details("colour", "#000")
        assert (details.value, details.variant, details.reason) == ("#00f", "blue", Reason.TARGETING_MATCH)
    finally:
        api.remove_handler(ProviderEvent.PROVIDER_READY, seen.append)


def test_a_refused_token_at_start_is_fatal(sdk: None) -> None:
    source = StaticSnapshotSource(None)
    source.fail("rejected", "flag server refused the client token (401)")
    with pytest.raises(ProviderFatalError, match="refused the client token"):
        api.set_provider_and_wait(ClearanceProvider(source, refresh_interval=3600), domain="refused")
    client = api.get_client("refused")
    assert client.get_provider_status() == ProviderStatus.FATAL
    assert client.get_boolean_details("on", True).error_code == ErrorCode.PROVIDER_FATAL


def test_the_provider_loads_no_store_sqlalchemy_or_cli() -> None:
    code = "import sys, clearance.flags.openfeature as m; print(sorted(n for n in sys.modules if n.startswith(('sqlalchemy', 'clearance.store', 'clearance.cli', 'typer'))))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
