"""Run stores for tests: SQLite in the test's folder, and PostgreSQL in a fresh schema each."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.services import unavailable

PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def postgres_schema_url() -> Iterator[str]:
    """The URL of a fresh schema on the local PostgreSQL, dropped when the generator closes."""
    import sqlalchemy as sa

    schema = f"jb_store_{uuid.uuid4().hex[:10]}"
    try:
        engine = sa.create_engine(PG_URL)
        with engine.begin() as db:
            db.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    except Exception as exc:
        unavailable("PostgreSQL", f"start it on 127.0.0.1:5432 (user postgres, db test): {exc}")
    try:
        yield f"{PG_URL}?options=-csearch_path%3D{schema}"
    finally:
        with engine.begin() as db:
            db.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A run store's URL: SQLite beside the test's files, or a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'runs.sqlite'}"
        return
    yield from postgres_schema_url()
