"""The `http` metric provider: call a URL, read a number from its JSON answer with a JSONPath.

Settings: `url` (templated), `json_path` (e.g. `$.data.error_rate`), optional `method` (GET or
POST), `body` (text or a JSON object; strings in it are templated), `headers` and `timeout`.

This module also holds `fetch_json`, the one place where the built-in providers call HTTP, so every
httpx failure is turned into a sentence in the same way.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
from jsonpath_ng.exceptions import JSONPathError
from jsonpath_ng.ext.parser import parse as parse_json_path

from clearance.delivery.metrics.base import (
    Measurement,
    MetricQuery,
    SamplesNotSupported,
    placeholder_problems,
    render,
    single_or_list,
    to_number,
    utc_now,
)

DEFAULT_TIMEOUT_SECONDS = 10.0
_BODY_LIMIT = 300  # characters of an unexpected answer quoted in an error


class FetchFailed(Exception):
    """The URL could not be called at all (unreachable, timed out, refused); the text says why."""


@dataclass(frozen=True)
class JsonAnswer:
    status: int
    document: Any  # the parsed JSON, or None when the body is not JSON
    text: str

    def excerpt(self) -> str:
        text = " ".join(self.text.split())
        return text if len(text) <= _BODY_LIMIT else text[:_BODY_LIMIT] + "..."


def fetch_json(
    url: str,
    *,
    timeout: float,
    what: str,
    method: str = "GET",
    params: Mapping[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
    content: str | None = None,
    transport: httpx.BaseTransport | None = None,
) -> JsonAnswer:
    """Call `url` and parse its answer as JSON whatever the status; FetchFailed when nothing came back."""
    try:
        with httpx.Client(timeout=timeout, transport=transport, follow_redirects=True) as client:
            response = client.request(method, url, params=params, headers=headers, content=content)
    except httpx.TimeoutException as exc:
        raise FetchFailed(f"{what} at {url} did not answer within {timeout:g}s") from exc
    except httpx.InvalidURL as exc:
        raise FetchFailed(f"invalid URL '{url}' for {what}: {exc}") from exc
    except httpx.HTTPError as exc:
        raise FetchFailed(f"cannot reach {what} at {url}: {exc or type(exc).__name__}") from exc
    try:
        document = response.json()
    except ValueError:
        document = None
    return JsonAnswer(response.status_code, document, response.text)


def duration_setting(settings: Mapping[str, Any], key: str, default: float) -> float:
    """A duration from the provider settings in seconds; ValueError with a sentence when invalid."""
    # Imported here: clearance.project's package imports the config schema, which embeds analysis
    # templates, which use these providers; a module-level import would be circular.
    from clearance.project.durations import parse_duration

    if key not in settings:
        return default
    return parse_duration(settings[key])


def unknown_settings(settings: Mapping[str, Any], known: Collection[str], provider: str) -> list[str]:
    return [
        f"unknown setting '{key}' for the {provider} provider; known: {', '.join(sorted(known))}"
        for key in settings
        if key not in known
    ]


def required_text(settings: Mapping[str, Any], key: str, provider: str) -> list[str]:
    value = settings.get(key)
    if not isinstance(value, str) or not value.strip():
        return [f"the {provider} provider needs '{key}' (text)"]
    return []


class HttpProvider:
    """Reads one number (or a list of numbers) from a JSON document served over HTTP."""

    type = "http"
    supports_samples = False
    _SETTINGS = ("url", "json_path", "method", "body", "headers", "timeout")

    def __init__(
        self,
        *,
        clock: Callable[[], datetime] = utc_now,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._clock = clock
        self._transport = transport

    def check(self, settings: Mapping[str, Any], variables: Collection[str]) -> list[str]:
        problems = unknown_settings(settings, self._SETTINGS, "http")
        problems += required_text(settings, "url", "http") + required_text(settings, "json_path", "http")
        if not problems:
            try:
                parse_json_path(settings["json_path"])
            except (JSONPathError, ValueError, TypeError) as exc:
                problems.append(f"json_path '{settings['json_path']}' is not a JSONPath: {exc}")
        if str(settings.get("method", "GET")).upper() not in ("GET", "POST"):
            problems.append(f"method '{settings['method']}' is not supported: use GET or POST")
        try:
            duration_setting(settings, "timeout", DEFAULT_TIMEOUT_SECONDS)
        except ValueError as exc:
            problems.append(f"timeout: {exc}")
        for where, text in _templated_texts(settings):
            problems += placeholder_problems(text, variables, where)
        return problems

    def measure(self, query: MetricQuery) -> Measurement:
        started = self._clock()
        settings = query.settings

        def failed(reason: str, **metadata: str) -> Measurement:
            return Measurement(started, self._clock(), error=reason, metadata=metadata)

        try:
            url = render(str(settings["url"]), query.variables)
            headers = {k: render(str(v), query.variables) for k, v in (settings.get("headers") or {}).items()}
            content = _render_body(settings.get("body"), query.variables)
            path = parse_json_path(str(settings["json_path"]))
            timeout = duration_setting(settings, "timeout", DEFAULT_TIMEOUT_SECONDS)
        except KeyError as exc:
            return failed(f"the http metric needs {{{{{exc.args[0]}}}}}, which has no value here")
        except (JSONPathError, ValueError, TypeError) as exc:
            return failed(f"invalid http metric settings: {exc}")
        method = str(settings.get("method", "POST" if content is not None else "GET")).upper()
        if content is not None and not any(k.lower() == "content-type" for k in headers):
            headers["Content-Type"] = "application/json"
        try:
            answer = fetch_json(
                url,
                timeout=timeout,
                what="the metric endpoint",
                method=method,
                headers=headers,
                content=content,
                transport=self._transport,
            )
        except FetchFailed as exc:
            return failed(str(exc), url=url)
        if not 200 <= answer.status < 300:
            return failed(f"HTTP {answer.status} from {url}: {answer.excerpt()}", url=url)
        if answer.document is None:
            return failed(f"the answer of {url} is not JSON: {answer.excerpt()}", url=url)
        try:
            value = _values_at(path, str(settings["json_path"]), answer.document)
        except ValueError as exc:
            return failed(str(exc), url=url)
        return Measurement(started, self._clock(), value=value, metadata={"url": url})

    def samples(self, query: MetricQuery, window_seconds: float) -> Measurement:
        raise SamplesNotSupported(self.type)


def _values_at(path: Any, text: str, document: Any) -> float | list[float]:
    matches = [match.value for match in path.find(document)]
    if len(matches) == 1 and isinstance(matches[0], list):
        matches = matches[0]  # a path to an array means its elements
    if not matches:
        raise ValueError(f"json_path '{text}' found no value in the answer")
    try:
        return single_or_list([to_number(raw) for raw in matches])  # type: ignore[return-value]
    except ValueError as exc:
        raise ValueError(f"the value at json_path '{text}' is not a number: {exc}") from None


def _templated_texts(settings: Mapping[str, Any]) -> list[tuple[str, str]]:
    texts = [("url", settings.get("url")), ("body", settings.get("body"))]
    headers = settings.get("headers")
    if isinstance(headers, Mapping):
        texts += [(f"headers.{k}", v) for k, v in headers.items()]
    found: list[tuple[str, str]] = []
    for where, value in texts:
        if isinstance(value, str):
            found.append((where, value))
        elif value is not None:
            found.append((where, json.dumps(value)))
    return found


def _render_body(body: Any, variables: Mapping[str, str]) -> str | None:
    if body is None:
        return None
    if isinstance(body, str):
        return render(body, variables)
    return json.dumps(_render_strings(body, variables))


def _render_strings(value: Any, variables: Mapping[str, str]) -> Any:
    if isinstance(value, str):
        return render(value, variables)
    if isinstance(value, Mapping):
        return {k: _render_strings(v, variables) for k, v in value.items()}
    if isinstance(value, list):
        return [_render_strings(v, variables) for v in value]
    return value
