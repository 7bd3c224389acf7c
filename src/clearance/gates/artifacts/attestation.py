"""In-toto Statement v1 over a release's artifacts, with a minimal SLSA provenance v1 predicate, signed
in a DSSE envelope (https://github.com/secure-systems-lab/dsse/blob/master/protocol.md), and checked.

Signing is over PAE(payloadType, payload), never over the JSON envelope, so a changed payload (another
digest) or payload type no longer verifies."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from clearance.gates.artifacts.keys import keyid, load_public_key
from clearance.gates.base import ArtifactFact

__all__ = [
    "PAYLOAD_TYPE",
    "PREDICATE_TYPE",
    "STATEMENT_TYPE",
    "Provenance",
    "Verification",
    "pae",
    "sign_statement",
    "statement",
    "verify_envelope",
]

PAYLOAD_TYPE = "application/vnd.in-toto+json"
STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PREDICATE_TYPE = "https://slsa.dev/provenance/v1"
BUILD_TYPE = "https://clearance.dev/release/v1"


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE's pre-authentication encoding: "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body."""
    kind = payload_type.encode()
    return b"DSSEv1 %d %s %d %s" % (len(kind), kind, len(payload), payload)


@dataclass(frozen=True)
class Provenance:
    """The minimal SLSA provenance: who built it, where the build ran, from which commit."""

    builder_id: str
    release: str
    commit: str | None = None
    build_url: str | None = None


def statement(artifacts: Sequence[ArtifactFact], provenance: Provenance) -> dict[str, Any]:
    external: dict[str, Any] = {"release": provenance.release}
    if provenance.commit:
        external["commit"] = provenance.commit
    run_details: dict[str, Any] = {"builder": {"id": provenance.builder_id}}
    if provenance.build_url:
        run_details["metadata"] = {"invocationId": provenance.build_url}
    build: dict[str, Any] = {"buildType": BUILD_TYPE, "externalParameters": external}
    if provenance.commit:
        build["resolvedDependencies"] = [{"digest": {"gitCommit": provenance.commit}}]
    return {
        "_type": STATEMENT_TYPE,
        "subject": [
            {"name": a.name, "digest": {"sha256": a.digest.removeprefix("sha256:")}} for a in artifacts
        ],
        "predicateType": PREDICATE_TYPE,
        "predicate": {"buildDefinition": build, "runDetails": run_details},
    }


def sign_statement(document: Mapping[str, Any], key: Ed25519PrivateKey) -> dict[str, Any]:
    """A DSSE envelope holding `document`, signed with `key`."""
    payload = json.dumps(document, sort_keys=True, separators=(",", ":")).encode()
    signature = key.sign(pae(PAYLOAD_TYPE, payload))
    return {
        "payloadType": PAYLOAD_TYPE,
        "payload": base64.b64encode(payload).decode(),
        "signatures": [{"keyid": keyid(key.public_key()), "sig": base64.b64encode(signature).decode()}],
    }


Outcome = Literal["valid", "untrusted-key", "bad-signature", "malformed", "digest-mismatch", "not-covered"]


@dataclass(frozen=True)
class Verification:
    outcome: Outcome
    reason: str
    keyid: str | None = None

    @property
    def valid(self) -> bool:
        return self.outcome == "valid"

    def to_json(self) -> dict[str, Any]:
        return {"outcome": self.outcome, "reason": self.reason, "keyid": self.keyid}


def verify_envelope(
    envelope: Mapping[str, Any], trusted: Mapping[str, str], artifacts: Sequence[ArtifactFact]
) -> Verification:
    """Whether `envelope` is signed by a `trusted` key (keyid -> public PEM) over a statement whose
    subjects name every one of `artifacts` with its digest."""
    try:
        payload_type = str(envelope["payloadType"])
        payload = base64.b64decode(str(envelope["payload"]), validate=True)
        signatures = [
            (str(s["keyid"]), base64.b64decode(str(s["sig"]), validate=True)) for s in envelope["signatures"]
        ]
    except (KeyError, TypeError, binascii.Error) as exc:
        return Verification("malformed", f"not a DSSE envelope: {exc}")
    known = [(kid, sig) for kid, sig in signatures if kid in trusted]
    if not known:
        kids = ", ".join(kid[:12] for kid, _ in signatures) or "none"
        first = signatures[0][0] if signatures else None  # which key it was, for the JSON too
        return Verification(
            "untrusted-key", f"signed by a key this environment does not trust ({kids})", first
        )
    kid, sig = known[0]
    try:
        load_public_key(trusted[kid]).verify(sig, pae(payload_type, payload))
    except InvalidSignature:
        return Verification("bad-signature", "the signature does not match the envelope's content", kid)
    if payload_type != PAYLOAD_TYPE:
        return Verification("malformed", f"payload type {payload_type!r} is not {PAYLOAD_TYPE}", kid)
    return _check_subjects(payload, artifacts, kid)


def _check_subjects(payload: bytes, artifacts: Sequence[ArtifactFact], kid: str) -> Verification:
    try:
        document = json.loads(payload)
        subjects = {str(s["name"]): str(s["digest"]["sha256"]) for s in document["subject"]}
    except (ValueError, KeyError, TypeError) as exc:
        return Verification("malformed", f"the payload is not an in-toto statement: {exc}", kid)
    if document.get("_type") != STATEMENT_TYPE:
        return Verification("malformed", f"the payload is not an {STATEMENT_TYPE}", kid)
    if not artifacts:
        return Verification("not-covered", "the release has no artifacts to verify", kid)
    for artifact in artifacts:
        signed = subjects.get(artifact.name)
        if signed is None:
            return Verification(
                "not-covered", f"artifact {artifact.name} is not in the signed statement", kid
            )
        if f"sha256:{signed}" != artifact.digest:
            return Verification(
                "digest-mismatch",
                f"artifact {artifact.name} is {artifact.digest} but the statement signs sha256:{signed}",
                kid,
            )
    return Verification("valid", f"signed by key {kid[:12]} over {len(artifacts)} artifact(s)", kid)
