"""Artifacts on the store: record them (digest streamed from the file), list and remove them while no
deployment has used the release, sign them (DSSE over an in-toto statement) and verify signatures.
Each change reassesses the release's undecided change requests (the signature gate may move)."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from clearance.audit.service import record
from clearance.errors import AlreadyExists, NotFound, OperationFailed, Refused, UsageError
from clearance.gates.artifacts.attestation import (
    Provenance,
    Verification,
    sign_statement,
    statement,
    verify_envelope,
)
from clearance.gates.artifacts.keys import keyid, load_private_key, load_public_key
from clearance.gates.base import ArtifactFact
from clearance.gates.changes.requests import follow_release
from clearance.planning.service import find_release
from clearance.store import Deployment, Release
from clearance.store.tables import ArtifactRow, SignatureRow

if TYPE_CHECKING:
    from clearance.workspace import Workspace

__all__ = [
    "ArtifactKind",
    "NewArtifact",
    "add_artifact",
    "file_digest",
    "release_artifacts",
    "release_signatures",
    "remove_artifact",
    "sign_release",
    "verify_release",
]

ArtifactKind = Literal["wheel", "image", "tarball", "other"]
DEFAULT_BUILDER_ID = "urn:clearance:builder:cli"
_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
_CHUNK = 1024 * 1024


@dataclass(frozen=True)
class NewArtifact:
    name: str
    kind: ArtifactKind = "other"
    path: Path | None = None  # the file, hashed here; or
    digest: str | None = None  # its digest, "sha256:<64 hex>"
    build_url: str | None = None
    commit: str | None = None


def file_digest(path: Path) -> tuple[str, int]:
    """The file's `sha256:<hex>` and its size, read in chunks (artifacts may be gigabytes)."""
    digest, size = hashlib.sha256(), 0
    try:
        with path.open("rb") as stream:
            while chunk := stream.read(_CHUNK):
                digest.update(chunk)
                size += len(chunk)
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from exc
    return f"sha256:{digest.hexdigest()}", size


def _digest_of(new: NewArtifact) -> tuple[str, int | None]:
    if (new.path is None) == (new.digest is None):
        raise UsageError(
            "give either a FILE or --digest sha256:…",
            hint="a FILE is hashed here; --digest records one computed elsewhere",
        )
    if new.path is not None:
        return file_digest(new.path)
    assert new.digest is not None
    digest = new.digest.strip().lower()
    if not _DIGEST.fullmatch(digest):
        raise UsageError(
            f"--digest {new.digest!r} is not a sha256 digest", hint="write sha256: and 64 hex digits"
        )
    return digest, None


def _refuse_if_used(session: Session, release: Release, action: str) -> None:
    used = session.scalars(select(Deployment.id).where(Deployment.release_id == release.id).limit(1)).first()
    if used is not None:
        raise Refused(
            f"cannot {action}: release {release.version} has been deployed (deployment {used}), "
            "so its artifacts are immutable",
            code="artifacts-immutable",
            hint="create a new release for new artifacts",
        )


def add_artifact(ws: Workspace, version: str, new: NewArtifact) -> ArtifactRow:
    if not new.name.strip():
        raise UsageError("--name must not be empty")
    digest, size = _digest_of(new)
    with ws.store.transaction() as session:
        release = find_release(session, ws.project_id, version)
        _refuse_if_used(session, release, f"add artifact {new.name}")
        taken = session.scalars(
            select(ArtifactRow).where(ArtifactRow.release_id == release.id, ArtifactRow.name == new.name)
        ).first()
        if taken is not None:
            raise AlreadyExists(f"release {version} already has an artifact {new.name} ({taken.digest})")
        row = ArtifactRow(
            release_id=release.id,
            name=new.name,
            kind=new.kind,
            digest=digest,
            size=size,
            build_url=new.build_url,
            commit=new.commit or release.commit,
            added_by=ws.actor,
        )
        session.add(row)
        session.flush()
        record(
            session,
            actor=ws.actor,
            tag="artifact:added",
            subject=f"release:{ws.config.project}@{version}",
            data={
                "artifact_id": row.id,
                "name": row.name,
                "kind": row.kind,
                "digest": digest,
                "size": size,
                "build_url": row.build_url,
                "commit": row.commit,
            },
        )
        follow_release(ws, session, release)
        return row


