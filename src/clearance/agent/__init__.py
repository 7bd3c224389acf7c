"""The agent: runs replicas of services and their Envoy on a machine, as the store desires."""
