"""Jupyter server extension: run history and export for the JupyterLab extension.

What belongs here: the HTTP endpoints the labextension calls, and nothing else. They resolve
notebook paths against the server's root directory, call the run store and the exporter, and
turn their answers into JSON. All endpoints need the server's normal authentication.

- ``GET  /jupyter-blocks/runs?path=<notebook>&limit=N[&pipeline=P]``: recent runs.
- ``GET  /jupyter-blocks/runs/<run_id>?path=<notebook>``: one run with its block runs.
- ``POST /jupyter-blocks/export`` with ``{"path": <notebook>, "project": <folder>}``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NoReturn

import tornado.web
from jupyter_server.base.handlers import APIHandler
from jupyter_server.utils import url_path_join

logger = logging.getLogger(__name__)

URL_ROOT = "jupyter-blocks"
DEFAULT_LIMIT = 50
MAX_LIMIT = 1000


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    return [{"module": "jupyter_blocks.server"}]


def _load_jupyter_server_extension(server_app: Any) -> None:
    """Add the handlers to the running server."""
    web_app = server_app.web_app
    base = url_path_join(web_app.settings["base_url"], URL_ROOT)
    root = Path(server_app.root_dir).resolve()
    web_app.add_handlers(
        ".*$",
        [
            (url_path_join(base, "runs"), RunsHandler, {"root": root}),
            (url_path_join(base, "runs", r"([^/]+)"), RunHandler, {"root": root}),
            (url_path_join(base, "export"), ExportHandler, {"root": root}),
        ],
    )
    server_app.log.info("jupyter_blocks server extension loaded at %s", base)


def to_json(value: Any) -> Any:
    """Make a run-store or exporter value JSON-able: datetimes as ISO strings, paths as strings."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return to_json(dataclasses.asdict(value))
    if isinstance(value, Mapping):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [to_json(v) for v in value]
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, Path):
        return str(value)
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


class BlocksHandler(APIHandler):
    """Shared path handling and error replies."""

    root: Path

    def initialize(self, root: Path) -> None:
        """Keep the server's root directory."""
        self.root = root

    def resolve(self, relative: str | None, what: str, *, must_exist: bool = True) -> Path:
        """Resolve a path from the client against the root, refusing anything outside it."""
        if not relative:
            raise tornado.web.HTTPError(400, reason=f"missing `{what}`")
        path = (self.root / relative.lstrip("/")).resolve()
        if path != self.root and self.root not in path.parents:
            reason = f"{what} `{relative}` is outside the server root"
            raise tornado.web.HTTPError(403, reason=reason)
        if must_exist and not path.exists():
            raise tornado.web.HTTPError(404, reason=f"{what} `{relative}` does not exist")
        return path

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        """Reply with ``{"message": ...}`` so the frontend can show it."""
        exc_info = kwargs.get("exc_info")
        message = self._reason
        if exc_info is not None:
            error = exc_info[1]
            if isinstance(error, tornado.web.HTTPError) and error.reason:
                message = error.reason
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({"message": message}))

    def fail(self, status: int, message: str) -> NoReturn:
        """Reply with an error message (one line, safe to show)."""
        raise tornado.web.HTTPError(status, reason=message.splitlines()[0] if message else "")


def _run_store(notebook: Path) -> Any:
    """The run store of a notebook's folder (where the kernel records its runs)."""
    from jupyter_blocks.store import RunStore  # type: ignore[import-not-found,unused-ignore]

    return RunStore.for_directory(notebook.parent)


def _missing_module(error: ImportError, feature: str) -> tornado.web.HTTPError:
    logger.warning("jupyter-blocks %s unavailable: %s", feature, error)
    reason = f"{feature} is not available in this installation: {error}"
    return tornado.web.HTTPError(501, reason=reason)


class RunsHandler(BlocksHandler):
    """``GET /jupyter-blocks/runs``: recent runs of a notebook's pipeline."""

    @tornado.web.authenticated
    def get(self) -> None:
        """List recent runs, newest first."""
        notebook = self.resolve(self.get_query_argument("path", None), "path")
        try:
            limit = int(self.get_query_argument("limit", str(DEFAULT_LIMIT)))
        except ValueError:
            self.fail(400, "`limit` must be a whole number")
        limit = max(1, min(limit, MAX_LIMIT))
        pipeline = self.get_query_argument("pipeline", None) or notebook.stem
        try:
            store = _run_store(notebook)
        except ImportError as error:
            raise _missing_module(error, "run history") from error
        runs = store.list_runs(pipeline=pipeline, limit=limit)
        self.finish(json.dumps({"pipeline": pipeline, "runs": to_json(runs)}))


class RunHandler(BlocksHandler):
    """``GET /jupyter-blocks/runs/<run_id>``: one run with its block runs."""

    @tornado.web.authenticated
    def get(self, run_id: str) -> None:
        """Show one run."""
        notebook = self.resolve(self.get_query_argument("path", None), "path")
        try:
            store = _run_store(notebook)
        except ImportError as error:
            raise _missing_module(error, "run history") from error
        from jupyter_blocks.errors import BlocksError

        try:
            run = store.get_run(run_id)
        except BlocksError as error:
            self.fail(404, str(error))
        # Captured logs can be large; `jupyter-blocks runs logs` shows them.
        for block in run.get("blocks", []):
            block.pop("output", None)
        self.finish(json.dumps(to_json(run)))


class ExportHandler(BlocksHandler):
    """``POST /jupyter-blocks/export``: write a notebook's pipeline into a project folder."""

    @tornado.web.authenticated
    def post(self) -> None:
        """Export the notebook named in the body into the project folder named there."""
        try:
            body = json.loads(self.request.body or b"{}")
        except json.JSONDecodeError:
            self.fail(400, "the request body must be JSON")
        if not isinstance(body, dict):
            self.fail(400, 'the request body must be {"path": ..., "project": ...}')
        notebook = self.resolve(body.get("path"), "path")
        project = self.resolve(body.get("project"), "project", must_exist=False)
        try:
            from jupyter_blocks.project import export_notebook  # type: ignore[attr-defined,unused-ignore]
        except ImportError as error:
            raise _missing_module(error, "export") from error

        from jupyter_blocks.errors import BlocksError

        try:
            result = export_notebook(notebook, project)
        except BlocksError as error:
            self.fail(400, str(error))
        self.finish(json.dumps(to_json(result if result is not None else {})))
