"""A partitioned dataset on Cloud Storage replaced as one change, and read as one version.

What belongs here: :func:`export_dataset` and :func:`read_dataset`, over a bucket store
(``gcs._BucketStore``). Cloud Storage changes one object at a time, so a new version is made
in three steps, and a commit record makes the second one the point of no return:

1. The new files are uploaded under a staging prefix beside the dataset, hidden by its name
   (``.green_taxi.<machine>-<pid>.<n>.tmp/``): nothing under the dataset's prefix changes, so a
   failed or killed upload leaves every reader the old version. The next export removes what
   a gone writer left there (``core.files.left_by_gone``).
2. ``_commit.json`` is written under the staging prefix: the files the new version copies in
   and those it drops (the modes are ``partitioned``'s).
3. Each staged file is copied into place (a copy inside the bucket is done by the service),
   dropped files are deleted, then the staging prefix. An export that finds a committed staging
   prefix (its writer stopped part way) finishes it first.

A reader (:func:`read_dataset`) lists the dataset and the commit records beside it, reads, and
lists again: a listing that changed meanwhile (object generations change on every write) means
an export was replacing files, and the read starts again. Where a commit record stands, the
version it commits is read, its new files from the staging prefix. Readers that list the prefix
themselves (BigQuery loading ``gs://.../green_taxi/*``) see the new version once step 3 is done,
which is when ``export`` returns.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

from jupyter_blocks.core.errors import ConnectorError
from jupyter_blocks.core.files import TEMPORARY_SUFFIX, left_by_gone, temporary_name
from jupyter_blocks.io import partitioned

if TYPE_CHECKING:
    import pyarrow as pa

logger = logging.getLogger(__name__)

COMMIT = "_commit.json"

#: Reads of a dataset that exports keep changing before one gives up.
READ_ATTEMPTS = 8


class DatasetStore(Protocol):
    """The object operations a dataset needs (``gcs._BucketStore``)."""

    def put(self, path: str, data: bytes) -> None:
        """Write one object."""

    def get(self, path: str) -> bytes:
        """Read one object."""

    def list(self, prefix: str) -> list[str]:
        """The names under ``prefix``."""

    def listing(self, prefix: str) -> dict[str, tuple[int, float]]:
        """The objects under ``prefix``: ``{name: (generation, updated as a timestamp)}``."""

    def copy(self, source: str, destination: str) -> None:
        """Copy one object inside the bucket."""

    def delete(self, paths: Sequence[str]) -> None:
        """Delete objects (those already gone are no error)."""


def export_dataset(store: DatasetStore, key: str, table: pa.Table,
                   partition_cols: Sequence[str], mode: partitioned.PartitionMode,
                   max_workers: int) -> list[str]:
    """Replace the dataset under ``key`` with its new version for ``mode``; the keys written."""
    key = key.rstrip("/")
    finish_or_remove_leftovers(store, key)
    current = sorted(name[len(key) + 1:] for name in store.list(key + "/"))
    plan = partitioned.plan_dataset(current, table, partition_cols, mode)
    staging = _beside(key, temporary_name(_name(key)))
    try:
        partitioned.run_concurrently(
            lambda item: store.put(f"{staging}/{item[0]}", plan.encode(*item)), plan.write,
            max_workers)
    except BaseException:
        store.delete([name for name in store.list(staging + "/")])
        raise
    commit = {"dataset": key, "copy": [name for name, _ in plan.write], "drop": plan.drop}
    store.put(f"{staging}/{COMMIT}", json.dumps(commit).encode())
    _apply(store, key, staging, commit, max_workers)
    return [f"{key}/{name}" for name in commit["copy"]]


def finish_or_remove_leftovers(store: DatasetStore, key: str) -> None:
    """Finish the committed exports of ``key`` a writer left, remove its gone writers' uploads."""
    now = dt.datetime.now(dt.timezone.utc).timestamp()
    for staging, objects in _stagings(store, key).items():
        if f"{staging}/{COMMIT}" in objects:
            commit = json.loads(store.get(f"{staging}/{COMMIT}"))
            logger.warning("gcs: finishing the export of %s a stopped writer committed", key)
            _apply(store, key, staging, commit, partitioned.DEFAULT_WORKERS)
        elif left_by_gone(staging.rsplit("/", 1)[-1], now - max(t for _, t in objects.values())):
            store.delete(sorted(objects))


