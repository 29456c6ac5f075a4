import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from jupyter_blocks.cli import cli

NOTEBOOKS = Path(__file__).parents[1] / "notebooks"


def copy(tmp_path: Path, name: str) -> Path:
    target = tmp_path / name
    shutil.copy(NOTEBOOKS / name, target)
    return target


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_run_success_prints_plain_lines_and_summary(tmp_path):
    result = invoke("run", str(copy(tmp_path, "chain.ipynb")))
    assert result.exit_code == 0, result.output
    assert "load ran" in result.output and "clean running" in result.output
    assert "block" in result.output and "status" in result.output and "rows" in result.output


def test_run_failure_exit_1_with_traceback_skips_and_resume(tmp_path):
    path = copy(tmp_path, "failing_block.ipynb")
    result = invoke("run", str(path), "--execution-date", "2020-10-01")
    assert result.exit_code == 1
    assert 'File "<block `broken` (cell 3)>", line 3' in result.stderr
    assert "not run because broken failed: report" in result.stderr
    assert (f"resume with: jupyter-blocks run {path} --execution-date 2020-10-01T00:00:00 "
            "--from broken --incremental") in result.stderr


def test_json_events(tmp_path):
    result = invoke("run", str(copy(tmp_path, "chain.ipynb")), "--json")
    events = [json.loads(line) for line in result.stdout.splitlines()]
    assert events[0]["event"] == "run_started"
    assert events[-1] == {**events[-1], "event": "run_finished", "status": "success"}
    assert [e["block"] for e in events if e["event"] == "block_finished"] == \
        ["load", "clean", "total"]


def test_quiet_prints_nothing_on_success(tmp_path):
    result = invoke("run", str(copy(tmp_path, "chain.ipynb")), "-q")
    assert result.exit_code == 0 and result.output == ""


def test_quiet_prints_only_the_failure_not_what_blocks_printed(tmp_path):
    from tests.helpers.notebooks import write_notebook

    path = write_notebook(tmp_path / "talkative.ipynb",
                          "%%block load\nprint('loaded 5,008 rows')\n5",
                          "%%block fail -u load\nraise ValueError(f'bad {load}')")
    result = invoke("run", str(path), "-q")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert "ValueError: bad 5" in result.stderr and "loaded 5,008 rows" not in result.stderr


@pytest.mark.parametrize(("args", "message"), [
    (["--var", "threshold"], "error: --var `threshold` needs the form NAME=VALUE"),
    (["--only", "clen"], "did you mean `clean`?"),
    (["--execution-date", "yesterday"], "--execution-date must be a date"),
])
def test_bad_input_is_one_line_exit_2(tmp_path, args, message):
    result = invoke("run", str(copy(tmp_path, "chain.ipynb")), *args)
    assert result.exit_code == 2
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("name", ["cycle.ipynb", "plain_form.ipynb"])
def test_bad_notebooks_exit_2(tmp_path, name):
    result = invoke("run", str(copy(tmp_path, name)))
    assert result.exit_code == 2
    assert result.stderr.startswith("error: ") and len(result.stderr.splitlines()) == 1


def test_not_a_notebook_exit_2(tmp_path):
    bad = tmp_path / "bad.ipynb"
    bad.write_text('{"nbformat": 3, "cells": []}')
    result = invoke("run", str(bad))
    assert result.exit_code == 2 and "not an nbformat 4 notebook" in result.stderr


def test_dag_formats(tmp_path):
    path = copy(tmp_path, "chain.ipynb")
    mermaid = invoke("dag", str(path))
    assert mermaid.exit_code == 0 and "load --> clean" in mermaid.output
    dot = invoke("dag", str(path), "--format", "dot")
    assert '"clean" -> "total";' in dot.output
    cycle = invoke("dag", str(copy(tmp_path, "cycle.ipynb")))
    assert cycle.exit_code == 2 and cycle.stdout == ""


def test_cache_ls_and_clear(tmp_path):
    path = copy(tmp_path, "chain.ipynb")
    invoke("run", str(path), "-q")
    listing = invoke("cache", "ls", str(tmp_path))
    assert "clean" in listing.output and "DataFrame" in listing.output
    assert invoke("cache", "clear", str(path)).output.strip() == \
        f"removed 3 cache entries from {tmp_path / '.jupyter_blocks' / 'cache'}"


def test_subprocess_exit_codes_and_non_tty_output(tmp_path):
    path = copy(tmp_path, "failing_block.ipynb")
    done = subprocess.run([sys.executable, "-m", "jupyter_blocks.cli", "run", str(path)],
                          capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert done.returncode == 1
    assert "\x1b[" not in done.stdout
    first = done.stdout.splitlines()[0]
    assert first[2] == ":" and first[5] == ":" and "started (3 blocks)" in first
    bad = subprocess.run([sys.executable, "-m", "jupyter_blocks.cli", "run", str(path),
                          "--from", "nope"], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and bad.stderr.startswith("error: --from: no block named")


@pytest.mark.skipif(sys.platform == "win32", reason="needs a pseudo-terminal")
def test_tty_gets_live_view_and_table(tmp_path):
    import os

    path = copy(tmp_path, "chain.ipynb")
    leader, follower = os.openpty()
    env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "100"}
    env.pop("NO_COLOR", None)
    process = subprocess.Popen([sys.executable, "-m", "jupyter_blocks.cli", "run", str(path)],
                               stdout=follower, stderr=follower, env=env)
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    assert process.wait(timeout=60) == 0
    os.close(leader)
    output = b"".join(chunks).decode()
    assert "\x1b[" in output  # drawn by rich, not plain lines
    assert "started (3 blocks)" not in output
    assert "status" in output and "total" in output
