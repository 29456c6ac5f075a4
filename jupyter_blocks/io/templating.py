"""Jinja templates in profiles and SQL blocks, rendered without formatting values into SQL.

What belongs here: the ``env_var`` rendering of profile values, finding the ``{{ x }}`` variables
a SQL block reads, and rendering a SQL block into SQL text plus bound parameters for a dialect.

A SQL block's ``{{ expression }}`` becomes a query parameter when it stands in code
(``WHERE d = {{ execution_date }}``). Inside a quoted literal (``'{{ ds }}'``, Mage's habit), a
quoted identifier or a comment it is rendered as text escaped for that context, so a value can
never end the literal and start SQL of its own. ``{{ df_1 }}`` (Mage's name for the first
upstream) and ``{{ x | identifier }}`` render quoted identifiers.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import jinja2
from jinja2 import meta
from jinja2.sandbox import SandboxedEnvironment

from jupyter_blocks.core.errors import ConfigError, did_you_mean
from jupyter_blocks.io.dialects import Dialect

#: Names that expose every variable at once: a block using them reads all variables.
DYNAMIC_NAMES = frozenset({"kwargs", "variables"})
_UPSTREAM_ALIAS = re.compile(r"df_[1-9][0-9]*")
_SENTINEL = re.compile("\x00([0-9]+)\x00")
_DOLLAR_TAG = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)?\$")


class MissingEnvVar(Exception):
    """``env_var('X')`` named a variable that is not set and gave no default."""

    def __init__(self, variable: str) -> None:
        super().__init__(variable)
        self.variable = variable


class TemplateProblem(Exception):
    """A profile value is not a valid template."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


def render_config_value(value: Any, environ: Mapping[str, str]) -> Any:
    """Render ``{{ env_var('X', default) }}`` in a profile value (recursing into mappings)."""
    if isinstance(value, Mapping):
        return {key: render_config_value(item, environ) for key, item in value.items()}
    if isinstance(value, list):
        return [render_config_value(item, environ) for item in value]
    if not isinstance(value, str) or "{" not in value:
        return value

    def env_var(name: str, default: str | None = None) -> str:
        if name in environ:
            return environ[name]
        if default is None:
            raise MissingEnvVar(name)
        return default

    environment = SandboxedEnvironment(undefined=jinja2.StrictUndefined, autoescape=False)
    try:
        return environment.from_string(value).render(env_var=env_var)
    except MissingEnvVar:
        raise
    except jinja2.TemplateError as exc:
        raise TemplateProblem(exc.message or type(exc).__name__) from None


def referenced_variables(source: str) -> set[str] | None:
    """Return the variables a SQL block's ``{{ ... }}`` read, or None when access is dynamic.

    Upstream aliases (``df_1``) are not variables. A template that does not parse, or that uses
    ``kwargs``/``variables`` (all variables at once), returns None: treat it as reading them all.
    """
    try:
        tree = _parse_environment().parse(source)
    except jinja2.TemplateSyntaxError:
        return None
    names = meta.find_undeclared_variables(tree)
    if names & DYNAMIC_NAMES:
        return None
    return {name for name in names if not _UPSTREAM_ALIAS.fullmatch(name)}


@dataclass(frozen=True)
class RenderedSQL:
    """SQL text with placeholders, and the values bound to them."""

    sql: str
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class _Identifier:
    name: str


