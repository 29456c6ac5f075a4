"""Fixtures for the run store tests: a PostgreSQL store in a schema of its own."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from tests.helpers.services import unavailable

PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


@pytest.fixture
def pg_store_url() -> Iterator[str]:
    """The URL of a store in a new, empty PostgreSQL schema (dropped after the test)."""
    import sqlalchemy as sa

    schema = f"jb_store_{uuid.uuid4().hex[:10]}"
    try:
        engine = sa.create_engine(PG_URL)
        with engine.begin() as db:
            db.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    except Exception as exc:
        unavailable("PostgreSQL", f"start it on 127.0.0.1:5432 (user postgres, db test): {exc}")
    yield f"{PG_URL}?options=-csearch_path%3D{schema}"
    with engine.begin() as db:
        db.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
    engine.dispose()
