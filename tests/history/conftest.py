"""Fixtures for the run store tests: a PostgreSQL store in a schema of its own."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.helpers.stores import postgres_schema_url


@pytest.fixture
def pg_store_url() -> Iterator[str]:
    """The URL of a store in a new, empty PostgreSQL schema (dropped after the test)."""
    yield from postgres_schema_url()
