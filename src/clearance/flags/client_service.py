"""What SDKs and API callers need from the store: tokens (kept as sha256 only), an environment's
snapshot as Unleash's client API serves it (with its ETag), SDK registrations and metrics."""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from clearance.audit.service import record
from clearance.errors import NotFound, UsageError
from clearance.flags import definitions as rules
from clearance.flags.parsing import FlagDefinitionInvalid
from clearance.flags.service import check_environment
from clearance.store.tables import (
    FlagClientRow,
    FlagEnvironmentRow,
    FlagMetricRow,
    FlagRow,
    FlagTokenRow,
    utcnow,
)
from clearance.workspace import Workspace

_log = logging.getLogger(__name__)
_METRIC_MAX = 10**12  # one report cannot add more than this to a counter


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True)
class TokenView:
    id: int
    environment: str | None
    admin: bool
    prefix: str
    created_by: str
    created_at: datetime
    revoked_at: datetime | None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "environment": self.environment,
            "kind": "admin" if self.admin else "client",
            "prefix": self.prefix,
            "created_by": self.created_by,
            "created_at": self.created_at.isoformat(),
            "revoked": self.revoked_at is not None,
        }


def _token_view(row: FlagTokenRow) -> TokenView:
    return TokenView(
        row.id, row.environment, row.admin, row.prefix, row.created_by, row.created_at, row.revoked_at
    )


def create_token(ws: Workspace, environment: str | None, *, admin: bool) -> tuple[str, TokenView]:
    """A new token (returned once, never stored) and its record."""
    if environment is None and not admin:
        raise UsageError("a client token belongs to one environment", hint="pass --env ENVIRONMENT")
    if environment is not None and admin:
        raise UsageError(
            "an admin token belongs to no environment: it changes flags in all of them",
            hint="leave out --env for an admin token, or --admin for a client token",
        )
    if environment is not None:
        check_environment(ws, environment)
    token = f"{'clr_admin' if admin else 'clr_client'}_{secrets.token_urlsafe(32)}"
    with ws.store.transaction() as session:
        row = FlagTokenRow(
            project_id=ws.project_id,
            environment=environment,
            admin=admin,
            sha256=_digest(token),
            prefix=token[:16],
            created_by=ws.actor,
        )
        session.add(row)
        session.flush()
        record(
            session,
            actor=ws.actor,
            tag="token:created",
            subject=f"token:{row.id}",
            data={"environment": environment, "admin": admin, "prefix": row.prefix},
        )
        return token, _token_view(row)


def list_tokens(ws: Workspace) -> list[TokenView]:
    with ws.store.transaction() as session:
        rows = session.scalars(
            select(FlagTokenRow).where(FlagTokenRow.project_id == ws.project_id).order_by(FlagTokenRow.id)
        )
        return [_token_view(row) for row in rows]


def revoke_token(ws: Workspace, token_id: int) -> TokenView:
    with ws.store.transaction() as session:
        row = session.get(FlagTokenRow, token_id)
        if row is None or row.project_id != ws.project_id:
            raise NotFound(f"no token with id {token_id}", hint="`clearance token list` shows them")
        if row.revoked_at is None:
            row.revoked_at = utcnow()
            record(session, actor=ws.actor, tag="token:revoked", subject=f"token:{row.id}", data={})
        return _token_view(row)


def header_digest(header: str | None) -> str | None:
    """The sha256 of the token an `Authorization` header carries (raw or `Bearer …`), or None."""
    if not header:
        return None
    return _digest(header.removeprefix("Bearer ").strip())


def find_token(ws: Workspace, digest: str) -> TokenView | None:
    """The live token of the project with this sha256, or None (read-only: takes no write lock)."""
    with ws.store.read() as session:
        row = session.scalars(
            select(FlagTokenRow).where(
                FlagTokenRow.sha256 == digest,
                FlagTokenRow.project_id == ws.project_id,
                FlagTokenRow.revoked_at.is_(None),
            )
        ).first()
        return _token_view(row) if row is not None else None


