"""Control flow in the runner core: sensors, conditions, callbacks, retries and timeouts."""

import threading
import time

import pytest

from jupyter_blocks.cache import Cache
from jupyter_blocks.core.grammar import parse_cell
from jupyter_blocks.core.graph import Dag
from jupyter_blocks.runner import Runner, ThreadExecutor
from jupyter_blocks.runner.retry import retry_wait


def nb(*cells: str) -> Dag:
    return Dag.of(parse_cell(c, origin=f"cell {i + 1}") for i, c in enumerate(cells))


def recorder():
    events = []
    return events, events.append


def statuses(result):
    return {name: o.status for name, o in result.outcomes.items()}


# -- sensors ----------------------------------------------------------------------------------

SENSOR_UNTIL_THIRD = (
    "%%block ready --type sensor --poke-interval 0.05\n"
    "@sensor\ndef ready(**kwargs):\n"
    "    state['pokes'] += 1\n"
    "    return state['pokes'] >= 3")


def test_a_sensor_pokes_until_true_and_its_downstream_waits_for_it():
    events, record = recorder()
    state = {"pokes": 0}
    dag = nb(SENSOR_UNTIL_THIRD, "%%block after -u ready\n('after', ready, state['pokes'])")
    result = Runner(subscribers=[record], namespace={"state": state}).run(dag)
    assert result.ok and statuses(result) == {"ready": "ran", "after": "ran"}
    assert result.outputs["after"] == ("after", True, 3)
    waits = [e for e in events if e.event == "block_waiting"]
    assert [w.poke for w in waits] == [1, 2]
    assert all(w.next_poke > w.time for w in waits)
    assert [e.event for e in events if e.block == "ready"] == [
        "block_started", "block_waiting", "block_waiting", "block_finished"]


def test_a_sensor_fails_at_its_timeout_with_the_pokes_it_made():
    dag = nb("%%block wait_for_file --type sensor --poke-interval 0.05 --timeout 0.2\n"
             "@sensor\ndef check(**kwargs):\n    return False",
             "%%block after -u wait_for_file\n1")
    result = Runner().run(dag)
    failed = result.outcomes["wait_for_file"]
    assert failed.status == "failed"
    assert failed.error.startswith("sensor wait_for_file still false after 0.2 s (")
    assert failed.error.endswith(" pokes)")
    assert result.outcomes["after"].error == "not run because wait_for_file failed"


def test_a_sensor_is_never_served_from_the_cache(tmp_path):
    state = {"pokes": 0}
    dag = nb("%%block ready --type sensor --poke-interval 0.01\n"
             "state['pokes'] += 1\nTrue", "%%block after -u ready\nready")
    for _ in range(2):
        result = Runner(Cache.beside(tmp_path), namespace={"state": state}).run(dag)
        assert statuses(result) == {"ready": "ran", "after": "cached" if _ else "ran"}
    assert state["pokes"] == 2
    assert not Cache.beside(tmp_path).has(result.outcomes["ready"].key.digest)


def test_waiting_sensors_do_not_hold_the_workers_other_branches_need(tmp_path):
    flag = tmp_path / "flag"
    sensors = [f"%%block s{i} --type sensor --poke-interval 0.05 --timeout 20\n"
               f"@sensor\ndef s{i}(**kwargs):\n    return flag.exists()" for i in range(8)]
    writer = "%%block writer\nimport time\ntime.sleep(0.3)\nflag.write_text('x')\n'wrote'"
    join = "%%block join -u " + " ".join(f"s{i}" for i in range(8)) + " writer\n'joined'"
    executor = ThreadExecutor(2)
    try:
        result = Runner(executor=executor, namespace={"flag": flag}).run(
            nb(*sensors, writer, join))
    finally:
        executor.shutdown()
    assert result.ok and result.outputs["join"] == "joined"


# -- conditions -------------------------------------------------------------------------------

