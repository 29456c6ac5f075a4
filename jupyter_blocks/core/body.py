"""Block body forms: static analysis and compilation of a block's Python source.

What belongs here: everything learnt from a body without running it (decorated or plain form, the
block type its decorator implies, the ``@test`` functions, the variables it reads, the outside names
it needs) and compiling it so tracebacks point at the notebook cell's own line numbers.

Both are remembered for as long as the block spec they were made for (or an equal one) is alive,
however many blocks a pipeline has: a 10,000-block DAG is parsed once, not once per caller, and
a kernel session forgets the bodies of cells that are gone.
"""

from __future__ import annotations

import ast
import builtins
import linecache
import re
import symtable
import threading
import weakref
from dataclasses import dataclass
from functools import lru_cache
from types import CodeType

from jupyter_blocks.core.block import BlockSpec
from jupyter_blocks.core.decorators import CALLBACK_DECORATORS, DECORATOR_TYPES, NAMESPACE, STATUSES
from jupyter_blocks.core.errors import BlockSpecError

_R_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*")
#: CPython keeps the AST constructor's recursion depth per interpreter, not per thread, so two
#: threads turning source into trees (or trees into code) at once can fail with "SystemError: AST
#: constructor recursion depth mismatch" (python/cpython#106905): blocks running in threads
#: build their trees one at a time.
_TREES = threading.Lock()
_BUILTINS = frozenset(dir(builtins)) | {"__file__", "__name__", "display", "get_ipython"}


@dataclass(frozen=True)
class BodyInfo:
    """What static analysis found in a block body.

    Attributes:
        form: ``decorated``, ``plain`` or ``sql``.
        decorated_type: Block type implied by the decorator (decorated form only).
        function: Name of the decorated block function (decorated form only).
        tests: Names of the ``@test`` functions, in source order.
        variables: Variable names the body reads, or None when it reads them dynamically.
        free_names: Names the body reads but does not define (it needs them from outside).
        imported: Names the body binds by import.
        callbacks: A callback block's functions: ``(name, status)`` in source order.
    """

    form: str
    decorated_type: str | None = None
    function: str | None = None
    tests: tuple[str, ...] = ()
    variables: frozenset[str] | None = frozenset()
    free_names: frozenset[str] = frozenset()
    imported: frozenset[str] = frozenset()
    callbacks: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class CompiledBody:
    """A body compiled for execution: statements, then (plain form) the output expression."""

    filename: str
    statements: CodeType
    last_expression: CodeType | None


def analyze(spec: BlockSpec) -> BodyInfo:
    """Analyse ``spec``'s body; ``BlockSpecError`` for a syntax error or two block functions.

    An R block reads the variables whose names its code mentions (they arrive as named ``...``
    arguments); a SQL block's are its template's (``runner.plan`` asks the SQL templating).
    """
    if spec.lang == "r":
        return BodyInfo(form="r", variables=frozenset(_R_NAME.findall(spec.source)))
    if spec.lang != "python":
        return BodyInfo(form=spec.lang, variables=None)
    found = _ANALYSED.get(spec)
    if found is None:
        found = _ANALYSED[spec] = _analyze(spec.source, spec.label, spec.first_line)
    return found


def resolve_type(spec: BlockSpec, info: BodyInfo) -> str:
    """The block's type: ``--type``, else its decorator's, else inferred from its upstreams."""
    if spec.type and info.decorated_type and spec.type != info.decorated_type:
        raise BlockSpecError(
            f"{spec.label}: --type {spec.type} does not match its @{info.decorated_type} "
            f"function `{info.function}`; change one of them",
            "type_mismatch",
        )
    return spec.type or info.decorated_type or ("transformer" if spec.upstream else "data_loader")


def filename_for(spec: BlockSpec) -> str:
    """The filename tracebacks show for ``spec``: its block file, or a cell label."""
    if spec.origin.endswith((".py", ".sql", ".r")):
        return spec.origin
    return f"<{spec.label}>"


def compile_body(spec: BlockSpec) -> CompiledBody:
    """Compile ``spec``'s body with line numbers of its cell or file, and register its source."""
    filename = filename_for(spec)
    # Registered on every call: tracebacks read it from linecache, which others may clear.
    lines = [line + "\n" for line in ("\n" * (spec.first_line - 1) + spec.source).splitlines()]
    linecache.cache[filename] = (len(spec.source), None, lines, filename)
    found = _COMPILED.get(spec)
    if found is None:
        found = _COMPILED[spec] = _compile(spec.source, filename, spec.first_line)
    return found


