"""The local-folder lake: Parquet files and hive-partitioned datasets on disk.

What belongs here: :class:`LocalFiles`, the embedded stand-in for Cloud Storage, with the same
``export``/``load`` behaviour as :class:`jupyter_blocks.io.gcs.GoogleCloudStorage` (one object,
or a partitioned dataset whose written partitions are replaced). Files are written to a temporary
name and renamed, so a reader never sees half a file.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jupyter_blocks.core.files import is_temporary, write_atomic
from jupyter_blocks.io import partitioned
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

    def delete(self, paths: Sequence[str]) -> None:
        for path in paths:
            (self.root / path).unlink(missing_ok=True)


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
    ) -> list[Path]:
        """Write ``df`` to one Parquet file, or a hive-partitioned dataset with ``partition_cols``.

        Re-exporting partitions replaces their files; other partitions are kept.

        Returns:
            The files written.
        """
        store, key = self._split(path)
        table = arrow_table(df)
        if partition_cols:
            keys = partitioned.write_dataset(store, key, table, partition_cols, max_workers)
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

    def load(self, path: str | Path) -> pd.DataFrame:
        """Read one file or a (partitioned) dataset folder back into a DataFrame."""
        store, key = self._split(path)
        try:
            table = partitioned.read_path(store, key)
        except FileNotFoundError:
            raise FileNotFoundError(f"lake: nothing at {store.root / key}") from None
        return table.to_pandas()