def test_a_false_condition_skips_what_it_gates_and_the_run_succeeds():
    events, record = recorder()
    dag = nb("%%block data\n[1, 2]",
             "%%block is_weekday --type condition -u data\n@condition\n"
             "def is_weekday(data, **kwargs):\n    return False",
             "%%block export -u data is_weekday\nlen(data)",
             "%%block report -u export\nexport",
             "%%block other -u data\nsum(data)")
    result = Runner(subscribers=[record]).run(dag)
    assert result.ok and result.status == "success"
    assert statuses(result) == {"data": "ran", "is_weekday": "ran", "export": "skipped",
                                "report": "skipped", "other": "ran"}
    assert result.outcomes["export"].error == "condition is_weekday returned False"
    assert result.outcomes["report"].error == "condition is_weekday returned False"
    skips = [e for e in events if e.event == "block_skipped"]
    assert {(e.block, e.why, e.cause) for e in skips} == {
        ("export", "condition", "is_weekday"), ("report", "condition", "is_weekday")}
    answer = next(e for e in events if e.event == "block_finished" and e.block == "is_weekday")
    assert answer.answer is False


def test_a_true_condition_lets_its_block_run_without_passing_its_answer():
    dag = nb("%%block data\n[1, 2]",
             "%%block ok --type condition -u data\nlen(data) > 1",
             "%%block export -u data ok\n@data_exporter\ndef export(data, **kwargs):\n"
             "    return sum(data)")
    result = Runner().run(dag)
    assert result.outputs["export"] == 3


def test_every_condition_on_a_path_must_hold():
    dag = nb("%%block a --type condition\nTrue", "%%block b --type condition\nFalse",
             "%%block gated -u a b\n'ran'", "%%block only_a -u a\n'ran'")
    result = Runner().run(dag)
    assert statuses(result)["gated"] == "skipped" and statuses(result)["only_a"] == "ran"
    assert result.outcomes["gated"].error == "condition b returned False"


def test_two_conditions_make_if_else():
    cells = ("%%block day\nkwargs['ds']",
             "%%block is_weekday --type condition -u day\n"
             "import datetime\ndatetime.date.fromisoformat(day).weekday() < 5",
             "%%block is_weekend --type condition -u day\n"
             "import datetime\ndatetime.date.fromisoformat(day).weekday() >= 5",
             "%%block weekday_report -u day is_weekday\n'weekday'",
             "%%block weekend_report -u day is_weekend\n'weekend'")
    monday = Runner().run(nb(*cells), variables={"ds": "2024-01-15"})
    sunday = Runner().run(nb(*cells), variables={"ds": "2024-01-14"})
    assert (statuses(monday)["weekday_report"], statuses(monday)["weekend_report"]) == (
        "ran", "skipped")
    assert (statuses(sunday)["weekday_report"], statuses(sunday)["weekend_report"]) == (
        "skipped", "ran")


def test_a_condition_that_raises_is_a_failure():
    dag = nb("%%block c --type condition\nraise ValueError('no answer')",
             "%%block gated -u c\n1")
    result = Runner().run(dag)
    assert result.status == "failed" and statuses(result) == {"c": "failed", "gated": "skipped"}
    assert result.outcomes["gated"].error == "not run because c failed"


# -- callbacks --------------------------------------------------------------------------------

CALLBACKS = (
    "%%block notify --type callback --on transform\n"
    "@callback('success')\ndef done(output, **kwargs):\n"
    "    seen.append(('success', output, kwargs['parent_block_uuid']))\n"
    "@callback('failure')\ndef broke(**kwargs):\n"
    "    seen.append(('failure', str(kwargs['__error'])))")


