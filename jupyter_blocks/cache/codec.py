"""Encoding outputs into cache entry payloads: Arrow IPC, JSON, or pickle.

DataFrames and Arrow tables become Arrow IPC files (read back memory-mapped; pandas dtypes
such as nullable ints, categoricals and tz-aware timestamps round-trip through Arrow's pandas
metadata); JSON-able values become JSON; anything else is pickled. A DataFrame Arrow cannot hold
exactly (non-string or duplicate column labels, mixed object columns) is pickled instead.
"""

from __future__ import annotations

import json
import pickle
from typing import Any

ARROW_DATAFRAME = "arrow-pandas"
ARROW_TABLE = "arrow-table"
JSON = "json"
PICKLE = "pickle"


def encode(value: Any) -> tuple[str, bytes | Any]:
    """Return ``(kind, payload)``; payload is bytes, or an Arrow buffer for Arrow kinds."""
    module = type(value).__module__
    if module.startswith("pandas") and type(value).__name__ == "DataFrame":
        buffer = _arrow_from_dataframe(value)
        if buffer is not None:
            return ARROW_DATAFRAME, buffer
    elif module.startswith("pyarrow") and type(value).__name__ == "Table":
        return ARROW_TABLE, _arrow_ipc(value)
    elif _is_json(value):
        return JSON, json.dumps(value, allow_nan=False).encode()
    return PICKLE, pickle.dumps(value, protocol=5)


def decode(kind: str, payload: Any) -> Any:
    """Rebuild a value from ``payload`` (bytes or an Arrow buffer) of the given ``kind``."""
    if kind in (ARROW_DATAFRAME, ARROW_TABLE):
        import pyarrow as pa

        table = pa.ipc.open_file(payload).read_all()
        return table.to_pandas() if kind == ARROW_DATAFRAME else table
    if kind == JSON:
        return json.loads(bytes(payload))
    if kind == PICKLE:
        return pickle.loads(payload)
    raise ValueError(f"unknown cache entry kind {kind!r}")


def describe(value: Any) -> dict[str, Any]:
    """Shape facts for display and run records: rows, cols and a type name."""
    facts: dict[str, Any] = {"type": type(value).__name__, "rows": None, "cols": None}
    shape = getattr(value, "shape", None)
    if isinstance(shape, tuple) and len(shape) in (1, 2) and all(isinstance(n, int)
                                                                 for n in shape):
        facts["rows"] = shape[0]
        facts["cols"] = shape[1] if len(shape) == 2 else None
    elif isinstance(value, list | tuple | set):
        facts["rows"] = len(value)
    return facts


def _arrow_from_dataframe(frame: Any) -> Any | None:
    columns = list(frame.columns)
    if not all(isinstance(c, str) for c in columns) or len(set(columns)) != len(columns):
        return None
    if type(frame.columns).__name__ == "MultiIndex":
        return None
    import pyarrow as pa

    try:
        table = pa.Table.from_pandas(frame, preserve_index=None)
    except (pa.ArrowException, TypeError, ValueError):
        return None
    return _arrow_ipc(table)


def _arrow_ipc(table: Any) -> Any:
    import pyarrow as pa

    sink = pa.BufferOutputStream()
    with pa.ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue()


def _is_json(value: Any, depth: int = 0) -> bool:
    if depth > 50:
        return False
    if value is None or type(value) in (bool, int, str):
        return True
    if type(value) is float:
        return value == value and value not in (float("inf"), float("-inf"))
    if type(value) is list:
        return all(_is_json(v, depth + 1) for v in value)
    if type(value) is dict:
        return all(type(k) is str and _is_json(v, depth + 1) for k, v in value.items())
    return False


__all__ = ["ARROW_DATAFRAME", "ARROW_TABLE", "JSON", "PICKLE", "decode", "describe", "encode"]
