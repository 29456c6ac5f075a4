import datetime as dt
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from jupyter_blocks.cli import cli
from jupyter_blocks.core.errors import ConfigError
from jupyter_blocks.history.store import RunStore
from jupyter_blocks.runner.run import run_target

NOTEBOOKS = Path(__file__).parents[1] / "notebooks"


def copy(tmp_path: Path, name: str) -> Path:
    shutil.copy(NOTEBOOKS / name, tmp_path / name)
    return tmp_path / name


def test_runs_are_recorded_and_queryable(tmp_path, store_url):
    failing = copy(tmp_path, "failing_block.ipynb")
    chain = copy(tmp_path, "chain.ipynb")
    bad = run_target(str(failing), store=store_url, variables={"n": 1})
    good = run_target(str(chain), store=store_url)
    store = RunStore(store_url)
    runs = store.list_runs()
    assert [r["run_id"] for r in runs] == [good.result.run_id, bad.result.run_id] or \
        {r["run_id"] for r in runs} == {good.result.run_id, bad.result.run_id}
    assert [r["run_id"] for r in store.list_runs(status="failed")] == [bad.result.run_id]
    assert [r["run_id"] for r in store.list_runs(pipeline="chain")] == [good.result.run_id]
    detail = store.get_run(bad.result.run_id)
    assert detail["status"] == "failed" and detail["variables"]["n"] == 1
    blocks = {b["block"]: b for b in detail["blocks"]}
    assert blocks["load"]["status"] == "ran" and blocks["load"]["rows"] == 3
    assert len(blocks["load"]["cache_key"]) == 64
    assert blocks["broken"]["status"] == "failed"
    assert "ZeroDivisionError" in blocks["broken"]["error"]
    assert 'File "<block `broken` (cell 3)>", line 3' in blocks["broken"]["traceback"]
    assert blocks["report"]["status"] == "skipped"
    with pytest.raises(ConfigError, match="no run `nope`"):
        store.get_run("nope")


def test_captured_output_and_cli_views(tmp_path):
    notebook = copy(tmp_path, "headless_slow.ipynb")
    finished = run_target(str(notebook), echo=False)
    run_id = finished.result.run_id
    runner = CliRunner()
    logs = runner.invoke(cli, ["runs", "logs", run_id, "load", str(tmp_path)])
    assert logs.exit_code == 0
    assert "loading rows" in logs.output and "WARNING" in logs.output
    assert "three rows only" in logs.output
    listing = runner.invoke(cli, ["runs", "list", str(tmp_path), "--pipeline", "headless_slow"])
    assert run_id in listing.output and "success" in listing.output
    show = runner.invoke(cli, ["runs", "show", run_id, str(tmp_path)])
    assert "timeline" in show.output and "█" in show.output
    missing = runner.invoke(cli, ["runs", "logs", run_id, "lod", str(tmp_path)])
    assert missing.exit_code == 2 and "did you mean `load`?" in missing.stderr


def test_kill_9_marks_interrupted_and_resume_finishes(tmp_path, store_url):
    notebook = copy(tmp_path, "headless_slow.ipynb")
    hold = tmp_path / "hold.flag"
    hold.write_text("")
    command = [sys.executable, "-m", "jupyter_blocks.cli", "run", str(notebook), "--store",
               store_url, "--var", f"hold={hold}", "--execution-date", "2020-10-01", "-q"]
    process = subprocess.Popen(command)
    store = RunStore(store_url)
    deadline = time.monotonic() + 30
    run_id = None
    while time.monotonic() < deadline:
        runs = store.list_runs()
        if runs:
            run_id = runs[0]["run_id"]
            blocks = store.get_run(run_id)["blocks"]
            if any(b["block"] == "wait" and b["status"] == "running" for b in blocks):
                break
        time.sleep(0.05)
    else:
        process.kill()
        pytest.fail("the run did not reach the `wait` block")
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert RunStore(store_url).get_run(run_id)["status"] == "interrupted"
    hold.unlink()
    resumed = subprocess.run([*command[:-1], "--resume", run_id], capture_output=True,
                             text=True, timeout=60)
    assert resumed.returncode == 0, resumed.stderr
    run = RunStore(store_url).get_run(run_id)
    assert run["status"] == "success"
    statuses = [(b["block"], b["status"]) for b in run["blocks"]]
    assert statuses == [("load", "ran"), ("wait", "interrupted"), ("load", "cached"),
                        ("wait", "ran"), ("report", "ran")]


def test_store_url_from_environment(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'elsewhere.sqlite'}"
    monkeypatch.setenv("JUPYTER_BLOCKS_STORE", url)
    notebook = copy(tmp_path, "chain.ipynb")
    result = CliRunner().invoke(cli, ["run", str(notebook), "-q"])
    assert result.exit_code == 0
    assert (tmp_path / "elsewhere.sqlite").is_file()
    assert not (tmp_path / ".jupyter_blocks/runs.sqlite").exists()


def test_bad_store_url_is_bad_input(tmp_path):
    notebook = copy(tmp_path, "chain.ipynb")
    result = CliRunner().invoke(cli, ["run", str(notebook), "--store", "nosuchdb://x"])
    assert result.exit_code == 2 and result.stderr.startswith("error: cannot open the run store")


