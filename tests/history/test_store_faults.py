"""The run store under the faults a user's machine produces: runs started together, damage."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from jupyter_blocks.cli import cli
from tests.history.test_store import NOTEBOOKS

#: The command, whose opening of the store waits for the agreed moment: the runs open it in step.
_IN_STEP = """
import sys, time
from jupyter_blocks.cli import cli
from jupyter_blocks.history import store

start, opened = float(sys.argv[1]), store.open_database

def in_step(url):
    while time.time() < start:
        pass
    return opened(url)

store.open_database = in_step
cli(sys.argv[2:], prog_name="jupyter-blocks")
"""


def _in_step(count: int, *arguments: str) -> list[subprocess.CompletedProcess[str]]:
    start = time.time() + 5.0  # after every run has loaded its notebook
    processes = [subprocess.Popen([sys.executable, "-c", _IN_STEP, str(start), *arguments],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for _ in range(count)]
    finished = []
    for process in processes:
        out, err = process.communicate(timeout=120)
        finished.append(subprocess.CompletedProcess(process.args, process.returncode, out, err))
    return finished


def _drop_tables(url: str) -> None:
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    with engine.begin() as db:
        db.execute(sa.text("DROP TABLE IF EXISTS jb_block_runs, jb_pipeline_runs"))
    engine.dispose()


@pytest.mark.parametrize("kind", ["sqlite", "sqlite through SQLAlchemy",
                                  pytest.param("postgres", marks=pytest.mark.postgres)])
def test_runs_started_together_on_a_folder_without_a_store_all_succeed(tmp_path, kind,
                                                                       request):
    notebook = tmp_path / "chain.ipynb"
    shutil.copy(NOTEBOOKS / "chain.ipynb", notebook)
    options: list[str] = []
    if kind == "sqlite through SQLAlchemy":
        options = ["--store", f"sqlite:///{tmp_path / 'runs.sqlite'}?timeout=30"]
    elif kind == "postgres":
        options = ["--store", request.getfixturevalue("pg_store_url")]
    for _ in range(2):  # the race is narrow: two rounds of four, each on a new store
        shutil.rmtree(tmp_path / ".jupyter_blocks", ignore_errors=True)
        (tmp_path / "runs.sqlite").unlink(missing_ok=True)
        if kind == "postgres":
            _drop_tables(options[1])
        runs = _in_step(4, "run", str(notebook), "-q", *options)
        assert [run.returncode for run in runs] == [0, 0, 0, 0], \
            [run.stderr for run in runs if run.returncode]
    from jupyter_blocks.history.store import RunStore

    store = RunStore(options[1]) if options else RunStore.for_directory(tmp_path)
    assert len(store.list_runs()) == 4


def _damage(path: Path, how: str) -> None:
    if how == "garbage":
        path.write_bytes(b"this is not a database" * 200)
    elif how == "truncated":
        path.write_bytes(path.read_bytes()[:1500])
    else:  # pages overwritten past the header: opens, fails when read
        data = bytearray(path.read_bytes())
        data[4096:] = b"\xff" * (len(data) - 4096)
        path.write_bytes(bytes(data))


@pytest.mark.parametrize("how", ["garbage", "truncated", "pages"])
@pytest.mark.parametrize("command", [["run", "{notebook}", "-q"], ["runs", "list", "{folder}"],
                                     ["runs", "show", "nope", "{folder}"]])
def test_a_damaged_store_is_one_error_line_naming_it_and_what_to_do(tmp_path, how, command):
    notebook = tmp_path / "chain.ipynb"
    shutil.copy(NOTEBOOKS / "chain.ipynb", notebook)
    assert CliRunner().invoke(cli, ["run", str(notebook), "-q"]).exit_code == 0
    store = tmp_path / ".jupyter_blocks" / "runs.sqlite"
    for leftover in store.parent.glob("runs.sqlite-*"):  # the write-ahead log, folded in
        leftover.unlink()
    _damage(store, how)
    arguments = [part.format(notebook=notebook, folder=tmp_path) for part in command]
    result = subprocess.run([sys.executable, "-m", "jupyter_blocks.cli", *arguments],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"error: the run store {store} is damaged")
    assert "move it aside" in lines[0] and f"mv {store} {store}.damaged" in lines[0]


@pytest.mark.parametrize("how", ["garbage", "pages"])
def test_a_damaged_store_reached_through_sqlalchemy_is_the_same_one_line(tmp_path, how):
    notebook = tmp_path / "chain.ipynb"
    shutil.copy(NOTEBOOKS / "chain.ipynb", notebook)
    store = tmp_path / "runs.sqlite"
    url = f"sqlite:///{store}?timeout=30"
    assert CliRunner().invoke(cli, ["run", str(notebook), "-q", "--store", url]).exit_code == 0
    _damage(store, how)
    result = subprocess.run([sys.executable, "-m", "jupyter_blocks.cli", "run", str(notebook),
                             "-q", "--store", url], capture_output=True, text=True, timeout=120)
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith(f"error: the run store {store} is damaged"), result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
