import pickle

from jupyter_blocks.core.errors import BlockFailed, BlocksError, ConfigError, GraphError
from jupyter_blocks.core.problems import Problem


def test_block_failed_is_one_pickle_safe_class_under_the_root():
    failure = BlockFailed("block `b` (cell 2) failed: ValueError: x", "Traceback ...\nValueError: x",
                          attempts=3, seconds=1.5, output="printed\n", tests=(1, 2),
                          details=["after: not run because b failed"])
    assert isinstance(failure, BlocksError) and failure.exit_code == 1
    back = pickle.loads(pickle.dumps(failure))
    assert type(back) is BlockFailed
    assert (back.message, back.traceback, back.attempts, back.seconds, back.output, back.tests,
            back.details) == (failure.message, failure.traceback, 3, 1.5, "printed\n", (1, 2),
                              ("after: not run because b failed",))
    rendered = back._render_traceback_()
    assert rendered[0].startswith("Traceback") and "after: not run because b failed" in rendered
    assert "ValueError: x" in rendered[-1]


def test_graph_error_holds_typed_problems_and_reads_as_their_messages():
    error = GraphError([Problem("cycle", "cycle between blocks a -> b -> a", ("a", "b")),
                        "a plain message"])
    assert [p.kind for p in error.problems] == ["cycle", "invalid"]
    assert str(error) == "cycle between blocks a -> b -> a; a plain message"
    assert error.of_kind("cycle")[0].blocks == ("a", "b")
    assert pickle.loads(pickle.dumps(error)).problems == error.problems
    assert ConfigError("x").exit_code == 2
