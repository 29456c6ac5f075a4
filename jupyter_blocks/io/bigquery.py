"""BigQuery: load jobs from DataFrames or ``gs://`` Parquet, and parameterised queries.

What belongs here: :class:`BigQuery` and the pure functions that build its job configurations
(:func:`write_disposition`, :func:`dataframe_job_config`, :func:`gcs_job_config`,
:func:`query_parameters`), which are unit-tested without a server.

The endpoint is the profile's ``BIGQUERY_ENDPOINT`` (an emulator) or Google's; with an endpoint of
its own and no service account the client is anonymous.
"""

from __future__ import annotations

import datetime as dt
import decimal
import io
import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from jupyter_blocks.errors import ConfigError, ConnectorError
from jupyter_blocks.io._base import (
    arrow_table,
    arrow_to_pandas,
    check_if_exists,
    require,
    wrap_error,
)
from jupyter_blocks.io.config import Profile
from jupyter_blocks.io.gcs import GoogleConnector, parse_uri

if TYPE_CHECKING:
    from pathlib import Path

    import pandas as pd
    import pyarrow as pa

logger = logging.getLogger(__name__)

_DISPOSITIONS = {"replace": "WRITE_TRUNCATE", "append": "WRITE_APPEND", "fail": "WRITE_EMPTY"}


def _bigquery() -> Any:
    return require("google.cloud.bigquery", "google-cloud-bigquery", "bigquery")


def write_disposition(if_exists: str) -> str:
    """Map ``if_exists`` to a write disposition.

    ``replace`` → ``WRITE_TRUNCATE``, ``append`` → ``WRITE_APPEND``, ``fail`` → ``WRITE_EMPTY``.
    """
    return _DISPOSITIONS[check_if_exists(if_exists)]


def dataframe_job_config(if_exists: str, schema: Sequence[Any] | None = None) -> Any:
    """The ``LoadJobConfig`` for loading a DataFrame (as Parquet)."""
    bigquery = _bigquery()
    config = bigquery.LoadJobConfig(
        source_format=bigquery.SourceFormat.PARQUET,
        write_disposition=write_disposition(if_exists),
    )
    if schema is not None:
        config.schema = list(schema)
    return config


def gcs_source(uri: str, partitioned: bool) -> tuple[str, str | None]:
    """Return ``(source URI, hive source-URI prefix)`` for a ``gs://`` object or dataset.

    A dataset URI without a wildcard gets ``/*`` appended; a URI with one is used as given.
    """
    parse_uri(uri)
    if not partitioned:
        return uri, None
    if "*" in uri:
        prefix = uri[: uri.index("*")].rstrip("/") + "/"
        return uri, prefix
    prefix = uri.rstrip("/") + "/"
    return prefix + "*", prefix


def gcs_job_config(
    uri: str,
    if_exists: str = "replace",
    partitioned: bool = True,
    schema: Sequence[Any] | None = None,
    partition_field: str | None = None,
) -> tuple[str, Any]:
    """The source URI and ``LoadJobConfig`` for loading Parquet from Cloud Storage.

    Args:
        uri: One object, or the prefix of a hive-partitioned dataset.
        if_exists: ``replace``, ``append`` or ``fail``.
        partitioned: Whether ``uri`` is a hive-partitioned dataset (``col=value/`` folders);
            partition keys become columns (types detected: ``AUTO``).
        schema: Explicit ``SchemaField`` list, or None to let BigQuery infer it.
        partition_field: A ``DATE``/``TIMESTAMP`` column to day-partition the table by.
    """
    bigquery = _bigquery()
    source, prefix = gcs_source(uri, partitioned)
    config = bigquery.LoadJobConfig(
        source_format=bigquery.SourceFormat.PARQUET,
        write_disposition=write_disposition(if_exists),
    )
    if prefix is not None:
        hive = bigquery.HivePartitioningOptions()
        hive.mode = "AUTO"
        hive.source_uri_prefix = prefix
        config.hive_partitioning = hive
    if schema is not None:
        config.schema = list(schema)
    if partition_field is not None:
        config.time_partitioning = bigquery.TimePartitioning(
            type_=bigquery.TimePartitioningType.DAY, field=partition_field
        )
    return source, config


