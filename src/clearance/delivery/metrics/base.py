"""The MetricProvider protocol: what a provider is asked (a MetricQuery) and what it answers (a Measurement).

Fetching is kept apart from judging, as in Argo Rollouts: a provider only returns a number, a list of
numbers, or the reason it could not; the analysis decides what that means. An operational failure
(backend down, bad answer, no data) is a Measurement with `error` set, never an exception.

Queries are text templates: `{{service}}`, `{{version}}`, ... are replaced by the query's variables.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from clearance.errors import ConfigError

MeasurementValue = float | list[float] | None

STANDARD_VARIABLES: frozenset[str] = frozenset(
    {
        "project",
        "service",
        "environment",
        "version",  # the version under analysis (the canary)
        "baseline_version",  # the version it is compared with (the stable one)
        "proxy_admin_url",  # the Envoy admin URL of the service in this environment
        "cluster",  # the proxy's cluster (upstream) of `version`
        "baseline_cluster",  # the proxy's cluster of `baseline_version`
    }
)
"""The variables the engine gives every query; a template may use only these (and those it is told of)."""

_PLACEHOLDER = re.compile(r"\{\{\s*([^{}]*?)\s*\}\}")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Measurement:
    """One answer of a provider: a value, or the reason there is none (`error`)."""

    started_at: datetime
    finished_at: datetime
    value: MeasurementValue = None
    error: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)  # e.g. the resolved query, raw counters

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(frozen=True)
class MetricQuery:
    """What to measure: the provider `type`, its settings from the template, and the variables."""

    type: str
    settings: Mapping[str, Any]
    variables: Mapping[str, str] = field(default_factory=dict)
    name: str = ""  # the metric's name; providers that keep state between measurements key it by this

    def with_variables(self, **changes: str) -> MetricQuery:
        return MetricQuery(self.type, self.settings, {**self.variables, **changes}, self.name)


class SamplesNotSupported(ConfigError):
    """This provider cannot give a series of samples, so it cannot feed the statistical judge."""

    def __init__(self, provider_type: str) -> None:
        super().__init__(
            [f"metric provider '{provider_type}' cannot give samples over a time window"],
            hint="use a provider that keeps history (prometheus) for judge metrics",
        )


class MetricProvider(Protocol):
    """A source of metric values. Built-ins: `envoy`, `prometheus`, `http` (see `registry`)."""

    type: str
    supports_samples: bool  # False: `samples` raises SamplesNotSupported

    def check(self, settings: Mapping[str, Any], variables: Collection[str]) -> list[str]:
        """Problems with these settings, one sentence each; [] when usable. Called at config load."""
        ...

    def measure(self, query: MetricQuery) -> Measurement:
        """The value now. Never raises for an operational failure: it returns `error` instead."""
        ...

    def samples(self, query: MetricQuery, window_seconds: float) -> Measurement:
        """The values over the last `window_seconds`, as a list, for the judge. Same error rules."""
        ...


def placeholders(text: str) -> list[str]:
    """The variable names used in `text`, in order of appearance."""
    return [match.group(1) for match in _PLACEHOLDER.finditer(text)]


def placeholder_problems(text: str, variables: Collection[str], where: str) -> list[str]:
    """Sentences for each `{{name}}` in `text` that is malformed or not among `variables`."""
    problems = []
    for name in placeholders(text):
        if not _NAME.fullmatch(name):
            problems.append(f"{where}: '{{{{{name}}}}}' is not a variable name")
        elif name not in variables:
            known = ", ".join(sorted(variables))
            problems.append(f"{where}: unknown variable '{{{{{name}}}}}'; known: {known}")
    return problems


def render(text: str, variables: Mapping[str, str]) -> str:
    """Replace each `{{name}}`; raise KeyError naming the first one that has no value."""

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in variables:
            raise KeyError(name)
        return variables[name]

    return _PLACEHOLDER.sub(replace, text)


def to_number(raw: object) -> float:
    """A JSON or Prometheus value as a float: numbers and numeric text; never booleans."""
    # bool is an int subclass; `true` from a JSON API is a state, not a measurement.
    if isinstance(raw, bool):
        raise ValueError(f"{raw!r} is not a number")
    if isinstance(raw, int | float):
        return float(raw)
    if isinstance(raw, str):
        try:
            return float(raw)  # accepts "NaN", "+Inf", "-Inf" as Prometheus writes them
        except ValueError:
            raise ValueError(f"'{raw}' is not a number") from None
    raise ValueError(f"{type(raw).__name__} {raw!r} is not a number")


def single_or_list(values: list[float]) -> MeasurementValue:
    """One value is a number; several are a list (conditions may index either: `result[0]`)."""
    return values[0] if len(values) == 1 else values


@dataclass
class ScriptedProvider:
    """A provider answering from a script of values or errors: for tests and dry runs, no backend.

    Each `measure` takes the next answer; the last one repeats. An answer is a value, or an
    Exception whose text becomes the measurement's error. `samples` answers from `samples_script`.
    """

    script: list[MeasurementValue | Exception]
    samples_script: Mapping[str, list[float] | Exception] = field(default_factory=dict)  # by version
    type: str = "scripted"
    supports_samples: bool = True
    clock: Callable[[], datetime] = utc_now
    queries: list[MetricQuery] = field(default_factory=list)  # every query received, for assertions

    def check(self, settings: Mapping[str, Any], variables: Collection[str]) -> list[str]:
        return []

    def measure(self, query: MetricQuery) -> Measurement:
        self.queries.append(query)
        answer = self.script[min(len(self.queries) - 1, len(self.script) - 1)]
        return self._answer(answer)

    def samples(self, query: MetricQuery, window_seconds: float) -> Measurement:
        self.queries.append(query)
        answer = self.samples_script.get(query.variables.get("version", ""), [])
        return self._answer(list(answer) if isinstance(answer, list) else answer)

    def _answer(self, answer: MeasurementValue | Exception) -> Measurement:
        now = self.clock()
        if isinstance(answer, Exception):
            return Measurement(now, now, error=str(answer))
        return Measurement(now, now, value=answer)
