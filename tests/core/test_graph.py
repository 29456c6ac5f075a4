import pytest

from jupyter_blocks.core.block import BlockSpec
from jupyter_blocks.core.errors import GraphError
from jupyter_blocks.core.graph import Dag


def dag(*edges: str) -> Dag:
    """Blocks from "name: up1 up2" strings, in the given (notebook) order."""
    blocks = []
    for text in edges:
        name, _, ups = text.partition(":")
        blocks.append(BlockSpec(name=name.strip(), upstream=tuple(ups.split()),
                                origin=f"cell {len(blocks) + 1}"))
    return Dag.of(blocks)


ORDER_CASES = [
    ("chain", ["a", "b: a", "c: b"], ["a", "b", "c"]),
    ("fan-out/fan-in", ["load", "x: load", "y: load", "join: x y"], ["load", "x", "y", "join"]),
    ("notebook order breaks ties", ["b", "a", "c: a b"], ["b", "a", "c"]),
    ("upstream defined below", ["c: a", "a"], ["a", "c"]),
    ("independent", ["z", "y", "x"], ["z", "y", "x"]),
    ("diamond, late root", ["d: b c", "b: a", "c: a", "a"], ["a", "b", "c", "d"]),
]


@pytest.mark.parametrize("edges, expected", [c[1:] for c in ORDER_CASES],
                         ids=[c[0] for c in ORDER_CASES])
def test_order(edges, expected):
    assert list(dag(*edges).order()) == expected


PROBLEM_CASES = [
    ("unknown upstream with suggestion", ["load_taxi", "clean: load_taxy"],
     [("unknown_upstream", ("clean",), "load_taxi",
       "block `clean` (cell 2) has unknown upstream `load_taxy` (did you mean `load_taxi`?)")]),
    ("self dependency", ["a: a"],
     [("self_upstream", ("a",), None, "block `a` (cell 1) lists itself as an upstream")]),
    ("duplicate", ["a", "a"],
     [("duplicate_name", ("a",), None,
       "duplicate block name `a`: cell 1 and cell 2 both define it; rename one")]),
    ("cycle", ["a: c", "b: a", "c: b"],
     [("cycle", ("a", "b", "c"), None, "cycle between blocks a (cell 1) -> b (cell 2) -> c (cell 3) -> a")]),
    ("two cycles and a missing upstream, all at once",
     ["a: b", "b: a", "c: d", "d: c", "e: nope"],
     [("unknown_upstream", ("e",), None, "block `e` (cell 5) has unknown upstream `nope`"),
      ("cycle", ("a", "b"), None, "cycle between blocks a (cell 1) -> b (cell 2) -> a"),
      ("cycle", ("c", "d"), None, "cycle between blocks c (cell 3) -> d (cell 4) -> c")]),
]


def facts(problems):
    return sorted((p.kind, p.blocks, p.suggestion, p.message) for p in problems)


@pytest.mark.parametrize("edges, expected", [c[1:] for c in PROBLEM_CASES],
                         ids=[c[0] for c in PROBLEM_CASES])
def test_problems_are_typed_records_reported_at_once(edges, expected):
    graph = dag(*edges)
    assert facts(graph.problems()) == sorted(expected)
    with pytest.raises(GraphError) as info:
        graph.order()
    assert facts(info.value.problems) == sorted(expected)
    assert str(info.value) == "; ".join(p.message for p in graph.problems())


def test_a_selection_suggests_names_from_the_whole_notebook():
    graph = dag("load", "clean: load", "typo_user: claen")
    problems = graph.upstream_of("typo_user").problems()
    assert [(p.kind, p.name, p.suggestion) for p in problems] == [
        ("unknown_upstream", "claen", "clean")]
    assert problems[0].message == ("block `typo_user` (cell 3) has unknown upstream `claen` "
                                   "(did you mean `clean`?)")


SELECTION_CASES = [
    ("upstream_of leaf", "upstream_of", "join", ["load", "x", "y", "join"]),
    ("upstream_of branch", "upstream_of", "x", ["load", "x"]),
    ("downstream_of root", "downstream_of", "load", ["load", "x", "y", "join", "report"]),
    ("downstream_of branch", "downstream_of", "y", ["y", "join", "report"]),
    ("downstream_of leaf", "downstream_of", "report", ["report"]),
]


@pytest.mark.parametrize("method, name, expected", [c[1:] for c in SELECTION_CASES],
                         ids=[c[0] for c in SELECTION_CASES])
def test_selections(method, name, expected):
    graph = dag("load", "x: load", "y: load", "join: x y", "report: join", "other")
    selected = getattr(graph, method)(name)
    assert list(selected.order()) == expected
    assert isinstance(selected, Dag) and selected is not graph


def test_unknown_block_lookup_suggests():
    with pytest.raises(GraphError, match="did you mean `load`"):
        dag("load")["laod"]


def test_replace_block_keeps_position():
    graph = dag("a", "b: a", "c: b")
    new = graph.replace_block(BlockSpec(name="b", upstream=("a",), source="changed"))
    assert new.names == ("a", "b", "c") and new["b"].source == "changed"
    assert graph["b"].source == ""
    assert graph.replace_block(BlockSpec(name="d")).names == ("a", "b", "c", "d")


def test_mermaid_shows_edges_missing_and_states():
    text = dag("a", "b: a ghost").to_mermaid({"a": "fresh", "b": "failed"})
    assert "a --> b" in text and "missing_ghost" in text
    assert "class a fresh" in text and "class b failed" in text