def authenticate(ws: Workspace, header: str | None) -> TokenView | None:
    """The live token an `Authorization` header carries, or None."""
    digest = header_digest(header)
    return find_token(ws, digest) if digest is not None else None


@dataclass(frozen=True)
class ServedSnapshot:
    body: bytes
    etag: str


def _served_feature(flag: FlagRow, row: FlagEnvironmentRow | None) -> dict[str, Any]:
    """The flag as SDKs get it. A stored definition the engine cannot read (edited by hand, or by an
    older version) is served off, with a warning: one bad flag must not break every SDK's fetch."""
    try:
        return rules.feature_json(
            flag.name,
            flag.type,
            flag.description,
            enabled=row.enabled if row else False,
            strategies=list(row.strategies) if row else [],
            variants=list(row.variants) if row else [],
        )
    except FlagDefinitionInvalid as exc:
        _log.warning("flag %r is stored malformed (%s); serving it off", flag.name, exc.message)
        return rules.feature_json(
            flag.name, flag.type, flag.description, enabled=False, strategies=[], variants=[]
        )


def snapshot(ws: Workspace, environment: str) -> ServedSnapshot:
    """The body of `GET /api/client/features` for one environment, and its ETag (read-only)."""
    with ws.store.read() as session:
        flags = session.scalars(
            select(FlagRow)
            .where(FlagRow.project_id == ws.project_id, FlagRow.archived_at.is_(None))
            .options(selectinload(FlagRow.environments))
            .order_by(FlagRow.name)
        ).all()
        features = [
            _served_feature(flag, next((r for r in flag.environments if r.environment == environment), None))
            for flag in flags
        ]
    document = {"version": 2, "features": features, "segments": [], "query": {"environment": environment}}
    body = json.dumps(document, separators=(",", ":"), sort_keys=True).encode()
    return ServedSnapshot(body=body, etag=f'"{hashlib.sha256(body).hexdigest()[:32]}"')


def _text(value: object, limit: int = 255) -> str:
    return value[:limit] if isinstance(value, str) else ""


def register_client(ws: Workspace, environment: str, document: dict[str, Any]) -> None:
    """Remember an SDK instance (`POST /api/client/register`); the latest registration wins."""
    key = (ws.project_id, environment, _text(document.get("appName")), _text(document.get("instanceId")))
    strategies = [s for s in document.get("strategies") or [] if isinstance(s, str)][:50]
    with ws.store.transaction() as session:
        row = session.get(FlagClientRow, key)
        if row is None:
            row = FlagClientRow(project_id=key[0], environment=key[1], app_name=key[2], instance_id=key[3])
            session.add(row)
        row.sdk_version = _text(document.get("sdkVersion"))
        row.strategies = strategies
        row.registered_at = utcnow()


def _count(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        return 0
    return min(max(value, 0), _METRIC_MAX)


def record_metrics(ws: Workspace, environment: str, document: dict[str, Any]) -> int:
    """Add a `POST /api/client/metrics` bucket's yes/no and variant counts; returns flags counted."""
    bucket = document.get("bucket")
    toggles = bucket.get("toggles") if isinstance(bucket, dict) else None
    if not isinstance(toggles, dict):
        raise UsageError("metrics need bucket.toggles", hint="send the body Unleash SDKs send")
    counted = 0
    with ws.store.transaction() as session:
        for name, counts in sorted(toggles.items()):
            if not isinstance(name, str) or not isinstance(counts, dict) or len(name) > 255:
                continue
            key = (ws.project_id, environment, name)
            row = session.get(FlagMetricRow, key, with_for_update=True)
            if row is None:
                row = FlagMetricRow(
                    project_id=key[0], environment=key[1], flag=name, yes=0, no=0, variants={}
                )
                session.add(row)
            row.yes += _count(counts.get("yes"))
            row.no += _count(counts.get("no"))
            variants = dict(row.variants)
            for variant, count in (counts.get("variants") or {}).items():
                if isinstance(variant, str):
                    variants[variant] = variants.get(variant, 0) + _count(count)
            row.variants = variants
            row.updated_at = utcnow()
            counted += 1
    return counted
