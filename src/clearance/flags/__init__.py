"""Feature flags with Unleash's semantics: the model, the pure evaluation engine, the delta API.

snapshot = parse_snapshot(json.loads(body_of_api_client_features))
flags = Evaluator(snapshot)
flags.is_enabled("new-checkout", Context(user_id="42"))
flags.get_variant("checkout-button", Context(user_id="42")).name
"""

from clearance.flags.context import Context
from clearance.flags.delta import apply_delta
from clearance.flags.engine import Evaluator
from clearance.flags.model import (
    Constraint,
    Dependency,
    Feature,
    Override,
    Payload,
    Segment,
    Snapshot,
    Strategy,
    VariantDefinition,
)
from clearance.flags.parsing import FlagDefinitionInvalid, parse_feature, parse_segment, parse_snapshot
from clearance.flags.variants import Variant

__all__ = [
    "Constraint",
    "Context",
    "Dependency",
    "Evaluator",
    "Feature",
    "FlagDefinitionInvalid",
    "Override",
    "Payload",
    "Segment",
    "Snapshot",
    "Strategy",
    "Variant",
    "VariantDefinition",
    "apply_delta",
    "parse_feature",
    "parse_segment",
    "parse_snapshot",
]
