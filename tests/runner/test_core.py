import threading

import pytest

from jupyter_blocks.cache import Cache
from jupyter_blocks.core.grammar import parse_cell
from jupyter_blocks.core.graph import Dag
from jupyter_blocks.runner import Runner, ThreadExecutor


def nb(*cells: str) -> Dag:
    return Dag.of(parse_cell(c, origin=f"cell {i + 1}") for i, c in enumerate(cells))


CHAIN = nb(
    "%%block load\n[1, 2, 3, 0]",
    "%%block clean -u load\n[x for x in load if x]",
    "%%block total -u clean\n@transformer\ndef total(clean, **kwargs):\n    return sum(clean) * kwargs['factor']\n"
    "@test\ndef positive(output):\n    assert output > 0, 'total must be positive'",
)


def record(events):
    return lambda e: events.append((e.event, e.block))


def test_chain_runs_then_hits_cache(tmp_path):
    cache = Cache.beside(tmp_path)
    events = []
    runner = Runner(cache, subscribers=[record(events)])
    result = runner.run(CHAIN, variables={"factor": 2})
    assert result.ok and result.outputs["total"] == 12
    assert result.outcomes["total"].tests == (1, 1)
    assert [e for e in events if e[0] == "block_finished"] == [
        ("block_finished", "load"), ("block_finished", "clean"), ("block_finished", "total")]
    events.clear()
    again = Runner(Cache.beside(tmp_path), subscribers=[record(events)]).run(
        CHAIN, variables={"factor": 2})
    assert [o.status for o in again.outcomes.values()] == ["cached"] * 3
    assert again.outputs["total"] == 12


def test_variable_change_only_invalidates_readers(tmp_path):
    cache = Cache.beside(tmp_path)
    Runner(cache).run(CHAIN, variables={"factor": 2, "execution_date": "2020-10-01"})
    result = Runner(cache).run(CHAIN, variables={"factor": 3, "execution_date": "2020-11-01"})
    assert {n: o.status for n, o in result.outcomes.items()} == {
        "load": "cached", "clean": "cached", "total": "ran"}
    assert result.outputs["total"] == 18


def test_failure_skips_downstream_but_not_other_branches():
    dag = nb("%%block load\n1", "%%block bad -u load\nraise ValueError('boom')",
             "%%block after -u bad\nbad", "%%block other -u load\nload + 1")
    events = []
    result = Runner(subscribers=[record(events)]).run(dag)
    assert result.status == "failed"
    bad = result.outcomes["bad"]
    assert bad.status == "failed" and bad.error == "block `bad` (cell 2) failed: ValueError: boom"
    assert 'File "<block `bad` (cell 2)>", line 2' in bad.traceback
    assert "jupyter_blocks/runner" not in bad.traceback
    assert result.outcomes["after"].status == "skipped"
    assert result.outcomes["after"].error == "not run because bad failed"
    assert result.outcomes["other"].status == "ran" and result.outputs["other"] == 2
    assert ("block_skipped", "after") in events


def test_failing_test_fails_block_with_message():
    dag = nb("%%block t\n@data_loader\ndef t():\n    return 0\n@test\ndef pos(o):\n    assert o > 0, 'must be positive'")
    outcome = Runner().run(dag).outcomes["t"]
    assert outcome.status == "failed"
    assert outcome.error == "block `t` (cell 1): test `pos` failed: AssertionError: must be positive"


def test_retries_then_succeeds():
    dag = nb("%%block flaky --retries 2 --retry-delay 0\n"
             "n = counter.setdefault('n', 0) + 1\ncounter['n'] = n\n"
             "if n < 3:\n    raise RuntimeError('not yet')\nn")
    counter: dict = {}
    result = Runner(namespace={"counter": counter}).run(dag)
    assert result.outputs["flaky"] == 3 and result.outcomes["flaky"].attempts == 3


