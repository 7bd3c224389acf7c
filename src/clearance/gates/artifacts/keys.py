"""Ed25519 keys in PEM form: making a pair, reading either half, and a key's id (sha256 of the
public key's DER SubjectPublicKeyInfo, hex), the id DSSE signatures carry."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

__all__ = ["KeyPair", "generate_key_pair", "keyid", "load_private_key", "load_public_key"]


@dataclass(frozen=True)
class KeyPair:
    private_pem: bytes  # PKCS#8, unencrypted: keep it in a secret store or a 0600 file
    public_pem: bytes
    keyid: str


def generate_key_pair() -> KeyPair:
    private = Ed25519PrivateKey.generate()
    public_pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    private_pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return KeyPair(private_pem=private_pem, public_pem=public_pem, keyid=keyid(private.public_key()))


def keyid(public_key: Ed25519PublicKey) -> str:
    der = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(der).hexdigest()


def load_public_key(pem: str | bytes) -> Ed25519PublicKey:
    """The Ed25519 public key in `pem`; ValueError (a sentence for the user) for anything else."""
    data = pem.encode() if isinstance(pem, str) else pem
    try:
        key = serialization.load_pem_public_key(data.strip() + b"\n")
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise ValueError("not a PEM public key (-----BEGIN PUBLIC KEY-----…)") from exc
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError(f"not an Ed25519 public key ({type(key).__name__.removeprefix('_')})")
    return key


def load_private_key(pem: bytes) -> Ed25519PrivateKey:
    """The Ed25519 private key in `pem` (unencrypted PKCS#8); ValueError for anything else."""
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise ValueError("not an unencrypted PEM private key (-----BEGIN PRIVATE KEY-----…)") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError("not an Ed25519 private key")
    return key