def _apply(store: DatasetStore, key: str, staging: str, commit: dict[str, Any],
           max_workers: int) -> None:
    """Step 3: copy the staged files in, delete the dropped ones, remove the staging prefix."""
    partitioned.run_concurrently(
        lambda name: store.copy(f"{staging}/{name}", f"{key}/{name}"), commit["copy"],
        max_workers)
    store.delete([f"{key}/{name}" for name in commit["drop"]])
    store.delete([f"{staging}/{name}" for name in commit["copy"]])
    store.delete([f"{staging}/{COMMIT}"])


def read_dataset(store: DatasetStore, key: str) -> pa.Table:
    """One version of the dataset (or the one object) under ``key``.

    Reads are tried again, waiting longer each time (about 12 s in all), while exports change
    the dataset under them.

    Raises:
        FileNotFoundError: Nothing under ``key``.
        ConnectorError: Exports kept changing it through :data:`READ_ATTEMPTS` reads.
    """
    key = key.rstrip("/")
    for attempt in range(READ_ATTEMPTS):
        if attempt:
            time.sleep(min(0.05 * 2**attempt, 2.0))  # let the swap under way finish
        before = _state(store, key)
        try:
            table = partitioned.read_path(_View(store, key, before), key)
        except FileNotFoundError:
            if not before[0] and not before[1]:
                raise  # nothing there
            continue  # a file went while it was read: an export replaced it
        if _state(store, key) == before:
            return table
    raise ConnectorError(f"gcs: gs://.../{key} kept changing while it was read "
                         f"({READ_ATTEMPTS} times): exports are replacing it")


def _state(store: DatasetStore, key: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The dataset's objects (and the object ``key`` itself), and its commit records.

    Uploads to a staging prefix are no part of it: until their commit they change no version.
    """
    objects = {name: version for name, version in store.listing(key).items()
               if name == key or name.startswith(key + "/")}
    return objects, {name: version for staged in _stagings(store, key).values()
                     for name, version in staged.items() if name.endswith("/" + COMMIT)}


class _View:
    """The version a reader reads: the dataset, or the one a standing commit record commits."""

    def __init__(self, store: DatasetStore, key: str,
                 state: tuple[dict[str, Any], dict[str, Any]]) -> None:
        self.store = store
        self.sources = {name: name for name in state[0]}
        commits = sorted((version[1], name) for name, version in state[1].items()
                         if name.endswith("/" + COMMIT))
        if commits:
            staging = commits[-1][1][: -len(COMMIT) - 1]
            commit = json.loads(store.get(commits[-1][1]))
            for name in commit["drop"]:
                self.sources.pop(f"{key}/{name}", None)
            for name in commit["copy"]:
                self.sources[f"{key}/{name}"] = f"{staging}/{name}"

    def get(self, path: str) -> bytes:
        return self.store.get(self.sources[path])

    def list(self, prefix: str) -> list[str]:
        return sorted(name for name in self.sources if name.startswith(prefix))


def _stagings(store: DatasetStore, key: str) -> dict[str, dict[str, tuple[int, float]]]:
    """The staging prefixes of ``key``'s exports, each with its objects."""
    found: dict[str, dict[str, tuple[int, float]]] = {}
    start = _beside(key, f".{_name(key)[:40]}.")
    for name, version in store.listing(start).items():
        head, slash, _ = name[len(start):].partition("/")
        staging = start + head
        if slash and staging.endswith(TEMPORARY_SUFFIX):
            found.setdefault(staging, {})[name] = version
    return found


def _name(key: str) -> str:
    return key.rsplit("/", 1)[-1]


def _beside(key: str, name: str) -> str:
    parent = key.rsplit("/", 1)[0] if "/" in key else ""
    return f"{parent}/{name}" if parent else name
