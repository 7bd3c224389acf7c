"""Alembic environment: migrations run on the Store's own engine, never from a URL in an ini file."""

from __future__ import annotations

from alembic import context

from clearance.store.tables import Base

store = context.config.attributes["store"]

with store.engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=store.dialect == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
