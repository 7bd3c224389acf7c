"""Targets: where a service's replicas run. The engine speaks to them only in desired and observed state."""
