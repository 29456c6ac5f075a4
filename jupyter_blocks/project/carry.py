"""What an export carries beside the blocks: the notebook's ``io_config.yaml`` and its data files.

What belongs here: the ``io_config.yaml`` an export writes (the notebook's own, found as a run
finds it, else the package's template) with Mage's ``DUCKDB_DATABASE`` added beside each
``DUCKDB_PATH`` (Mage reads only the former, relative to its working folder, so the added value
is absolute through ``{{ env_var('MAGE_REPO_PATH') }}``, the project folder ``mage run`` sets and
our profiles read as the profile file's folder); and the files a pipeline's variable defaults
name by a path relative to the notebook (``data/green_tripdata_{month}.csv.gz``, a ``{...}``
part matching anything), copied to the same place in the project, so the blocks find them
whichever runner runs the project and from whatever working folder.
"""

from __future__ import annotations

import glob
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

CONFIG_FILE_NAME = "io_config.yaml"
#: Files above this size are not copied into a project (the export says so).
MAX_CARRIED_BYTES = 100 * 1024 * 1024
_MAGE_DATABASE = "DUCKDB_DATABASE"
_REPO = "{{ env_var('MAGE_REPO_PATH') }}"
_PATTERN = re.compile(r"\{[^{}]*\}")


@dataclass(frozen=True)
class Carried:
    """A file copied into the project: where from, where to, and the variable naming it."""

    source: Path
    relative: str
    variable: str


def io_config_text(notebook_directory: Path) -> tuple[str, Path | None, list[str]]:
    """The ``io_config.yaml`` an export writes, the file it came from, and notes.

    Returns:
        The text (the notebook's profiles, with ``DUCKDB_DATABASE`` added where Mage needs
        it), the notebook's ``io_config.yaml`` (None: the package's template), and one note per
        profile the text could not be given ``DUCKDB_DATABASE`` in.
    """
    found = _find_config(notebook_directory)
    if found is None:
        text = resources.files("jupyter_blocks.io").joinpath(
            "templates/io_config.yaml").read_text(encoding="utf-8")
    else:
        text = found.read_text(encoding="utf-8")
    text, _, notes = with_mage_database(text)
    return text, found, notes


def _find_config(directory: Path) -> Path | None:
    """The ``io_config.yaml`` a run of the notebook reads: in its folder or the nearest above."""
    start = directory.resolve()
    for folder in (start, *start.parents):
        if (folder / CONFIG_FILE_NAME).is_file():
            return folder / CONFIG_FILE_NAME
    return None


def with_mage_database(text: str, also: Iterable[str] = ()
                       ) -> tuple[str, list[str], list[str]]:
    """``text`` with ``DUCKDB_DATABASE`` next to each profile's ``DUCKDB_PATH``.

    Args:
        text: An ``io_config.yaml``.
        also: Profiles that need ``DUCKDB_DATABASE`` even without ``DUCKDB_PATH`` (a SQL block
            runs on them); they get ``warehouse.duckdb`` in the project.

    Returns:
        The text, the profiles given ``DUCKDB_DATABASE``, and notes on those it could not be
        given to (the text is then returned unchanged).
    """
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError:
        return text, [], []
    if not isinstance(document, Mapping):
        return text, [], []
    wanted: dict[str, str] = {}
    for name, profile in document.items():
        if name == "version" or not isinstance(profile, Mapping) or _MAGE_DATABASE in profile:
            continue
        if profile.get("DUCKDB_PATH"):
            wanted[str(name)] = _mage_path(str(profile["DUCKDB_PATH"]))
        elif name in set(also):
            wanted[str(name)] = _mage_path("warehouse.duckdb")
    lines = text.splitlines(keepends=True)
    for name, value in wanted.items():
        lines = _insert(lines, name, f'{_MAGE_DATABASE}: "{value}"')
    edited = "".join(lines)
    try:
        after = yaml.safe_load(edited)
    except yaml.YAMLError:
        return text, [], [f"io_config.yaml: could not add {_MAGE_DATABASE} for Mage's SQL "
                          "blocks"]
    notes = [f"io_config.yaml: profile `{name}` has no {_MAGE_DATABASE}, which Mage's SQL "
             f"blocks need: add `{_MAGE_DATABASE}: \"{wanted[name]}\"` to it"
             for name in wanted if not isinstance(after.get(name), Mapping)
             or _MAGE_DATABASE not in after[name]]
    if notes:
        return text, [], notes
    return edited, list(wanted), []


def _mage_path(path: str) -> str:
    if "{{" in path or Path(path).is_absolute():
        return path
    return f"{_REPO}/{path}"


def _insert(lines: list[str], profile: str, entry: str) -> list[str]:
    """Insert ``entry`` into ``profile``'s block: after its ``DUCKDB_PATH``, else first."""
    header = re.compile(rf"^(['\"]?){re.escape(profile)}\1\s*:\s*(#.*)?$")
    start = next((i for i, line in enumerate(lines) if header.match(line.rstrip("\n"))), None)
    if start is None:
        return lines
    end = next((i for i in range(start + 1, len(lines))
                if lines[i].strip() and not lines[i][0].isspace()
                and not lines[i].lstrip().startswith("#")), len(lines))
    indent, after = None, None
    for index in range(start + 1, end):
        match = re.match(r"^(\s+)([A-Za-z_][\w-]*)\s*:", lines[index])
        if match is None:
            continue
        indent = indent or match.group(1)
        if match.group(2) == "DUCKDB_PATH":
            after = index
    if indent is None:
        return lines
    position = (after if after is not None else start) + 1
    return [*lines[:position], f"{indent}{entry}\n", *lines[position:]]


def carried_files(defaults: Mapping[str, Any], directory: Path) -> tuple[list[Carried], list[str]]:
    """The files the variable defaults name relative to ``directory``, and notes on big ones."""
    carried: list[Carried] = []
    notes: list[str] = []
    seen: set[str] = set()
    root = directory.resolve()
    for variable, value in defaults.items():
        for text in _texts(value):
            for path in _matches(text, root):
                relative = path.relative_to(root).as_posix()
                if relative in seen or relative == CONFIG_FILE_NAME:
                    continue
                seen.add(relative)
                if path.stat().st_size > MAX_CARRIED_BYTES:
                    notes.append(f"variable `{variable}`: {relative} is over "
                                 f"{MAX_CARRIED_BYTES // 2**20} MiB and was not copied into "
                                 "the project; copy it there, or use an absolute path or URL")
                    continue
                carried.append(Carried(path, relative, variable))
    return carried, notes


def _texts(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list | tuple):
        return [item for item in value if isinstance(item, str)]
    return []


def _matches(text: str, root: Path) -> list[Path]:
    if not text or "://" in text or "\n" in text or Path(text).is_absolute():
        return []
    pattern = _PATTERN.sub("*", text)
    found: list[Path] = []
    for match in sorted(glob.glob(str(root / pattern))):
        path = Path(match).resolve()
        if not path.is_relative_to(root):
            continue
        if path.is_file():  # not folders: one named by a variable is often an output
            found.append(path)
    return found
