"""clearance: self-hosted release management, from plan to production and back."""

__version__ = "0.1.0"
