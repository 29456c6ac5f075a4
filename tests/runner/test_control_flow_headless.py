"""Control flow headless: the CLI's events and exit codes, the run store's rows, every executor."""

import json
import sys

import pytest
from click.testing import CliRunner

from jupyter_blocks.cli import cli
from jupyter_blocks.history.store import RunStore
from jupyter_blocks.runner.run import run_target
from tests.helpers.notebooks import write_notebook

FLOW = [
    "%load_ext jupyter_blocks\nfrom pathlib import Path",
    "%%block landed --type sensor --poke-interval 0.1 --timeout 30\n"
    "@sensor\ndef landed(**kwargs):\n    flag = Path(kwargs['repo_path'], 'flag')\n"
    "    seen = flag.exists()\n    flag.write_text('x')\n    return seen",
    "%%block months --dynamic -u landed\n['2020-10', '2020-11', '2020-12']",
    "%%block rows -u months --reduce --retries 1 --retry-delay 0.05\n"
    "import os\nmarker = Path(kwargs['repo_path'], f'tried-{months}')\n"
    "if months == '2020-11' and not marker.exists():\n"
    "    marker.write_text('x')\n    raise ConnectionError('flaky source')\n"
    "len(months)",
    "%%block total -u rows\nsum(rows)",
    "%%block is_big --type condition -u total\ntotal > 1000",
    "%%block publish -u total is_big\ntotal",
    "%%block notify --type callback --on total\n"
    "@callback('success')\ndef told(total, **kwargs):\n"
    "    Path(kwargs['repo_path'], 'told').write_text(str(total))",
]


def test_the_cli_runs_control_flow_with_events_exit_0_and_the_store_keeps_every_attempt(tmp_path):
    notebook = write_notebook(tmp_path / "flow.ipynb", *FLOW)
    result = CliRunner().invoke(cli, ["run", str(notebook), "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    events = [json.loads(line) for line in result.output.splitlines()]
    kinds = [(e["event"], e.get("block")) for e in events]
    assert ("block_waiting", "landed") in kinds
    assert ("children_started", "rows") in kinds
    assert ("block_retrying", "rows:1") in kinds
    assert ("block_skipped", "publish") in kinds
    assert events[-1]["status"] == "success"
    assert (tmp_path / "told").read_text() == "21"
    store = RunStore.for_directory(tmp_path)
    run = store.get_run(store.list_runs()[0]["run_id"])
    rows = [(b["block"], b["attempt"], b["status"]) for b in run["blocks"]]
    assert ("rows:1", 1, "failed") in rows and ("rows:1", 2, "ran") in rows
    failed_attempt = next(b for b in run["blocks"] if b["block"] == "rows:1" and b["attempt"] == 1)
    assert "ConnectionError: flaky source" in failed_attempt["error"]
    assert ("publish", 1, "skipped") in rows
    assert not [b for b in run["blocks"] if b["status"] == "running"]


def test_runs_show_lists_children_and_attempts(tmp_path):
    notebook = write_notebook(tmp_path / "flow.ipynb", *FLOW)
    run_target(str(notebook), echo=False)
    store = RunStore.for_directory(tmp_path)
    shown = CliRunner().invoke(cli, ["runs", "show", store.list_runs()[0]["run_id"],
                                     str(tmp_path)], catch_exceptions=False)
    assert shown.exit_code == 0
    for name in ("rows:0", "rows:1", "rows:2", "notify@total", "landed"):
        assert name in shown.output


def test_runtime_vars_as_mage_spells_them(tmp_path):
    notebook = write_notebook(tmp_path / "v.ipynb", "%load_ext jupyter_blocks",
                              "%%block show\n(kwargs['a'], kwargs['b'])")
    result = CliRunner().invoke(cli, ["run", str(notebook), "--runtime-vars", '{"a": 1, "b": [2]}',
                                      "--json"], catch_exceptions=False)
    assert result.exit_code == 0
    bad = CliRunner().invoke(cli, ["run", str(notebook), "--runtime-vars", "{a: 1"])
    assert bad.exit_code == 2 and "--runtime-vars: not valid JSON" in bad.output


@pytest.mark.parametrize("executor", ["threads", "processes", "dask"])
def test_sensors_dynamic_children_and_timeouts_under_every_executor(tmp_path, executor):
    if executor == "dask":
        pytest.importorskip("distributed")
    cells = [
        "%load_ext jupyter_blocks\nfrom pathlib import Path\nimport time",
        *[f"%%block s{i} --type sensor --poke-interval 0.1 --timeout 60\n"
          f"Path(kwargs['repo_path'], 'flag').exists()" for i in range(4)],
        "%%block writer\ntime.sleep(0.5)\nPath(kwargs['repo_path'], 'flag').write_text('x')\n1",
        "%%block items --dynamic -u " + " ".join(f"s{i}" for i in range(4)) + " writer\n"
        "[1, 2, 3, 4]",
        "%%block square -u items --reduce\nitems * items",
        "%%block total -u square\nsum(square)",
        "%%block slow --timeout 1\ntime.sleep(30)\nPath(kwargs['repo_path'], 'late').write_text('x')",
    ]
    notebook = write_notebook(tmp_path / "ex.ipynb", *cells)
    finished = run_target(str(notebook), echo=False, executor=executor, workers=2)
    result = finished.result
    assert result.outputs["total"] == 30, {n: o.error for n, o in result.outcomes.items()}
    assert result.outcomes["square"].children == (4, 4, 0, 0)
    assert result.outcomes["slow"].status == "failed"
    assert "timed out after 1s" in result.outcomes["slow"].error
    assert not (tmp_path / "late").exists()


def test_an_interrupted_sensor_stops_the_run_cleanly(tmp_path):
    import signal
    import subprocess
    import time

    notebook = write_notebook(tmp_path / "wait.ipynb", "%load_ext jupyter_blocks",
                              "%%block never --type sensor --poke-interval 0.2\nFalse",
                              "%%block after -u never\n1")
    process = subprocess.Popen([sys.executable, "-m", "jupyter_blocks.cli", "run", str(notebook),
                                "--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
    deadline = time.time() + 60
    while time.time() < deadline:
        line = process.stdout.readline()
        if '"block_waiting"' in line:
            break
    process.send_signal(signal.SIGINT)
    _, errors = process.communicate(timeout=30)
    assert process.returncode == 130, errors
    store = RunStore.for_directory(tmp_path)
    run = store.get_run(store.list_runs()[0]["run_id"])
    assert run["status"] == "interrupted"
    assert [b["status"] for b in run["blocks"] if b["block"] == "never"] == ["interrupted"]