def bigquery_schema(schema: pa.Schema) -> list[Any]:
    """``SchemaField``s for an Arrow schema (the table's columns when a frame is loaded)."""
    import pyarrow as pa

    bigquery = _bigquery()
    t = pa.types
    rules: list[tuple[Any, str]] = [
        (t.is_boolean, "BOOL"),
        (t.is_integer, "INT64"),
        (t.is_floating, "FLOAT64"),
        (lambda x: t.is_string(x) or t.is_large_string(x) or t.is_null(x), "STRING"),
        (lambda x: t.is_binary(x) or t.is_large_binary(x), "BYTES"),
        (t.is_date, "DATE"),
        (t.is_time, "TIME"),
        (lambda x: t.is_decimal(x) and x.precision <= 38, "NUMERIC"),
        (t.is_decimal, "BIGNUMERIC"),
    ]
    fields = []
    for field in schema:
        value_type = field.type.value_type if t.is_dictionary(field.type) else field.type
        if t.is_timestamp(value_type):
            kind = "TIMESTAMP" if value_type.tz is not None else "DATETIME"
        else:
            kind = next((name for rule, name in rules if rule(value_type)), "")
        if not kind:
            raise ConfigError(f"column {field.name!r}: type {value_type} has no BigQuery type here")
        fields.append(bigquery.SchemaField(field.name, kind))
    return fields


def query_parameters(params: Mapping[str, Any] | None) -> list[Any]:
    """Build ``@name`` query parameters, typed from the Python values."""
    bigquery = _bigquery()
    result = []
    for name, value in (params or {}).items():
        if isinstance(value, (list, tuple)):
            kinds = {parameter_type(item) for item in value if item is not None}
            if len(kinds) > 1:
                raise ConfigError(f"query parameter {name}: mixed types in the list")
            result.append(
                bigquery.ArrayQueryParameter(name, kinds.pop() if kinds else "STRING", list(value))
            )
        else:
            result.append(bigquery.ScalarQueryParameter(name, parameter_type(value), value))
    return result


def parameter_type(value: Any) -> str:
    """The BigQuery type of one Python value."""
    if isinstance(value, bool):
        return "BOOL"
    if isinstance(value, int):
        return "INT64"
    if isinstance(value, float):
        return "FLOAT64"
    if isinstance(value, decimal.Decimal):
        return "NUMERIC"
    if isinstance(value, dt.datetime):
        return "TIMESTAMP" if value.tzinfo is not None else "DATETIME"
    if isinstance(value, dt.date):
        return "DATE"
    if isinstance(value, dt.time):
        return "TIME"
    if isinstance(value, bytes):
        return "BYTES"
    if value is None or isinstance(value, str):
        return "STRING"
    raise ConfigError(f"no BigQuery parameter type for a {type(value).__name__}")


