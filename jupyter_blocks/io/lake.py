"""The local-folder lake: Parquet files and hive-partitioned datasets on disk.

What belongs here: :class:`LocalFiles`, the embedded stand-in for Cloud Storage, with the same
``export``/``load`` behaviour as :class:`jupyter_blocks.io.google.gcs.GoogleCloudStorage`: one
file, or a partitioned dataset exported in one of the modes of ``partitioned`` (the whole dataset
replaced by default). One file is written to a temporary name and renamed; a dataset's new
version is built beside it and swapped in whole (``folders``), so a reader sees the old version
or the new one, and a failed export leaves the old one as it was.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jupyter_blocks.core.files import is_temporary, write_atomic
from jupyter_blocks.io import folders, partitioned
from jupyter_blocks.io.config import Profile
from jupyter_blocks.io.connector import Connector, arrow_table

if TYPE_CHECKING:
    import pandas as pd

logger = logging.getLogger(__name__)


class _FolderStore:
    """:class:`partitioned.ObjectStore` over a folder; keys are paths relative to it."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def put(self, path: str, data: bytes) -> None:
        write_atomic(self.root / path, data)

    def get(self, path: str) -> bytes:
        return (self.root / path).read_bytes()

    def list(self, prefix: str) -> list[str]:
        base = self.root / prefix
        found = [prefix] if not prefix.endswith("/") and base.is_file() else []
        if base.is_dir():
            found += sorted(
                path.relative_to(self.root).as_posix()
                for path in base.rglob("*")
                if path.is_file() and not is_temporary(path.name)
            )
        return found



class _PinnedDataset:
    """:class:`partitioned.ObjectStore` over one version of a dataset folder (``folders.pinned``).

    Keys are ``<name>/<path in the dataset>``; files are opened relative to the folder's handle.
    """

    def __init__(self, name: str, handle: int) -> None:
        self.name = name
        self.handle = handle

    def get(self, path: str) -> bytes:
        relative = path[len(self.name) + 1 :]
        descriptor = os.open(relative, os.O_RDONLY, dir_fd=self.handle)
        with os.fdopen(descriptor, "rb") as stream:
            return stream.read()

    def list(self, prefix: str) -> list[str]:
        found = []
        for folder, _, names, _ in os.fwalk(".", dir_fd=self.handle):
            for name in names:
                if not is_temporary(name):
                    relative = os.path.normpath(os.path.join(folder, name))
                    found.append(f"{self.name}/{Path(relative).as_posix()}")
        return sorted(key for key in found if key.startswith(prefix))


class LocalFiles(Connector):
    """A folder used as the lake: ``export`` frames as Parquet, ``load`` them back.

    Paths are relative to ``root`` (the profile's ``LAKE_PATH``) unless absolute.
    """

    def __init__(self, root: Path | str = "lake", *, profile_name: str | None = None) -> None:
        self.root = Path(root)
        self.profile_name = profile_name

    @classmethod
    def from_profile(cls, profile: Profile) -> LocalFiles:
        """Build from the profile's ``LAKE_PATH`` (default: ``lake`` next to the profile file)."""
        return cls(profile.LAKE_PATH or profile.beside("lake"), profile_name=profile.name)

    def __repr__(self) -> str:
        return f"LocalFiles(root={str(self.root)!r})"

    def _split(self, path: str | Path) -> tuple[_FolderStore, str]:
        location = Path(path)
        if location.is_absolute():
            return _FolderStore(location.parent), location.name
        return _FolderStore(self.root), location.as_posix()

    def export(
        self,
        df: pd.DataFrame | Any,
        path: str | Path,
        partition_cols: Sequence[str] | None = None,
        max_workers: int = partitioned.DEFAULT_WORKERS,
        mode: str = partitioned.DEFAULT_MODE,
    ) -> list[Path]:
        """Write ``df`` to one Parquet file, or a hive-partitioned dataset with ``partition_cols``.

        Args:
            df: A pandas DataFrame or an Arrow table.
            path: The file (``.csv`` writes CSV) or the dataset's folder, relative to the root.
            partition_cols: Columns to partition by.
            max_workers: Partition files encoded and written at once.
            mode: For a dataset: ``replace`` (the dataset becomes ``df``),
                ``replace_partitions`` (the partitions ``df`` has rows for are replaced, the
                others kept) or ``append``. The new version replaces the old one whole.

        Returns:
            The files written.
        """
        checked = partitioned.check_mode(mode, bool(partition_cols))
        store, key = self._split(path)
        table = arrow_table(df)
        if partition_cols:
            keys = self._export_dataset(store.root / key, table, partition_cols, checked,
                                        max_workers)
            keys = [f"{key}/{written}" for written in keys]
        else:
            store.put(key, partitioned.to_bytes(table, key))
            keys = [key]
        logger.info(
            "lake: wrote %d rows to %d file(s) under %s",
            table.num_rows,
            len(keys),
            store.root / key,
        )
        return [store.root / written for written in keys]

    @staticmethod
    def _export_dataset(target: Path, table: Any, partition_cols: Sequence[str],
                        mode: partitioned.PartitionMode, max_workers: int) -> list[str]:
        """Make the dataset's new version beside it and swap it in; the files written."""
        written: list[str] = []

        def build(staging: Path, current: Path | None) -> None:
            existing = _files(current) if current is not None else []
            plan = partitioned.plan_dataset(existing, table, partition_cols, mode)
            for kept in plan.keep:
                assert current is not None
                folders.link(current / kept, staging / kept)

            def write(item: tuple[str, Any]) -> str:
                name, indices = item
                destination = staging / name
                destination.parent.mkdir(parents=True, exist_ok=True)
                destination.write_bytes(plan.encode(name, indices))
                return name

            written.extend(partitioned.run_concurrently(write, plan.write, max_workers))

        folders.replace_folder(target, build)
        return written

    def load(self, path: str | Path) -> pd.DataFrame:
        """Read one file or a (partitioned) dataset folder back into a DataFrame.

        A dataset is read from one version of it, whatever exports replace it meanwhile.
        """
        return read_table(self._location(path)).to_pandas()

    def _location(self, path: str | Path) -> Path:
        location = Path(path)
        return location if location.is_absolute() else self.root / location


def read_table(location: Path, attempts: int = 5) -> Any:
    """One file or one version of a dataset folder as an Arrow table.

    Raises:
        FileNotFoundError: Nothing at ``location``.
    """
    if not os.path.lexists(location):
        folders.recover(location)  # an export stopped half way through its swap
    if not location.is_dir():
        if not location.is_file():
            raise FileNotFoundError(f"lake: nothing at {location}")
        return partitioned.read_path(_FolderStore(location.parent), location.name)
    for attempt in range(1, attempts + 1):
        try:
            with folders.pinned(location) as handle:
                if handle is None:
                    return partitioned.read_path(_FolderStore(location.parent), location.name)
                return partitioned.read_path(_PinnedDataset(location.name, handle),
                                             location.name)
        except FileNotFoundError:
            # The version opened was replaced and removed under the reader: read the new one.
            if attempt == attempts or not location.is_dir():
                raise FileNotFoundError(f"lake: nothing at {location}") from None
    raise AssertionError("unreachable")


def _files(folder: Path) -> list[str]:
    """The files of a dataset folder, relative to it (temporary files left out)."""
    return sorted(path.relative_to(folder).as_posix() for path in folder.rglob("*")
                  if path.is_file() and not is_temporary(path.name))
