"""Parquet objects and hive-partitioned datasets on an object store (GCS or a local folder).

What belongs here: the storage-independent part of the lake connectors: splitting a table into
``col=value/`` partitions, the export modes (:data:`PARTITION_MODES`) and the new version of a
dataset each one makes (:func:`plan_dataset`), running work concurrently, and reading an object
or a dataset back from a store with ``get`` and ``list`` (see :class:`ObjectStore`). How a new
version replaces the old one whole is each store's own (``lake``, ``google.gcs_dataset``).

The modes, for a dataset that exists (Spark's names in brackets):

- ``replace`` (the default; static overwrite): the dataset becomes the frame; partitions the
  frame has no rows for are gone.
- ``replace_partitions`` (dynamic overwrite): the partitions the frame has rows for are
  replaced; the others are kept.
- ``append``: the frame's files are added beside the existing ones.

A partition folder gets one file per export, ``part-0000.parquet`` (appends: the next free
number), and a replaced partition loses every other file, so files never pile up. Partition
values are written URI-encoded as Hive and pyarrow do, nulls as ``__HIVE_DEFAULT_PARTITION__``.
Reading infers the partition columns' types as BigQuery's ``AUTO`` mode does: integers, then
dates, else strings.
"""

from __future__ import annotations

import datetime as dt
import io
import re
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypeVar, get_args
from urllib.parse import quote, unquote

from jupyter_blocks.core.errors import ConfigError, did_you_mean

if TYPE_CHECKING:
    import pyarrow as pa

PartitionMode = Literal["replace", "replace_partitions", "append"]
PARTITION_MODES: tuple[str, ...] = get_args(PartitionMode)
DEFAULT_MODE: PartitionMode = "replace"

NULL_PARTITION = "__HIVE_DEFAULT_PARTITION__"
DEFAULT_WORKERS = 8
_INTEGER = re.compile(r"-?[0-9]+")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")

_T = TypeVar("_T")
_R = TypeVar("_R")


class ObjectStore(Protocol):
    """What reading a dataset needs; paths are ``/``-separated keys."""

    def get(self, path: str) -> bytes:
        """Read one object."""

    def list(self, prefix: str) -> list[str]:
        """List every object whose key starts with ``prefix``."""


def check_mode(mode: str, partitioned: bool = True) -> PartitionMode:
    """Validate an export ``mode``; one file (no ``partition_cols``) can only be replaced."""
    if mode not in PARTITION_MODES:
        raise ConfigError(f"mode: expected one of {', '.join(PARTITION_MODES)}, got {mode!r}"
                          f"{did_you_mean(str(mode), PARTITION_MODES)}")
    if not partitioned and mode != "replace":
        raise ConfigError(f"mode {mode!r}: a single file is always replaced; "
                          "give partition_cols to export a partitioned dataset")
    return mode  # type: ignore[return-value]


@dataclass(frozen=True)
class DatasetPlan:
    """The new version of a dataset an export makes; paths are relative to the dataset.

    Attributes:
        write: The new files, each with the indices of its rows in ``data``.
        keep: Files of the old version the new one keeps.
        drop: Files of the old version the new one does not have (nor writes again).
        data: The frame without its partition columns.
    """

    write: list[tuple[str, Any]]
    keep: list[str]
    drop: list[str]
    data: pa.Table

    def encode(self, path: str, indices: Any) -> bytes:
        """The bytes of the new file ``path``."""
        import pyarrow as pa

        return to_bytes(self.data.take(pa.array(indices)), path)


def plan_dataset(existing: Iterable[str], table: pa.Table, partition_cols: Sequence[str],
                 mode: PartitionMode) -> DatasetPlan:
    """What the new version of a dataset holding ``existing`` files is, for ``mode``."""
    groups = split_partitions(table, partition_cols)
    current = sorted(existing)
    written_folders = {f"{folder}/" for folder, _ in groups}
    if mode == "replace":
        keep: list[str] = []
    elif mode == "replace_partitions":
        keep = [path for path in current if _folder_of(path) not in written_folders]
    else:
        keep = list(current)
    taken = set(keep)
    write = []
    for folder, indices in groups:
        number = 0
        while f"{folder}/part-{number:04d}.parquet" in taken:
            number += 1
        name = f"{folder}/part-{number:04d}.parquet"
        taken.add(name)
        write.append((name, indices))
    written = {name for name, _ in write}
    drop = [path for path in current if path not in taken and path not in written]
    data_columns = [name for name in table.column_names if name not in partition_cols]
    return DatasetPlan(write, keep, drop, table.select(data_columns))


