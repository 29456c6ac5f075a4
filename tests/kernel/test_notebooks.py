"""Real notebooks executed in a real ipykernel: the behaviour a user sees in JupyterLab."""

import re

import pytest

from tests.helpers.kernels import copy_notebook, error_of, execute, text_of
from tests.helpers.notebooks import write_notebook

pytestmark = [pytest.mark.kernel]

ANSI = re.compile(r"\x1b\[[0-9;]*m")


def clean(text: str) -> str:
    return ANSI.sub("", text)


def status_lines(cell) -> list[str]:
    """The status lines a cell displayed (not its error)."""
    return [o["data"]["text/plain"] for o in cell.get("outputs", [])
            if o["output_type"] == "display_data"]


def usage_error(cell) -> str:
    """IPython prints a UsageError as one stderr line, with no traceback."""
    lines = [line for line in text_of(cell).splitlines() if line.startswith("UsageError")]
    assert len(lines) == 1, text_of(cell)
    assert "Traceback" not in text_of(cell)
    return lines[0]


def test_chain_runs_and_rerun_in_a_new_kernel_loads_from_disk(tmp_path):
    path = copy_notebook("chain", tmp_path)
    first = execute(path, allow_errors=False)
    cells = first.cells
    assert "✓ load · ran in" in text_of(cells[3]) and "tests 1/1 passed" in text_of(cells[3])
    # an upstream taken from the cache is one summary line, the cell's own block its status
    assert "✓ 1 upstream cached (load)" in text_of(cells[4])
    assert "✓ load ·" not in text_of(cells[4])
    assert "✓ clean · ran in" in text_of(cells[4]) and "3 rows × 2 cols" in text_of(cells[4])
    assert "✓ 2 upstreams cached (load, clean)" in text_of(cells[5])
    assert "total: 12 via output(): 12" in text_of(cells[6])
    assert (tmp_path / ".jupyter_blocks" / "cache").is_dir()

    # a kernel restart, then the same notebook: every block comes from the disk cache
    second = execute(path, allow_errors=False)
    assert "✓ load · cached (disk)" in text_of(second.cells[3])
    assert "✓ total · cached (disk)" in text_of(second.cells[5])
    assert "✓ 2 upstreams cached (load, clean)" in text_of(second.cells[5])
    assert "total: 12" in text_of(second.cells[6])


def test_parameters_cell_override_reaches_blocks(tmp_path):
    path = copy_notebook("chain", tmp_path)
    # what papermill does: an injected cell right after the parameters cell
    notebook = execute(path, allow_errors=False, extra_cells=["factor = 10"], insert_at=3)
    assert "total: 60" in text_of(notebook.cells[-1])


def test_fan_out_fan_in_list_and_dag(tmp_path):
    path = copy_notebook("fan_out_fan_in", tmp_path)
    cells = execute(path, allow_errors=False).cells
    assert "{'evens': 6, 'odds': 9}" in text_of(cells[4])
    run_all = text_of(cells[5])
    for name in ("numbers", "evens", "odds", "join"):
        assert f"✓ {name} · cached (memory)" in run_all
    listing = text_of(cells[6])
    assert re.search(r"join\s+transformer\s+evens, odds\s+fresh", listing)
    dag = text_of(cells[7])
    assert dag.startswith("```mermaid") and "evens --> join" in dag and "odds --> join" in dag


def test_cycle_is_a_one_line_usage_error_naming_every_member(tmp_path):
    cells = execute(copy_notebook("cycle", tmp_path)).cells
    error = usage_error(cells[1])
    assert error == "UsageError: cycle between blocks a (cell 2) -> b (cell 3) -> c (cell 4) -> a"


def test_failing_block_points_at_its_cell_line_and_marks_downstream(tmp_path):
    cells = execute(copy_notebook("failing_block", tmp_path)).cells
    error = error_of(cells[2])
    assert error["ename"] == "BlockFailed"
    assert error["evalue"] == "block `broken` (cell 3) failed: ZeroDivisionError: division by zero"
    traceback = clean("\n".join(error["traceback"]))
    assert 'File "<block `broken` (cell 3)>", line 3' in traceback
    assert "ratio = total / 0" in traceback
    assert "site-packages" not in traceback and "jupyter_blocks/runner" not in traceback
    # the error is said once: in the cell's error, not again in its status line
    status = status_lines(cells[2])
    assert status[-1].startswith("✗ broken · failed after") and "Error" not in "".join(status)
    assert status_lines(cells[3])[-1] == "– report · not run because broken failed"
    assert error_of(cells[3])["evalue"] == error["evalue"]
    listing = text_of(cells[4])
    assert re.search(r"broken\s+transformer\s+load\s+failed", listing)
    assert re.search(r"report\s+transformer\s+broken\s+skipped: not run because broken failed", listing)