# Keyed by spec, held weakly: an entry lives as long as an equal spec does (errors are not kept).
_ANALYSED: weakref.WeakKeyDictionary[BlockSpec, BodyInfo] = weakref.WeakKeyDictionary()
_COMPILED: weakref.WeakKeyDictionary[BlockSpec, CompiledBody] = weakref.WeakKeyDictionary()


def _analyze(source: str, label: str, first_line: int) -> BodyInfo:
    tree = _parse(source, label, first_line)
    decorated: list[tuple[str, str]] = []
    tests: list[str] = []
    callbacks: list[tuple[str, str]] = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            for decorator in node.decorator_list:
                name = _decorator_name(decorator)
                if name in CALLBACK_DECORATORS:
                    callbacks.append((node.name, _callback_status(decorator, name, label)))
                elif name in DECORATOR_TYPES:
                    decorated.append((node.name, DECORATOR_TYPES[name]))
                elif name == "test":
                    tests.append(node.name)
    if callbacks and decorated:
        raise BlockSpecError(
            f"{label}: has callback functions and a @{decorated[0][1]} function "
            f"`{decorated[0][0]}`; a callback block holds callbacks only", "two_functions")
    if callbacks:
        free, imported = _outside_names(source, label)
        return BodyInfo(form="decorated", decorated_type="callback", tests=tuple(tests),
                        variables=_variables_read(tree, plain=False), free_names=free,
                        imported=imported, callbacks=tuple(callbacks))
    if len(decorated) > 1:
        names = ", ".join(f"`{n}`" for n, _ in decorated)
        raise BlockSpecError(
            f"{label}: has {len(decorated)} decorated block functions ({names}); keep one and "
            "move the others to their own blocks",
            "two_functions",
        )
    free, imported = _outside_names(source, label)
    return BodyInfo(
        form="decorated" if decorated else "plain",
        decorated_type=decorated[0][1] if decorated else None,
        function=decorated[0][0] if decorated else None,
        tests=tuple(tests),
        variables=_variables_read(tree, plain=not decorated),
        free_names=free,
        imported=imported,
    )


def _compile(source: str, filename: str, first_line: int) -> CompiledBody:
    tree = _parse(source, filename, first_line)
    last: ast.expr | None = None
    if tree.body and isinstance(tree.body[-1], ast.Expr):
        last = tree.body[-1].value
        tree.body.pop()
    with _TREES:
        statements = compile(tree, filename, "exec")
        expression = None
        if last is not None:
            expression = compile(ast.Expression(last), filename, "eval")
    return CompiledBody(filename, statements, expression)


def _parse(source: str, label: str, first_line: int) -> ast.Module:
    """The tree of ``source`` with the line numbers of its cell (its first line is ``first_line``).

    Blank lines before the source shift its line numbers, which costs less than walking the
    tree to add the offset.
    """
    try:
        return parse_tree("\n" * (first_line - 1) + source)
    except SyntaxError as exc:
        line = exc.lineno or first_line
        raise BlockSpecError(f"{label}, line {line}: syntax error: {exc.msg}", "syntax") from None


def parse_tree(source: str) -> ast.Module:
    """``ast.parse(source)``, safe to call from several threads at once."""
    with _TREES:
        return ast.parse(source)


def _callback_status(decorator: ast.expr, name: str, label: str) -> str:
    """The status a callback decorator answers (``@callback('failure')`` -> ``failure``)."""
    fixed = CALLBACK_DECORATORS[name]
    if fixed is not None:
        return fixed
    if not isinstance(decorator, ast.Call) or not decorator.args:
        return "success"
    argument = decorator.args[0]
    if isinstance(argument, ast.Constant) and argument.value in STATUSES:
        return str(argument.value)
    if isinstance(argument, ast.Attribute) and argument.attr.lower() in STATUSES:
        return argument.attr.lower()  # Mage's CallbackStatus.FAILURE
    shown = ast.unparse(argument)
    raise BlockSpecError(f"{label}, line {decorator.lineno}: @callback({shown}): the status must "
                         f"be one of {', '.join(repr(s) for s in STATUSES)}", "bad_callback")


