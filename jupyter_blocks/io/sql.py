"""SQL blocks: run a block's SQL on DuckDB (default) or a profile's database, get a DataFrame.

What belongs here: :func:`run_sql_block`, the function the runner calls for ``--lang sql``
blocks, and :func:`referenced_variables`, which the cache uses to key a SQL block on the
variables it reads. Rendering (``{{ x }}`` → bound parameters) lives in ``_templating``.

Engines (``connector``):

- ``duckdb`` (default): in memory, or on the profile's ``DUCKDB_PATH`` file when a profile is
  given and has one. Each upstream output (a DataFrame or Arrow table) is visible as a table named
  after its block; ``{{ df_1 }}`` names the first upstream, as in Mage.
- ``postgres``: the profile's ``POSTGRES_*`` database; upstream names refer to tables there.
- ``bigquery``: the profile's project; upstream names refer to tables there.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jupyter_blocks.errors import ConfigError, did_you_mean
from jupyter_blocks.io import _templating
from jupyter_blocks.io._base import wrap_error
from jupyter_blocks.io.config import Profile, load_profile

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
        profile: Profile of ``io_config.yaml`` to use, or None.
        connector: ``duckdb`` (default), ``postgres`` or ``bigquery``.
        directory: Project or notebook folder, where the search for ``io_config.yaml`` starts.

    Raises:
        ConfigError: Unknown connector or profile, or a template problem.
        ConnectorError: The engine failed (the message names the engine and profile).
    """
    engine = (connector or "duckdb").lower()
    if engine not in CONNECTORS:
        raise ConfigError(
            f"--connector: expected one of {', '.join(CONNECTORS)}, got {connector!r}"
            f"{did_you_mean(engine, CONNECTORS)}"
        )
    settings = load_profile(profile, directory=directory) if profile else None
    upstream_names = list(upstreams)
    if engine == "duckdb":
        rendered = _templating.render_sql(source, variables, _templating.DUCKDB, upstream_names)
        return _run_duckdb(rendered, upstreams, settings)
    settings = settings or load_profile(None, directory=directory)
    if engine == "postgres":
        from jupyter_blocks.io.postgres import Postgres

        rendered = _templating.render_sql(source, variables, _templating.POSTGRES, upstream_names)
        return Postgres.from_profile(settings).load(rendered.sql, rendered.params)
    from jupyter_blocks.io.bigquery import BigQuery

    rendered = _templating.render_sql(source, variables, _templating.BIGQUERY, upstream_names)
    return BigQuery.from_profile(settings).load(rendered.sql, rendered.params)


def _run_duckdb(
    rendered: _templating.RenderedSQL, upstreams: Mapping[str, Any], settings: Profile | None
) -> pd.DataFrame:
    import duckdb

    from jupyter_blocks.io._base import arrow_to_pandas
    from jupyter_blocks.io.duckdb import fetch_arrow

    path = settings.DUCKDB_PATH if settings is not None else None
    where = f"duckdb ({path})" if path else "duckdb (in memory)"
    if settings is not None:
        where += f" profile '{settings.name}'"
    if path is not None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    connection = duckdb.connect(str(path) if path else ":memory:")
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
    module = type(value).__module__.split(".")[0]
    return module in {"pandas", "pyarrow", "polars", "duckdb"} and (
        hasattr(value, "columns") or hasattr(value, "schema")
    )
