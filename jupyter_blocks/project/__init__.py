"""Notebook <-> project: reading notebooks, the metadata.yaml model, Mage-layout projects."""

from __future__ import annotations

from typing import Any


def __getattr__(name: str) -> Any:
    # Lazy: the writer pulls in pydantic and YAML, which a kernel session never needs.
    if name == "export_notebook":
        from jupyter_blocks.project.writer import export_notebook

        return export_notebook
    raise AttributeError(name)


__all__ = ["export_notebook"]
