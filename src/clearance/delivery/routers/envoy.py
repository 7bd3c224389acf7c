"""Envoy naming shared by the agent (which writes the config) and the envoy metric provider and the
rollout engine (which read stats per version): one cluster per version."""

from __future__ import annotations

import hashlib
import re

_SAFE = re.compile(r"[A-Za-z0-9-]")


def cluster_name(version: str) -> str:
    """The Envoy cluster (and stat) name of a version: `1.2.0-rc.1+b.7` → `1_2_0-rc_1__b_7`.

    Envoy splits stat names on `.`, so `cluster.<name>.upstream_rq_5xx` needs a name without one.
    `.` becomes `_` and `+` becomes `__`; SemVer has no empty identifiers, so for every valid
    version this is reversible and two versions never share a name. Anything that would not map
    back (other characters, `..`) gets a hash suffix instead of a silent collision.
    """
    encoded = "".join(ch if _SAFE.fullmatch(ch) else "__" if ch == "+" else "_" for ch in version)
    if version and encoded.replace("__", "+").replace("_", ".") == version:
        return encoded
    digest = hashlib.sha256(version.encode("utf-8")).hexdigest()[:10]
    return f"{encoded}_h{digest}"
