"""Cache keys: what a block's output depends on, hashed with sha256.

A key covers the cache format version, the block's type and language, its normalised source, the
options that change its result, its upstreams' keys in declared order, and the values of the
variables it reads. The kernel and the CLI compute the same key for the same block (``hashlib``,
never ``hash()``), and a block that never reads ``execution_date`` keeps its key across days.
The parts are kept apart so a stale block can say *why* it is stale.
"""

from __future__ import annotations

import ast
import datetime as dt
import decimal
import hashlib
import json
import pathlib
import pickle
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from jupyter_blocks.core.block import BlockSpec
from jupyter_blocks.core.body import parse_tree

#: Bump when the key recipe or the entry format changes: every old entry becomes a miss.
CACHE_FORMAT_VERSION = 1

#: Variables that differ on every run; only a block naming them explicitly is keyed on them.
VOLATILE_VARIABLES = frozenset({"run_id", "logger", "retry", "context", "repo_path",
                                "configuration"})


@dataclass(frozen=True)
class KeyParts:
    """The inputs of a cache key, kept apart to explain staleness."""

    code: str
    upstream: tuple[str, ...]
    variables: str

    @cached_property
    def digest(self) -> str:
        """The cache key: sha256 over every part (computed once)."""
        text = "\0".join([str(CACHE_FORMAT_VERSION), self.code, ",".join(self.upstream),
                          self.variables])
        return hashlib.sha256(text.encode()).hexdigest()


def block_key(
    spec: BlockSpec,
    block_type: str,
    upstream_keys: Sequence[str],
    variables_read: frozenset[str] | None,
    variables: Mapping[str, Any],
) -> KeyParts:
    """The key parts of ``spec`` given its upstreams' keys and the run's variables.

    Args:
        spec: The block.
        block_type: Its resolved type.
        upstream_keys: Keys of its upstreams, in declared order.
        variables_read: Variables the body reads, or None when it reads them dynamically.
        variables: The run's variables.
    """
    return KeyParts(
        code=code_fingerprint(spec, block_type),
        upstream=tuple(upstream_keys),
        variables=variables_fingerprint(variables_read, variables),
    )


def code_fingerprint(spec: BlockSpec, block_type: str) -> str:
    """sha256 of the block's type, language, result options and normalised source.

    Remembered for as long as ``spec`` (or an equal spec) is alive, at any number of blocks.
    """
    known = _FINGERPRINTS.get(spec)
    if known is None:
        known = _FINGERPRINTS[spec] = {}
    found = known.get(block_type)
    if found is None:
        options = json.dumps(spec.result_options(), sort_keys=True)
        found = known[block_type] = _sha("\0".join(
            [block_type, spec.lang, options, normalise_source(spec.source, spec.lang)]))
    return found


_FINGERPRINTS: weakref.WeakKeyDictionary[BlockSpec, dict[str, str]] = \
    weakref.WeakKeyDictionary()


def variables_fingerprint(names: frozenset[str] | None, variables: Mapping[str, Any]) -> str:
    """sha256 of the named variables' values (all but the volatile ones when ``names`` is None)."""
    if names is None:
        names = frozenset(variables) - VOLATILE_VARIABLES
    chosen = {name: canonical(variables.get(name)) for name in sorted(names)}
    return _sha(json.dumps(chosen, sort_keys=True))


def stale_reason(previous: KeyParts | None, current: KeyParts) -> str | None:
    """Why a block whose last run had ``previous`` is stale now, or None if it is fresh."""
    if previous is None:
        return "never run"
    if previous.code != current.code:
        return "code changed"
    if previous.upstream != current.upstream:
        return "upstream changed"
    if previous.variables != current.variables:
        return "variables changed"
    return None


def normalise_source(source: str, lang: str = "python") -> str:
    """Source with comments and formatting removed, so cosmetic edits keep the key."""
    if lang == "python":
        try:
            return ast.unparse(parse_tree(source))
        except SyntaxError:
            pass
    lines = (line.strip() for line in source.splitlines())
    return "\n".join(line for line in lines if line and not line.startswith("--"))


def canonical(value: Any) -> Any:
    """A JSON-able stand-in for ``value`` that is equal exactly when the values are."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return {"__datetime__": value.isoformat()}
    if isinstance(value, decimal.Decimal | pathlib.PurePath):
        return {type(value).__name__: str(value)}
    if isinstance(value, Mapping):
        return {"__map__": sorted([json.dumps(canonical(k)), canonical(v)]
                                  for k, v in value.items())}
    if isinstance(value, list | tuple):
        return {type(value).__name__: [canonical(v) for v in value]}
    if isinstance(value, set | frozenset):
        return {"__set__": sorted(json.dumps(canonical(v)) for v in value)}
    try:
        return {"__pickle__": hashlib.sha256(pickle.dumps(value, protocol=4)).hexdigest()}
    except Exception:
        return {"__type__": f"{type(value).__module__}.{type(value).__qualname__}"}


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()
