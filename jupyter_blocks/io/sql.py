"""SQL blocks: run a block's SQL on DuckDB (default) or a profile's database, get a DataFrame.

What belongs here: :func:`run_sql_block`, the function the runner calls for ``--lang sql``
blocks, :func:`referenced_variables`, which the cache uses to key a SQL block on the variables
it reads, and :func:`referenced_upstreams`, which picks the upstream outputs a block's SQL reads.
Rendering (``{{ x }}`` → bound parameters) lives in ``_templating``.

On every engine an upstream output that is a table (a pandas or polars DataFrame, an Arrow
table, a DuckDB relation) is visible to the SQL as a table named after its block, and
``{{ df_1 }}`` names the first upstream, as in Mage. Engines (``connector``):

- ``duckdb`` (default): in memory, or on the profile's ``DUCKDB_PATH`` (or Mage's
  ``DUCKDB_DATABASE``) file when a profile is given and has one. Every tabular upstream is
  registered as a view of the frame (no copy).
- ``postgres``: the profile's ``POSTGRES_*`` database. Each tabular upstream the SQL names (its
  block name as a word, in any case, or its ``df_N``) is loaded through binary COPY into a
  temporary table on the connection that then runs the query; temporary tables are found before
  any other table of that name and are dropped when the query's transaction ends. Block names
  fold to lower case there, as unquoted names do. Other names refer to the database's tables.
- ``bigquery``: the profile's project. Each tabular upstream the SQL names is loaded into a
  table named after its block in a scratch dataset (``jupyter_blocks_scratch``, or the profile's
  ``BIGQUERY_SCRATCH_DATASET``), replacing that table's rows and expiring a day later, and the
  query runs with that dataset as its default dataset, so an unqualified name finds it. Runs
  that share a scratch dataset share those tables: runs at the same time on one project need
  datasets of their own.

A block that names no tabular upstream runs its SQL as it stands on every engine.

**Choosing the engine by variable.** ``--profile "{{ profile }}"`` runs the block on the profile
the run's ``profile`` variable holds, and a block without ``--connector`` runs on the engine its
profile's ``SQL_CONNECTOR`` names (DuckDB when it names none). So one ``--var profile=dev`` moves
a notebook's SQL blocks to BigQuery along with its Python blocks, while ``--var
profile=default`` keeps them on DuckDB. The choice is made here, where the variables are known
(the ``%%block`` line is parsed before any run); the cache keys such a block on that variable.
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jupyter_blocks.core.block import option_variable
from jupyter_blocks.core.errors import ConfigError, did_you_mean
from jupyter_blocks.io import templating as _templating
from jupyter_blocks.io.config import Profile, load_profile
from jupyter_blocks.io.connector import wrap_error
from jupyter_blocks.io.dialects import BIGQUERY, DUCKDB, POSTGRES

if TYPE_CHECKING:
    import pandas as pd

logger = logging.getLogger(__name__)

CONNECTORS = ("duckdb", "postgres", "bigquery")


def referenced_variables(source: str) -> set[str] | None:
    """Return the variables a SQL block's ``{{ ... }}`` read, or None when access is dynamic."""
    return _templating.referenced_variables(source)


def run_sql_block(
    source: str,
    upstreams: dict[str, Any],
    variables: dict[str, Any],
    *,
    profile: str | None,
    connector: str | None,
    directory: Path | None,
) -> pd.DataFrame:
    """Run one SQL block and return its result.

    Args:
        source: The block's SQL (Jinja ``{{ }}`` allowed; values are bound as parameters where
            they stand in code, escaped where they stand inside quotes).
        upstreams: Upstream outputs by block name, in declared order.
        variables: Runtime variables (``execution_date``, ...).
        profile: Profile of ``io_config.yaml`` to use, ``{{ name }}`` for the profile the
            variable ``name`` holds, or None.
        connector: ``duckdb``, ``postgres`` or ``bigquery``; None: the profile's
            ``SQL_CONNECTOR``, else ``duckdb``.
        directory: Project or notebook folder, where the search for ``io_config.yaml`` starts.

    Raises:
        ConfigError: Unknown connector or profile, or a template problem.
        ConnectorError: The engine failed (the message names the engine and profile).
    """
    engine, settings = engine_and_profile(profile, connector, directory, variables)
    upstream_names = list(upstreams)
    if engine == "duckdb":
        rendered = _templating.render_sql(source, variables, DUCKDB, upstream_names)
        return _run_duckdb(rendered, upstreams, settings)
    assert settings is not None
    tables = referenced_upstreams(source, upstreams)
    if engine == "postgres":
        from jupyter_blocks.io.postgres import Postgres

        postgres = Postgres.from_profile(settings)
        if not tables:
            rendered = _templating.render_sql(
                source, variables, POSTGRES, upstream_names
            )
            return postgres.load(rendered.sql, rendered.params)
        table_names = [postgres.upstream_table(name) for name in upstream_names]
        rendered = _templating.render_sql(source, variables, POSTGRES, table_names)
        return postgres.query_with_upstreams(rendered.sql, rendered.params, tables)
    from jupyter_blocks.io.google.bigquery import BigQuery

    bigquery = BigQuery.from_profile(settings)
    rendered = _templating.render_sql(source, variables, BIGQUERY, upstream_names)
    if not tables:
        return bigquery.load(rendered.sql, rendered.params)
    return bigquery.query_with_upstreams(rendered.sql, rendered.params, tables)


