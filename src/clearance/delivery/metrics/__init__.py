"""Metric providers: where analysis gets its numbers (Envoy stats, Prometheus, any HTTP JSON)."""
