"""Connectors: PostgreSQL, Google Cloud Storage, BigQuery, DuckDB and a local-folder lake.

What belongs here: the public names of the connectors, imported lazily so that importing
``jupyter_blocks`` never pulls in psycopg, ADBC or the Google clients. The layout:

- ``config``: ``io_config.yaml`` profiles; ``connector``: what every connector shares;
  ``dialects``: each SQL engine's quoting; ``templating``: ``{{ }}`` in profiles and SQL.
- ``sql``: SQL blocks on any engine; ``duckdb``: the embedded warehouse; ``lake``: the local
  folder lake; ``folders``: replacing a folder whole; ``partitioned``: hive-partitioned datasets
  and their export modes, on any object store.
- ``postgres/``: PostgreSQL; ``google/``: Cloud Storage (``gcs_dataset``: a dataset replaced as
  one change) and BigQuery on one account.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jupyter_blocks.io.config import Profile, load_profile
    from jupyter_blocks.io.config_file import find_config
    from jupyter_blocks.io.duckdb import DuckDB
    from jupyter_blocks.io.google.bigquery import BigQuery
    from jupyter_blocks.io.google.bigquery_types import bigquery_schema
    from jupyter_blocks.io.google.gcs import GoogleCloudStorage
    from jupyter_blocks.io.lake import LocalFiles
    from jupyter_blocks.io.postgres import Postgres
    from jupyter_blocks.io.sql import referenced_variables, run_sql_block

_LAZY = {
    "BigQuery": "jupyter_blocks.io.google.bigquery",
    "bigquery_schema": "jupyter_blocks.io.google.bigquery_types",
    "DuckDB": "jupyter_blocks.io.duckdb",
    "GoogleCloudStorage": "jupyter_blocks.io.google.gcs",
    "LocalFiles": "jupyter_blocks.io.lake",
    "Postgres": "jupyter_blocks.io.postgres",
    "Profile": "jupyter_blocks.io.config",
    "find_config": "jupyter_blocks.io.config_file",
    "load_profile": "jupyter_blocks.io.config",
    "referenced_variables": "jupyter_blocks.io.sql",
    "run_sql_block": "jupyter_blocks.io.sql",
}

__all__ = [
    "BigQuery",
    "DuckDB",
    "GoogleCloudStorage",
    "LocalFiles",
    "Postgres",
    "Profile",
    "bigquery_schema",
    "find_config",
    "load_profile",
    "referenced_variables",
    "run_sql_block",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
