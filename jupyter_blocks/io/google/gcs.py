"""Google Cloud Storage: Parquet objects and hive-partitioned datasets under ``gs://`` URIs.

What belongs here: :class:`GoogleCloudStorage` (client construction from a profile, and the
object operations the lake logic of :mod:`jupyter_blocks.io.partitioned` and of
:mod:`jupyter_blocks.io.google.gcs_dataset`, which replaces a dataset as one change, needs).

The endpoint is the profile's ``GCS_ENDPOINT``, else ``STORAGE_EMULATOR_HOST``, else Google's.
With an endpoint of its own and no service account the client is anonymous (emulators).
"""

from __future__ import annotations

import base64
import contextlib
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from jupyter_blocks.core.errors import ConfigError, ConnectorError
from jupyter_blocks.io import partitioned
from jupyter_blocks.io.config import Profile
from jupyter_blocks.io.connector import arrow_table, require, wrap_error
from jupyter_blocks.io.google import gcs_dataset
from jupyter_blocks.io.google.account import GoogleConnector

if TYPE_CHECKING:

    import pandas as pd

logger = logging.getLogger(__name__)

#: Objects up to this size are uploaded in one request; larger ones resumably, in chunks.
MEDIA_UPLOAD_LIMIT = 8 * 1024 * 1024

#: Seconds to connect, and to wait for the answer, of one upload request (then it is retried).
UPLOAD_TIMEOUT = (30.0, 120.0)


def parse_uri(uri: str) -> tuple[str, str]:
    """Split ``gs://bucket/key`` into ``(bucket, key)``."""
    if not uri.startswith("gs://"):
        raise ConfigError(f"expected a gs://bucket/path URI, got {uri!r}")
    bucket, _, key = uri[len("gs://") :].partition("/")
    if not bucket or not key.strip("/"):
        raise ConfigError(f"expected a gs://bucket/path URI with a path, got {uri!r}")
    return bucket, key


def _http_error(response: Any) -> Exception:
    """The ``google.api_core`` exception for an HTTP error response (``NotFound``, ...)."""
    from google.api_core import exceptions

    error: Exception = exceptions.from_http_response(response)  # type: ignore[no-untyped-call]
    return error


class _BucketStore:
    """:class:`gcs_dataset.DatasetStore` over one bucket."""

    def __init__(self, bucket: Any) -> None:
        self.bucket = bucket

    def put(self, path: str, data: bytes) -> None:
        """Upload one object: in one media request, or resumably when it is large.

        A media upload (``uploadType=media``) sends the bytes alone: the lightest request the
        JSON API has, which counts when a dataset is many small partition files. Transient
        failures (connection errors, 429, 5xx) are retried, as rewriting an object is
        idempotent, and the CRC32C the service stored is checked against the data. Objects over
        :data:`MEDIA_UPLOAD_LIMIT` go through the client's resumable, chunked upload instead.
        """
        if len(data) > MEDIA_UPLOAD_LIMIT:
            blob = self.bucket.blob(path)
            blob.upload_from_string(
                data, content_type="application/octet-stream", checksum="crc32c"
            )
            return
        import google_crc32c
        import requests
        from google.api_core import exceptions, retry

        client = self.bucket.client
        host = client._connection.API_BASE_URL
        url = (
            f"{host}/upload/storage/v1/b/{quote(self.bucket.name, safe='')}/o"
            f"?uploadType=media&name={quote(path, safe='')}"
        )

        def send() -> dict[str, Any]:
            response = client._http.post(
                url,
                data=data,
                headers={"Content-Type": "application/octet-stream"},
                timeout=UPLOAD_TIMEOUT,
            )
            if response.status_code >= 400:
                raise _http_error(response)
            resource: dict[str, Any] = response.json()
            return resource

        transient = retry.if_exception_type(
            exceptions.TooManyRequests,
            exceptions.InternalServerError,
            exceptions.BadGateway,
            exceptions.ServiceUnavailable,
            exceptions.GatewayTimeout,
            requests.exceptions.ConnectionError,
            requests.exceptions.Timeout,
        )
        resource = retry.Retry(predicate=transient, initial=0.2, maximum=5.0, timeout=120.0)(send)()
        expected = base64.b64encode(google_crc32c.value(data).to_bytes(4, "big")).decode()
        stored = resource.get("crc32c")
        if stored is not None and stored != expected:
            raise ConnectorError(
                f"gcs: gs://{self.bucket.name}/{path} was stored with CRC32C {stored}, "
                f"the data sent has {expected}"
            )

    def get(self, path: str) -> bytes:
        """Download one object; ``FileNotFoundError`` when there is none."""
        from google.api_core import exceptions

        try:
            data: bytes = self.bucket.blob(path).download_as_bytes()
        except exceptions.NotFound:
            raise FileNotFoundError(f"gs://{self.bucket.name}/{path}") from None
        return data

    def list(self, prefix: str) -> list[str]:
        return [blob.name for blob in self.bucket.client.list_blobs(self.bucket, prefix=prefix)]

    def listing(self, prefix: str) -> dict[str, tuple[int, float]]:
        """``{name: (generation, updated)}`` of the objects under ``prefix``."""
        return {blob.name: (int(blob.generation or 0),
                            blob.updated.timestamp() if blob.updated else 0.0)
                for blob in self.bucket.client.list_blobs(self.bucket, prefix=prefix)}

    def copy(self, source: str, destination: str) -> None:
        """Copy one object to another name in the bucket (done by the service)."""
        self.bucket.copy_blob(self.bucket.blob(source), self.bucket, destination)

    def delete(self, paths: Sequence[str]) -> None:
        """Delete objects; one already gone is no error."""
        from google.api_core import exceptions

        def delete(path: str) -> None:
            with contextlib.suppress(exceptions.NotFound):
                self.bucket.blob(path).delete()

        partitioned.run_concurrently(delete, paths, partitioned.DEFAULT_WORKERS)


