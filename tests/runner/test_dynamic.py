"""Dynamic blocks: fan-out per item, reduce, nested fan-out, and the shapes Mage gets wrong."""

import threading

import pandas as pd
import pytest

from jupyter_blocks.cache import Cache
from jupyter_blocks.core.errors import GraphError
from jupyter_blocks.core.grammar import parse_cell
from jupyter_blocks.core.graph import Dag
from jupyter_blocks.runner import Runner, ThreadExecutor


def nb(*cells: str) -> Dag:
    return Dag.of(parse_cell(c, origin=f"cell {i + 1}") for i, c in enumerate(cells))


def statuses(result):
    return {name: o.status for name, o in result.outcomes.items()}


def test_each_downstream_block_runs_once_per_item_and_reduce_gathers_them():
    events = []
    dag = nb("%%block zones --dynamic\n[[1, 2, 3], [{'block_uuid': 'a'}, {'block_uuid': 'b'}, {}]]",
             "%%block per_zone -u zones\n@transformer\ndef f(zone, **kwargs):\n"
             "    return (zone * 10, kwargs.get('block_uuid'))",
             "%%block doubled -u per_zone --reduce\nper_zone[0] * 2",
             "%%block total -u doubled\nsum(doubled)")
    result = Runner(subscribers=[events.append]).run(dag)
    assert result.ok
    assert list(statuses(result)) == ["zones", "per_zone", "per_zone:a", "per_zone:b",
                                      "per_zone:2", "doubled", "doubled:a", "doubled:b",
                                      "doubled:2", "total"]
    assert result.outcomes["per_zone"].children == (3, 3, 0, 0)
    assert result.outputs["per_zone:a"] == (10, "a")
    assert result.outputs["per_zone:2"] == (30, "per_zone")
    assert result.outputs["total"] == 120
    assert result.outputs["doubled"] == [20, 40, 60]
    started = [e for e in events if e.event == "children_started"]
    assert [(e.block, e.parent, e.children) for e in started] == [
        ("per_zone", "zones", ("per_zone:a", "per_zone:b", "per_zone:2")),
        ("doubled", "zones", ("doubled:a", "doubled:b", "doubled:2"))]


def test_a_plain_list_fans_out_and_frames_are_concatenated_by_reduce():
    dag = nb("%%block months --dynamic\n['2020-10', '2020-11']",
             "%%block load -u months --reduce\nimport pandas as pd\n"
             "pd.DataFrame({'month': [months] * 2, 'n': [1, 2]})",
             "%%block summary -u load\nload")
    result = Runner().run(dag)
    frame = result.outputs["summary"]
    assert isinstance(frame, pd.DataFrame)
    assert frame["month"].tolist() == ["2020-10", "2020-10", "2020-11", "2020-11"]
    assert list(frame.index) == [0, 1, 2, 3]


def test_a_dynamic_child_of_a_dynamic_child_gets_the_right_items_and_the_block_after_the_reduce_runs_once():
    # mage-ai#5058, and Mage 0.9.80 hands grandchildren 10, 21, 30, 10, 21, 30
    dag = nb("%%block parents --dynamic\n[1, 2, 3]",
             "%%block kids -u parents --dynamic\n[parents * 10, parents * 10 + 1]",
             "%%block grandkids -u kids --reduce\nkids",
             "%%block after -u grandkids\nsorted(grandkids)")
    result = Runner().run(dag)
    assert result.outputs["after"] == [10, 11, 20, 21, 30, 31]
    assert [n for n in result.outcomes if n.startswith("after")] == ["after"]
    assert "grandkids:1:0" in result.outcomes and result.outputs["grandkids:1:0"] == 20


def test_a_child_with_a_dynamic_and_a_static_parent_runs_once_per_item_beside_the_static_output():
    # mage-ai#6065
    dag = nb("%%block rate\n2", "%%block items --dynamic\n[1, 2, 3]",
             "%%block scaled -u items rate --reduce\nitems * rate",
             "%%block total -u scaled\nsum(scaled)")
    result = Runner().run(dag)
    assert [n for n in result.outcomes if n.startswith("scaled")] == [
        "scaled", "scaled:0", "scaled:1", "scaled:2"]
    assert result.outputs["total"] == 12


