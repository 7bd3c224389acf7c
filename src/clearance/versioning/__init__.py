"""Versions of releases: SemVer 2.0.0 parsing, precedence and bumps."""

from __future__ import annotations

from clearance.versioning.semver import Version, compare

__all__ = ["Version", "compare"]
