"""Notebook <-> project: reading pipelines from notebooks and Mage-layout projects, exporting.

``load_pipeline`` reads any target; ``export_notebook`` writes a project. Both load lazily: the
project reader and writer pull in pydantic and YAML, which a kernel session never needs.
"""

from __future__ import annotations

from typing import Any


def __getattr__(name: str) -> Any:
    if name == "export_notebook":
        from jupyter_blocks.project.writer import export_notebook

        return export_notebook
    if name in ("load_pipeline", "check_pipeline"):
        from jupyter_blocks.project import loading

        return getattr(loading, name)
    raise AttributeError(name)


__all__ = ["check_pipeline", "export_notebook", "load_pipeline"]