def test_success_and_failure_callbacks_get_the_output_or_the_error():
    seen: list = []
    good = nb("%%block transform\n[1, 2]", CALLBACKS)
    result = Runner(namespace={"seen": seen}).run(good, targets=["transform"])
    assert seen == [("success", [1, 2], "transform")]
    assert statuses(result) == {"transform": "ran", "notify@transform": "ran"}
    seen.clear()
    bad = nb("%%block transform\nraise RuntimeError('broken')", CALLBACKS)
    result = Runner(namespace={"seen": seen}).run(bad)
    assert seen == [("failure", "block `transform` (cell 1) failed: RuntimeError: broken")]
    assert result.status == "failed" and result.outcomes["notify@transform"].status == "ran"


def test_a_failing_callback_is_reported_but_changes_nothing_else():
    dag = nb("%%block transform\n[1]",
             "%%block notify --type callback --on transform\n"
             "@on_success\ndef tell(**kwargs):\n    raise ConnectionError('no slack')")
    result = Runner().run(dag)
    assert result.ok and result.outcomes["transform"].status == "ran"
    assert result.outcomes["notify@transform"].status == "failed"
    assert "ConnectionError: no slack" in result.outcomes["notify@transform"].error
    assert [o.name for o in result.failed_callbacks] == ["notify@transform"]


def test_cancelled_callbacks_run_when_the_run_is_interrupted():
    seen: list = []
    dag = nb("%%block slow\nraise KeyboardInterrupt",
             "%%block notify --type callback --on slow\n"
             "@callback('cancelled')\ndef gone(**kwargs):\n    seen.append('cancelled')")
    with pytest.raises(KeyboardInterrupt):
        Runner(namespace={"seen": seen}).run(dag)
    assert seen == ["cancelled"]


# -- retries and timeouts ---------------------------------------------------------------------

def test_each_attempt_is_an_event_with_its_error_and_the_block_sees_its_attempt():
    events, record = recorder()
    state: dict = {"n": 0}
    dag = nb("%%block flaky --retries 2 --retry-delay 0.01\n"
             "state['n'] += 1\nstate.setdefault('seen', []).append(kwargs['retry'])\n"
             "if state['n'] < 3:\n    raise RuntimeError(f\"attempt {state['n']}\")\n'ok'")
    result = Runner(subscribers=[record], namespace={"state": state}).run(dag)
    assert result.ok and result.outcomes["flaky"].attempts == 3
    assert state["seen"] == [{"attempts": 1}, {"attempts": 2}, {"attempts": 3}]
    retrying = [e for e in events if e.event == "block_retrying"]
    assert [(e.attempt, e.error.rsplit(": ", 1)[-1]) for e in retrying] == [
        (1, "attempt 1"), (2, "attempt 2")]
    assert [e.delay for e in retrying] == [0.01, 0.02]
    assert [e.attempt for e in events if e.event == "block_started"] == [1, 2, 3]
    assert len(result.outcomes["flaky"].errors) == 2


def test_a_block_failing_every_attempt_keeps_every_error():
    dag = nb("%%block bad --retries 1 --retry-delay 0\nraise ValueError('always')")
    outcome = Runner().run(dag).outcomes["bad"]
    assert outcome.status == "failed" and outcome.attempts == 2
    assert len(outcome.errors) == 2 and all("always" in e for e in outcome.errors)


@pytest.mark.parametrize(("options", "waits"), [
    ({"retries": 3, "retry_delay": 5.0}, [5.0, 10.0, 20.0, None]),
    ({"retries": 3, "retry_delay": 5.0, "exponential_backoff": False}, [5.0, 5.0, 5.0, None]),
    ({"retries": 4, "retry_delay": 5.0, "max_retry_delay": 12.0}, [5.0, 10.0, 12.0, 12.0, None]),
    ({"retries": 0}, [None]),
])
def test_retry_waits(options, waits):
    spec = parse_cell("%%block b\n1").replace(**options)
    assert [retry_wait(spec, attempt) for attempt in range(1, len(waits) + 1)] == waits


