"""Rollout strategies: the closed set of ordered, idempotent steps (not plugins)."""
