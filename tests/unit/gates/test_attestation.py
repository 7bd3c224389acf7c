"""DSSE signing of in-toto statements: the PAE from the spec, and every way a signature is rejected."""

from __future__ import annotations

import base64
import json

from clearance.gates.artifacts.attestation import (
    PAYLOAD_TYPE,
    PREDICATE_TYPE,
    STATEMENT_TYPE,
    Provenance,
    pae,
    sign_statement,
    statement,
    verify_envelope,
)
from clearance.gates.artifacts.keys import generate_key_pair, load_private_key
from clearance.gates.base import ArtifactFact

WHEEL = ArtifactFact(name="shop-1.0.0-py3-none-any.whl", digest="sha256:" + "ab" * 32)
PROVENANCE = Provenance(builder_id="urn:ci", release="1.0.0", commit="abc1234", build_url="https://ci/1")


def test_pae_matches_the_dsse_specification_example() -> None:
    # protocol.md: PAE("http://example.com/HelloWorld", "hello world")
    assert pae("http://example.com/HelloWorld", b"hello world") == (
        b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"
    )


def test_the_statement_is_an_in_toto_v1_statement_with_slsa_provenance() -> None:
    document = statement([WHEEL], PROVENANCE)
    assert document["_type"] == STATEMENT_TYPE
    assert document["subject"] == [{"name": WHEEL.name, "digest": {"sha256": "ab" * 32}}]
    assert document["predicateType"] == PREDICATE_TYPE
    assert document["predicate"]["runDetails"]["builder"]["id"] == "urn:ci"
    assert document["predicate"]["runDetails"]["metadata"]["invocationId"] == "https://ci/1"
    assert document["predicate"]["buildDefinition"]["externalParameters"]["commit"] == "abc1234"


def signed() -> tuple[dict[str, object], dict[str, str]]:
    pair = generate_key_pair()
    envelope = sign_statement(statement([WHEEL], PROVENANCE), load_private_key(pair.private_pem))
    return envelope, {pair.keyid: pair.public_pem.decode()}


def test_a_signature_by_a_trusted_key_over_the_artifacts_verifies() -> None:
    envelope, trusted = signed()
    assert envelope["payloadType"] == PAYLOAD_TYPE
    result = verify_envelope(envelope, trusted, [WHEEL])
    assert result.valid, result.reason
    assert result.keyid == next(iter(trusted))


def test_a_signature_by_an_untrusted_key_is_rejected() -> None:
    envelope, _ = signed()
    _, other = signed()
    result = verify_envelope(envelope, other, [WHEEL])
    assert result.outcome == "untrusted-key"
    assert result.keyid == envelope["signatures"][0]["keyid"]  # which key it was


def test_a_tampered_payload_over_another_digest_is_rejected() -> None:
    envelope, trusted = signed()
    document = json.loads(base64.b64decode(str(envelope["payload"])))
    document["subject"][0]["digest"]["sha256"] = "cd" * 32
    tampered = {**envelope, "payload": base64.b64encode(json.dumps(document).encode()).decode()}
    assert verify_envelope(tampered, trusted, [WHEEL]).outcome == "bad-signature"


def test_a_valid_signature_over_a_different_digest_does_not_cover_the_artifact() -> None:
    envelope, trusted = signed()
    rebuilt = ArtifactFact(name=WHEEL.name, digest="sha256:" + "cd" * 32)
    result = verify_envelope(envelope, trusted, [rebuilt])
    assert result.outcome == "digest-mismatch"
    assert WHEEL.name in result.reason
    extra = ArtifactFact(name="image", digest="sha256:" + "ef" * 32)
    assert verify_envelope(envelope, trusted, [WHEEL, extra]).outcome == "not-covered"


def test_a_broken_envelope_is_malformed() -> None:
    _, trusted = signed()
    assert verify_envelope({"payload": "%%%"}, trusted, [WHEEL]).outcome == "malformed"
