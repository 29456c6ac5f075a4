"""Block specs: one pipeline block as written in a cell or a block file.

What belongs here: the frozen :class:`BlockSpec` value and the constants that describe blocks
(types, languages, connectors, defaults), and :func:`option_variable`, which reads an option
value that names a runtime variable. The ``%%block`` line grammar that produces a spec is
:mod:`jupyter_blocks.core.grammar`.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from typing import Any

BLOCK_TYPES = ("data_loader", "transformer", "data_exporter", "sensor", "condition", "callback",
               "custom")
LANGUAGES = ("python", "sql", "r")
CONNECTORS = ("duckdb", "postgres", "bigquery")
#: Block types whose run is a side effect: they run whenever asked, never served from the cache.
SIDE_EFFECT_TYPES = frozenset({"data_exporter", "sensor", "callback"})
#: Block types that gate their downstream blocks rather than feed them: their answers are not
#: passed to downstream blocks as arguments (a sensor's is, as in Mage).
GATE_TYPES = frozenset({"condition"})
#: What a callback block may be called for (Mage's ``@callback`` statuses).
CALLBACK_STATUSES = ("success", "failure", "cancelled")
#: What ``--over-max`` does when a dynamic block returns more items than ``--max-children``.
OVER_MAX_POLICIES = ("fail", "limit")
RESERVED_NAMES = frozenset({"kwargs", "args"})
#: Seconds before a block's first retry when ``--retry-delay`` (Mage's ``delay``) is not given.
DEFAULT_RETRY_DELAY = 5.0
#: Seconds between a sensor's calls when ``--poke-interval`` is not given (Mage's minute).
DEFAULT_POKE_INTERVAL = 60.0
#: An option value that names a runtime variable: ``{{ profile }}``.
_VARIABLE_VALUE = re.compile(r"^\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}$")


@dataclass(frozen=True)
class BlockSpec:
    """One pipeline block: its name, options and body, as written in a cell or a block file.

    Attributes:
        name: Block name; also the variable its output is bound to.
        type: Block type, or None when neither ``--type`` nor a decorator says it.
        upstream: Upstream block names in declared order (the order of positional arguments).
        lang: ``python``, ``sql`` or ``r``.
        profile: ``io_config.yaml`` profile for SQL blocks and connectors, or ``{{ name }}``:
            the profile the runtime variable ``name`` holds (see :func:`option_variable`).
        connector: Database a SQL block runs on (``duckdb`` by default).
        retries: Extra attempts after a failure.
        retry_delay: Seconds before the first retry.
        max_retry_delay: The longest wait between two attempts (Mage's ``max_delay``), or None.
        exponential_backoff: Double the wait after each retry (None: as Mage, yes).
        timeout: Seconds an attempt may run (a sensor: how long it may wait), or None.
        poke_interval: Seconds between a sensor's calls.
        dynamic: The block returns a list; each downstream block runs once per item.
        reduce: A dynamic child whose outputs are gathered into one list for its downstream.
        max_children: The most items a dynamic block may fan out to, or None.
        over_max: ``fail`` the dynamic block beyond ``max_children``, or ``limit`` to the first.
        max_parallel: How many of this block's dynamic children run at once, or None.
        on: The blocks a callback block answers, or the blocks a condition block gates (Mage's
            add-on conditional: it runs before them, with their inputs).
        no_cache: Always run; never serve this block from the cache.
        source: The block body (the cell without its ``%%block`` line).
        origin: Where the body came from, for messages and tracebacks (``cell 3``, a file path).
        first_line: Line number, in the origin, of the body's first line.
        cell_id: The notebook cell id, when the block comes from a notebook.
    """

    name: str
    type: str | None = None
    upstream: tuple[str, ...] = ()
    lang: str = "python"
    profile: str | None = None
    connector: str | None = None
    retries: int = 0
    retry_delay: float = DEFAULT_RETRY_DELAY
    max_retry_delay: float | None = None
    exponential_backoff: bool | None = None
    timeout: float | None = None
    poke_interval: float = DEFAULT_POKE_INTERVAL
    dynamic: bool = False
    reduce: bool = False
    max_children: int | None = None
    over_max: str = "fail"
    max_parallel: int | None = None
    on: tuple[str, ...] = ()
    no_cache: bool = False
    source: str = ""
    origin: str = ""
    first_line: int = 2
    cell_id: str | None = field(default=None, compare=False)

    def replace(self, **changes: Any) -> BlockSpec:
        """Return a copy with ``changes`` applied."""
        return dataclasses.replace(self, **changes)

    @property
    def label(self) -> str:
        """``block `name` (cell 3)``: how messages refer to this block."""
        where = f" ({self.origin})" if self.origin else ""
        return f"block `{self.name}`{where}"

    def result_options(self) -> dict[str, Any]:
        """The options that change what the block computes (they go into its cache key)."""
        return {
            "lang": self.lang,
            "profile": self.profile,
            "connector": self.connector,
            "dynamic": self.dynamic,
            "reduce": self.reduce,
        }


def option_variable(value: str | None) -> str | None:
    """The runtime variable an option value names (``{{ profile }}`` names ``profile``), or None.

    A SQL block's ``--profile "{{ profile }}"`` runs on the profile the run's ``profile``
    variable holds, so one variable switches Python and SQL blocks between profiles together.
    """
    match = _VARIABLE_VALUE.match(value.strip()) if value else None
    return match.group(1) if match else None
