"""The HTTP endpoints of the Jupyter server extension: run history and export.

What belongs here: the handlers the labextension calls, and nothing else. They resolve
notebook paths against the server's root directory, call the run store and the exporter, and
turn their answers into JSON. All endpoints need the server's normal authentication. Whatever
comes from the run store passes through a :class:`~jupyter_blocks.redact.Redactor` first: the
store keeps what blocks printed, and known secrets must not reach the browser.

- ``GET  /jupyter-blocks/runs?path=<notebook>&limit=N[&pipeline=P]``: recent runs.
- ``GET  /jupyter-blocks/runs/<run_id>?path=<notebook>``: one run with its block runs (their
  captured output left out; ``output_bytes`` says how much there is).
- ``GET  /jupyter-blocks/runs/<run_id>/logs/<block>?path=<notebook>[&limit=BYTES]``: what a
  block printed and logged in a run (every attempt), cut to its last ``limit`` bytes (64 KiB by
  default) at a line start, with ``bytes``, ``shown_bytes``, ``truncated`` and the ``command``
  that prints the whole text.
- ``GET  /jupyter-blocks/runs`` lists each run with ``blocks``: its block runs (status, time,
  rows), so the Runs panel shows them under the run that contains them.
- ``POST /jupyter-blocks/export`` with ``{"path": <notebook>, "project": <folder>}`` and
  optionally ``"detach": true`` or ``"force": true`` (``jupyter-blocks export``'s flags). A
  refusal because of block files other pipelines share is a 409 with
  ``{"reason": "shared_block_files", "conflicts": [{"path": ..., "pipelines": [...]}]}``.
  With ``"dry_run": true`` nothing is written and the answer says what would be
  (:mod:`~jupyter_blocks.server.exports`): ``{"pipeline", "files": [{"path", "state",
  "detached"}], "conflicts": [...], "same_name": [{"block", "path", "others": [{"path",
  "pipelines"}]}]}``.
"""

from __future__ import annotations

import json
import logging
import shlex
from pathlib import Path
from typing import Any

import tornado.web
from jupyter_server.utils import url_path_join

from jupyter_blocks.core.errors import BlocksError, ConfigError, SharedFilesError
from jupyter_blocks.history.store import RunStore
from jupyter_blocks.project.writer import export_notebook
from jupyter_blocks.server.base import BlocksHandler, to_json
from jupyter_blocks.server.exports import ExportReview, review_export

logger = logging.getLogger(__name__)

DEFAULT_LIMIT = 50
MAX_LIMIT = 1000
DEFAULT_LOG_BYTES = 64 * 1024
MAX_LOG_BYTES = 4 * 1024 * 1024


def routes(base: str, root: Path) -> list[tuple[str, type, dict[str, Any]]]:
    """The routes of this module under ``base`` (``<base_url>jupyter-blocks``)."""
    return [
        (url_path_join(base, "runs"), RunsHandler, {"root": root}),
        (url_path_join(base, "runs", r"([^/]+)"), RunHandler, {"root": root}),
        (url_path_join(base, "runs", r"([^/]+)", "logs", r"([^/]+)"), LogsHandler,
         {"root": root}),
        (url_path_join(base, "export"), ExportHandler, {"root": root}),
    ]


def tail(text: str, limit: int) -> tuple[str, bool]:
    """The end of ``text`` within ``limit`` UTF-8 bytes, starting at a line start if it can.

    Returns:
        The kept text and whether anything was cut.
    """
    data = text.encode("utf-8")
    if len(data) <= limit:
        return text, False
    kept = data[len(data) - limit :].decode("utf-8", errors="ignore")
    if data[len(data) - limit - 1 : len(data) - limit] != b"\n":
        newline = kept.find("\n")
        if 0 <= newline < len(kept) - 1:
            kept = kept[newline + 1 :]
    return kept, True


def _run_store(notebook: Path) -> RunStore | None:
    """The run store of a notebook's folder (where the kernel records its runs), if it has one.

    Reading never creates it: a folder where nothing ran has no runs.
    """
    try:
        return RunStore.existing(notebook.parent)
    except ConfigError:
        return None


class RunsHandler(BlocksHandler):
    """``GET /jupyter-blocks/runs``: recent runs of a notebook's pipeline."""

    @tornado.web.authenticated
    def get(self) -> None:
        """List recent runs, newest first."""
        notebook = self.resolve(self.get_query_argument("path", None), "path")
        limit = self.int_argument("limit", DEFAULT_LIMIT, 1, MAX_LIMIT)
        pipeline = self.get_query_argument("pipeline", None) or notebook.stem
        store = _run_store(notebook)
        if store is None:
            self.finish(json.dumps({"pipeline": pipeline, "runs": []}))
            return
        found = store.list_runs(pipeline=pipeline, limit=limit)
        blocks = store.blocks_of(run["run_id"] for run in found)
        for run in found:
            run["blocks"] = blocks.get(run["run_id"], [])
        runs = self.redactor(notebook).value(to_json(found))
        self.finish(json.dumps({"pipeline": pipeline, "runs": runs}))


