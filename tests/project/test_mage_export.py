"""Exported files say what Mage 0.9.80 understands (checked without Mage: ``tests/mage`` runs it).

Mage's type names and lists for conditions and callbacks, SQL with ``{{ df_N }}`` and the data
provider settings, the adapter that gives a block the variables Mage does not pass and turns a
dynamic block's bare list into Mage's ``[items]``, the notebook's ``io_config.yaml`` with
``DUCKDB_DATABASE``, the data files the parameters name, detached copies in
``configuration.file_path``, and the notes on what Mage does differently.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from jupyter_blocks.core.block import BlockSpec
from jupyter_blocks.project import carry
from jupyter_blocks.project.adapter import blank_adapter, without_adapter
from jupyter_blocks.project.carry import with_mage_database
from jupyter_blocks.project.export_notes import export_notes, mage_attempts
from jupyter_blocks.project.importer import import_project
from jupyter_blocks.project.mage_shape import mage_blocks
from jupyter_blocks.project.mage_sql import mage_references
from jupyter_blocks.project.writer import export_notebook
from jupyter_blocks.runner.run import run_target
from tests.helpers.notebooks import write_notebook

TESTS = Path(__file__).parents[1]
FEATURES = TESTS / "notebooks" / "mage_features.ipynb"


def files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and ".jupyter_blocks" not in p.parts}


@pytest.fixture
def features(tmp_path: Path) -> tuple[Path, dict[str, Any]]:
    shutil.copy(FEATURES, tmp_path / FEATURES.name)
    export_notebook(tmp_path / FEATURES.name, tmp_path / "proj")
    metadata = yaml.safe_load(
        (tmp_path / "proj/pipelines/mage_features/metadata.yaml").read_text())
    return tmp_path / "proj", metadata


def entry(metadata: dict[str, Any], section: str, uuid: str) -> dict[str, Any]:
    return next(b for b in metadata[section] if b["uuid"] == uuid)


def test_the_features_export_matches_its_golden_files(features):
    project, _ = features
    written = files(project)
    written.pop("io_config.yaml")
    assert written == files(TESTS / "golden" / "export_mage_features")


def test_export_import_export_is_byte_identical_with_control_flow(features, tmp_path):
    project, _ = features
    first = files(project)
    notebook = tmp_path / "back" / "mage_features.ipynb"
    import_project(project, "mage_features", notebook)
    sources = ["".join(c["source"]) for c in json.loads(notebook.read_text())["cells"]]
    assert any(s.startswith("%%block has_rows --type condition --on report\n") for s in sources)
    assert not any("_jupyter_blocks_for_mage" in s for s in sources)
    again = tmp_path / "again"
    export_notebook(notebook, again)
    assert files(again) == first


def test_conditions_and_callbacks_in_mages_lists(features):
    project, metadata = features
    has_rows = entry(metadata, "conditionals", "has_rows")
    assert has_rows["type"] == "conditional" and has_rows["upstream_blocks"] == ["report"]
    assert (project / "conditionals/has_rows.py").is_file()
    report = entry(metadata, "blocks", "report")
    # The DAG-style condition left the gated block's upstreams; both add-ons come last.
    assert report["upstream_blocks"] == ["big"]
    assert report["downstream_blocks"] == ["has_rows", "report_status"]
    assert "has_rows" not in entry(metadata, "blocks", "big")["downstream_blocks"]
    callback = entry(metadata, "callbacks", "report_status")
    assert callback["type"] == "callback" and callback["upstream_blocks"] == ["report"]
    assert (project / "callbacks/report_status.py").is_file()
    assert all(b["type"] != "condition" for s in ("blocks", "conditionals") for b in metadata[s])


def test_sql_blocks_get_mages_provider_and_references(features):
    project, metadata = features
    assert entry(metadata, "blocks", "totals")["configuration"] == {
        "data_provider": "duckdb", "data_provider_profile": "default",
        "export_write_policy": "replace"}
    assert "FROM {{ df_1 }}\n" in (project / "transformers/totals.sql").read_text()
    assert 'DUCKDB_DATABASE: "{{ env_var(\'MAGE_REPO_PATH\') }}/warehouse.duckdb"' in (
        project / "io_config.yaml").read_text()


@pytest.mark.parametrize(("sql", "expected"), [
    ("SELECT * FROM clean", "SELECT * FROM {{ df_1 }}"),
    ("select c.a from Clean c join trips t on c.id = t.id",
     "select c.a from {{ df_1 }} c join {{ df_2 }} t on c.id = t.id"),
    ("SELECT clean.a FROM clean, trips WHERE clean.a > 1",
     "SELECT {{ df_1 }}.a FROM {{ df_1 }}, {{ df_2 }} WHERE {{ df_1 }}.a > 1"),
    ("SELECT clean FROM other", "SELECT clean FROM other"),  # a column, not the table
    ("SELECT * FROM main.clean", "SELECT * FROM main.clean"),  # a table of the database
    ("SELECT 'FROM clean' -- FROM clean\nFROM {{ df_2 }}",
     "SELECT 'FROM clean' -- FROM clean\nFROM {{ df_2 }}"),
    ("SELECT * FROM (SELECT * FROM trips) x LEFT JOIN clean USING (id)",
     "SELECT * FROM (SELECT * FROM {{ df_2 }}) x LEFT JOIN {{ df_1 }} USING (id)"),
])
def test_upstream_tables_become_df_references(sql, expected):
    assert mage_references(sql, ["clean", "trips"]) == expected


def adapted(project: Path, relative: str, fake_decorator: str) -> Any:
    """The block function a file registers with a stand-in for Mage's injected decorator."""
    registered: list[Any] = []
    namespace: dict[str, Any] = {fake_decorator: lambda f: registered.append(f) or f}
    exec((project / relative).read_text(), namespace)
    return registered[0]


