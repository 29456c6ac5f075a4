"""Mage-compatible block files: writing a block body as a file, and reading one back.

What belongs here: the guarded decorator imports (``if 'transformer' not in globals(): ...``)
that let a file run under our runner and under Mage's; rewriting a plain-form body as a
decorated function (one positional argument per upstream, the last expression returned, ``@test``
functions kept at module level); putting together a block's file (guards, the Mage adapter of
``adapter`` when the block needs it, imports, body; SQL with Mage's upstream references); and
stripping the guards, ours or Mage's, and the adapter when reading a file.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Sequence

from jupyter_blocks.core.block import BlockSpec
from jupyter_blocks.core.body import BodyInfo
from jupyter_blocks.core.decorators import DECORATOR_TYPES
from jupyter_blocks.project.adapter import (
    adapter_text,
    decorator_of,
    needs_adapter,
    without_adapter,
)
from jupyter_blocks.project.mage_sql import mage_references

#: Function names Mage's templates use for each block type.
FUNCTION_NAMES = {
    "data_loader": "load_data",
    "transformer": "transform",
    "data_exporter": "export_data",
    "sensor": "check_condition",
    "condition": "evaluate_condition",
    "custom": "transform_custom",
}
_DECORATOR_OF_TYPE = {"condition": "condition"} | {t: t for t in FUNCTION_NAMES if t != "condition"}
_MAGE_DECORATORS = "from mage_ai.data_preparation.decorators import"
_GUARD = re.compile(
    r"^if '(?P<name>\w+)' not in globals\(\):\n"
    r"    from [\w.]+ import (?P=name)\n", re.MULTILINE)


def render_block_file(spec: BlockSpec, block_type: str, info: BodyInfo, imports: list[str],
                      inputs: Sequence[str] | None = None) -> str:
    """The text of ``spec``'s block file: guards, the adapter, copied imports, the body.

    Args:
        spec: The block.
        block_type: Its resolved type.
        info: Its body analysis.
        imports: Import lines from the notebook's other cells that it uses.
        inputs: The upstreams whose outputs the block receives, in order: its arguments, and
            what a SQL block's ``{{ df_N }}`` count (default: its ``--upstream``; a DAG-style
            condition among them gates the block and passes nothing).
    """
    inputs = tuple(inputs) if inputs is not None else spec.upstream
    if spec.lang == "sql":
        sql = mage_references(spec.source, inputs)
        return sql.strip("\n") + "\n"
    if spec.lang != "python":
        return spec.source.strip("\n") + "\n"
    body = spec.source.strip("\n")
    decorator = decorator_of(body, info.function)
    if info.form == "plain":
        body = decorate_plain_body(spec, block_type, inputs)
        decorator = _DECORATOR_OF_TYPE.get(block_type, "custom")
    if imports:
        body = "\n".join(imports) + "\n\n\n" + body
    variables, dynamic = needs_adapter(spec, info, block_type)
    adapter = ""
    if decorator and (variables or dynamic):
        adapter = adapter_text(decorator, variables=variables, dynamic=dynamic) + "\n\n"
    return guards(body) + "\n\n" + adapter + body.strip("\n") + "\n"


def guards(body: str) -> str:
    """The guarded imports of the decorators ``body`` uses, in a fixed order."""
    used = set(_decorators_used(body))
    names = [name for name in (*DECORATOR_TYPES, "test") if name in used]
    return "".join(f"if '{name}' not in globals():\n"
                   f"    from jupyter_blocks.decorators import {name}\n" for name in names)


def body_of_block_file(text: str) -> str:
    """A block file's body: the file without its decorator guards (ours or Mage's) and adapter."""
    return without_adapter(without_guards(text))


def same_block(written: str, text: str) -> bool:
    """Whether ``written`` (a file in the project) holds the block ``text`` holds.

    A file Mage wrote (its guards import Mage's decorators) holds the same block when the code
    is the same, whatever guards and adapter each has: Mage runs its own file as it is. Any
    other file must match but for its guards.
    """
    if _MAGE_DECORATORS in written:
        return body_of_block_file(written) == body_of_block_file(text)
    return without_guards(written) == without_guards(text)


def without_guards(text: str) -> str:
    """A block file without its decorator guards (ours or Mage's)."""
    rest = text.replace("\r\n", "\n")
    while True:
        match = _GUARD.search(rest)
        if match is None:
            break
        before, after = rest[:match.start()], rest[match.end():]
        rest = (before.rstrip("\n") + "\n\n\n" if before.strip() else "") + after.lstrip("\n")
    return rest.strip("\n") + "\n" if rest.strip() else ""


def decorate_plain_body(spec: BlockSpec, block_type: str,
                        inputs: Sequence[str] | None = None) -> str:
    """Rewrite a plain-form body as Mage's decorated form, keeping its lines and comments.

    The function takes one positional argument per input (default: per ``--upstream``).
    """
    inputs = tuple(inputs) if inputs is not None else spec.upstream
    source = spec.source.strip("\n")
    lines = source.splitlines()
    tree = ast.parse(source)
    tests: list[tuple[int, int]] = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and any(
                _name(d) == "test" for d in node.decorator_list):
            start = min([node.lineno, *(d.lineno for d in node.decorator_list)])
            tests.append((start - 1, node.end_lineno or node.lineno))
    last = tree.body[-1] if tree.body else None
    returned: tuple[int, int] | None = None
    if isinstance(last, ast.Expr) and not any(s <= last.lineno - 1 < e for s, e in tests):
        returned = (last.lineno - 1, last.end_lineno or last.lineno)
    in_function: list[str] = []
    test_lines: list[str] = []
    index = 0
    while index < len(lines):
        test = next(((s, e) for s, e in tests if s == index), None)
        if test is not None:
            test_lines.extend(["", "", *lines[test[0]:test[1]]])
            index = test[1]
            continue
        if returned is not None and index == returned[0]:
            expression = lines[returned[0]:returned[1]]
            in_function.append("return " + expression[0].lstrip())
            in_function.extend(expression[1:])
            index = returned[1]
            continue
        in_function.append(lines[index])
        index += 1
    while in_function and not in_function[-1].strip():
        in_function.pop()
    if not any(line.strip() for line in in_function):
        in_function = ["return None"]
    name = FUNCTION_NAMES.get(block_type, "transform")
    while name in inputs:
        name += "_block"
    arguments = ", ".join([*inputs, "*args", "**kwargs"])
    decorator = _DECORATOR_OF_TYPE.get(block_type, "custom")
    function = [f"@{decorator}", f"def {name}({arguments}):"]
    function += [("    " + line) if line.strip() else "" for line in in_function]
    return "\n".join(function + test_lines)


def _decorators_used(body: str) -> list[str]:
    try:
        tree = ast.parse(body)
    except SyntaxError:
        return []
    found: list[str] = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            found.extend(n for n in map(_name, node.decorator_list) if n)
    return found


def _name(node: ast.expr) -> str | None:
    if isinstance(node, ast.Call):
        node = node.func
    return node.id if isinstance(node, ast.Name) else None
