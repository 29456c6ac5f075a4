"""Encoding outputs into cache entry payloads: pickle with out-of-band buffers, Arrow IPC, JSON.

JSON-able values become JSON and Arrow tables Arrow IPC files. Anything else, DataFrames
included, is pickled with protocol 5, its large contiguous buffers (a DataFrame's column blocks,
masks and categorical codes, a NumPy array's data) written out of band after the pickle stream,
each 64-byte aligned. Read back from a private memory mapping of the entry, those buffers become
the value's arrays without a copy, and stay writable: a write changes the process's pages, never
the entry. Every pandas dtype, index and column label round-trips exactly, because pandas' own
pickling rebuilds the frame. A pickle records the NumPy, pandas and PyArrow versions it was
written under; read under others it is stale. Entries of the former ``arrow-pandas`` kind (a
DataFrame as Arrow IPC) still load.
"""

from __future__ import annotations

import importlib
import json
import pickle
import sys
from dataclasses import dataclass, field
from typing import Any

ARROW_DATAFRAME = "arrow-pandas"
ARROW_TABLE = "arrow-table"
JSON = "json"
PICKLE = "pickle"

#: Buffers from this size up (a 64k-row column, a mask of 64k rows) are written out of band and
#: mapped on read; smaller ones stay in the pickle stream, so a small value is one read.
OUT_OF_BAND_BYTES = 1 << 16
ALIGN = 64
#: Libraries whose pickles are rebuilt by their own code: a version change makes an entry stale.
VERSIONED = ("numpy", "pandas", "pyarrow")


class StaleEntry(Exception):
    """An entry written under other library versions than this process has."""


@dataclass(frozen=True)
class Payload:
    """An encoded value: its kind, the buffers written one after another, header facts."""

    kind: str
    chunks: list[Any]
    layout: dict[str, Any] = field(default_factory=dict)

    @property
    def size(self) -> int:
        """The payload's bytes."""
        return sum(memoryview(chunk).nbytes for chunk in self.chunks)


def encode(value: Any) -> Payload:
    """The payload of ``value``; large buffers are referenced, not copied."""
    module = type(value).__module__
    if module.startswith("pyarrow") and type(value).__name__ == "Table":
        return Payload(ARROW_TABLE, [_arrow_ipc(value)])
    if _is_json(value):
        return Payload(JSON, [json.dumps(value, allow_nan=False).encode()])
    return _pickled(value)


def decode(kind: str, payload: Any, layout: dict[str, Any]) -> Any:
    """Rebuild a value from ``payload`` (a buffer of the entry's payload bytes).

    Args:
        kind: The entry's kind.
        payload: The payload bytes; out-of-band buffers become views of it.
        layout: The entry header's facts (``stream``, ``buffers``, ``versions``).

    Raises:
        StaleEntry: A pickle written under other library versions.
    """
    if kind == PICKLE:
        _check_versions(layout.get("versions", {}))
        view = memoryview(payload)
        buffers = [view[offset: offset + length] for offset, length in layout.get("buffers", ())]
        return pickle.loads(view[: layout.get("stream", view.nbytes)], buffers=buffers)
    if kind == JSON:
        return json.loads(bytes(payload))
    if kind in (ARROW_DATAFRAME, ARROW_TABLE):
        import pyarrow as pa

        table = pa.ipc.open_file(pa.py_buffer(payload)).read_all()
        return table.to_pandas() if kind == ARROW_DATAFRAME else table
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


def _pickled(value: Any) -> Payload:
    buffers: list[memoryview] = []

    def out_of_band(buffer: pickle.PickleBuffer) -> bool:
        try:
            raw = buffer.raw()
        except BufferError:  # not contiguous: pickled in the stream
            return True
        if raw.nbytes < OUT_OF_BAND_BYTES:
            return True
        buffers.append(raw)
        return False

    stream = pickle.dumps(value, protocol=5, buffer_callback=out_of_band)
    versions = {name: sys.modules[name].__version__ for name in VERSIONED if name in sys.modules}
    if not buffers:
        return Payload(PICKLE, [stream], {"versions": versions})
    chunks: list[Any] = [stream]
    placed: list[list[int]] = []
    offset = len(stream)
    for raw in buffers:
        padding = -offset % ALIGN
        if padding:
            chunks.append(b"\0" * padding)
            offset += padding
        chunks.append(raw)
        placed.append([offset, raw.nbytes])
        offset += raw.nbytes
    return Payload(PICKLE, chunks, {"versions": versions, "stream": len(stream),
                                    "buffers": placed})


def _check_versions(recorded: dict[str, str]) -> None:
    for name, version in recorded.items():
        try:
            current = importlib.import_module(name).__version__
        except ImportError:
            current = None
        if current != version:
            raise StaleEntry(f"written under {name} {version}, this process has "
                             f"{name} {current or 'none'}")


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


__all__ = ["ARROW_DATAFRAME", "ARROW_TABLE", "JSON", "PICKLE", "Payload", "StaleEntry", "decode",
           "describe", "encode"]
