"""SQL dialects: how each engine spells a parameter, quotes an identifier and escapes a value.

What belongs here: :class:`Dialect` and one instance per engine (DuckDB, PostgreSQL, BigQuery),
the only place identifiers are quoted, so SQL templating, bulk loads and DDL all agree.
"""

from __future__ import annotations

from dataclasses import dataclass

from jupyter_blocks.core.errors import ConfigError


@dataclass(frozen=True)
class Dialect:
    r"""How one engine spells a parameter and escapes a value in each quoting context.

    Attributes:
        name: Engine name for messages.
        placeholder: Format of a named parameter, e.g. ``"${}"``; ``{}`` is the name.
        identifier_quote: Character that quotes identifiers.
        backslash_escapes: Whether string literals treat ``\`` as an escape (BigQuery).
        percent_is_special: Whether ``%`` must be doubled when parameters are passed (psycopg).
        dollar_quotes: Whether ``$tag$ ... $tag$`` strings exist (PostgreSQL, DuckDB).
    """

    name: str
    placeholder: str
    identifier_quote: str = '"'
    backslash_escapes: bool = False
    percent_is_special: bool = False
    dollar_quotes: bool = True

    def quote_identifier(self, name: str) -> str:
        """Quote ``name`` as one identifier (``x; drop table y`` stays a name)."""
        if "\x00" in name:
            raise ConfigError(f"identifier {name!r}: contains a NUL character")
        quote = self.identifier_quote
        return quote + name.replace(quote, quote * 2) + quote


DUCKDB = Dialect("duckdb", placeholder="${}")
POSTGRES = Dialect("postgres", placeholder="%({})s", percent_is_special=True)
BIGQUERY = Dialect(
    "bigquery",
    placeholder="@{}",
    identifier_quote="`",
    backslash_escapes=True,
    dollar_quotes=False,
)
