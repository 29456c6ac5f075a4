"""Papermill mode: run a notebook in a real kernel and write the executed notebook.

What belongs here: ``jupyter-blocks run NOTEBOOK --output OUT.ipynb``. Papermill injects the
parameters after the ``parameters`` cell and runs every cell, so ``%%block`` cells run through
the kernel session exactly as in JupyterLab (same cache beside the notebook); a failing block is
marked in the output notebook the papermill way and is exit code 1 here.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from jupyter_blocks.core.errors import BlockFailed, ConfigError
from jupyter_blocks.project.notebook import NOTEBOOK_ENV

#: The kernel's own start-up notices (its transport, say) are not the run's business.
_KERNEL_ARGUMENTS = ["--IPKernelApp.log_level=ERROR"]

#: Papermill's notices that are wrong or moot here: it cannot parse a parameters line whose
#: comment holds ``=`` (ours can), the variables are checked against what the blocks read
#: before any cell runs, and the extension's comm has no frontend to open in.
_MOOT = ("Unable to parse line", "Passed unknown parameter", "No handler found for comm target")


class _Moot(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(_MOOT)


@contextmanager
def _quiet_papermill() -> Iterator[None]:
    loggers = [logging.getLogger(name) for name in ("papermill", "papermill.translators")]
    moot = _Moot()
    for logger in loggers:
        logger.addFilter(moot)
    try:
        yield
    finally:
        for logger in loggers:
            logger.removeFilter(moot)


def run_in_kernel(notebook: str | Path, output: str | Path, parameters: Mapping[str, Any],
                  *, kernel_name: str | None = None, progress: bool = False) -> Path:
    """Execute ``notebook`` with papermill, in its folder, and write ``output``.

    Raises:
        ConfigError: The notebook cannot be read.
        BlockFailed: A cell failed; the output notebook is still written.
    """
    import papermill
    from papermill.exceptions import PapermillExecutionError

    source = Path(notebook)
    if not source.is_file():
        raise ConfigError(f"notebook {source} does not exist")
    values = {k: (v.isoformat() if hasattr(v, "isoformat") else v)
              for k, v in parameters.items()}
    if kernel_name is None and not _names_a_kernel(source):
        kernel_name = "python3"  # a notebook written by a tool, without a kernelspec
    previous = os.environ.get(NOTEBOOK_ENV)
    os.environ[NOTEBOOK_ENV] = str(source.resolve())
    try:
        with _quiet_papermill():
            papermill.execute_notebook(str(source), str(output), parameters=values,
                                       cwd=str(source.resolve().parent), kernel_name=kernel_name,
                                       progress_bar=progress, log_output=False,
                                       extra_arguments=_KERNEL_ARGUMENTS)
    except PapermillExecutionError as exc:
        raise BlockFailed(f"cell {exc.exec_count or exc.cell_index} failed: "
                               f"{exc.ename}: {exc.evalue.splitlines()[0] if exc.evalue else ''}"
                               f" (see {output})") from None
    finally:
        if previous is None:
            os.environ.pop(NOTEBOOK_ENV, None)
        else:
            os.environ[NOTEBOOK_ENV] = previous
    return Path(output)


def _names_a_kernel(notebook: Path) -> bool:
    import json

    try:
        metadata = json.loads(notebook.read_text(encoding="utf-8")).get("metadata") or {}
    except (OSError, ValueError, AttributeError) as exc:
        raise ConfigError(f"notebook {notebook} cannot be read: {exc}") from None
    return bool((metadata.get("kernelspec") or {}).get("name"))
