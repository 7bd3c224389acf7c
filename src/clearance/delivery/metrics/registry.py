"""Which metric provider answers to which `type:` name.

The built-ins are listed here by name and imported only when first used, so reading the config does
not load httpx. Third-party providers are entry points in the group `clearance.metrics`: the name
is the type, the object a class (or factory) taking no arguments. An unknown type is a ConfigError;
the config loader checks every type up front so it never shows up in the middle of a deployment.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable
from functools import cache
from importlib.metadata import EntryPoint, entry_points

from clearance.delivery.metrics.base import MetricProvider
from clearance.errors import ConfigError

ENTRY_POINT_GROUP = "clearance.metrics"

ProviderFactory = Callable[[], MetricProvider]

_BUILTINS: dict[str, str] = {
    "envoy": "clearance.delivery.metrics.envoy:EnvoyProvider",
    "prometheus": "clearance.delivery.metrics.prometheus:PrometheusProvider",
    "http": "clearance.delivery.metrics.http:HttpProvider",
}
_registered: dict[str, ProviderFactory] = {}


def register(type_name: str, factory: ProviderFactory) -> None:
    """Add a provider in-process (embedding, tests); it wins over a built-in of the same name."""
    _registered[type_name] = factory


def unregister(type_name: str) -> None:
    _registered.pop(type_name, None)


def provider_types() -> list[str]:
    return sorted({*_BUILTINS, *_registered, *_entry_points()})


def get_provider(type_name: str) -> MetricProvider:
    """A new provider of this type; ConfigError naming the known types when there is none."""
    factory = _factory(type_name)
    try:
        return factory()
    except Exception as exc:  # a plugin that cannot start is a config problem, whatever it raised
        raise ConfigError([f"metric provider '{type_name}' cannot be created: {exc}"]) from exc


class ProviderPool:
    """One provider per type, kept: the engine holds a pool per worker so providers that remember
    earlier measurements (envoy's counters) keep doing so from one reconcile to the next."""

    def __init__(self, factory: Callable[[str], MetricProvider] = get_provider) -> None:
        self._factory = factory
        self._providers: dict[str, MetricProvider] = {}
        self._lock = threading.Lock()

    def __call__(self, type_name: str) -> MetricProvider:
        with self._lock:
            if type_name not in self._providers:
                self._providers[type_name] = self._factory(type_name)
            return self._providers[type_name]


def _factory(type_name: str) -> ProviderFactory:
    if type_name in _registered:
        return _registered[type_name]
    if type_name in _BUILTINS:
        module_name, _, attribute = _BUILTINS[type_name].partition(":")
        factory: ProviderFactory = getattr(importlib.import_module(module_name), attribute)
        return factory
    entry_point = _entry_points().get(type_name)
    if entry_point is None:
        raise ConfigError(
            [f"unknown metric provider type '{type_name}'; known: {', '.join(provider_types())}"],
            hint=f"third-party providers are installed as '{ENTRY_POINT_GROUP}' entry points",
        )
    try:
        loaded: ProviderFactory = entry_point.load()
    except Exception as exc:  # a broken plugin must read as a config problem, whatever it raised
        raise ConfigError(
            [f"metric provider '{type_name}' ({entry_point.value}) cannot be loaded: {exc}"]
        ) from exc
    if not callable(loaded):
        raise ConfigError([f"metric provider '{type_name}' ({entry_point.value}) is not a class or factory"])
    return loaded


@cache
def _entry_points() -> dict[str, EntryPoint]:
    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}
