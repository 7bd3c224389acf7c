"""Local flag evaluation: clearance's engine against the real PyPI `UnleashClient`, same flag, same run.

The flag is a `flexibleRollout` (40 %, default stickiness, a groupId) with three constraints
(IN on a country, SEMVER_GT on the app version, STR_STARTS_WITH on the plan), defined once as
client-API JSON and loaded by both engines. UnleashClient runs offline, bootstrapped from memory.
Both engines are asked about the same pre-generated callers, round-robin; both answers are
checked to agree. Targets (issue 5, point 5): ≥ 10× UnleashClient's `is_enabled` and
≥ 500,000 evaluations/s on one core.

    .venv/bin/pip install -e '.[bench]'
    .venv/bin/python benchmarks/flags_eval.py [--seconds 2] [--callers 1000]
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import sys
import time
from collections.abc import Callable
from typing import Any

from clearance.flags import Context, Evaluator, parse_snapshot

FLAG = "checkout.new-flow"
FEATURES: dict[str, Any] = {
    "version": 2,
    "features": [
        {
            "name": FLAG,
            "enabled": True,
            "strategies": [
                {
                    "name": "flexibleRollout",
                    "parameters": {"rollout": "40", "stickiness": "default", "groupId": FLAG},
                    "constraints": [
                        {
                            "contextName": "country",
                            "operator": "IN",
                            "values": ["NO", "SE", "DK", "DE", "FR"],
                        },
                        {"contextName": "appVersion", "operator": "SEMVER_GT", "value": "1.2.0"},
                        {"contextName": "plan", "operator": "STR_STARTS_WITH", "values": ["pro", "ent"]},
                    ],
                }
            ],
        }
    ],
}


def callers(count: int) -> list[dict[str, Any]]:
    rng = random.Random(5)
    return [
        {
            "appName": "bench",
            "environment": "production",
            "userId": str(rng.randint(1, 1_000_000)),
            "sessionId": f"s{index}",
            "properties": {
                # Mostly matching callers, so most evaluations reach the rollout hash.
                "country": rng.choice(["NO", "SE", "DE", "FR", "US"]),
                "appVersion": rng.choice(["1.3.0", "1.10.2", "2.0.0", "1.2.0"]),
                "plan": rng.choice(["pro", "enterprise", "professional", "free"]),
            },
        }
        for index in range(count)
    ]


def unleash_client() -> Any:
    from UnleashClient import UnleashClient
    from UnleashClient.cache import BaseCache
    from UnleashClient.constants import FEATURES_URL
    from UnleashClient.utils import InstanceAllowType

    class MemoryCache(BaseCache):  # type: ignore[misc]
        def __init__(self) -> None:
            self.data: dict[str, Any] = {FEATURES_URL: json.dumps(FEATURES)}
            self.bootstrapped = True

        def set(self, key: str, value: Any) -> None:
            self.data[key] = value

        def mset(self, data: dict[str, Any]) -> None:
            self.data.update(data)

        def get(self, key: str, default: Any = None) -> Any:
            return self.data.get(key, default)

        def exists(self, key: str) -> bool:
            return key in self.data

        def destroy(self) -> None:
            self.data.clear()

    return UnleashClient(
        url="http://127.0.0.1:9",  # never contacted: bootstrapped, never started
        app_name="bench",
        environment="production",
        disable_metrics=True,
        disable_registration=True,
        cache=MemoryCache(),
        multiple_instance_mode=InstanceAllowType.SILENTLY_ALLOW,
    )


def rate(evaluate: Callable[[Any], bool], inputs: list[Any], seconds: float) -> float:
    """Evaluations per second of `evaluate` over `inputs`, best of three timed rounds."""
    best = 0.0
    for _ in range(3):
        done, started = 0, time.perf_counter()
        deadline = started + seconds / 3
        while time.perf_counter() < deadline:
            for item in inputs:
                evaluate(item)
            done += len(inputs)
        best = max(best, done / (time.perf_counter() - started))
    return best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="time spent measuring each engine")
    parser.add_argument("--callers", type=int, default=1000, help="distinct contexts, evaluated round-robin")
    args = parser.parse_args()
    logging.disable(logging.WARNING)  # the SDK warns that it was never started; it is meant not to be

    raw = callers(args.callers)
    contexts = [Context.from_dict(item) for item in raw]
    engine = Evaluator(parse_snapshot(FEATURES))
    sdk = unleash_client()

    ours = [engine.is_enabled(FLAG, context) for context in contexts]
    theirs = [sdk.is_enabled(FLAG, dict(item)) for item in raw]
    if ours != theirs:
        print("the engines disagree; the comparison would be meaningless", file=sys.stderr)
        return 1
    print(
        f"flag: flexibleRollout 40 % + 3 constraints; {sum(ours)} of {len(ours)} callers enabled (same in both)"
    )

    is_enabled = engine.is_enabled
    clearance_rate = rate(lambda context: is_enabled(FLAG, context), contexts, args.seconds)
    from_dict_rate = rate(lambda item: is_enabled(FLAG, Context.from_dict(item)), raw, args.seconds)
    sdk_rate = rate(lambda item: sdk.is_enabled(FLAG, item), raw, args.seconds)

    rows = [
        ("clearance Evaluator.is_enabled (Context built once per caller)", clearance_rate),
        ("clearance Evaluator.is_enabled (Context.from_dict on every call)", from_dict_rate),
        ("UnleashClient.is_enabled (dict context, as its API takes)", sdk_rate),
    ]
    for label, value in rows:
        print(f"{label:<68} {value:>12,.0f} evaluations/s  {1e6 / value:7.2f} µs")
    ratio = clearance_rate / sdk_rate
    print(
        f"ratio clearance / UnleashClient: {ratio:.1f}× (target ≥ 10×); with from_dict: {from_dict_rate / sdk_rate:.1f}×"
    )
    print(f"clearance on one core: {clearance_rate:,.0f} evaluations/s (target ≥ 500,000)")
    return 0 if ratio >= 10 and clearance_rate >= 500_000 else 1


if __name__ == "__main__":
    sys.exit(main())
