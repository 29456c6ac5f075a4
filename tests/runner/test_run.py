import datetime as dt
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from jupyter_blocks.core.errors import BlockSpecError, ConfigError, GraphError
from jupyter_blocks.kernel.session import Session
from jupyter_blocks.project.loading import load_pipeline
from jupyter_blocks.runner.namespace import namespace_for
from jupyter_blocks.runner.plan import Analyses
from jupyter_blocks.runner.run import FinishedRun, run_target
from jupyter_blocks.runner.values import format_value, parse_assignments, parse_value
from jupyter_blocks.runner.variables import run_variables

NOTEBOOKS = Path(__file__).parents[1] / "notebooks"


def copy(tmp_path: Path, name: str) -> Path:
    target = tmp_path / name
    shutil.copy(NOTEBOOKS / name, target)
    return target


def statuses(finished: FinishedRun) -> dict[str, str]:
    return {name: o.status for name, o in finished.result.outcomes.items()}


def test_parameters_defaults_and_overrides(tmp_path):
    path = copy(tmp_path, "headless_params.ipynb")
    finished = run_target(str(path))
    assert finished.result.ok
    assert finished.result.outputs["summary"] == {"label": "trips", "root": 4.0, "mean": 16 / 3,
                                                  "ds": "2020-10-01"}
    assert finished.variables["execution_date"] == dt.datetime(2020, 10, 1)
    assert finished.variables["pipeline"] == "headless_params"
    again = run_target(str(path), variables={"threshold": 3, "label": "x"},
                                             execution_date=dt.datetime(2021, 1, 2))
    assert again.result.outputs["summary"]["label"] == "x"
    assert again.result.outputs["summary"]["ds"] == "2021-01-02"
    assert again.result.outputs["clean"] == [4, 9]


def test_namespace_has_only_used_outside_imports(tmp_path):
    loaded = load_pipeline(copy(tmp_path, "headless_params.ipynb"))
    namespace = namespace_for(loaded, Analyses().info)
    assert [s for s, _ in namespace.imports] == ["import math",
                                                 "from statistics import mean as average"]
    assert set(namespace) == {"math", "average"}


def test_outside_name_is_bad_input(tmp_path):
    with pytest.raises(BlockSpecError, match=r"uses `helper`, which is defined outside blocks "
                                             r"in cell 1"):
        run_target(str(copy(tmp_path, "headless_outside.ipynb")))


def test_default_is_full_run_and_incremental_reuses(tmp_path):
    path = copy(tmp_path, "chain.ipynb")
    assert set(statuses(run_target(str(path))).values()) == {"ran"}
    assert set(statuses(run_target(str(path))).values()) == {"ran"}
    incremental = run_target(str(path), incremental=True)
    assert set(statuses(incremental).values()) == {"cached"}


def test_only_and_from(tmp_path):
    path = copy(tmp_path, "chain.ipynb")
    run_target(str(path))
    only = run_target(str(path), only="clean")
    assert statuses(only) == {"load": "cached", "clean": "ran"}
    start = run_target(str(path), start="clean")
    assert statuses(start) == {"load": "cached", "clean": "ran", "total": "ran"}
    with pytest.raises(GraphError, match="did you mean `clean`"):
        run_target(str(path), only="clen")


def test_failure_reports_resume_command(tmp_path):
    path = copy(tmp_path, "failing_block.ipynb")
    finished = run_target(str(path), variables={"n": 3},
                                                execution_date=dt.datetime(2020, 10, 1))
    assert statuses(finished) == {"load": "ran", "broken": "failed", "report": "skipped"}
    assert 'File "<block `broken` (cell 3)>", line 3' in finished.result.failed[0].traceback
    assert finished.resume == (f"jupyter-blocks run {path} --var n=3 --execution-date "
                               "2020-10-01T00:00:00 --from broken --incremental")


def test_kernel_run_then_incremental_headless_run_is_all_cache_hits(tmp_path):
    path = copy(tmp_path, "chain.ipynb")
    namespace = {"pd": pd, "factor": 2, "execution_date": dt.datetime(2020, 10, 1)}
    session = Session(namespace, notebook=path)
    assert session.run(None).ok
    assert run_variables("chain", dt.datetime(2020, 10, 1), {"factor": 2}) == \
        session.variables()
    again = run_target(str(path), incremental=True, execution_date=dt.datetime(2020, 10, 1))
    assert set(statuses(again).values()) == {"cached"}