def test_failing_test_fails_the_block_with_its_message(tmp_path):
    cells = execute(copy_notebook("failing_test", tmp_path)).cells
    error = error_of(cells[1])
    assert error["ename"] == "BlockFailed"
    assert error["evalue"] == ("block `load` (cell 2): test `no_zero` failed: "
                               "AssertionError: zero passengers found")


def test_plain_form_upstream_from_notebook_and_outside_name_warning(tmp_path):
    cells = execute(copy_notebook("plain_form", tmp_path)).cells
    out = text_of(cells[1])
    # `load` was never run in this kernel: its source came from the saved notebook
    assert "✓ load · ran in" in out and "✓ clean · ran in" in out
    assert "'n': 2" in out and "'sqrt': 1.414" in out and re.search(r"'date': '\d{4}-\d\d-\d\d'", out)
    assert "block `clean` reads `threshold`" in out and "headless run will not have it" in out
    assert "math" not in out.split("warning")[-1].split("reads")[1][:12]
    assert "has unknown upstream `nowhere`" in usage_error(cells[3])


EDIT_CELLS = [
    "%%block load\n[10, 20, 30, 40]",
    "%blocks",
]


def test_editing_an_upstream_makes_downstream_stale(tmp_path):
    path = copy_notebook("plain_form", tmp_path)
    cells = execute(path, extra_cells=EDIT_CELLS).cells
    listing = text_of(cells[-1])
    assert re.search(r"load\s+data_loader\s+—\s+fresh", listing)
    assert re.search(r"clean\s+transformer\s+load\s+stale \(upstream changed\)", listing)


def test_bad_block_lines_register_nothing(tmp_path):
    path = copy_notebook("fan_out_fan_in", tmp_path)
    bad = ["%%block 9lives\n1", "%%block x --upstrem numbers\n1", "%%block y --type loader\n1",
           "%blocks", "%blocks frobnicate"]
    cells = execute(path, extra_cells=bad).cells[-5:]
    assert usage_error(cells[0]).startswith("UsageError: `9lives` is not a valid block name")
    assert "did you mean `--upstream`" in usage_error(cells[1])
    assert "--type must be one of" in usage_error(cells[2])
    listing = text_of(cells[3])
    assert "9lives" not in listing and not re.search(r"^x\s", listing, re.M)
    assert "unknown %blocks command `frobnicate`" in usage_error(cells[4])


def test_printing_blocks_still_print_in_their_cell_in_a_real_kernel(tmp_path):
    from jupyter_blocks.history.store import RunStore

    path = write_notebook(
        tmp_path / "talk.ipynb",
        "%load_ext jupyter_blocks",
        "%%block talk\nprint('hello from the block')\n1",
        "print('plain cell output')",
    )
    notebook = execute(path, allow_errors=False)
    assert "hello from the block" in text_of(notebook.cells[1])
    assert text_of(notebook.cells[2]).strip() == "plain cell output"
    store = RunStore.for_directory(tmp_path)
    assert "hello from the block" in store.block_logs(store.list_runs()[0]["run_id"], "talk")


CONTROL_FLOW = [
    "%load_ext jupyter_blocks\nfrom pathlib import Path",
    "%%block landed --type sensor --poke-interval 0.1 --timeout 30\n"
    "flag = Path('flag')\nseen = flag.exists()\nflag.write_text('x')\nseen",
    "%%block zones --dynamic -u landed\n[['north', 'east', 'west'], "
    "[{'block_uuid': 'north'}, {'block_uuid': 'east'}, {'block_uuid': 'west'}]]",
    "%%block per_zone -u zones --reduce\nlen(zones)",
    "%%block total -u per_zone\nsum(per_zone)",
    "%%block is_big --type condition -u total\ntotal > 100",
    "%%block publish -u total is_big\ntotal",
    "%%block notify --type callback --on total\n"
    "@callback('success')\ndef told(total, **kwargs):\n    print('callback got', total)",
]


def test_control_flow_in_a_kernel_shows_waits_children_skips_and_callbacks(tmp_path):
    path = write_notebook(tmp_path / "flow.ipynb", *CONTROL_FLOW)
    cells = execute(path, allow_errors=False).cells
    assert "✓ landed · ran in" in text_of(cells[1])
    assert "⏳ landed · waiting · poke 1" not in text_of(cells[1])  # updated in place
    assert "per_zone ×3 · 3 ran" in text_of(cells[3])
    assert "✓ total · ran in" in text_of(cells[4])
    assert "– publish · condition is_big returned False" in text_of(cells[6])
    assert "callback got 13" in text_of(cells[4])
