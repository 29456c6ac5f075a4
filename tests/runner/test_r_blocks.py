"""R blocks in pipelines: between Python and SQL blocks, in the cache, in the run store, in a
kernel, exported and imported, and on a machine without R."""

from __future__ import annotations

import subprocess
import sys

import pandas as pd
import pytest
from click.testing import CliRunner

from jupyter_blocks.cli import cli
from jupyter_blocks.core.errors import MissingDependencyError
from jupyter_blocks.history.store import RunStore
from jupyter_blocks.io.r import r_available, require_r
from jupyter_blocks.runner.run import run_target
from tests.helpers.kernels import execute, text_of
from tests.helpers.notebooks import write_notebook
from tests.helpers.services import unavailable


@pytest.fixture(scope="module")
def r() -> str:
    version = r_available()
    if version is None:
        unavailable("R", "apt-get install r-base-core")
    try:
        require_r()
    except MissingDependencyError:
        unavailable("the R package jsonlite", "apt-get install r-cran-jsonlite")
    return version


CELLS = [
    "%load_ext jupyter_blocks\nimport pandas as pd",
    "%%block trips\npd.DataFrame({'payment_type': pd.array([1, 2, 1, None], dtype='Int64'), "
    "'fare': [10.0, 5.5, 7.25, 3.0]})",
    "%%block per_payment --lang r --upstream trips\n"
    "transform <- function(df_1, ...) {\n"
    "  args <- list(...)\n"
    "  print(paste('rows:', nrow(df_1), 'for', args$pipeline))\n"
    "  out <- aggregate(fare ~ payment_type, data = df_1, FUN = sum)\n"
    "  out\n"
    "}",
    "%%block biggest --upstream per_payment\nper_payment.sort_values('fare').iloc[-1].to_dict()",
    "%%block as_sql --lang sql --upstream per_payment\nSELECT count(*) AS n FROM per_payment",
]


def test_an_r_block_between_python_and_sql_blocks(tmp_path, r):
    notebook = write_notebook(tmp_path / "pay.ipynb", *CELLS)
    result = run_target(str(notebook), echo=False).result
    assert result.ok, {n: o.error for n, o in result.outcomes.items()}
    frame = result.outputs["per_payment"]
    assert list(frame.columns) == ["payment_type", "fare"]
    assert frame.payment_type.dtype == pd.Int64Dtype()
    assert result.outputs["biggest"] == {"payment_type": 1, "fare": 17.25}
    assert int(result.outputs["as_sql"].n[0]) == 2
    store = RunStore.for_directory(tmp_path)
    logs = store.block_logs(store.list_runs()[0]["run_id"], "per_payment")
    assert "rows: 4 for pay" in logs
    again = run_target(str(notebook), echo=False, incremental=True).result
    assert again.outcomes["per_payment"].status == "cached"


def test_an_r_error_names_the_block_the_cell_and_the_r_line(tmp_path, r):
    cells = [*CELLS[:2], "%%block broken --lang r --upstream trips\n"
             "transform <- function(df_1, ...) {\n  df_1$pasenger_count + 1\n  stop('nope')\n}"]
    result = run_target(str(write_notebook(tmp_path / "b.ipynb", *cells)), echo=False).result
    failed = result.outcomes["broken"]
    assert failed.status == "failed"
    assert failed.error.startswith("block `broken` (cell 3) failed: Error")
    assert "nope" in failed.error and "line" in failed.error


def test_r_blocks_run_in_a_kernel(tmp_path, r):
    cells = execute(write_notebook(tmp_path / "k.ipynb", *CELLS), allow_errors=False).cells
    assert "✓ per_payment · ran in" in text_of(cells[2])
    assert "rows: 4 for k" in text_of(cells[2])


def test_export_writes_an_r_block_file_and_import_reads_it_back(tmp_path, r):
    notebook = write_notebook(tmp_path / "pay.ipynb", *CELLS)
    project = tmp_path / "proj"
    assert CliRunner().invoke(cli, ["export", str(notebook), "--project", str(project)]
                              ).exit_code == 0
    block_file = project / "transformers" / "per_payment.r"
    assert block_file.read_text().startswith("transform <- function(df_1, ...) {")
    assert "language: r" in (project / "pipelines" / "pay" / "metadata.yaml").read_text()
    from_project = run_target(str(project), pipeline="pay", echo=False).result
    assert from_project.ok and from_project.outputs["biggest"]["fare"] == 17.25
    back = tmp_path / "back.ipynb"
    assert CliRunner().invoke(cli, ["import", str(project), "--pipeline", "pay", "-o", str(back)]
                              ).exit_code == 0
    line = next(line for line in back.read_text().splitlines() if "%%block per_payment" in line)
    assert "--upstream trips" in line and "--lang r" in line


def test_without_r_an_r_block_is_bad_input_before_any_block_runs(tmp_path):
    notebook = write_notebook(tmp_path / "pay.ipynb", *CELLS)
    done = subprocess.run([sys.executable, "-m", "jupyter_blocks.cli", "run", str(notebook)],
                          capture_output=True, text=True, timeout=120,
                          env={**_environ(), "JUPYTER_BLOCKS_RSCRIPT": "no-such-rscript"})
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.strip().splitlines()[-1] == (
        "error: R is not installed: apt-get install r-base-core (Debian) or see "
        "https://cran.r-project.org")
    assert "trips" not in done.stdout  # nothing ran


def test_an_r_block_behind_a_condition_is_skipped_where_r_is_missing(tmp_path):
    cells = [*CELLS[:2],
             "%%block r_is_installed --type condition\nimport os, shutil\n"
             "shutil.which(os.environ.get('JUPYTER_BLOCKS_RSCRIPT', 'Rscript')) is not None",
             CELLS[2].replace("--upstream trips", "--upstream trips r_is_installed")]
    notebook = write_notebook(tmp_path / "pay.ipynb", *cells)
    done = subprocess.run([sys.executable, "-m", "jupyter_blocks.cli", "run", str(notebook)],
                          capture_output=True, text=True, timeout=120,
                          env={**_environ(), "JUPYTER_BLOCKS_RSCRIPT": "no-such-rscript"})
    assert done.returncode == 0, done.stdout + done.stderr
    assert "per_payment skipped: condition r_is_installed returned False" in done.stdout


def _environ() -> dict[str, str]:
    import os

    return dict(os.environ)
