"""A notebook's ``parameters`` cell as values: the defaults of its pipeline's variables.

What belongs here: running the parameters cell on its own (magics blanked out), for the
exporter's ``variables:`` and for headless runs, and writing variables back as a cell on import.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from jupyter_blocks.errors import ConfigError
from jupyter_blocks.project.notebook import NotebookPipeline
from jupyter_blocks.project.notebook import _without_magics as without_magics


def parameter_values(notebook: NotebookPipeline) -> dict[str, Any]:
    """Run the ``parameters`` cell alone and return the values of the names it assigns."""
    cell = notebook.parameters
    if cell is None:
        return {}
    namespace: dict[str, Any] = {}
    try:
        exec(compile(without_magics(cell.source), f"<{cell.label} (parameters)>", "exec"),
             namespace)
    except Exception as exc:
        raise ConfigError(f"{cell.label} (parameters) cannot run on its own: "
                          f"{type(exc).__name__}: {exc}; keep it to literal defaults") from None
    return {name: namespace[name] for name in notebook.parameter_names() if name in namespace}


def parameters_source(variables: Mapping[str, Any]) -> str:
    """A parameters cell assigning ``variables`` (values written as Python literals)."""
    return "\n".join(f"{name} = {value!r}" for name, value in variables.items())
