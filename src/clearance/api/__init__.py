"""The HTTP API of `clearance serve`: Unleash's client API for SDKs and the admin API for flags."""

from clearance.api.app import create_app

__all__ = ["create_app"]
