"""Writing the notebooks benchmarks run: code cells from their sources, a Python 3 kernelspec."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path


def write_notebook(path: Path, cells: Sequence[str], parameters: str | None = None) -> Path:
    """Write ``cells`` as the notebook ``path`` (after a ``parameters`` cell, if given)."""
    sources = ([parameters] if parameters is not None else []) + list(cells)
    document = {
        "cells": [{"cell_type": "code", "id": f"c{i}", "execution_count": None, "outputs": [],
                   "metadata": {"tags": ["parameters"]} if parameters is not None and i == 0
                   else {}, "source": source}
                  for i, source in enumerate(sources)],
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3",
                                    "language": "python"}},
        "nbformat": 4, "nbformat_minor": 5}
    path.write_text(json.dumps(document))
    return path