def test_timeout_fails_block():
    dag = nb("%%block slow --timeout 0.2\nimport time\ntime.sleep(5)")
    outcome = Runner().run(dag).outcomes["slow"]
    assert outcome.status == "failed" and "timed out after 0.2s" in outcome.error


def test_selection_runs_only_upstreams(tmp_path):
    dag = nb("%%block a\n1", "%%block b -u a\na + 1", "%%block c -u a\na + 2")
    result = Runner(Cache.beside(tmp_path)).run(dag, targets=["b"])
    assert list(result.outcomes) == ["a", "b"]


def test_side_effect_blocks_run_even_when_cached(tmp_path):
    dag = nb("%%block a\n1", "%%block out --type data_exporter -u a\nsink.append(a)")
    sink: list = []
    cache = Cache.beside(tmp_path)
    Runner(cache, namespace={"sink": sink}).run(dag)
    result = Runner(cache, namespace={"sink": sink}).run(dag)
    assert sink == [1, 1] and result.outcomes["a"].status == "cached"


def test_thread_executor_overlaps_independent_branches():
    barrier = threading.Barrier(2, timeout=5)
    dag = nb("%%block a\nbarrier.wait()\n1", "%%block b\nbarrier.wait()\n2",
             "%%block c -u a b\na + b")
    executor = ThreadExecutor(2)
    try:
        result = Runner(executor=executor, namespace={"barrier": barrier}).run(dag)
    finally:
        executor.shutdown()
    assert result.ok and result.outputs["c"] == 3


def test_keyboard_interrupt_finishes_run_as_interrupted():
    dag = nb("%%block a\nraise KeyboardInterrupt")
    events = []
    runner = Runner(subscribers=[lambda e: events.append(e)])
    with pytest.raises(KeyboardInterrupt):
        runner.run(dag)
    assert events[-1].event == "run_finished" and events[-1].status == "interrupted"


def test_a_sql_block_is_keyed_on_the_variables_its_template_reads(tmp_path):
    dag = nb("%%block trips\nimport pandas as pd\npd.DataFrame({'n': [1, 2]})",
             "%%block total --lang sql -u trips\nSELECT sum(n) AS n FROM trips",
             "%%block dated --lang sql -u trips\nSELECT '{{ ds }}' AS day, count(*) AS n FROM trips")
    cache = Cache.beside(tmp_path)
    Runner(cache).run(dag, variables={"ds": "2020-10-01", "execution_date": "a"})
    again = Runner(Cache.beside(tmp_path)).run(
        dag, variables={"ds": "2020-10-02", "execution_date": "b"})
    assert {n: o.status for n, o in again.outcomes.items()} == {
        "trips": "cached", "total": "cached", "dated": "ran"}
    assert again.outputs["dated"].day[0] == "2020-10-02"


def test_a_sql_block_whose_profile_a_variable_names_is_keyed_on_it(tmp_path):
    (tmp_path / "io_config.yaml").write_text(
        "default:\n  DUCKDB_PATH: a.duckdb\nother:\n  DUCKDB_PATH: b.duckdb\n")
    dag = nb("%%block trips\nimport pandas as pd\npd.DataFrame({'n': [1, 2]})",
             '%%block total --lang sql -u trips --profile "{{ profile }}"\n'
             "SELECT sum(n) AS n, current_database() AS db FROM trips")
    first = Runner(Cache.beside(tmp_path), directory=tmp_path).run(
        dag, variables={"profile": "default", "other": 1})
    same = Runner(Cache.beside(tmp_path), directory=tmp_path).run(
        dag, variables={"profile": "default", "other": 2})
    moved = Runner(Cache.beside(tmp_path), directory=tmp_path).run(
        dag, variables={"profile": "other", "other": 2})
    assert first.outputs["total"].db[0] == "a"
    assert same.outcomes["total"].status == "cached"
    assert moved.outcomes["total"].status == "ran" and moved.outputs["total"].db[0] == "b"
