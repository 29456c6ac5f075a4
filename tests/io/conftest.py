"""Fixtures for the connector tests: PostgreSQL, the GCS and BigQuery emulators on loopback.

Each service is started (or found) once per session; a test that needs one it cannot get is
skipped with instructions, or fails when CI sets JUPYTER_BLOCKS_REQUIRE_SERVICES=1.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.helpers.services import unavailable

REPO_ROOT = Path(__file__).resolve().parents[2]
PG = {"host": "127.0.0.1", "port": 5432, "dbname": "test", "user": "postgres"}
GCS_BUCKET = "jb-test-bucket"
BQ_PROJECT = "jb-test-project"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_http(url: str, process: subprocess.Popen[bytes], timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        try:
            with urllib.request.urlopen(url, timeout=1):
                return True
        except urllib.error.HTTPError:
            return True  # the server answers
        except OSError:
            time.sleep(0.1)
    return False


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


# --- PostgreSQL -------------------------------------------------------------------------------


def _postgres_answers() -> bool:
    import psycopg

    try:
        with psycopg.connect(**PG, connect_timeout=3):  # type: ignore[arg-type]
            return True
    except psycopg.OperationalError:
        return False


@pytest.fixture(scope="session")
def postgres_server() -> dict[str, object]:
    """Connection settings of the PostgreSQL server, started if installed but stopped."""
    if not _postgres_answers():
        versions = sorted(os.listdir("/etc/postgresql")) if os.path.isdir("/etc/postgresql") else []
        if versions and shutil.which("pg_ctlcluster"):
            subprocess.run(
                ["pg_ctlcluster", "--skip-systemctl-redirect", versions[-1], "main", "start"],
                check=False,
                capture_output=True,
                timeout=60,
            )
        if not _postgres_answers():
            unavailable(
                "PostgreSQL",
                "run a server on 127.0.0.1:5432 with user postgres, database test, trust auth",
            )
    return dict(PG)


@pytest.fixture
def pg_schema(postgres_server: dict[str, object]) -> Iterator[str]:
    """A fresh schema name, dropped (with everything in it) after the test."""
    import psycopg

    name = f"jb_test_{uuid.uuid4().hex[:10]}"
    yield name
    with psycopg.connect(**postgres_server, autocommit=True) as connection:  # type: ignore[arg-type]
        connection.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')


@pytest.fixture
def postgres(postgres_server: dict[str, object], pg_schema: str):  # type: ignore[no-untyped-def]
    from jupyter_blocks.io import Postgres

    connector = Postgres(
        host=str(PG["host"]),
        port=int(PG["port"]),
        dbname=str(PG["dbname"]),
        user=str(PG["user"]),
        schema=pg_schema,
    )
    yield connector
    connector.engine.dispose()


# --- Cloud Storage emulator --------------------------------------------------------------------


@dataclass(frozen=True)
class GcsEmulator:
    endpoint: str
    bucket: str
    data_root: Path  # where the emulator keeps objects (disk mode): bucket/key


@pytest.fixture(scope="session")
def gcs_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GcsEmulator]:
    executable = Path(sys.executable).parent / "gcp-storage-emulator"
    if not executable.exists():
        unavailable("gcp-storage-emulator", "pip install gcp-storage-emulator")
    workdir = tmp_path_factory.mktemp("gcs-emulator")
    port = free_port()
    process = subprocess.Popen(
        [
            str(executable),
            "start",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--default-bucket",
            GCS_BUCKET,
            "-q",
        ],
        cwd=workdir,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        if not wait_for_http(f"{endpoint}/storage/v1/b", process):
            unavailable("gcp-storage-emulator", "it did not start; run it by hand to see why")
        yield GcsEmulator(endpoint, GCS_BUCKET, workdir / ".cloudstorage")
    finally:
        stop(process)


@pytest.fixture
def gcs(gcs_emulator: GcsEmulator):  # type: ignore[no-untyped-def]
    from jupyter_blocks.io import GoogleCloudStorage

    return GoogleCloudStorage(endpoint=gcs_emulator.endpoint)


@pytest.fixture
def gcs_prefix(gcs_emulator: GcsEmulator) -> str:
    """A fresh ``gs://`` folder for one test."""
    return f"gs://{gcs_emulator.bucket}/t-{uuid.uuid4().hex[:10]}"


# --- BigQuery emulator -------------------------------------------------------------------------


@dataclass(frozen=True)
class BigQueryEmulator:
    endpoint: str
    project: str


@pytest.fixture(scope="session")
def bigquery_emulator(
    gcs_emulator: GcsEmulator, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[BigQueryEmulator]:
    executable = REPO_ROOT / ".venvs" / "bqemulator" / "bin" / "bqemulator"
    home = REPO_ROOT / ".venvs" / "bqemulator-home"
    if not executable.exists():
        unavailable("bqemulator", "run `bash scripts/setup_bqemulator.sh` first")
    rest, grpc = free_port(), free_port()
    environment = dict(os.environ, HOME=str(home), BQEMU_GCS_LOCAL_ROOT=str(gcs_emulator.data_root))
    process = subprocess.Popen(
        [
            str(executable),
            "start",
            "--rest-port",
            str(rest),
            "--grpc-port",
            str(grpc),
            "--project",
            BQ_PROJECT,
        ],
        cwd=tmp_path_factory.mktemp("bq-emulator"),
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{rest}"
    # The emulator rejects the client's multipart uploads (used below 5 MiB): force resumable.
    import google.cloud.bigquery.client as bigquery_client

    saved = bigquery_client._MAX_MULTIPART_SIZE
    bigquery_client._MAX_MULTIPART_SIZE = 0
    try:
        if not wait_for_http(f"{endpoint}/bigquery/v2/projects/{BQ_PROJECT}/datasets", process):
            unavailable("bqemulator", "it did not start; run scripts/setup_bqemulator.sh again")
        yield BigQueryEmulator(endpoint, BQ_PROJECT)
    finally:
        bigquery_client._MAX_MULTIPART_SIZE = saved
        stop(process)


@pytest.fixture
def bigquery(bigquery_emulator: BigQueryEmulator):  # type: ignore[no-untyped-def]
    from jupyter_blocks.io import BigQuery

    return BigQuery(project=bigquery_emulator.project, endpoint=bigquery_emulator.endpoint)


@pytest.fixture
def bq_dataset(bigquery_emulator: BigQueryEmulator) -> str:
    return f"{bigquery_emulator.project}.ds_{uuid.uuid4().hex[:10]}"


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No emulator host leaking in from the developer's shell."""
    monkeypatch.delenv("STORAGE_EMULATOR_HOST", raising=False)
    return monkeypatch
