"""Where a folder's profiles are: the nearest ``io_config.yaml`` at or above it.

What belongs here: finding the file, which needs neither YAML nor the profile models, so callers
that only need to know whether there is one (secret hiding, before every run) stay light.
Reading and validating its profiles is ``config``'s.
"""

from __future__ import annotations

from pathlib import Path

CONFIG_FILE_NAME = "io_config.yaml"


def find_config(directory: Path | str | None = None) -> Path | None:
    """Find ``io_config.yaml`` in ``directory`` or the nearest folder above it.

    Args:
        directory: Where to start (a project or notebook folder); the working folder when None.

    Returns:
        The file's path, or None when no folder up to the root holds one.
    """
    start = Path(directory) if directory is not None else Path.cwd()
    start = start.resolve()
    if start.is_file():
        start = start.parent
    for folder in (start, *start.parents):
        candidate = folder / CONFIG_FILE_NAME
        if candidate.is_file():
            return candidate
    return None
