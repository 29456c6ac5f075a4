"""BigQuery: load jobs from DataFrames or ``gs://`` Parquet, and parameterised queries.

What belongs here: :class:`BigQuery` and the pure functions that build its job configurations
(:func:`write_disposition`, :func:`dataframe_job_config`, :func:`gcs_job_config`), which are
unit-tested without a server; column and parameter types are in ``bigquery_types``.

The endpoint is the profile's ``BIGQUERY_ENDPOINT`` (an emulator) or Google's; with an endpoint of
its own and no service account the client is anonymous.

``query_with_upstreams`` is a SQL block's query over upstream DataFrames: each is loaded (a load
job, as ``export`` does) into a table named after its block in the scratch dataset
(:data:`SCRATCH_DATASET` or the profile's ``BIGQUERY_SCRATCH_DATASET``), replacing its rows and
expiring after :data:`SCRATCH_EXPIRATION`, then the query runs with that dataset as its default
dataset.
"""

from __future__ import annotations

import datetime as dt
import io
import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from jupyter_blocks.core.errors import ConfigError, ConnectorError
from jupyter_blocks.io.config import Profile
from jupyter_blocks.io.connector import (
    arrow_table,
    arrow_to_pandas,
    check_if_exists,
    require,
    wrap_error,
)
from jupyter_blocks.io.google.account import GoogleConnector
from jupyter_blocks.io.google.bigquery_types import bigquery_schema, query_parameters
from jupyter_blocks.io.google.gcs import parse_uri

if TYPE_CHECKING:
    from pathlib import Path

    import pandas as pd
    import pyarrow as pa

logger = logging.getLogger(__name__)

_DISPOSITIONS = {"replace": "WRITE_TRUNCATE", "append": "WRITE_APPEND", "fail": "WRITE_EMPTY"}

#: Dataset holding the tables a SQL block's upstream outputs are loaded into.
SCRATCH_DATASET = "jupyter_blocks_scratch"

#: How long a scratch table outlives its last load.
SCRATCH_EXPIRATION = dt.timedelta(days=1)


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
        scratch_dataset: str = SCRATCH_DATASET,
    ) -> None:
        super().__init__(
            project=project,
            endpoint=endpoint,
            service_account_key=service_account_key,
            service_account_key_path=service_account_key_path,
            profile_name=profile_name,
        )
        self.location = location
        self.scratch_dataset = scratch_dataset

    @classmethod
    def from_profile(cls, profile: Profile) -> BigQuery:
        """Build from ``GOOGLE_*``, ``GOOGLE_LOCATION`` and the ``BIGQUERY_*`` keys."""
        return cls(
            location=profile.GOOGLE_LOCATION,
            endpoint=profile.BIGQUERY_ENDPOINT,
            scratch_dataset=profile.BIGQUERY_SCRATCH_DATASET or SCRATCH_DATASET,
            **cls.account(profile),
        )

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
        project, dataset, _ = table_id.split(".")
        self._create_dataset(f"{project}.{dataset}")

    def _create_dataset(
        self, dataset_id: str, table_expiration: dt.timedelta | None = None
    ) -> None:
        """Create ``project.dataset`` when missing, with a default table expiration if given."""
        bigquery = _bigquery()
        reference = bigquery.Dataset(dataset_id)
        if self.location:
            reference.location = self.location
        if table_expiration is not None:
            reference.default_table_expiration_ms = int(table_expiration.total_seconds() * 1000)
        self.client.create_dataset(reference, exists_ok=True)

    def scratch_dataset_id(self) -> str:
        """``project.dataset`` of the scratch dataset (the client's project when none is set)."""
        if "." in self.scratch_dataset:
            return self.scratch_dataset
        return f"{self.project or self.client.project}.{self.scratch_dataset}"

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
        try:
            self.ensure_dataset(table_id)
            rows = int(self._load_frame(data, table_id, config).num_rows or 0)
        except Exception as exc:
            raise self._error(f"export to {table_id} failed", exc) from exc
        logger.info("bigquery: loaded %d rows into %s (%s)", data.num_rows, table_id, if_exists)
        return rows

    def _load_frame(self, data: pa.Table, table_id: str, config: Any) -> Any:
        """Run a load job of ``data`` (as Parquet) into ``table_id``; return the table after it."""
        import pyarrow.parquet as pq

        sink = io.BytesIO()
        pq.write_table(data, sink, coerce_timestamps="us", allow_truncated_timestamps=True)
        sink.seek(0)
        self.client.load_table_from_file(sink, table_id, job_config=config).result()
        return self.client.get_table(table_id)

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

    def load(
        self,
        query: str,
        params: Mapping[str, Any] | None = None,
        default_dataset: str | None = None,
    ) -> pd.DataFrame:
        """Run ``query`` with ``@name`` parameters bound and return a DataFrame.

        Args:
            query: GoogleSQL.
            params: Values bound as typed query parameters.
            default_dataset: ``project.dataset`` where unqualified table names are looked up.
        """
        bigquery = _bigquery()
        config = bigquery.QueryJobConfig(query_parameters=query_parameters(params))
        if default_dataset is not None:
            config.default_dataset = default_dataset
        try:
            rows = self.client.query(query, job_config=config).result()
            result = rows.to_arrow(create_bqstorage_client=False)
        except Exception as exc:
            raise self._error("query failed", exc) from exc
        return arrow_to_pandas(result)

    def query_with_upstreams(
        self, query: str, params: Mapping[str, Any] | None, upstreams: Mapping[str, Any]
    ) -> pd.DataFrame:
        """Run ``query`` where each upstream output is a table named after its block.

        Each frame is loaded into ``scratch dataset.block`` (rows replaced, expiring after
        :data:`SCRATCH_EXPIRATION`; the dataset is created when missing), then the query runs with
        the scratch dataset as its default dataset.

        Args:
            query: GoogleSQL with ``@name`` parameters.
            params: Values bound as typed query parameters.
            upstreams: DataFrames or Arrow tables by block name.

        Raises:
            ConnectorError: A frame could not be loaded (naming its block) or the query failed.
        """
        dataset = self.scratch_dataset_id()
        try:
            self._create_dataset(dataset, SCRATCH_EXPIRATION)
        except Exception as exc:
            raise self._error(f"cannot create the scratch dataset {dataset}", exc) from exc
        for block, output in upstreams.items():
            table_id = f"{dataset}.{block}"
            try:
                data = arrow_table(output)
                config = dataframe_job_config("replace", bigquery_schema(data.schema))
                table = self._load_frame(data, table_id, config)
                table.expires = dt.datetime.now(dt.timezone.utc) + SCRATCH_EXPIRATION
                self.client.update_table(table, ["expires"])
            except Exception as exc:
                raise self._error(
                    f"upstream block '{block}' could not be loaded into {table_id}", exc
                ) from exc
            logger.debug("bigquery: upstream %s loaded into %s", block, table_id)
        return self.load(query, params, default_dataset=dataset)

    def _error(self, action: str, exc: BaseException) -> ConnectorError:
        return wrap_error(f"{self._context('bigquery')}: {action}", exc)