def render_sql(
    source: str,
    variables: Mapping[str, Any],
    dialect: Dialect,
    upstream_names: Sequence[str] = (),
) -> RenderedSQL:
    """Render a SQL block for ``dialect``: values in code become bound parameters.

    Args:
        source: The block's SQL with Jinja ``{{ }}`` / ``{% %}``.
        variables: Runtime variables visible by name (and as ``kwargs``/``variables``).
        dialect: The engine the SQL will run on.
        upstream_names: Upstream block names, in order, for the ``df_1``... aliases.

    Raises:
        ConfigError: The template does not parse or uses an undefined variable.
    """
    values: list[Any] = []

    def capture(value: Any) -> str:
        if isinstance(value, _Identifier):
            return dialect.quote_identifier(value.name)
        if isinstance(value, jinja2.Undefined):
            str(value)  # StrictUndefined raises here, naming the variable
        values.append(value)
        return f"\x00{len(values) - 1}\x00"

    environment = SandboxedEnvironment(
        undefined=jinja2.StrictUndefined, autoescape=False, finalize=capture
    )
    environment.filters["identifier"] = lambda value: _Identifier(str(value))
    context: dict[str, Any] = {
        f"df_{index}": _Identifier(name) for index, name in enumerate(upstream_names, start=1)
    }
    context.update(variables)
    context["kwargs"] = context["variables"] = dict(variables)
    try:
        text = environment.from_string(source).render(context)
    except jinja2.UndefinedError as exc:
        match = re.search(r"'([^']+)' is undefined", exc.message or "")
        name = match.group(1) if match else "a name"
        raise ConfigError(
            f"SQL block uses {name}, which is not a variable{did_you_mean(name, variables)}"
        ) from None
    except jinja2.TemplateError as exc:
        raise ConfigError(f"SQL block is not a valid template: {exc.message}") from None
    return _bind(text, values, dialect)


def _bind(text: str, values: list[Any], dialect: Dialect) -> RenderedSQL:
    pieces: list[tuple[str, bool]] = []  # (text, is_placeholder)
    params: dict[str, Any] = {}
    position = 0
    for start, end, index, context in _sentinels(text, dialect):
        pieces.append((text[position:start], False))
        value = values[index]
        if context == "code":
            name = f"p{index + 1}"
            params[name] = value
            pieces.append((dialect.placeholder.format(name), True))
        else:
            pieces.append((_escape(str(value), context, dialect), False))
        position = end
    pieces.append((text[position:], False))
    escape_percent = dialect.percent_is_special and bool(params)
    sql = "".join(
        piece if is_placeholder or not escape_percent else piece.replace("%", "%%")
        for piece, is_placeholder in pieces
    )
    return RenderedSQL(sql, params)


def _escape(value: str, context: str, dialect: Dialect) -> str:
    if context == "literal":
        if dialect.backslash_escapes:
            value = value.replace("\\", "\\\\")
        return value.replace("'", "''")
    if context == "identifier":
        quote = dialect.identifier_quote
        return value.replace(quote, quote * 2)
    if context == "line_comment":
        return value.replace("\n", " ").replace("\r", " ")
    if context == "block_comment":
        return value.replace("*/", "* /")
    raise ConfigError(
        f"SQL block: a {{{{ }}}} value inside a dollar-quoted string cannot be rendered safely "
        f"on {dialect.name}; use a parameter outside the string"
    )


def _sentinels(text: str, dialect: Dialect) -> list[tuple[int, int, int, str]]:
    """Find each value sentinel and the lexical context it stands in."""
    found: list[tuple[int, int, int, str]] = []
    state = "code"
    dollar_end = ""
    index = 0
    length = len(text)
    while index < length:
        char = text[index]
        if char == "\x00":
            match = _SENTINEL.match(text, index)
            if match:
                found.append((index, match.end(), int(match.group(1)), state))
                index = match.end()
                continue
        if state == "code":
            if char == "'":
                state = "literal"
            elif char == dialect.identifier_quote:
                state = "identifier"
            elif text.startswith("--", index):
                state = "line_comment"
            elif text.startswith("/*", index):
                state = "block_comment"
            elif char == "$" and dialect.dollar_quotes:
                match = _DOLLAR_TAG.match(text, index)
                follows_word = index > 0 and (text[index - 1].isalnum() or text[index - 1] == "_")
                if match and not follows_word:
                    state, dollar_end = "dollar", match.group(0)
                    index = match.end()
                    continue
        elif state == "literal":
            if char == "\\" and dialect.backslash_escapes:
                index += 2
                continue
            if char == "'":
                if text.startswith("''", index):
                    index += 2
                    continue
                state = "code"
        elif state == "identifier":
            if char == dialect.identifier_quote:
                state = "code"
        elif state == "line_comment":
            if char == "\n":
                state = "code"
        elif state == "block_comment":
            if text.startswith("*/", index):
                state = "code"
                index += 2
                continue
        elif state == "dollar" and text.startswith(dollar_end, index):
            state = "code"
            index += len(dollar_end)
            continue
        index += 1
    return found


def _parse_environment() -> jinja2.Environment:
    return SandboxedEnvironment(autoescape=False)
