import traceback

import pytest

from jupyter_blocks.core.body import analyze, compile_body, resolve_type
from jupyter_blocks.core.errors import BlockSpecError
from jupyter_blocks.core.grammar import parse_cell


def spec(cell: str, origin="cell 1"):
    return parse_cell(cell, origin=origin)


DECORATED = '''%%block load
import pandas as pd

@data_loader
def load(*args, **kwargs):
    return pd.DataFrame({"x": [kwargs["n"]]})

@test
def has_rows(output, *args):
    assert len(output) > 0
'''


def test_decorated_form():
    info = analyze(spec(DECORATED))
    assert info.form == "decorated" and info.function == "load"
    assert info.decorated_type == "data_loader" and info.tests == ("has_rows",)
    assert info.variables == {"n"}
    assert info.free_names == frozenset() and "pd" in info.imported


def test_plain_form_and_type_inference():
    s = spec("%%block clean -u load\nload[load.x > 0]\n")
    info = analyze(s)
    assert info.form == "plain" and info.free_names == frozenset({"load"})
    assert resolve_type(s, info) == "transformer"
    root = spec("%%block seed\n[1, 2]\n")
    assert resolve_type(root, analyze(root)) == "data_loader"


@pytest.mark.parametrize("body, expected", [
    ("x = 1", frozenset()),
    ("kwargs['a'] + kwargs.get('b', 1)", frozenset({"a", "b"})),
    ("kwargs[name]", None),
    ("f(**kwargs)", None),
    ("list(kwargs)", None),
    ("@transformer\ndef t(df, **kw):\n    return kw['execution_date']", frozenset({"execution_date"})),
    ("@transformer\ndef t(df, *args, **kwargs):\n    return df", frozenset()),
])
def test_variables_read(body, expected):
    assert analyze(spec("%%block b\n" + body + "\n")).variables == expected


def test_free_names_exclude_builtins_locals_and_decorators():
    body = "import os\nfrom math import pi\ny = helper(len([1]))\ndef f():\n    return other + y\nf()"
    info = analyze(spec("%%block b\n" + body))
    assert info.free_names == {"helper", "other"}
    assert info.imported == {"os", "pi"}


def test_two_decorated_functions_is_an_error():
    body = "@data_loader\ndef a():\n    pass\n@transformer\ndef b(x):\n    pass\n"
    with pytest.raises(BlockSpecError, match="2 decorated block functions") as info:
        analyze(spec("%%block b\n" + body))
    assert info.value.code == "two_functions"


def test_type_mismatch_is_an_error():
    s = spec("%%block b --type transformer\n@data_loader\ndef a():\n    pass\n")
    with pytest.raises(BlockSpecError, match="does not match its @data_loader"):
        resolve_type(s, analyze(s))


def test_syntax_error_names_cell_line():
    with pytest.raises(BlockSpecError, match=r"block `b` \(cell 4\), line 3: syntax error"):
        analyze(spec("%%block b\nx = 1\ny = (\n", origin="cell 4"))


def test_traceback_uses_cell_line_numbers():
    s = spec("%%block b\nx = 1\n\nraise ValueError('boom')\n", origin="cell 7")
    compiled = compile_body(s)
    try:
        exec(compiled.statements, {})
    except ValueError as exc:
        text = "".join(traceback.format_exception(exc))
    assert 'File "<block `b` (cell 7)>", line 4' in text
    assert "raise ValueError('boom')" in text


def test_plain_last_expression_split():
    compiled = compile_body(spec("%%block b\nx = 2\nx * 21\n"))
    ns: dict = {}
    exec(compiled.statements, ns)
    assert eval(compiled.last_expression, ns) == 42


def test_each_body_is_analysed_once_at_any_number_of_blocks(monkeypatch):
    import gc

    from jupyter_blocks.core import body

    calls: list[str] = []
    real = body._analyze
    monkeypatch.setattr(body, "_analyze", lambda *args: (calls.append(args[1]), real(*args))[1])
    specs = [spec(f"%%block b{i}\nx = kwargs['n'] + {i}\nx") for i in range(3000)]
    for _ in range(3):
        infos = [analyze(s) for s in specs]
    assert len(calls) == 3000 and infos[-1].variables == frozenset({"n"})
    del specs, infos
    gc.collect()
    analyze(spec("%%block b7\nx = kwargs['n'] + 7\nx"))  # its spec is gone: analysed again
    assert len(calls) == 3001


def test_variables_read_through_every_form():
    cases = {
        "kwargs['a'] + kwargs.get('b') + kwargs.pop('c', 1)": frozenset({"a", "b", "c"}),
        "kwargs": None,
        "f = kwargs.get": None,
        "kwargs[name]": None,
        "kwargs = {}": None,
        "def f(**options):\n    return options['d']\nf(**kwargs)": None,
        "def f(**options):\n    return options['d']\n1": frozenset({"d"}),
    }
    for source, expected in cases.items():
        assert analyze(spec(f"%%block b\n{source}")).variables == expected, source