@pytest.mark.parametrize(("pairs", "expected"), [
    (["n=3", "flag=true", "day=2020-10-01", "name=abc", "empty="],
     {"n": 3, "flag": True, "day": dt.date(2020, 10, 1), "name": "abc", "empty": ""}),
    (["url=a=b"], {"url": "a=b"}),
])
def test_parse_assignments(pairs, expected):
    assert parse_assignments(pairs) == expected


def test_var_without_equals_is_an_error():
    with pytest.raises(ConfigError, match="NAME=VALUE"):
        parse_assignments(["threshold"])


@pytest.mark.parametrize("value", [3, 2.5, True, "3", "text", dt.date(2020, 1, 2), "a b"])
def test_format_value_round_trips(value):
    assert parse_value(format_value(value)) == value


def test_bad_notebook_is_config_error(tmp_path):
    bad = tmp_path / "bad.ipynb"
    bad.write_text("{not json")
    with pytest.raises(ConfigError, match="not valid JSON"):
        run_target(str(bad))


def _outputs(notebook: Path) -> list[str]:
    import nbformat

    executed = nbformat.read(notebook, as_version=4)
    texts = []
    for cell in executed.cells:
        for output in cell.get("outputs", []):
            texts.append(str(output.get("text") or output.get("data", {}).get("text/plain", ""))
                         + str(output.get("ename", "")))
    return texts


@pytest.mark.kernel
def test_plain_papermill_runs_our_notebook_with_parameters(tmp_path):
    path = copy(tmp_path, "headless_params.ipynb")
    out = tmp_path / "out.ipynb"
    done = subprocess.run([sys.executable, "-m", "papermill", str(path), str(out), "-p",
                           "threshold", "3", "--cwd", str(tmp_path)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    printed = _outputs(out)
    assert any("'root': 3.605" in text for text in printed)  # sqrt(4 + 9): threshold 3 used
    # the kernel's cache is the headless run's: same keys, same folder
    again = run_target(str(path), variables={"threshold": 3},
                                             incremental=True)
    assert set(statuses(again).values()) == {"cached"}


@pytest.mark.kernel
def test_cli_papermill_mode_marks_failures(tmp_path):
    from click.testing import CliRunner

    from jupyter_blocks.cli import cli

    path = copy(tmp_path, "failing_block.ipynb")
    out = tmp_path / "out.ipynb"
    result = CliRunner().invoke(cli, ["run", str(path), "--output", str(out), "-q"])
    assert result.exit_code == 1
    assert "BlockFailed" in result.stderr and "ZeroDivisionError" in result.stderr
    assert out.is_file()
    import nbformat

    executed = nbformat.read(out, as_version=4)
    assert any(c.get("id") == "papermill-error-cell-tag" or "papermill-error-cell-tag"
               in c.get("metadata", {}).get("tags", []) for c in executed.cells)


def test_a_run_for_no_particular_time_covers_its_day_and_keeps_its_cache(tmp_path):
    import nbformat

    path = tmp_path / "interval.ipynb"
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(
        "%%block span --type data_loader\n"
        "@data_loader\n"
        "def span(**kwargs):\n"
        "    return [kwargs['interval_start_datetime'], kwargs['interval_end_datetime']]")]
    nbformat.write(notebook, path)
    first = run_target(str(path))
    start, end = first.result.outputs["span"]
    today = dt.datetime.now().replace(hour=0, minute=0, second=0, microsecond=0)
    assert (start, end) == (today, today + dt.timedelta(days=1))
    assert statuses(run_target(str(path), incremental=True)) == {"span": "cached"}
    session = Session({}, notebook=path)
    assert session.variables()["interval_start_datetime"] == today
    dated = run_target(str(path), execution_date=dt.datetime(2020, 10, 1, 6))
    assert dated.result.outputs["span"] == [dt.datetime(2020, 10, 1, 6), dt.datetime(2020, 10, 2, 6)]


@pytest.mark.kernel
def test_papermill_mode_runs_a_notebook_without_a_kernelspec(tmp_path):
    import nbformat
    from click.testing import CliRunner

    from jupyter_blocks.cli import cli

    path = tmp_path / "written_by_a_tool.ipynb"
    notebook = nbformat.v4.new_notebook()  # no kernelspec in its metadata
    notebook.cells = [nbformat.v4.new_code_cell("%load_ext jupyter_blocks"),
                      nbformat.v4.new_code_cell("%%block answer\n6 * 7")]
    nbformat.write(notebook, path)
    out = tmp_path / "out.ipynb"
    result = CliRunner().invoke(cli, ["run", str(path), "--output", str(out), "-q"])
    assert result.exit_code == 0, result.output + result.stderr
    assert any("42" in text for text in _outputs(out))