class RunHandler(BlocksHandler):
    """``GET /jupyter-blocks/runs/<run_id>``: one run with its block runs."""

    @tornado.web.authenticated
    def get(self, run_id: str) -> None:
        """Show one run."""
        notebook = self.resolve(self.get_query_argument("path", None), "path")
        store = _run_store(notebook)
        if store is None:
            self.fail(404, f"no run `{run_id}`: nothing run from {notebook.name}'s folder has "
                      "been recorded")
        try:
            run = store.get_run(run_id)
        except BlocksError as error:
            self.fail(404, str(error))
        # Captured output can be large: the logs endpoint serves it, one block at a time.
        for block in run.get("blocks", []):
            output = block.pop("output", None) or ""
            block["output_bytes"] = len(output.encode("utf-8"))
        self.finish(json.dumps(self.redactor(notebook).value(to_json(run))))


class LogsHandler(BlocksHandler):
    """``GET /jupyter-blocks/runs/<run_id>/logs/<block>``: a block's captured output in a run."""

    @tornado.web.authenticated
    def get(self, run_id: str, block: str) -> None:
        """The end of what ``block`` printed and logged, secrets hidden."""
        notebook = self.resolve(self.get_query_argument("path", None), "path")
        limit = self.int_argument("limit", DEFAULT_LOG_BYTES, 1, MAX_LOG_BYTES)
        store = _run_store(notebook)
        if store is None:
            self.fail(404, f"no run `{run_id}`: nothing run from {notebook.name}'s folder has "
                      "been recorded")
        try:
            output = store.block_logs(run_id, block)
        except BlocksError as error:
            self.fail(404, str(error))
        # Hide secrets before cutting, so a cut never leaves half of one.
        text = self.redactor(notebook).text(output)
        shown, truncated = tail(text, limit)
        self.finish(
            json.dumps(
                {
                    "run_id": run_id,
                    "block": block,
                    "text": shown,
                    "truncated": truncated,
                    "bytes": len(text.encode("utf-8")),
                    "shown_bytes": len(shown.encode("utf-8")),
                    "command": self.logs_command(notebook, run_id, block),
                }
            )
        )

    def logs_command(self, notebook: Path, run_id: str, block: str) -> str:
        """The CLI command that prints the whole text, run from the server's root."""
        command = ["jupyter-blocks", "runs", "logs", run_id, block]
        folder = notebook.parent.relative_to(self.root).as_posix()
        if folder != ".":
            command.append(folder)
        return shlex.join(command)


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
        detach, force, dry_run = (self.flag(body, name) for name in ("detach", "force", "dry_run"))
        if detach and force:
            self.fail(400, "`detach` and `force` cannot be combined: pick one")
        if dry_run:
            try:
                review = review_export(notebook, project, detach=detach, force=force)
            except BlocksError as error:
                self.fail(400, str(error))
            self.finish(json.dumps(review_json(review)))
            return

        try:
            result = export_notebook(notebook, project, detach=detach, force=force)
        except SharedFilesError as error:
            self.set_status(409)
            self.finish(
                json.dumps(
                    {
                        "message": str(error),
                        "reason": "shared_block_files",
                        "conflicts": [
                            {"path": path, "pipelines": list(pipelines)}
                            for path, pipelines in error.conflicts
                        ],
                    }
                )
            )
            return
        except BlocksError as error:
            self.fail(400, str(error))
        self.finish(json.dumps(to_json(result if result is not None else {})))

    def flag(self, body: dict[str, Any], name: str) -> bool:
        """An optional true/false member of the request body."""
        value = body.get(name, False)
        if not isinstance(value, bool):
            self.fail(400, f"`{name}` must be true or false")
        return value


def review_json(review: ExportReview) -> dict[str, Any]:
    """The JSON answer of a dry-run export."""
    return {
        "pipeline": review.pipeline,
        "files": [{"path": f.path, "state": f.state, "detached": f.detached}
                  for f in review.files],
        "conflicts": [{"path": path, "pipelines": list(users)}
                      for path, users in review.conflicts],
        "same_name": [{"block": same.block, "path": same.path,
                       "others": [{"path": path, "pipelines": list(users)}
                                  for path, users in same.others]}
                      for same in review.same_name],
    }