class GoogleCloudStorage(GoogleConnector):
    """Cloud Storage: ``export`` frames as Parquet objects or partitioned datasets; ``load``."""

    ENDPOINT_ENV = "STORAGE_EMULATOR_HOST"

    @classmethod
    def from_profile(cls, profile: Profile) -> GoogleCloudStorage:
        """Build from ``GOOGLE_*`` keys and ``GCS_ENDPOINT``."""
        return cls(endpoint=profile.GCS_ENDPOINT, **cls.account(profile))

    def __repr__(self) -> str:
        profile = f", profile={self.profile_name!r}" if self.profile_name else ""
        return f"GoogleCloudStorage(project={self.project!r}, endpoint={self.endpoint!r}{profile})"

    @property
    def client(self) -> Any:
        """The ``google.cloud.storage.Client``, created on first use."""
        if self._client is None:
            storage = require("google.cloud.storage", "google-cloud-storage", "gcs")
            credentials = self.credentials()
            options = {"api_endpoint": self.endpoint} if self.endpoint else None
            try:
                self._client = storage.Client(
                    project=self.project or ("local" if self.endpoint else None),
                    credentials=credentials,
                    client_options=options,
                )
            except Exception as exc:
                raise wrap_error(self._context("gcs") + ": cannot create a client", exc) from exc
        return self._client

    def _store(self, bucket: str) -> _BucketStore:
        return _BucketStore(self.client.bucket(bucket))

    def export(
        self,
        df: pd.DataFrame | Any,
        uri: str,
        partition_cols: Sequence[str] | None = None,
        max_workers: int = partitioned.DEFAULT_WORKERS,
        mode: str = partitioned.DEFAULT_MODE,
    ) -> list[str]:
        """Write ``df`` to one object, or a hive-partitioned dataset with ``partition_cols``.

        Args:
            df: A pandas DataFrame or an Arrow table.
            uri: ``gs://bucket/path.parquet`` (``.csv`` writes CSV), or the dataset's prefix.
            partition_cols: Columns to partition by; their files are uploaded concurrently.
            max_workers: Concurrent uploads.
            mode: For a dataset: ``replace`` (the dataset becomes ``df``),
                ``replace_partitions`` (the partitions ``df`` has rows for are replaced, the
                others kept) or ``append``. The new version is staged, committed and swapped
                in (``gcs_dataset``): a failed upload leaves the old one whole.

        Returns:
            The ``gs://`` URIs written.
        """
        checked = partitioned.check_mode(mode, bool(partition_cols))
        bucket, key = parse_uri(uri)
        table = arrow_table(df)
        store = self._store(bucket)
        try:
            if partition_cols:
                keys = gcs_dataset.export_dataset(store, key, table, partition_cols, checked,
                                                  max_workers)
            else:
                store.put(key, partitioned.to_bytes(table, key))
                keys = [key]
        except ConfigError:
            raise
        except Exception as exc:
            raise self._error(f"export to {uri} failed", exc) from exc
        logger.info("gcs: wrote %d rows to %d object(s) under %s", table.num_rows, len(keys), uri)
        return [f"gs://{bucket}/{written}" for written in keys]

    def load(self, uri: str) -> pd.DataFrame:
        """Read one object, or every Parquet file of a (partitioned) dataset under ``uri``."""
        bucket, key = parse_uri(uri)
        try:
            table = gcs_dataset.read_dataset(self._store(bucket), key)
        except FileNotFoundError:
            raise ConnectorError(f"{self._context('gcs')}: no object or dataset at {uri}") from None
        except ConnectorError:
            raise
        except Exception as exc:
            raise self._error(f"load of {uri} failed", exc) from exc
        return table.to_pandas()

    def _error(self, action: str, exc: BaseException) -> ConnectorError:
        return wrap_error(f"{self._context('gcs')}: {action}", exc)
