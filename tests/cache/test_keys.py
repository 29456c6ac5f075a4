import datetime as dt
import subprocess
import sys

from jupyter_blocks.cache.keys import block_key, stale_reason, variables_fingerprint
from jupyter_blocks.core.body import analyze, resolve_type
from jupyter_blocks.core.grammar import parse_cell


def key(cell, upstream=(), variables=None):
    spec = parse_cell(cell)
    info = analyze(spec)
    return block_key(spec, resolve_type(spec, info), upstream, info.variables, variables or {})


def test_cosmetic_edits_keep_the_key():
    a = key("%%block b\nx = 1  # one\nx\n")
    b = key("%%block b\n\n# a comment\nx=1\nx")
    assert a.digest == b.digest


def test_stale_reasons():
    base = key("%%block b -u a\na + kwargs['n']", ["k1"], {"n": 1})
    assert stale_reason(None, base) == "never run"
    assert stale_reason(base, base) is None
    assert stale_reason(base, key("%%block b -u a\na - kwargs['n']", ["k1"], {"n": 1})) == "code changed"
    assert stale_reason(base, key("%%block b -u a\na + kwargs['n']", ["k2"], {"n": 1})) == "upstream changed"
    assert stale_reason(base, key("%%block b -u a\na + kwargs['n']", ["k1"], {"n": 2})) == "variables changed"
    unrelated = key("%%block b -u a\na + kwargs['n']", ["k1"], {"n": 1, "execution_date": "x"})
    assert stale_reason(base, unrelated) is None


def test_options_that_change_results_change_the_key():
    assert key("%%block b\n1").digest != key("%%block b --dynamic\n1").digest
    assert key("%%block b\n1").digest == key("%%block b --retries 3\n1").digest


def test_dynamic_access_reads_all_but_volatile_variables():
    one = variables_fingerprint(None, {"a": 1, "run_id": "x", "logger": object()})
    two = variables_fingerprint(None, {"a": 1, "run_id": "y", "logger": object()})
    assert one == two != variables_fingerprint(None, {"a": 2, "run_id": "x"})


SCRIPT = """
import datetime as dt
from jupyter_blocks.core.grammar import parse_cell
from jupyter_blocks.cache.keys import block_key
from jupyter_blocks.core.body import analyze
spec = parse_cell("%%block b -u a\\na[kwargs['when']]\\n")
print(block_key(spec, "transformer", ["abc"], analyze(spec).variables,
                {"when": dt.datetime(2020, 10, 1)}).digest)
"""


def test_key_is_identical_in_another_process():
    spec = parse_cell("%%block b -u a\na[kwargs['when']]\n")
    here = block_key(spec, "transformer", ["abc"], analyze(spec).variables,
                     {"when": dt.datetime(2020, 10, 1)}).digest
    there = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True,
                           check=True, env={"PYTHONHASHSEED": "123", "PATH": ""}).stdout.strip()
    assert here == there


def test_unknown_objects_are_keyed_by_their_pickled_value():
    import fractions

    one = variables_fingerprint(frozenset({"v"}), {"v": fractions.Fraction(1, 3)})
    two = variables_fingerprint(frozenset({"v"}), {"v": fractions.Fraction(2, 3)})
    assert one != two