def test_the_adapter_gives_variables_mage_does_not_pass(features):
    project, _ = features
    facts = adapted(project, "transformers/run_facts.py", "transformer")
    big = __import__("pandas").DataFrame({"amount": [5.0]})
    # What plain `mage run` passes: no execution date, ds, logger, pipeline or block.
    mage_kwargs = {"pipeline_uuid": "p", "block_uuid": "run_facts", "env": "dev",
                   "configuration": {}, "context": {}, "repo_path": str(project),
                   "label": "orders", "execution_date": "2024-01-15"}
    result = facts(big, **mage_kwargs)
    assert result["ds"] == "2024-01-15" and result["execution_date"] == "2024-01-15 00:00"
    assert result["pipeline"] == "p" and result["block"] == "run_facts"
    assert result["interval_days"] == 1
    # Mage's own logger takes one message: records reach it formatted.
    received: list[str] = []
    logger = type("DictLogger", (), {"info": lambda self, message: received.append(message)})()
    facts(big, **{**mage_kwargs, "logger": logger, "ds": "2024-02-01"})
    assert received == ["run_facts for 2024-02-01"]


def test_the_adapter_turns_a_bare_list_into_mages_items(features):
    project, _ = features
    regions = adapted(project, "transformers/regions.py", "transformer")
    orders = __import__("pandas").DataFrame({"region": ["b", "a"], "amount": [1.0, 2.0]})
    assert regions(orders, pipeline_uuid="p", block_uuid="regions") == [[
        {"region": "a", "amount": 2.0}, {"region": "b", "amount": 1.0}]]


def test_the_adapter_is_removed_on_import_and_blank_for_runs_here(features):
    project, _ = features
    text = (project / "transformers/regions.py").read_text()
    assert "_jupyter_blocks_for_mage" in text
    assert "_jupyter_blocks_for_mage" not in without_adapter(text)
    blank = blank_adapter(text)
    assert "_jupyter_blocks_for_mage" not in blank
    assert blank.count("\n") == text.count("\n")
    # An edited adapter is someone's code: it stays.
    edited = text.replace("output = [output]", "output = [output, []]")
    assert without_adapter(edited) == edited


def test_blocks_reading_no_run_variables_get_no_adapter(features):
    project, _ = features
    assert "_jupyter_blocks_for_mage" not in (project / "data_loaders/orders.py").read_text()
    assert "_jupyter_blocks_for_mage" not in (project / "transformers/report.py").read_text()


def test_the_exported_project_runs_here_as_the_notebook(features, tmp_path):
    project, _ = features
    date = dt.datetime(2024, 1, 15)
    notebook = run_target(str(tmp_path / FEATURES.name), execution_date=date, echo=False).result
    exported = run_target(str(project), pipeline="mage_features", execution_date=date,
                          echo=False).result
    assert exported.ok
    for name in ("run_facts", "report", "all_totals", "flaky"):
        assert exported.outputs[name] == notebook.outputs[name]


