"""The magics called in-process through IPython (the kernel tests cover the real thing)."""

import re
import subprocess
import sys

import pytest
from IPython.core.error import UsageError
from IPython.testing import globalipapp

import jupyter_blocks
from jupyter_blocks.core.errors import BlockFailed


@pytest.fixture
def ip(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    globalipapp.start_ipython()
    shell = globalipapp.get_ipython()
    shell.reset(new_session=False)
    # a fresh session per test, rooted in the temp folder
    jupyter_blocks._session = None
    jupyter_blocks.load_ipython_extension(shell)
    yield shell
    jupyter_blocks._session = None


def cell(ip, line, body):
    return ip.run_cell_magic("block", line, body)


def test_block_runs_binds_output_and_reuses_cache(ip):
    assert cell(ip, "load", "[1, 2, 3]") == [1, 2, 3]
    assert cell(ip, "double -u load", "[x * 2 for x in load]") == [2, 4, 6]
    assert ip.user_ns["double"] == [2, 4, 6]
    assert jupyter_blocks.output("double") == [2, 4, 6]
    session = jupyter_blocks._session
    assert [s.state for s in session.states()] == ["fresh", "fresh"]


def test_the_block_line_is_not_expanded_by_ipython(ip):
    # IPython would turn `{{ profile }}` into `{ profile }` before the magic saw it.
    cell(ip, "trips", "import pandas as pd\npd.DataFrame({'n': [1, 2]})")
    # A profile the run cannot resolve is bad input, found before any block runs.
    with pytest.raises(UsageError, match=r"block `total`.*--profile \{\{ profile \}\}: the "
                                         r"run has no variable `profile`"):
        cell(ip, 'total --lang sql -u trips --profile "{{ profile }}"',
             "SELECT sum(n) AS n FROM trips")
    assert jupyter_blocks._session.notebook.registered["total"].profile == "{{ profile }}"


def test_bad_input_registers_nothing(ip):
    for line in ("9lives", "x --upstrem a", "x --type loader", "x -u nowhere"):
        with pytest.raises(UsageError):
            cell(ip, line, "1")
    assert jupyter_blocks._session.notebook.registered == {}


def test_failure_raises_block_run_error_with_cell_traceback(ip):
    cell(ip, "load", "1")
    with pytest.raises(BlockFailed) as info:
        cell(ip, "bad -u load", "x = load\nraise RuntimeError('nope')")
    rendered = "\n".join(info.value._render_traceback_())
    assert "line 3" in rendered and "raise RuntimeError('nope')" in rendered
    assert re.fullmatch(r"block `bad` \(cell In\[\d+\]\) failed: RuntimeError: nope",
                        str(info.value))


def test_execution_date_and_parameters(ip):
    ip.user_ns["execution_date"] = "2020-10-01"
    value = cell(ip, "when", "(kwargs['ds'], kwargs['execution_date'].year, kwargs['block'])")
    assert value == ("2020-10-01", 2020, "when")


def test_blocks_subcommands(ip, capsys):
    cell(ip, "a", "1")
    cell(ip, "b -u a", "a + 1")
    ip.run_line_magic("blocks", "run a --downstream --force")
    ip.run_line_magic("blocks", "cache ls")
    assert "2 entries" in capsys.readouterr().out
    ip.run_line_magic("blocks", "cache clear")
    assert "removed 2 cache entries" in capsys.readouterr().out
    with pytest.raises(UsageError, match="did you mean `--downstream`"):
        ip.run_line_magic("blocks", "run a --downstram")
    with pytest.raises(UsageError, match="no block named `c`"):
        ip.run_line_magic("blocks", "run c")


def test_help_is_the_option_table(ip):
    doc = ip.find_cell_magic("block").__doc__
    assert "%%block NAME [options]" in doc and "--upstream" in doc and "--no-cache" in doc


HEAVY = ["pyarrow", "pyarrow.dataset", "sqlalchemy", "google", "dask", "duckdb", "IPython",
         "jupyter_blocks.runner", "jupyter_blocks.cache"]


def test_import_is_light():
    code = (f"import sys, jupyter_blocks; heavy = {HEAVY!r}; "
            "print([m for m in heavy if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_load_ext_does_not_import_io_or_arrow_dataset():
    code = ("import sys\nfrom IPython.testing.globalipapp import start_ipython\n"
            "ip = start_ipython()\nip.run_line_magic('load_ext', 'jupyter_blocks')\n"
            "print([m for m in ['pyarrow.dataset', 'sqlalchemy', 'google.cloud', 'dask', "
            "'jupyter_blocks.io'] if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_notebook_runs_are_recorded_in_the_run_store(ip, tmp_path):
    from jupyter_blocks.history.store import RunStore

    cell(ip, "a", "1")
    cell(ip, "b -u a", "a + 1")
    runs = RunStore.for_directory(tmp_path).list_runs()
    assert len(runs) == 2 and {r["status"] for r in runs} == {"success"}
    latest = RunStore.for_directory(tmp_path).get_run(runs[0]["run_id"])
    assert {b["block"]: b["status"] for b in latest["blocks"]} == {"a": "cached", "b": "ran"}


def test_what_a_block_prints_shows_in_the_cell_and_in_the_run_history(ip, tmp_path, capsys):
    from jupyter_blocks.history.store import RunStore

    cell(ip, "talk", "import logging\nprint('hello from the block')\n"
         "logging.getLogger('etl').warning('careful')\n1")
    assert "hello from the block" in capsys.readouterr().out
    store = RunStore.for_directory(tmp_path)
    logs = store.block_logs(store.list_runs()[0]["run_id"], "talk")
    assert "hello from the block" in logs and "WARNING etl: careful" in logs
    print("after the run")
    assert capsys.readouterr().out == "after the run\n"


def test_a_failure_marks_its_downstream_skipped_until_it_succeeds(ip):
    ip.user_ns["source_broken"] = False
    cell(ip, "a", "if source_broken:\n    raise ValueError('source is down')\n1")
    cell(ip, "b -u a", "a + 1")
    ip.user_ns["source_broken"] = True
    with pytest.raises(BlockFailed):
        ip.run_line_magic("blocks", "run a --force")
    states = {s.name: s for s in jupyter_blocks._session.states()}
    assert states["a"].state == "failed"
    assert states["b"].state == "skipped" and states["b"].error == "not run because a failed"
    assert states["b"].cause == "a"
    ip.user_ns["source_broken"] = False
    ip.run_line_magic("blocks", "run a --force")
    states = {s.name: s for s in jupyter_blocks._session.states()}
    assert (states["a"].state, states["b"].state) == ("fresh", "fresh")



def test_pipeline_cell_is_checked_and_summarised(ip, capsys):
    # Imported Mage projects start with one; in a kernel it must run, not be an unknown magic.
    ip.run_cell_magic("pipeline", "", "tags: [taxi]\nmage_block_keys:\n  load:\n    color: red\n")
    assert "Pipeline settings: 0 triggers" in capsys.readouterr().out
    with pytest.raises(UsageError, match="trigers: unknown key"):
        ip.run_cell_magic("pipeline", "", "trigers: []\n")
