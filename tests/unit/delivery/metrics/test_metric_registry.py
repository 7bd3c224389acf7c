"""Provider types: built-ins by name, plugins through entry points, unknown types refused up front."""

from __future__ import annotations

from collections.abc import Iterator
from importlib.metadata import EntryPoint

import pytest

from clearance.delivery.metrics import registry
from clearance.delivery.metrics.base import ScriptedProvider
from clearance.delivery.metrics.envoy import EnvoyProvider
from clearance.delivery.metrics.http import HttpProvider
from clearance.delivery.metrics.prometheus import PrometheusProvider
from clearance.errors import ConfigError


@pytest.fixture
def plugins(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, EntryPoint]]:
    found: dict[str, EntryPoint] = {}
    monkeypatch.setattr(registry, "_entry_points", lambda: found)
    yield found


def test_the_built_ins_are_known_by_name() -> None:
    assert isinstance(registry.get_provider("prometheus"), PrometheusProvider)
    assert isinstance(registry.get_provider("http"), HttpProvider)
    assert isinstance(registry.get_provider("envoy"), EnvoyProvider)
    assert registry.get_provider("envoy") is not registry.get_provider("envoy")


def test_an_unknown_type_is_a_config_error_naming_the_known_ones(plugins: dict[str, EntryPoint]) -> None:
    with pytest.raises(ConfigError) as caught:
        registry.get_provider("datadog")

    assert caught.value.problems == ["unknown metric provider type 'datadog'; known: envoy, http, prometheus"]
    assert caught.value.hint == "third-party providers are installed as 'clearance.metrics' entry points"


def test_a_plugin_comes_from_its_entry_point(plugins: dict[str, EntryPoint]) -> None:
    plugins["scripted"] = EntryPoint(
        "scripted", "clearance.delivery.metrics.base:ScriptedProvider", "clearance.metrics"
    )
    plugins["broken"] = EntryPoint("broken", "no_such_module:Provider", "clearance.metrics")

    assert registry.provider_types() == ["broken", "envoy", "http", "prometheus", "scripted"]
    with pytest.raises(ConfigError) as created:  # ScriptedProvider needs a script: it cannot be created bare
        registry.get_provider("scripted")
    assert created.value.problems[0].startswith("metric provider 'scripted' cannot be created: ")
    with pytest.raises(ConfigError) as caught:
        registry.get_provider("broken")
    assert caught.value.problems[0].startswith(
        "metric provider 'broken' (no_such_module:Provider) cannot be loaded: No module named 'no_such_module'"
    )


def test_registered_providers_win_and_a_pool_keeps_one_each() -> None:
    registry.register("envoy", lambda: ScriptedProvider([1.0], type="envoy"))
    try:
        pool = registry.ProviderPool()
        first = pool("envoy")
        assert isinstance(first, ScriptedProvider)
        assert pool("envoy") is first
    finally:
        registry.unregister("envoy")
    assert isinstance(registry.get_provider("envoy"), EnvoyProvider)