def test_io_config_gets_duckdb_database_beside_duckdb_path():
    text = ("version: 0.1.1\n"
            "default:\n"
            "  DUCKDB_PATH: warehouse.duckdb   # the warehouse\n"
            "  LAKE_PATH: lake\n"
            "dev:\n"
            "  POSTGRES_HOST: localhost\n"
            "abs:\n"
            "  DUCKDB_PATH: /data/w.duckdb\n"
            "done:\n"
            "  DUCKDB_PATH: a.duckdb\n"
            "  DUCKDB_DATABASE: b.duckdb\n")
    edited, added, notes = with_mage_database(text, also=["dev"])
    assert added == ["default", "dev", "abs"] and notes == []
    assert edited == (
        "version: 0.1.1\n"
        "default:\n"
        "  DUCKDB_PATH: warehouse.duckdb   # the warehouse\n"
        "  DUCKDB_DATABASE: \"{{ env_var('MAGE_REPO_PATH') }}/warehouse.duckdb\"\n"
        "  LAKE_PATH: lake\n"
        "dev:\n"
        "  DUCKDB_DATABASE: \"{{ env_var('MAGE_REPO_PATH') }}/warehouse.duckdb\"\n"
        "  POSTGRES_HOST: localhost\n"
        "abs:\n"
        "  DUCKDB_PATH: /data/w.duckdb\n"
        "  DUCKDB_DATABASE: \"/data/w.duckdb\"\n"
        "done:\n"
        "  DUCKDB_PATH: a.duckdb\n"
        "  DUCKDB_DATABASE: b.duckdb\n")
    _, _, flow = with_mage_database("default: {DUCKDB_PATH: w.duckdb}\n")
    assert flow == ["io_config.yaml: profile `default` has no DUCKDB_DATABASE, which Mage's SQL "
                    "blocks need: add `DUCKDB_DATABASE: \"{{ env_var('MAGE_REPO_PATH') }}/"
                    "w.duckdb\"` to it"]


def test_the_notebooks_own_io_config_is_exported(tmp_path):
    shutil.copy(TESTS / "notebooks" / "chain.ipynb", tmp_path / "chain.ipynb")
    (tmp_path / "io_config.yaml").write_text("# mine\ndefault:\n  DUCKDB_PATH: w.duckdb\n")
    export_notebook(tmp_path / "chain.ipynb", tmp_path / "proj")
    assert (tmp_path / "proj/io_config.yaml").read_text() == (
        "# mine\ndefault:\n  DUCKDB_PATH: w.duckdb\n"
        "  DUCKDB_DATABASE: \"{{ env_var('MAGE_REPO_PATH') }}/w.duckdb\"\n")
    (tmp_path / "io_config.yaml").write_text("# changed\ndefault: {}\n")
    result = export_notebook(tmp_path / "chain.ipynb", tmp_path / "proj")
    assert "io_config.yaml: the project's own is kept" in " ".join(result.notes)
    assert export_notebook(tmp_path / "chain.ipynb", tmp_path / "proj", force=True).written \
        == ["io_config.yaml"]


def test_the_files_the_parameters_name_are_carried(tmp_path, monkeypatch):
    (tmp_path / "data").mkdir()
    for month in ("2020-10", "2020-11"):
        (tmp_path / "data" / f"trips_{month}.csv").write_text("a\n1\n")
    (tmp_path / "data" / "big_2020-12.csv").write_text("a\n" * 50)
    (tmp_path / "outputs").mkdir()
    notebook = write_notebook(
        tmp_path / "carry.ipynb", "%load_ext jupyter_blocks",
        "%%block load\nimport pandas as pd\n"
        "pd.concat([pd.read_csv(f'{kwargs[\"repo_path\"]}/' + kwargs['source'].format(month=m))"
        " for m in ['2020-10', '2020-11']])")
    document = json.loads(notebook.read_text())
    document["cells"].insert(1, {"cell_type": "code", "id": "p", "metadata": {
        "tags": ["parameters"]}, "outputs": [], "execution_count": None, "source":
        "source = 'data/trips_{month}.csv'\nbig = 'data/big_2020-12.csv'\n"
        "out = 'outputs'\nurl = 'https://example.invalid/x.csv'\n"})
    notebook.write_text(json.dumps(document))
    monkeypatch.setattr(carry, "MAX_CARRIED_BYTES", 20)
    result = export_notebook(notebook, tmp_path / "proj")
    assert result.carried == ["data/trips_2020-10.csv", "data/trips_2020-11.csv"]
    assert "variable `big`: data/big_2020-12.csv is over 0 MiB and was not copied" in \
        " ".join(result.notes)
    assert not (tmp_path / "proj/outputs").exists()
    assert len(run_target(str(tmp_path / "proj"), pipeline="carry").result.outputs["load"]) == 2


