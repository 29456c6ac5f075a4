"""Fixtures every test folder can use (``store_url``: a SQLite and a PostgreSQL run store)."""

pytest_plugins = ["tests.helpers.stores"]
