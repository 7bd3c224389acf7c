"""Looking at the store as a test: what is in it, and whether a command changed it."""

from __future__ import annotations

from typing import Any

from sqlalchemy import create_engine, text

TABLES = (
    "projects",
    "releases",
    "work_items",
    "deployments",
    "deployment_steps",
    "deployment_locks",
    "target_states",
    "target_observations",
    "agents",
    "measurements",
    "audit_entries",
    "audit_head",
)


def snapshot(url: str) -> dict[str, Any]:
    """Every row of every table, so that "left the store unchanged" can be asserted exactly."""
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return {
                table: sorted(
                    tuple(str(v) for v in row) for row in connection.execute(text(f"SELECT * FROM {table}"))
                )
                for table in TABLES
            }
    finally:
        engine.dispose()


def execute(url: str, sql: str, **params: Any) -> list[Any]:
    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            result = connection.execute(text(sql), params)
            return list(result) if result.returns_rows else []
    finally:
        engine.dispose()
