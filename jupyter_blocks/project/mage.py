"""Mage-compatible block files: writing a block body as a file, and reading one back.

What belongs here: the guarded decorator imports (``if 'transformer' not in globals(): ...``)
that let a file run under our runner and under Mage's; rewriting a plain-form body as a
decorated function (one positional argument per upstream, the last expression returned, ``@test``
functions kept at module level); and stripping the guards, ours or Mage's, when reading a file.
"""

from __future__ import annotations

import ast
import re

from jupyter_blocks.core.block import BlockSpec
from jupyter_blocks.core.body import BodyInfo
from jupyter_blocks.core.decorators import DECORATOR_TYPES

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
_GUARD = re.compile(
    r"^if '(?P<name>\w+)' not in globals\(\):\n"
    r"    from [\w.]+ import (?P=name)\n", re.MULTILINE)


def render_block_file(spec: BlockSpec, block_type: str, info: BodyInfo, imports: list[str]
                      ) -> str:
    """The text of ``spec``'s block file: guards, copied imports, then the decorated body."""
    if spec.lang != "python":
        return spec.source.strip("\n") + "\n"
    body = spec.source.strip("\n")
    if info.form == "plain":
        body = decorate_plain_body(spec, block_type)
    if imports:
        body = "\n".join(imports) + "\n\n\n" + body
    return guards(body) + "\n\n" + body.strip("\n") + "\n"


def guards(body: str) -> str:
    """The guarded imports of the decorators ``body`` uses, in a fixed order."""
    used = set(_decorators_used(body))
    names = [name for name in (*DECORATOR_TYPES, "test") if name in used]
    return "".join(f"if '{name}' not in globals():\n"
                   f"    from jupyter_blocks.decorators import {name}\n" for name in names)


def body_of_block_file(text: str) -> str:
    """A block file's body: the file without its decorator guards (ours or Mage's)."""
    rest = text.replace("\r\n", "\n")
    while True:
        match = _GUARD.search(rest)
        if match is None:
            break
        before, after = rest[:match.start()], rest[match.end():]
        rest = (before.rstrip("\n") + "\n\n\n" if before.strip() else "") + after.lstrip("\n")
    return rest.strip("\n") + "\n" if rest.strip() else ""


def decorate_plain_body(spec: BlockSpec, block_type: str) -> str:
    """Rewrite a plain-form body as Mage's decorated form, keeping its lines and comments."""
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
    while name in spec.upstream:
        name += "_block"
    arguments = ", ".join([*spec.upstream, "*args", "**kwargs"])
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
