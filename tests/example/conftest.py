"""Fixtures for the example notebook's tests: a copy of the example folder, a local HTTP server.

The service fixtures (PostgreSQL, the GCS and BigQuery emulators) are the connector tests' own,
imported so both test folders start them the same way.
"""

from __future__ import annotations

import functools
import http.server
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.io.conftest import (  # noqa: F401  (fixtures, registered by being imported here)
    bigquery_emulator,
    gcs_emulator,
    pg_schema,
    postgres_server,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = REPO_ROOT / "example_notebooks"
NOTEBOOK = "nyc_taxi_etl.ipynb"


@pytest.fixture
def example_dir(tmp_path: Path) -> Path:
    """The example's notebook, profiles and sample in ``tmp_path/example`` (outputs land there)."""
    target = tmp_path / "example"
    target.mkdir()
    for name in (NOTEBOOK, "io_config.yaml"):
        shutil.copy(EXAMPLE / name, target / name)
    shutil.copytree(EXAMPLE / "data", target / "data")
    return target


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def http_folder(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A folder served on loopback: ``(base URL, folder)``."""
    folder = tmp_path / "served"
    folder.mkdir()
    handler = functools.partial(_QuietHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", folder
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
