"""The evaluation context: who is asking (user, session, address) and where (app, environment, time).

Field names follow Unleash (`userId`, `sessionId`, `remoteAddress`, `environment`, `appName`,
`currentTime`); any other name is read from `properties`. Build a `Context` once per request and
evaluate as many flags against it as needed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from operator import attrgetter
from typing import Any

# Context values longer than this are cut: nothing in a flag definition compares that much text, and
# a hostile client must not make every evaluation hash megabytes.
MAX_VALUE_LENGTH = 4096

FieldGetter = Callable[["Context"], "str | None"]


@dataclass(frozen=True, slots=True)
class Context:
    user_id: str | None = None
    session_id: str | None = None
    remote_address: str | None = None
    environment: str | None = None
    app_name: str | None = None
    current_time: str | None = None
    # A plain dict for speed (read on every evaluation); treat it as read-only.
    properties: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Context:
        """Build a context from Unleash's JSON shape; never raises on odd values.

        Numbers and booleans become their JSON text, `null` means absent, other values (lists,
        objects) are dropped; datetimes become ISO 8601 text. Top-level names Unleash does not know
        are treated as properties, as the SDKs do.
        """
        properties: dict[str, str] = {}
        known: dict[str, str | None] = {}
        for key, value in data.items():
            if key == "properties":
                if isinstance(value, Mapping):
                    for name, item in value.items():
                        text = _text(item)
                        if text is not None and isinstance(name, str):
                            properties[name] = text
            elif key in _ATTRIBUTES:
                known[_ATTRIBUTES[key]] = _text(value)
            elif isinstance(key, str):
                text = _text(value)
                if text is not None:
                    properties.setdefault(key, text)
        return cls(properties=properties, **known)


_ATTRIBUTES = {
    "userId": "user_id",
    "sessionId": "session_id",
    "remoteAddress": "remote_address",
    "environment": "environment",
    "appName": "app_name",
    "currentTime": "current_time",
}


def _text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, str):
        text = value
    elif isinstance(value, int | float):
        text = str(value)
    elif isinstance(value, datetime):
        text = value.isoformat()
    else:
        return None
    return text[:MAX_VALUE_LENGTH]


def _current_time(context: Context) -> str | None:
    # Unleash reads an absent currentTime as "now".
    return context.current_time or datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def property_name(context_name: str) -> str | None:
    """The key `context_name` is read under in `properties`, or None for a built-in field."""
    return None if context_name in _ATTRIBUTES else context_name


def field_getter(context_name: str) -> FieldGetter:
    """A function reading `context_name` from a context, resolved once when a flag is compiled."""
    if context_name == "currentTime":
        return _current_time
    attribute = _ATTRIBUTES.get(context_name)
    if attribute is not None:
        getter: FieldGetter = attrgetter(attribute)
        return getter

    def property_value(context: Context) -> str | None:
        return context.properties.get(context_name)

    return property_value
