"""SQL blocks as Mage reads them: upstream tables named ``{{ df_N }}``, and the data provider.

What belongs here: rewriting a SQL block's references to its upstream blocks by name
(``FROM transform_taxi``, which our runner resolves) into Mage's ``{{ df_1 }}`` (the only way
Mage names an upstream's table: it renders a block name to nothing), and the ``configuration``
keys Mage needs to run the block (``data_provider``, ``data_provider_profile``, and
``export_write_policy: replace``, so a second run does not append to the first one's rows).
Both runners read the rewritten SQL the same way.

A name is an upstream table where SQL names tables: after ``FROM`` or ``JOIN`` (and after the
commas of a ``FROM`` list), or as a column qualifier (``transform_taxi.trip_distance``) of a
table so named. Strings, quoted identifiers, comments and Jinja tags are left alone, and so is
a name after a dot (``schema.transform_taxi`` is a table of the database).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from jupyter_blocks.core.block import option_variable

_TOKEN = re.compile(r"""
    (?P<skip>'(?:[^']|'')*'|"(?:[^"]|"")*"|--[^\n]*|/\*.*?\*/|\{\{.*?\}\}|\{%.*?%\}|\{\#.*?\#\})
  | (?P<word>[A-Za-z_][A-Za-z0-9_$]*)
  | (?P<space>\s+)
  | (?P<other>.)
""", re.VERBOSE | re.DOTALL)
_TABLE_KEYWORDS = frozenset({"from", "join"})
#: Words that end a FROM list.
_CLAUSE_ENDS = frozenset({
    "where", "group", "order", "having", "limit", "union", "intersect", "except", "on",
    "using", "window", "qualify", "select", "offset", "fetch", "returning", "set", "values",
    "natural", "left", "right", "inner", "outer", "full", "cross", "lateral", "pivot",
    "unpivot"})

#: What a SQL block's configuration needs for Mage to run it (when the block says nothing).
DEFAULT_PROVIDER = "duckdb"
DEFAULT_PROFILE = "default"


def mage_references(sql: str, upstream: Sequence[str]) -> str:
    """``sql`` with its upstream tables named by block name rewritten as ``{{ df_N }}``."""
    aliases = {name.lower(): f"{{{{ df_{index} }}}}" for index, name in
               enumerate(upstream, start=1)}
    if not aliases:
        return sql
    tokens = [(m.lastgroup or "other", m.group()) for m in _TOKEN.finditer(sql)]
    tables = _table_positions(tokens, aliases)
    named = {tokens[i][1].lower() for i in tables}
    out: list[str] = []
    for index, (kind, text) in enumerate(tokens):
        lowered = text.lower()
        if index in tables or (kind == "word" and lowered in named and _next(tokens, index) == "."
              and _previous(tokens, index) != "."):
            out.append(aliases[lowered])
        else:
            out.append(text)
    return "".join(out)


def sql_configuration(connector: str | None, profile: str | None,
                      variables: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The configuration keys Mage reads to run a SQL block (ours decide provider and profile).

    A profile chosen by a variable (``{{ profile }}``) is that variable's default in
    ``variables`` (the pipeline's): Mage's ``data_provider_profile`` is a fixed name.
    """
    variable = option_variable(profile)
    if variable is not None:
        value = (variables or {}).get(variable)
        profile = value if isinstance(value, str) and value else None
    return {"data_provider": connector or DEFAULT_PROVIDER,
            "data_provider_profile": profile or DEFAULT_PROFILE,
            "export_write_policy": "replace"}


def _table_positions(tokens: list[tuple[str, str]], aliases: dict[str, str]) -> set[int]:
    positions: set[int] = set()
    in_from = False
    expect_table = False
    for index, (kind, text) in enumerate(tokens):
        if kind in ("space", "skip"):
            continue
        lowered = text.lower()
        if kind == "word" and lowered in _TABLE_KEYWORDS:
            in_from, expect_table = lowered == "from" or in_from, True
            continue
        if kind == "word" and lowered in _CLAUSE_ENDS:
            in_from = expect_table = False
            continue
        if text == "," and in_from:
            expect_table = True
            continue
        if text in "()":
            in_from = in_from and text == ")"
            expect_table = False
            continue
        if expect_table and kind == "word" and lowered in aliases \
                and _previous(tokens, index) != "." and _next(tokens, index) != ".":
            positions.add(index)
        expect_table = False
    return positions


def _previous(tokens: list[tuple[str, str]], index: int) -> str:
    for kind, text in reversed(tokens[:index]):
        if kind not in ("space", "skip"):
            return text
    return ""


def _next(tokens: list[tuple[str, str]], index: int) -> str:
    for kind, text in tokens[index + 1:]:
        if kind not in ("space", "skip"):
            return text
    return ""