def test_a_timed_out_attempt_never_writes_after_its_timeout_nor_overlaps_its_retry(tmp_path):
    log = tmp_path / "log.txt"
    dag = nb("%%block slow --timeout 0.5 --retries 1 --retry-delay 0\n"
             "import time, os\n"
             "with open(log, 'a') as out:\n    out.write(f'start {os.getpid()}\\n')\n"
             "time.sleep(3)\n"
             "with open(log, 'a') as out:\n    out.write('end\\n')\n1")
    started = time.perf_counter()
    outcome = Runner(namespace={"log": str(log)}).run(dag).outcomes["slow"]
    assert time.perf_counter() - started < 2.5
    assert outcome.status == "failed" and outcome.attempts == 2
    assert "timed out after 0.5s" in outcome.error
    time.sleep(3.2)
    lines = log.read_text().splitlines()
    assert [line.split()[0] for line in lines] == ["start", "start"]
    assert len({line.split()[1] for line in lines}) == 2  # a process per attempt


def test_a_timed_out_block_in_a_thread_leaves_no_thread_behind(tmp_path):
    dag = nb("%%block slow --timeout 0.3\nimport time\ntime.sleep(5)\n1", "%%block b\n2")
    before = threading.active_count()
    executor = ThreadExecutor(2)
    try:
        result = Runner(executor=executor).run(dag)
    finally:
        executor.shutdown()
    assert result.outcomes["slow"].status == "failed" and result.outputs["b"] == 2
    assert threading.active_count() <= before


def test_a_timed_block_that_reads_notebook_names_gets_them(tmp_path):
    import math

    dag = nb("%%block calc --timeout 20\nmath.sqrt(factor)")
    result = Runner(namespace={"math": math, "factor": 16}).run(dag)
    assert result.ok and result.outputs["calc"] == 4.0


def test_blocks_get_mages_run_variables():
    import datetime as dt

    from jupyter_blocks.runner.variables import run_variables

    variables = run_variables("etl", dt.datetime(2024, 1, 15, 5), {})
    dag = nb("%%block look\n{k: kwargs[k] for k in ('ds', 'hr', 'interval_seconds', 'env', "
             "'pipeline_uuid', 'block_uuid', 'retry')}")
    assert Runner().run(dag, variables=variables).outputs["look"] == {
        "ds": "2024-01-15", "hr": "05", "interval_seconds": 86400, "env": "dev",
        "pipeline_uuid": "etl", "block_uuid": "look", "retry": {"attempts": 1}}


def test_mages_add_on_condition_gets_the_inputs_of_the_block_it_gates():
    dag = nb("%%block orders\n[3, 4]",
             "%%block summarize -u orders\nsum(orders)",
             "%%block has_orders --type condition --on summarize\n@condition\n"
             "def evaluate_condition(orders, **kwargs):\n"
             "    seen.append((orders, kwargs['block']))\n    return len(orders) > 5",
             "%%block report -u summarize\nsummarize",
             "%%block other -u orders\nlen(orders)")
    seen: list = []
    result = Runner(namespace={"seen": seen}).run(dag)
    assert seen == [([3, 4], "has_orders@summarize")]
    assert result.ok and statuses(result) == {
        "orders": "ran", "has_orders@summarize": "ran", "summarize": "skipped",
        "report": "skipped", "other": "ran"}
    assert result.outcomes["summarize"].error == "condition has_orders@summarize returned False"


def test_on_is_for_callbacks_and_conditions_only():
    from jupyter_blocks.core.errors import GraphError

    with pytest.raises(GraphError, match="--on, which is for --type callback"):
        Runner().run(nb("%%block a\n1", "%%block b --on a\n2"))
    with pytest.raises(GraphError, match="has callback `cb` as an upstream"):
        Runner().run(nb("%%block a\n1", "%%block cb --type callback --on a\n"
                        "@callback\ndef f(*a, **k):\n    pass", "%%block b -u cb\n2"))