def test_blocks_after_a_reduce_start_once_the_children_are_done_under_threads():
    # mage-ai#3794, #3803: never stuck
    dag = nb("%%block items --dynamic\nlist(range(6))",
             "%%block slow -u items --reduce\nimport time\ntime.sleep(0.05)\nitems",
             "%%block after -u slow\nlen(slow)")
    executor = ThreadExecutor(3)
    try:
        result = Runner(executor=executor).run(dag)
    finally:
        executor.shutdown()
    assert result.ok and result.outputs["after"] == 6


def test_a_condition_false_for_one_item_skips_that_branch_only():
    # mage-ai#5634
    dag = nb("%%block items --dynamic\n[1, 2, 3]",
             "%%block odd -u items --type condition\nitems % 2 == 1",
             "%%block work -u items odd --reduce\nitems * 100",
             "%%block after -u work\nwork")
    result = Runner().run(dag)
    assert statuses(result)["work:1"] == "skipped"
    assert result.outcomes["work:1"].error == "condition odd:1 returned False"
    assert result.outputs["after"] == [100, 300]


def test_children_run_at_once_within_the_cap():
    lock = threading.Lock()
    state = {"now": 0, "most": 0}
    body = ("with lock:\n    state['now'] += 1\n    state['most'] = max(state['most'], state['now'])\n"
            "import time\ntime.sleep(0.05)\nwith lock:\n    state['now'] -= 1\nitems")
    dag = nb("%%block items --dynamic\nlist(range(8))",
             f"%%block work -u items --max-parallel 2 --reduce\n{body}",
             "%%block after -u work\nlen(work)")
    executor = ThreadExecutor(8)
    try:
        result = Runner(executor=executor, namespace={"lock": lock, "state": state}).run(dag)
    finally:
        executor.shutdown()
    assert result.outputs["after"] == 8 and state["most"] == 2


def test_too_many_children_fail_or_are_limited():
    failing = nb("%%block items --dynamic --max-children 3\nlist(range(5))",
                 "%%block work -u items\nitems")
    result = Runner().run(failing)
    assert result.outcomes["items"].status == "failed"
    assert "returned 5 items, more than --max-children 3" in result.outcomes["items"].error
    assert statuses(result)["work"] == "skipped"
    limited = nb("%%block items --dynamic --max-children 3 --over-max limit\nlist(range(5))",
                 "%%block work -u items --reduce\nitems", "%%block after -u work\nwork")
    assert Runner().run(limited).outputs["after"] == [0, 1, 2]


def test_no_items_skip_the_children_and_the_reduce_gives_an_empty_list():
    dag = nb("%%block items --dynamic\n[]", "%%block work -u items --reduce\nitems",
             "%%block after -u work\n('after', work)")
    result = Runner().run(dag)
    assert result.outcomes["work"].status == "skipped"
    assert result.outcomes["work"].error == "items returned no items to fan out"
    assert result.outputs["after"] == ("after", [])


def test_a_failed_child_fails_the_reduce_downstream_and_a_rerun_repeats_only_it(tmp_path):
    state = {"runs": []}
    dag = nb("%%block items --dynamic\n[1, 2, 3]",
             "%%block work -u items --reduce\nstate['runs'].append(items)\n"
             "if items == 2 and state.get('broken', True):\n    raise ValueError('bad item')\nitems",
             "%%block after -u work\nsum(work)")
    namespace = {"state": state}
    first = Runner(Cache.beside(tmp_path), namespace=namespace).run(dag)
    assert statuses(first)["work:1"] == "failed"
    assert first.outcomes["after"].error == "not run because work:1 failed"
    state["broken"], state["runs"] = False, []
    again = Runner(Cache.beside(tmp_path), namespace=namespace).run(dag)
    assert again.ok and again.outputs["after"] == 6
    assert state["runs"] == [2]
    assert statuses(again)["work:0"] == "cached" and statuses(again)["work:1"] == "ran"


def test_fan_out_that_cannot_be_paired_is_found_before_running():
    dag = nb("%%block a --dynamic\n[1]", "%%block b --dynamic\n[2]",
             "%%block both -u a b\na + b")
    with pytest.raises(GraphError, match="fanned out by different dynamic blocks"):
        Runner().run(dag)
    with pytest.raises(GraphError, match="no dynamic upstream"):
        Runner().run(nb("%%block a\n1", "%%block r -u a --reduce\na"))


def test_a_dynamic_block_must_return_a_list():
    result = Runner().run(nb("%%block items --dynamic\n5", "%%block work -u items\nitems"))
    assert "must return a list" in result.outcomes["items"].error