class BigQuery(GoogleConnector):
    """A BigQuery project: ``export`` frames, ``load_from_gcs``, ``load`` queries."""

    def __init__(
        self,
        *,
        project: str | None = None,
        location: str | None = None,
        endpoint: str | None = None,
        service_account_key: dict[str, Any] | None = None,
        service_account_key_path: Path | str | None = None,
        profile_name: str | None = None,
    ) -> None:
        super().__init__(
            project=project,
            endpoint=endpoint,
            service_account_key=service_account_key,
            service_account_key_path=service_account_key_path,
            profile_name=profile_name,
        )
        self.location = location

    @classmethod
    def from_profile(cls, profile: Profile) -> BigQuery:
        """Build from ``GOOGLE_*`` keys, ``GOOGLE_LOCATION`` and ``BIGQUERY_ENDPOINT``."""
        return cls(location=profile.GOOGLE_LOCATION, endpoint=profile.BIGQUERY_ENDPOINT,
                   **cls.account(profile))

    def __repr__(self) -> str:
        profile = f", profile={self.profile_name!r}" if self.profile_name else ""
        return (
            f"BigQuery(project={self.project!r}, location={self.location!r}, "
            f"endpoint={self.endpoint!r}{profile})"
        )

    @property
    def client(self) -> Any:
        """The ``google.cloud.bigquery.Client``, created on first use."""
        if self._client is None:
            bigquery = _bigquery()
            credentials = self.credentials()
            options = {"api_endpoint": self.endpoint} if self.endpoint else None
            try:
                self._client = bigquery.Client(
                    project=self.project,
                    credentials=credentials,
                    location=self.location,
                    client_options=options,
                )
            except Exception as exc:
                raise self._error("cannot create a client", exc) from exc
        return self._client

    def table_id(self, table: str) -> str:
        """``dataset.table`` → ``project.dataset.table`` with the connector's project."""
        parts = table.split(".")
        if len(parts) == 2 and self.project:
            return f"{self.project}.{table}"
        if len(parts) != 3:
            raise ConfigError(f"expected a table as project.dataset.table, got {table!r}")
        return table

    def ensure_dataset(self, table_id: str) -> None:
        """Create the table's dataset when missing."""
        bigquery = _bigquery()
        project, dataset, _ = table_id.split(".")
        reference = bigquery.Dataset(f"{project}.{dataset}")
        if self.location:
            reference.location = self.location
        self.client.create_dataset(reference, exists_ok=True)

    def export(
        self,
        df: pd.DataFrame | Any,
        table: str,
        if_exists: str = "replace",
        schema: Sequence[Any] | None = None,
    ) -> int:
        """Load ``df`` into ``project.dataset.table`` with a load job (dataset created if missing).

        Returns:
            The table's row count after the load.
        """
        table_id = self.table_id(table)
        data = arrow_table(df)
        config = dataframe_job_config(if_exists, schema or bigquery_schema(data.schema))
        import pyarrow.parquet as pq

        sink = io.BytesIO()
        pq.write_table(data, sink, coerce_timestamps="us", allow_truncated_timestamps=True)
        sink.seek(0)
        try:
            self.ensure_dataset(table_id)
            job = self.client.load_table_from_file(sink, table_id, job_config=config)
            job.result()
            rows = int(self.client.get_table(table_id).num_rows or 0)
        except Exception as exc:
            raise self._error(f"export to {table_id} failed", exc) from exc
        logger.info("bigquery: loaded %d rows into %s (%s)", data.num_rows, table_id, if_exists)
        return rows

    def load_from_gcs(
        self,
        uri: str,
        table: str,
        partitioned: bool = True,
        if_exists: str = "replace",
        schema: Sequence[Any] | None = None,
        partition_field: str | None = None,
    ) -> int:
        """Load Parquet from Cloud Storage (one object or a hive-partitioned dataset) into a table.

        Returns:
            The table's row count after the load.
        """
        table_id = self.table_id(table)
        source, config = gcs_job_config(uri, if_exists, partitioned, schema, partition_field)
        try:
            self.ensure_dataset(table_id)
            self.client.load_table_from_uri(source, table_id, job_config=config).result()
            rows = int(self.client.get_table(table_id).num_rows or 0)
        except Exception as exc:
            raise self._error(f"load of {uri} into {table_id} failed", exc) from exc
        logger.info("bigquery: loaded %s into %s (%d rows)", uri, table_id, rows)
        return rows

    def load(self, query: str, params: Mapping[str, Any] | None = None) -> pd.DataFrame:
        """Run ``query`` with ``@name`` parameters bound and return a DataFrame."""
        bigquery = _bigquery()
        config = bigquery.QueryJobConfig(query_parameters=query_parameters(params))
        try:
            rows = self.client.query(query, job_config=config).result()
            result = rows.to_arrow(create_bqstorage_client=False)
        except Exception as exc:
            raise self._error("query failed", exc) from exc
        return arrow_to_pandas(result)

    def _error(self, action: str, exc: BaseException) -> ConnectorError:
        return wrap_error(f"{self._context('bigquery')}: {action}", exc)
