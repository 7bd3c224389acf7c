"""Test support: real servers and a CLI runner (no mocks)."""