def _decorator_name(node: ast.expr) -> str | None:
    if isinstance(node, ast.Call):
        node = node.func
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def _variables_read(tree: ast.Module, *, plain: bool) -> frozenset[str] | None:
    """Variables read as ``kwargs["x"]`` or ``kwargs.get("x")``; None if read any other way.

    One walk of the tree: every use of a name holding the variables must be one of those reads.
    """
    nodes = list(ast.walk(tree))
    holders = {"kwargs"} if plain else set()
    for node in nodes:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) \
                and node.args.kwarg is not None:
            holders.add(node.args.kwarg.arg)
    if not holders:
        return frozenset()
    names: set[str] = set()
    uses = reads = 0
    for node in nodes:
        if isinstance(node, ast.Name):
            if node.id in holders:
                if isinstance(node.ctx, ast.Store | ast.Del):
                    return None
                uses += 1
        elif isinstance(node, ast.Subscript):
            if _is_holder(node.value, holders) and _is_text(node.slice):
                names.add(node.slice.value)  # type: ignore[attr-defined]
                reads += 1
        elif isinstance(node, ast.Call):
            function = node.func
            if isinstance(function, ast.Attribute) and function.attr in ("get", "pop") \
                    and _is_holder(function.value, holders) and node.args \
                    and _is_text(node.args[0]):
                names.add(node.args[0].value)  # type: ignore[attr-defined]
                reads += 1
    return frozenset(names) if reads == uses else None


def _is_holder(node: ast.expr, holders: set[str]) -> bool:
    return isinstance(node, ast.Name) and node.id in holders


def _is_text(node: ast.expr) -> bool:
    return isinstance(node, ast.Constant) and isinstance(node.value, str)


def _outside_names(source: str, label: str) -> tuple[frozenset[str], frozenset[str]]:
    """Names the body reads without defining them, and names it imports."""
    table = symtable.symtable(source, label, "exec")
    defined: set[str] = set()
    imported: set[str] = set()
    free: set[str] = set()
    for symbol in table.get_symbols():
        if symbol.is_imported():
            imported.add(symbol.get_name())
        if symbol.is_assigned() or symbol.is_imported() or symbol.is_namespace():
            defined.add(symbol.get_name())
        elif symbol.is_referenced():
            free.add(symbol.get_name())
    stack = list(table.get_children())
    while stack:
        child = stack.pop()
        stack.extend(child.get_children())
        for symbol in child.get_symbols():
            if symbol.is_global() and symbol.is_referenced():
                free.add(symbol.get_name())
    free -= defined | _BUILTINS | set(NAMESPACE) | {"kwargs"}
    return frozenset(free), frozenset(imported)


# -- scratch cells: what a cell assigns and imports ------------------------------------------


def assigned_names(source: str, *, definitions: bool = False) -> tuple[str, ...]:
    """Top-level names a cell assigns (``x = 1``, ``x: int = 1``, ``a, b = ...``).

    Args:
        source: The cell's source.
        definitions: Also count ``def`` and ``class`` names.
    """
    try:
        tree = parse_tree(without_magics(source))
    except SyntaxError:
        return ()
    names: list[str] = []
    for node in tree.body:
        targets: list[ast.expr] = []
        if isinstance(node, ast.Assign):
            targets = list(node.targets)
        elif isinstance(node, ast.AnnAssign | ast.AugAssign):
            targets = [node.target]
        elif definitions and isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef
                                        | ast.ClassDef):
            names.append(node.name)
        for target in targets:
            names.extend(sub.id for sub in ast.walk(target) if isinstance(sub, ast.Name))
    return tuple(dict.fromkeys(names))


def imported_names(source: str) -> dict[str, str]:
    """Names bound by top-level imports in ``source`` -> the import statement's text."""
    return dict(_imported_names(source))


@lru_cache(maxsize=1024)
def _imported_names(source: str) -> tuple[tuple[str, str], ...]:
    # Cached: the kernel re-reads the same executed cells before every block run.
    try:
        tree = parse_tree(without_magics(source))
    except SyntaxError:
        return ()
    found: dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, ast.Import):
            for alias in node.names:
                bound = alias.asname or alias.name.split(".")[0]
                text = f"import {alias.name}" + (f" as {alias.asname}" if alias.asname else "")
                found[bound] = text
        elif isinstance(node, ast.ImportFrom) and node.module != "__future__":
            module = "." * node.level + (node.module or "")
            for alias in node.names:
                if alias.name == "*":
                    continue
                text = f"from {module} import {alias.name}" + (
                    f" as {alias.asname}" if alias.asname else "")
                found[alias.asname or alias.name] = text
    return tuple(found.items())


def without_magics(source: str) -> str:
    """Blank out IPython magic and shell lines so the rest parses as Python."""
    return "\n".join("" if line.lstrip().startswith(("%", "!")) else line
                     for line in source.splitlines())
