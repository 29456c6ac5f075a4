"""``--incremental``: an exporter is left out only when its latest run exported the same inputs."""

from __future__ import annotations

import json
import re
from pathlib import Path

from click.testing import CliRunner

from jupyter_blocks.cli import cli
from jupyter_blocks.history.store import RunStore
from tests.helpers.notebooks import write_notebook

LOADER = "%%block load --type data_loader\nkwargs['months'].split(',')"
EXPORTER = (
    "%%block export_{name} --type data_exporter -u load\n"
    "from pathlib import Path\n"
    "target = Path(kwargs['targets']) / '{name}.json'\n"
    "if target.with_suffix('.fail').exists():\n"
    "    raise RuntimeError('the target refused the export')\n"
    "target.write_text(__import__('json').dumps(load))\n"
    "None"
)


def pipeline(tmp_path: Path) -> Path:
    (tmp_path / "targets").mkdir()
    return write_notebook(tmp_path / "etl.ipynb", LOADER, EXPORTER.format(name="postgres"),
                          EXPORTER.format(name="lake"))


def run(notebook: Path, months: str, *options: str, targets: bool = True) -> tuple[str, str]:
    """Run the pipeline (``targets``: its exporters read the targets folder); output, run id."""
    folder = ["--var", f"targets={notebook.parent / 'targets'}"] if targets else []
    result = CliRunner().invoke(cli, ["run", str(notebook), "--var", f"months={months}",
                                      *folder, *options])
    assert result.exit_code in (0, 1), result.output
    run_id = re.search(r"run (\w+) of etl started", result.output)
    assert run_id is not None, result.output
    return result.output, run_id.group(1)


def exported(notebook: Path) -> dict[str, list[str]]:
    folder = notebook.parent / "targets"
    return {path.stem: json.loads(path.read_text()) for path in sorted(folder.glob("*.json"))}


def statuses(notebook: Path, run_id: str) -> dict[str, str]:
    blocks = RunStore.for_directory(notebook.parent).get_run(run_id)["blocks"]
    return {block["block"]: block["status"] for block in blocks}


def test_after_an_october_run_a_three_month_incremental_run_exports_again(tmp_path):
    notebook = pipeline(tmp_path)
    run(notebook, "2020-10,2020-11,2020-12")
    run(notebook, "2020-10")
    assert exported(notebook) == {"lake": ["2020-10"], "postgres": ["2020-10"]}
    _, run_id = run(notebook, "2020-10,2020-11,2020-12", "--incremental")
    assert statuses(notebook, run_id) == {"load": "cached", "export_postgres": "ran",
                                          "export_lake": "ran"}
    assert exported(notebook)["postgres"] == ["2020-10", "2020-11", "2020-12"]


def test_skipped_exporters_are_shown_with_the_run_that_exported_the_same_inputs(tmp_path):
    notebook = pipeline(tmp_path)
    _, first = run(notebook, "2020-10")
    output, again = run(notebook, "2020-10", "--incremental")
    assert statuses(notebook, again) == {"load": "cached", "export_postgres": "skipped",
                                         "export_lake": "skipped"}
    reason = f"exported by run {first} with the same inputs"
    assert f"export_postgres skipped: {reason}" in output  # the progress line
    summary = output[output.index(f"run {again}: success"):]
    assert re.search(rf"export_postgres\s+│\s+skipped: {reason}", summary), summary
    assert re.search(rf"export_lake\s+│\s+skipped: {reason}", summary), summary
    blocks = RunStore.for_directory(tmp_path).get_run(again)["blocks"]
    assert {b["block"]: b["error"] for b in blocks if b["status"] == "skipped"} == {
        "export_postgres": reason, "export_lake": reason}


def test_the_latest_run_counts_not_any_earlier_one_with_the_same_inputs(tmp_path):
    notebook = pipeline(tmp_path)
    run(notebook, "2020-10")
    run(notebook, "2020-11")
    _, back = run(notebook, "2020-10", "--incremental")
    assert statuses(notebook, back)["export_postgres"] == "ran"
    _, skipped = run(notebook, "2020-10", "--incremental")
    assert statuses(notebook, skipped)["export_postgres"] == "skipped"


def test_an_exporter_whose_latest_attempt_failed_runs_again(tmp_path):
    notebook = pipeline(tmp_path)
    run(notebook, "2020-10")
    refusal = tmp_path / "targets" / "lake.fail"
    refusal.write_text("")
    _, failed = run(notebook, "2020-10")
    assert statuses(notebook, failed)["export_lake"] == "failed"
    refusal.unlink()
    _, retried = run(notebook, "2020-10", "--incremental")
    assert statuses(notebook, retried) == {"load": "cached", "export_postgres": "skipped",
                                           "export_lake": "ran"}


def test_an_exporter_needed_downstream_is_not_skipped_but_served_from_the_cache(tmp_path):
    notebook = write_notebook(
        tmp_path / "etl.ipynb", LOADER,
        "%%block export_lake --type data_exporter -u load\n{'files': len(load)}",
        "%%block export_warehouse --type data_exporter -u export_lake\n"
        "print('loading', export_lake['files'], kwargs['table'])\nNone")
    (tmp_path / "targets").mkdir()
    run(notebook, "2020-10", "--var", "table=a", targets=False)
    _, second = run(notebook, "2020-10", "--var", "table=b", "--incremental", targets=False)
    assert statuses(notebook, second) == {"load": "cached", "export_lake": "cached",
                                          "export_warehouse": "ran"}
