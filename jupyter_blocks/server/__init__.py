"""Jupyter server extension: the HTTP endpoints the JupyterLab extension calls (``handlers``)."""

from __future__ import annotations

from typing import Any


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    return [{"module": "jupyter_blocks.server"}]


def _load_jupyter_server_extension(server_app: Any) -> None:
    """Add the handlers to the running server."""
    from jupyter_blocks.server.handlers import load

    load(server_app)
