"""Unleash's delta API (`GET /api/client/delta`): a snapshot rebuilt from a stream of events.

A `hydration` event carries a whole configuration; `feature-updated` / `feature-removed` and
`segment-updated` / `segment-removed` change one flag or segment. Applying events never mutates:
each call returns a new `Snapshot`, which the caller compiles into a new `Evaluator`.
"""

from __future__ import annotations

from typing import Any

from clearance.flags.model import Feature, Segment, Snapshot
from clearance.flags.parsing import FlagDefinitionInvalid, parse_feature, parse_segment


def apply_delta(snapshot: Snapshot, document: object) -> Snapshot:
    """Apply the events of one delta response (`{"events": [...]}`) to `snapshot`, in order."""
    if not isinstance(document, dict) or not isinstance(document.get("events"), list):
        raise FlagDefinitionInvalid("$.events", "a delta response holds a list of events")
    features = {feature.name: feature for feature in snapshot.features}
    segments = {segment.id: segment for segment in snapshot.segments}
    for index, event in enumerate(document["events"]):
        _apply_event(event, f"$.events[{index}]", features, segments)
    return Snapshot(
        features=tuple(features.values()), segments=tuple(segments.values()), version=snapshot.version
    )


def _apply_event(event: Any, path: str, features: dict[str, Feature], segments: dict[int, Segment]) -> None:
    if not isinstance(event, dict):
        raise FlagDefinitionInvalid(path, "an event is an object")
    kind = event.get("type")
    if kind == "hydration":
        features.clear()
        segments.clear()
        for index, item in enumerate(_items(event, "features", path)):
            feature = parse_feature(item, f"{path}.features[{index}]")
            features[feature.name] = feature
        for index, item in enumerate(_items(event, "segments", path)):
            segment = parse_segment(item, f"{path}.segments[{index}]")
            segments[segment.id] = segment
    elif kind == "feature-updated":
        feature = parse_feature(event.get("feature"), f"{path}.feature")
        features[feature.name] = feature
    elif kind == "feature-removed":
        name = event.get("featureName")
        if not isinstance(name, str):
            raise FlagDefinitionInvalid(f"{path}.featureName", "expected the name of the removed flag")
        features.pop(name, None)
    elif kind == "segment-updated":
        segment = parse_segment(event.get("segment"), f"{path}.segment")
        segments[segment.id] = segment
    elif kind == "segment-removed":
        segment_id = event.get("segmentId")
        if isinstance(segment_id, bool) or not isinstance(segment_id, int):
            raise FlagDefinitionInvalid(f"{path}.segmentId", "expected the id of the removed segment")
        segments.pop(segment_id, None)
    else:
        raise FlagDefinitionInvalid(f"{path}.type", f"unknown delta event type {kind!r}")


def _items(event: dict[str, Any], key: str, path: str) -> list[Any]:
    items = event.get(key) or []
    if not isinstance(items, list):
        raise FlagDefinitionInvalid(f"{path}.{key}", "expected a list")
    return items