def to_bytes(table: pa.Table, path: str) -> bytes:
    """Encode ``table`` as Parquet, or as CSV when ``path`` ends with ``.csv``."""
    import pyarrow as pa

    sink = pa.BufferOutputStream()
    if path.endswith(".csv"):
        import pyarrow.csv as csv

        csv.write_csv(table, sink)
    else:
        import pyarrow.parquet as pq

        pq.write_table(table, sink)
    return bytes(sink.getvalue())


def from_bytes(data: bytes, path: str) -> pa.Table:
    """Decode one Parquet (or ``.csv``) object."""
    import pyarrow as pa

    if path.endswith(".csv"):
        import pyarrow.csv as csv

        return csv.read_csv(pa.BufferReader(data))
    import pyarrow.parquet as pq

    return pq.read_table(io.BytesIO(data))


def partition_value(value: Any) -> str:
    """Encode one partition value as a path segment."""
    if value is None or value != value:  # None, NaN, NaT
        return NULL_PARTITION
    if isinstance(value, dt.datetime):
        text = value.isoformat(sep=" ")
    elif isinstance(value, dt.date):
        text = value.isoformat()
    elif hasattr(value, "isoformat"):
        text = str(value.isoformat())
    else:
        text = str(value)
    return quote(text, safe="")


def split_partitions(table: pa.Table, partition_cols: Sequence[str]) -> list[tuple[str, Any]]:
    """Group rows by ``partition_cols``: ``[(relative folder, row indices)]``."""
    missing = [name for name in partition_cols if name not in table.column_names]
    if missing:
        raise ConfigError(f"partition_cols: no column {', '.join(map(repr, missing))} in the frame")
    if len(partition_cols) == len(table.column_names):
        raise ConfigError("partition_cols: at least one column must stay in the files")
    keys = table.select(list(partition_cols)).to_pandas()
    groups = keys.groupby(list(partition_cols), dropna=False, sort=True).indices
    result = []
    for key, indices in groups.items():
        values = key if isinstance(key, tuple) else (key,)
        folder = "/".join(
            f"{quote(name, safe='')}={partition_value(value)}"
            for name, value in zip(partition_cols, values, strict=True)
        )
        result.append((folder, indices))
    return result


def read_path(store: ObjectStore, path: str, max_workers: int = DEFAULT_WORKERS) -> pa.Table:
    """Read one object, or every Parquet file of a (partitioned) dataset under ``path``."""
    import pyarrow as pa

    path = path.rstrip("/")
    keys = store.list(path)
    if path in keys:
        return from_bytes(store.get(path), path)
    files = sorted(key for key in keys if key.startswith(path + "/") and key.endswith(".parquet"))
    if not files:
        raise FileNotFoundError(path)
    tables = run_concurrently(lambda key: from_bytes(store.get(key), key), files, max_workers)
    partitions = [_partition_keys(key[len(path) + 1 :]) for key in files]
    names = list(dict.fromkeys(name for keys_ in partitions for name, _ in keys_))
    types = {name: _infer_type([dict(keys_).get(name) for keys_ in partitions]) for name in names}
    pieces = []
    for table, keys_ in zip(tables, partitions, strict=True):
        values = dict(keys_)
        for name in names:
            if name not in table.column_names:
                array = pa.array(
                    [_convert(values.get(name), types[name])] * table.num_rows, type=types[name]
                )
                table = table.append_column(name, array)
        pieces.append(table)
    return pa.concat_tables(pieces, promote_options="default")


def run_concurrently(
    function: Callable[[_T], _R], items: Iterable[_T], max_workers: int
) -> list[_R]:
    """Map ``function`` over ``items`` in threads, in order; the first failure is raised."""
    items = list(items)
    if len(items) <= 1 or max_workers <= 1:
        return [function(item) for item in items]
    with ThreadPoolExecutor(max_workers=min(max_workers, len(items))) as pool:
        return list(pool.map(function, items))


def _folder_of(key: str) -> str:
    return key.rsplit("/", 1)[0] + "/"


def _partition_keys(relative: str) -> list[tuple[str, str | None]]:
    keys = []
    for segment in relative.split("/")[:-1]:
        if "=" in segment:
            name, _, value = segment.partition("=")
            decoded = unquote(value)
            keys.append((unquote(name), None if decoded == NULL_PARTITION else decoded))
    return keys


def _infer_type(values: list[str | None]) -> pa.DataType:
    import pyarrow as pa

    present = [value for value in values if value is not None]
    if present and all(_INTEGER.fullmatch(value) for value in present):
        return pa.int64()
    if present and all(_DATE.fullmatch(value) for value in present):
        return pa.date32()
    return pa.string()


def _convert(value: str | None, arrow_type: pa.DataType) -> Any:
    import pyarrow as pa

    if value is None:
        return None
    if arrow_type == pa.int64():
        return int(value)
    if arrow_type == pa.date32():
        return dt.date.fromisoformat(value)
    return value