def engine_and_profile(profile: str | None, connector: str | None, directory: Path | None,
                       variables: Mapping[str, Any]) -> tuple[str, Profile | None]:
    """The engine a SQL block runs on and its profile (None for DuckDB without a profile).

    The engine is ``connector``, else the profile's ``SQL_CONNECTOR``, else DuckDB; a block on
    PostgreSQL or BigQuery that names no profile uses ``default``. The one place both the run
    and the check before it choose them.

    Raises:
        ConfigError: Unknown connector; ``{{ name }}`` names no variable of the run; the
            profile file is missing or malformed, the profile unknown, an ``env_var`` unset or
            a value of the wrong type.
    """
    name = sql_profile(profile, variables)
    settings = load_profile(name, directory=directory) if name else None
    chosen = connector or (settings.SQL_CONNECTOR if settings is not None else None)
    engine = (chosen or "duckdb").lower()
    if engine not in CONNECTORS:
        where = ("--connector" if connector or settings is None
                 else f"{settings.describe()}: SQL_CONNECTOR")
        raise ConfigError(
            f"{where}: expected one of {', '.join(CONNECTORS)}, got {chosen!r}"
            f"{did_you_mean(engine, CONNECTORS)}"
        )
    if settings is None and engine != "duckdb":
        settings = load_profile(None, directory=directory)
    return engine, settings


def sql_profile(profile: str | None, variables: Mapping[str, Any]) -> str | None:
    """The profile a SQL block runs on: ``profile``, or the value of the variable it names.

    Raises:
        ConfigError: ``{{ name }}`` names a variable the run does not have, or one that holds
            no profile name.
    """
    name = option_variable(profile)
    if name is None:
        return profile
    if name not in variables:
        raise ConfigError(f"--profile {profile}: the run has no variable `{name}`"
                          f"{did_you_mean(name, variables)}")
    value = variables[name]
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ConfigError(f"--profile {profile}: `{name}` is {value!r}, not a profile name")
    return value


def referenced_upstreams(source: str, upstreams: Mapping[str, Any]) -> dict[str, Any]:
    """Return the tabular upstream outputs a block's SQL names, as DataFrames or Arrow tables.

    An upstream is named by its block name as a word (in any case) or by its ``df_N`` alias,
    anywhere in the source (a name only in a comment or a string counts too: it costs a load,
    never a wrong result). Outputs that are not tables (dicts, numbers...) are left out.
    """
    found: dict[str, Any] = {}
    for index, (name, output) in enumerate(upstreams.items(), start=1):
        if not (_names(source, name) or _names(source, f"df_{index}")):
            continue
        if not _is_tabular(output):
            logger.debug(
                "upstream %s is a %s, not a table: not loaded for SQL", name, type(output).__name__
            )
            continue
        found[name] = _as_table(output)
    return found


def _names(source: str, word: str) -> bool:
    pattern = rf"(?<![A-Za-z0-9_$]){re.escape(word)}(?![A-Za-z0-9_$])"
    return re.search(pattern, source, re.IGNORECASE) is not None


def _as_table(output: Any) -> Any:
    """A pandas DataFrame or Arrow table as it is; polars and DuckDB outputs as Arrow tables."""
    import pyarrow as pa

    module = _library(output)
    if module == "pandas" or isinstance(output, pa.Table):
        return output
    if isinstance(output, pa.RecordBatch):
        return pa.Table.from_batches([output])
    if module == "duckdb":
        from jupyter_blocks.io.duckdb import fetch_arrow

        return fetch_arrow(output)
    return output.to_arrow()


def _run_duckdb(
    rendered: _templating.RenderedSQL, upstreams: Mapping[str, Any], settings: Profile | None
) -> pd.DataFrame:
    from jupyter_blocks.io.duckdb import writer_lock

    path = settings.duckdb_file if settings is not None else None
    where = f"duckdb ({path})" if path else "duckdb (in memory)"
    if settings is not None:
        where += f" profile '{settings.name}'"
    if path is not None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    # Blocks on one database file take turns in this process (a backfill runs intervals at
    # once): DuckDB fails frames registered on two of its connections at the same time
    # ("pandas_scan does not exist"), as it fails two transactions replacing tables.
    with writer_lock(str(path)) if path is not None else contextlib.nullcontext():
        return _query_duckdb(rendered, upstreams, path, where)


def _query_duckdb(rendered: _templating.RenderedSQL, upstreams: Mapping[str, Any],
                  path: Path | None, where: str) -> pd.DataFrame:
    import duckdb

    from jupyter_blocks.io.connector import arrow_to_pandas
    from jupyter_blocks.io.duckdb import fetch_arrow, open_database

    try:
        connection = open_database(str(path)) if path else duckdb.connect(":memory:")
    except duckdb.Error as exc:
        raise wrap_error(f"{where}: cannot open the database", exc) from exc
    try:
        for name, output in upstreams.items():
            if _is_tabular(output):
                connection.register(name, output)
            else:
                logger.debug(
                    "upstream %s is a %s, not a table: not visible to SQL",
                    name,
                    type(output).__name__,
                )
        relation = connection.sql(rendered.sql, params=rendered.params or None)
        if relation is None:
            import pandas as pd

            return pd.DataFrame()
        return arrow_to_pandas(fetch_arrow(relation))
    except duckdb.Error as exc:
        raise wrap_error(f"{where}: SQL block failed", exc) from exc
    finally:
        connection.close()


def _is_tabular(value: Any) -> bool:
    return _library(value) in {"pandas", "pyarrow", "polars", "duckdb"} and (
        hasattr(value, "columns") or hasattr(value, "schema")
    )


def _library(value: Any) -> str:
    """The library a value's type comes from; DuckDB 1.4 keeps its relation in ``_duckdb``."""
    module = type(value).__module__.split(".")[0]
    return "duckdb" if module == "_duckdb" else module
