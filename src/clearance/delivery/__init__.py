"""Delivery: deployments as durable state machines, their strategies, targets and analysis."""