def remove_artifact(ws: Workspace, version: str, name: str) -> None:
    with ws.store.transaction() as session:
        release = find_release(session, ws.project_id, version)
        _refuse_if_used(session, release, f"remove artifact {name}")
        row = session.scalars(
            select(ArtifactRow).where(ArtifactRow.release_id == release.id, ArtifactRow.name == name)
        ).first()
        if row is None:
            raise NotFound(f"release {version} has no artifact {name}")
        record(
            session,
            actor=ws.actor,
            tag="artifact:removed",
            subject=f"release:{ws.config.project}@{version}",
            data={"artifact_id": row.id, "name": row.name, "digest": row.digest},
        )
        session.delete(row)
        session.flush()
        follow_release(ws, session, release)


def release_artifacts(session: Session, release: Release) -> list[ArtifactRow]:
    query = select(ArtifactRow).where(ArtifactRow.release_id == release.id)
    return list(session.scalars(query.order_by(ArtifactRow.id)))


def release_signatures(session: Session, release: Release) -> list[SignatureRow]:
    query = select(SignatureRow).where(SignatureRow.release_id == release.id)
    return list(session.scalars(query.order_by(SignatureRow.id)))


def sign_release(
    ws: Workspace, version: str, key_path: Path, *, builder_id: str = DEFAULT_BUILDER_ID
) -> SignatureRow:
    """Sign an in-toto statement over every artifact of the release with the Ed25519 key at `key_path`."""
    try:
        key = load_private_key(key_path.read_bytes())
    except OSError as exc:
        raise UsageError(f"cannot read key {key_path}: {exc.strerror or exc}") from exc
    except ValueError as exc:
        raise UsageError(f"{key_path}: {exc}", hint="use a key written by `clearance keys generate`") from exc
    with ws.store.transaction() as session:
        release = find_release(session, ws.project_id, version)
        artifacts = release_artifacts(session, release)
        if not artifacts:
            raise UsageError(
                f"release {version} has no artifacts to sign", hint="add them with `clearance artifact add`"
            )
        build_urls = {a.build_url for a in artifacts if a.build_url}
        commits = {a.commit for a in artifacts if a.commit}
        provenance = Provenance(
            builder_id=builder_id,
            release=version,
            commit=release.commit or (commits.pop() if len(commits) == 1 else None),
            build_url=build_urls.pop() if len(build_urls) == 1 else None,
        )
        facts = [ArtifactFact(name=a.name, digest=a.digest) for a in artifacts]
        envelope = sign_statement(statement(facts, provenance), key)
        row = SignatureRow(
            release_id=release.id, keyid=keyid(key.public_key()), envelope=envelope, signed_by=ws.actor
        )
        session.add(row)
        session.flush()
        record(
            session,
            actor=ws.actor,
            tag="artifact:signed",
            subject=f"release:{ws.config.project}@{version}",
            data={"signature_id": row.id, "keyid": row.keyid, "subjects": {a.name: a.digest for a in facts}},
        )
        follow_release(ws, session, release)
        return row


def verify_release(
    ws: Workspace, version: str, environment: str | None
) -> list[tuple[SignatureRow, Verification]]:
    """Every stored signature of the release checked against `environment`'s trusted keys (every
    environment's when None). Raises OperationFailed (exit 1) when none is valid."""
    names = [environment] if environment else ws.config.environment_names()
    trusted: dict[str, str] = {}
    for name in names:
        env = ws.config.environment(name)
        if env is None:
            raise NotFound(
                f"unknown environment '{name}'", hint=f"known: {', '.join(ws.config.environment_names())}"
            )
        trusted |= {keyid(load_public_key(k.public_key)): k.public_key for k in env.trusted_keys}
    with ws.store.transaction() as session:
        release = find_release(session, ws.project_id, version)
        facts = [ArtifactFact(name=a.name, digest=a.digest) for a in release_artifacts(session, release)]
        checked = [
            (row, verify_envelope(row.envelope, trusted, facts))
            for row in release_signatures(session, release)
        ]
    if not any(v.valid for _, v in checked):
        where = f"environment {environment}" if environment else "any environment"
        reasons = "; ".join(dict.fromkeys(v.reason for _, v in checked)) or "the release is not signed"
        raise OperationFailed(
            f"release {version}: no signature valid for {where}: {reasons}",
            code="verification-failed",
            hint="sign with a key listed in the environment's trusted_keys: `clearance artifact sign`",
            data={"signatures": [{"id": row.id, **v.to_json()} for row, v in checked]},
        )
    return checked
