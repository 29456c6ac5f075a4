"""Jupyter server extension: the HTTP endpoints the JupyterLab extension calls.

``handlers`` serves the run history and export, ``pipelines`` the API trigger and a notebook's
schedule; ``base`` is what they share.
"""

from __future__ import annotations

from typing import Any

URL_ROOT = "jupyter-blocks"


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    return [{"module": "jupyter_blocks.server"}]


def _load_jupyter_server_extension(server_app: Any) -> None:
    """Add the handlers to the running server."""
    from pathlib import Path

    from jupyter_server.utils import url_path_join

    from jupyter_blocks.server import handlers, pipelines

    web_app = server_app.web_app
    base = url_path_join(web_app.settings["base_url"], URL_ROOT)
    root = Path(server_app.root_dir).resolve()
    web_app.add_handlers(".*$", [*handlers.routes(base, root), *pipelines.routes(base, root)])
    server_app.log.info("jupyter_blocks server extension loaded at %s", base)
