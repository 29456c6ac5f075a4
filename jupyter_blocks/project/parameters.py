"""A notebook's ``parameters`` cell as values: the defaults of its pipeline's variables.

What belongs here: running the parameters cell on its own (magics blanked out), for the
exporter's ``variables:`` and for headless runs, and writing variables back as a cell on import.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from jupyter_blocks.core.body import without_magics
from jupyter_blocks.core.errors import ConfigError
from jupyter_blocks.core.pipeline import Pipeline


def parameter_values(pipeline: Pipeline) -> dict[str, Any]:
    """Run the ``parameters`` cell alone and return the values of the names it assigns."""
    cell = pipeline.parameters_cell
    if cell is None:
        return {}
    namespace: dict[str, Any] = {}
    try:
        exec(compile(without_magics(cell.source), f"<{cell.label} (parameters)>", "exec"),
             namespace)
    except Exception as exc:
        raise ConfigError(f"{cell.label} (parameters) cannot run on its own: "
                          f"{type(exc).__name__}: {exc}; keep it to literal defaults") from None
    return {name: namespace[name] for name in pipeline.parameter_names if name in namespace}


def parameters_source(variables: Mapping[str, Any]) -> str:
    """A parameters cell assigning ``variables`` (values written as Python literals)."""
    return "\n".join(f"{name} = {value!r}" for name, value in variables.items())
