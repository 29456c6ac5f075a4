"""Writing small notebooks for tests: code cells from their sources, a Python 3 kernelspec."""

import json
from pathlib import Path


def write_notebook(path: Path, *cells: str) -> Path:
    """Write ``cells`` (sources of code cells, in order) as the notebook ``path``; return it."""
    notebook = {
        "cells": [
            {
                "cell_type": "code",
                "id": f"c{i}",
                "metadata": {},
                "outputs": [],
                "execution_count": None,
                "source": source,
            }
            for i, source in enumerate(cells)
        ],
        "metadata": {
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    path.write_text(json.dumps(notebook))
    return path
