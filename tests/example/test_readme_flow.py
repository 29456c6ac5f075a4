"""The README's export → run → import → run flow, as written, on the example."""

from __future__ import annotations

import duckdb
import pytest
from click.testing import CliRunner

from jupyter_blocks.cli import cli
from tests.example.conftest import NOTEBOOK

pytestmark = pytest.mark.slow


def trips_in(warehouse) -> int:
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        (count,) = connection.execute("SELECT count(*) FROM nyc_taxi.green_taxi").fetchone()
    return int(count)


def test_export_run_import_run_from_another_folder(example_dir, tmp_path, monkeypatch):
    work = tmp_path / "work"  # the user's folder: neither the notebook's nor the project's
    work.mkdir()
    monkeypatch.chdir(work)
    runner = CliRunner()

    def ok(*args: str) -> str:
        result = runner.invoke(cli, list(args), catch_exceptions=False)
        assert result.exit_code == 0, f"{args}: {result.output}{result.stderr}"
        return result.output

    ok("export", str(example_dir / NOTEBOOK), "--project", "./proj")
    ok("run", "./proj", "--pipeline", "nyc_taxi_etl", "-q")
    assert trips_in(work / "proj" / "warehouse.duckdb") == 4329
    ok("import", "./proj", "--pipeline", "nyc_taxi_etl", "-o", "etl.ipynb")
    ok("run", "etl.ipynb", "-q")
    assert trips_in(work / "warehouse.duckdb") == 4329
