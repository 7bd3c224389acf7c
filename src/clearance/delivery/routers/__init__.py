"""Traffic routers: how a version's share of traffic is named and applied (Envoy today)."""