def test_a_detached_copy_is_named_in_file_path(tmp_path):
    for name in ("chain.ipynb", "headless_params.ipynb"):
        shutil.copy(TESTS / "notebooks" / name, tmp_path / name)
    export_notebook(tmp_path / "chain.ipynb", tmp_path / "proj")
    export_notebook(tmp_path / "headless_params.ipynb", tmp_path / "proj", "other", detach=True)
    metadata = yaml.safe_load((tmp_path / "proj/pipelines/other/metadata.yaml").read_text())
    assert entry(metadata, "blocks", "load")["configuration"] == {
        "file_path": "data_loaders/other/load.py"}
    assert "file_source" not in json.dumps(metadata)


def test_an_earlier_exports_file_source_also_gets_file_path(tmp_path):
    shutil.copy(TESTS / "notebooks" / "chain.ipynb", tmp_path / "chain.ipynb")
    project = tmp_path / "proj"
    export_notebook(tmp_path / "chain.ipynb", project)
    metadata = project / "pipelines/chain/metadata.yaml"
    document = yaml.safe_load(metadata.read_text())
    document["blocks"][0]["configuration"] = {"file_source": {"path": "data_loaders/x/load.py"}}
    (project / "data_loaders/x").mkdir()
    shutil.move(project / "data_loaders/load.py", project / "data_loaders/x/load.py")
    metadata.write_text(yaml.safe_dump(document))
    import_project(project, "chain", tmp_path / "back" / "chain.ipynb")
    export_notebook(tmp_path / "back" / "chain.ipynb", project)
    configuration = yaml.safe_load(metadata.read_text())["blocks"][0]["configuration"]
    assert configuration == {"file_path": "data_loaders/x/load.py",
                             "file_source": {"path": "data_loaders/x/load.py"}}
    assert not (project / "data_loaders/load.py").exists()


def spec(name: str, **options: Any) -> BlockSpec:
    return BlockSpec(name=name, origin="cell 2", **options)


@pytest.mark.parametrize(("options", "note"), [
    ({"retries": 5, "retry_delay": 2.0, "max_retry_delay": 7.0},
     "block `b` (cell 2): Mage makes 3 attempts, not 6: it stops retrying once the waits would "
     "add up to max_delay (7 s)"),
    ({"retries": 5},
     "block `b` (cell 2): Mage makes 4 attempts, not 6: it stops retrying once the waits would "
     "add up to max_delay (60 s)"),
    ({"timeout": 30.0},
     "block `b` (cell 2): its 30 s timeout holds only in Mage's scheduler, not under `mage run`"),
    ({"dynamic": True, "max_children": 10, "max_parallel": 2},
     "block `b` (cell 2): Mage has no --max-children: it runs a child for every item; Mage has "
     "no --max-parallel: its children run as Mage's concurrency_config allows"),
    ({"lang": "sql", "source": "SELECT '{{ ds }}' AS day"},
     "block `b` (cell 2): it reads `ds`, which plain `mage run` does not pass (a trigger run "
     "does)"),
])
def test_notes_say_what_mage_does_differently(options, note):
    from jupyter_blocks.core.graph import Dag

    dag = Dag.of([spec("a"), spec("b", upstream=("a",), **options)])
    kinds = {"a": "data_loader", "b": "transformer"}
    notes = export_notes(dag, mage_blocks(dag, kinds), None)
    assert notes[0] == note