def test_incremental_skips_exporters_that_already_succeeded_with_the_same_key(tmp_path):
    project = tmp_path / "mage"
    shutil.copytree(Path(__file__).parents[1] / "golden/mage_project", project)
    first = run_target(str(project))
    assert first.result.outcomes["export_trips"].status == "ran"
    again = run_target(str(project), incremental=True)
    skipped = again.result.outcomes.pop("export_trips")
    assert skipped.status == "skipped"
    assert skipped.error == f"exported by run {first.result.run_id} with the same inputs"
    assert {o.status for o in again.result.outcomes.values()} == {"cached"}
    changed = run_target(str(project), incremental=True,
                                               variables={"min_passengers": 2})
    assert changed.result.outcomes["export_trips"].status == "ran"
    full = run_target(str(project))
    assert full.result.outcomes["export_trips"].status == "ran"


def test_ctrl_c_exits_130_and_records_interrupted(tmp_path):
    notebook = copy(tmp_path, "headless_slow.ipynb")
    hold = tmp_path / "hold.flag"
    hold.write_text("")
    process = subprocess.Popen([sys.executable, "-m", "jupyter_blocks.cli", "run", str(notebook),
                                "--var", f"hold={hold}", "-q"], stderr=subprocess.PIPE,
                               text=True)
    store = RunStore.for_directory(tmp_path)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        runs = store.list_runs()
        if runs and any(b["block"] == "wait" and b["status"] == "running"
                        for b in store.get_run(runs[0]["run_id"])["blocks"]):
            break
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 130
    assert stderr.strip().splitlines()[-1] == "interrupted"
    assert store.list_runs()[0]["status"] == "interrupted"


def test_sqlite_store_lets_runs_write_side_by_side(tmp_path):
    store = RunStore.for_directory(tmp_path)
    db = store.database.connect()
    assert db.rows("PRAGMA journal_mode")[0]["journal_mode"] == "wal"
    assert db.rows("PRAGMA busy_timeout")[0]["timeout"] == 30000
    db.close()
    notebooks = [copy(tmp_path, "chain.ipynb"), copy(tmp_path, "fan_out_fan_in.ipynb")]
    runs = [subprocess.Popen([sys.executable, "-m", "jupyter_blocks.cli", "run", str(nb), "-q"])
            for nb in notebooks for _ in range(2)]
    assert [run.wait(timeout=120) for run in runs] == [0, 0, 0, 0]
    recorded = RunStore.for_directory(tmp_path).list_runs()
    assert len(recorded) == 4 and {r["status"] for r in recorded} == {"success"}


def test_sqlite_store_reads_and_writes_alike_with_and_without_sqlalchemy(tmp_path):
    """The default store uses sqlite3; a SQLite URL with options goes through SQLAlchemy."""
    import sqlalchemy as sa

    from jupyter_blocks.history.database import SQLiteDatabase
    from jupyter_blocks.history.sqlalchemy_database import SQLAlchemyDatabase, tables

    path = tmp_path / "runs.sqlite"
    plain, through_sqlalchemy = f"sqlite:///{path}", f"sqlite:///{path}?timeout=30"
    assert isinstance(RunStore(plain).database, SQLiteDatabase)
    assert isinstance(RunStore(through_sqlalchemy).database, SQLAlchemyDatabase)
    chain = copy(tmp_path, "chain.ipynb")
    first = run_target(str(chain), store=plain).result.run_id
    second = run_target(str(chain), store=through_sqlalchemy).result.run_id
    for url in (plain, through_sqlalchemy):
        store = RunStore(url)
        assert [r["run_id"] for r in store.list_runs()] == [second, first]
        for run_id in (first, second):
            run = store.get_run(run_id)
            assert run["status"] == "success" and run["started_at"] < run["finished_at"]
            assert [b["status"] for b in run["blocks"]] == ["ran", "ran", "ran"]
            assert dt.datetime.fromisoformat(run["blocks"][0]["started_at"])
    # The tables sqlite3 makes are the ones SQLAlchemy's metadata describes.
    metadata = sa.MetaData()
    tables(metadata)
    inspector = sa.inspect(sa.create_engine(plain))
    for table in metadata.sorted_tables:
        made = {c["name"]: (str(c["type"]), c["nullable"]) for c in inspector.get_columns(table.name)}
        declared = {c.name: (str(c.type.compile(sa.create_engine(plain).dialect)), c.nullable)
                    for c in table.columns}
        assert made == declared
        assert {i["name"] for i in inspector.get_indexes(table.name)} == \
            {i.name for i in table.indexes}


def test_a_headless_run_records_every_block_of_a_long_chain(tmp_path):
    from tests.helpers.notebooks import write_notebook

    cells = ["%%block b0\n0", *(f"%%block b{i} -u b{i - 1}\nb{i - 1} + 1" for i in range(1, 300))]
    notebook = write_notebook(tmp_path / "long.ipynb", *cells)
    finished = run_target(str(notebook), echo=False)
    assert finished.result.outputs["b299"] == 299
    blocks = RunStore.for_directory(tmp_path).get_run(finished.result.run_id)["blocks"]
    assert [b["block"] for b in blocks] == [f"b{i}" for i in range(300)]
    assert {b["status"] for b in blocks} == {"ran"} and all(b["finished_at"] for b in blocks)


def test_a_quiet_headless_run_imports_neither_sqlalchemy_nor_pydantic_nor_rich(tmp_path):
    notebook = copy(tmp_path, "chain.ipynb")
    code = ("import sys, runpy\n"
            f"sys.argv = ['jupyter-blocks', 'run', {str(notebook)!r}, '-q']\n"
            "try:\n    runpy.run_module('jupyter_blocks.cli', run_name='__main__')\n"
            "except SystemExit as exc:\n    assert exc.code == 0, exc.code\n"
            "print(sorted({m.split('.')[0] for m in sys.modules}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=tmp_path)
    loaded = set(eval(out.stdout.strip().splitlines()[-1]))
    assert not loaded & {"sqlalchemy", "pydantic", "rich", "yaml"}, loaded
