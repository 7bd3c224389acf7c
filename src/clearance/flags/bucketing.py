"""Sticky buckets: which percentile a user falls in, so one user sees one answer everywhere.

Unleash hashes `"{groupId}:{identifier}"` with murmur3 (x86, 32 bit): seed 0 and modulus 100 for
rollouts (bucket 1–100, on when bucket ≤ rollout), seed 86028157 and the total weight for variants.
Which identifier is used is the *stickiness*: `default` is the user id, else the session id, else a
random draw (so an anonymous caller still gets the advertised share).
"""

from __future__ import annotations

import random
from collections.abc import Callable

import mmh3

from clearance.flags.context import Context, field_getter

ROLLOUT_SEED = 0
VARIANT_SEED = 86028157

StickinessResolver = Callable[[Context], "str | None"]

_random = random.Random()


def normalized_hash(group_id: str, identifier: str, modulus: int = 100, seed: int = ROLLOUT_SEED) -> int:
    """Unleash's bucket of `identifier` within `group_id`: 1 … `modulus`."""
    return mmh3.hash(f"{group_id}:{identifier}", seed, signed=False) % modulus + 1


def random_bucket(modulus: int = 100) -> int:
    """A bucket for a caller nothing identifies; not sticky, by definition."""
    return _random.randint(1, modulus)


def _user_or_session(context: Context) -> str | None:
    return context.user_id if context.user_id is not None else context.session_id


def stickiness_resolver(stickiness: str | None) -> StickinessResolver | None:
    """How to find the identifier to hash; None means "draw at random".

    `default` (or no stickiness) resolves to the user id, then the session id; when both are
    missing the resolver returns None and the caller draws at random. A named field that is
    missing also returns None: rollouts then say no, variants draw at random (as Unleash does).
    """
    if stickiness == "random":
        return None
    if stickiness is None or stickiness == "default":
        return _user_or_session
    if stickiness == "currentTime":
        # Unleash resolves stickiness names other than the five identity fields from properties.
        def from_properties(context: Context) -> str | None:
            return context.properties.get("currentTime")

        return from_properties
    return field_getter(stickiness)
