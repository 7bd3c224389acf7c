"""Artifacts of a release, their Ed25519 keys and the DSSE-signed in-toto statements over them."""