def test_mage_attempts_follow_mages_retry_loop():
    # Measured under Mage (notes/mage-semantics.md §6).
    assert mage_attempts(spec("x", retries=5, retry_delay=2.0, max_retry_delay=7.0)) == 3
    assert mage_attempts(spec("x", retries=3, retry_delay=3.0, max_retry_delay=3.0)) == 1
    assert mage_attempts(spec("x", retries=3, retry_delay=1.0, max_retry_delay=10.0)) == 4
    assert mage_attempts(spec("x", retries=5)) == 4  # Mage's defaults: 5 s, 60 s at most


def test_settings_mage_refuses_are_noted(tmp_path):
    notebook = write_notebook(
        tmp_path / "t.ipynb", "%load_ext jupyter_blocks",
        "%%pipeline\ntriggers:\n- name: berlin\n  schedule_interval: '@daily'\n"
        "  start_time: 2024-01-01\n  timezone: Europe/Berlin\n"
        "notification_config:\n  urls: ['json://127.0.0.1:9/hook']\n"
        "mage_block_keys:\n  gone:\n    color: red\n",
        "%%block a\n1")
    notes = export_notebook(notebook, tmp_path / "proj").notes
    assert notes == [
        "trigger `berlin`: `timezone` is jupyter-blocks' own: Mage skips a trigger with keys "
        "it does not know",
        "notification_config: `urls` (apprise URLs) is jupyter-blocks' own: Mage cannot load "
        "this notification_config and sends no alerts",
        "%%pipeline mage_block_keys: `gone` is not a block of this pipeline; its keys are not "
        "written",
    ]
    assert "- name: berlin\n" in (tmp_path / "proj/pipelines/t/triggers.yaml").read_text()


def test_an_export_in_place_says_it_adds_duckdb_database(tmp_path):
    shutil.copy(TESTS / "notebooks" / "chain.ipynb", tmp_path / "chain.ipynb")
    (tmp_path / "io_config.yaml").write_text("default:\n  DUCKDB_PATH: w.duckdb\n")
    notes = export_notebook(tmp_path / "chain.ipynb").notes
    assert notes == ["io_config.yaml: added DUCKDB_DATABASE (what Mage reads for DUCKDB_PATH) "
                     "to the notebook's own profiles"]
    assert export_notebook(tmp_path / "chain.ipynb").notes == []


def test_a_sql_profile_chosen_by_a_variable_exports_its_default_and_comes_back(tmp_path):
    notebook = write_notebook(
        tmp_path / "by_profile.ipynb", "%load_ext jupyter_blocks",
        "%%block trips\nimport pandas as pd\npd.DataFrame({'n': [1, 2]})",
        '%%block total --lang sql -u trips --profile "{{ profile }}"\n'
        "SELECT sum(n) AS n FROM trips")
    document = json.loads(notebook.read_text())
    document["cells"].insert(1, {"cell_type": "code", "id": "p", "metadata": {
        "tags": ["parameters"]}, "outputs": [], "execution_count": None,
        "source": "profile = 'local'\n"})
    notebook.write_text(json.dumps(document))
    (tmp_path / "io_config.yaml").write_text("local:\n  DUCKDB_PATH: w.duckdb\n")
    project = tmp_path / "proj"
    exported = export_notebook(notebook, project)
    assert exported.notes == [
        "block `total` (cell 4): Mage runs it on the profile `profile` defaults to and on DuckDB, "
        "not its SQL_CONNECTOR, whatever `profile` a run is given (data_provider_profile is a "
        "name)"]
    metadata = yaml.safe_load((project / "pipelines/by_profile/metadata.yaml").read_text())
    # Mage runs it on the default's profile; ours keeps the variable beside it.
    assert entry(metadata, "blocks", "total")["configuration"] == {
        "data_provider": "duckdb", "data_provider_profile": "local",
        "data_provider_profile_variable": "profile", "export_write_policy": "replace"}
    assert "local:\n  DUCKDB_PATH: w.duckdb\n  DUCKDB_DATABASE:" in (
        project / "io_config.yaml").read_text()
    back = tmp_path / "back" / "by_profile.ipynb"
    import_project(project, "by_profile", back)
    total = next(cell for cell in ("".join(c["source"]) for c in json.loads(
        back.read_text())["cells"]) if cell.startswith("%%block total"))
    assert "--profile '{{ profile }}'" in total.splitlines()[0]
    assert export_notebook(back, project).written == []
