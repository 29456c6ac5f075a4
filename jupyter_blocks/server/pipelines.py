"""The Jupyter server's pipeline endpoints: the API trigger, triggers and backfills.

What belongs here: the handlers of

- ``POST /jupyter-blocks/api/pipelines/<name>/runs`` with ``{"variables": {...}}``: start a run
  of the pipeline's ``api`` trigger (201 with the run id; 400 bad variables, 404 unknown
  pipeline or trigger, 409 inactive trigger or a name two notebooks share: pass ``?path=``);
- ``GET /jupyter-blocks/api/pipelines/<name>/runs/<id>``: that run's status and blocks;
- ``GET /jupyter-blocks/schedule?path=<notebook>``: the notebook's triggers (next fire time,
  last run) and backfills (intervals done, failed, left), for the labextension's Runs panel.

All need Jupyter's own authentication (a token or the browser's session). The pipeline named in
a route is a notebook of that name under the server's root, or a project pipeline there
(``**/pipelines/<name>``). Runs start in processes of their own (``schedule.launch``) and stop
when the server does.
"""

from __future__ import annotations

import json
import subprocess
import threading
from pathlib import Path
from typing import Any

import tornado.web

from jupyter_blocks.core.errors import BlocksError
from jupyter_blocks.server.base import BlocksHandler, to_json

#: How many files the search for a pipeline by name looks at, at most.
_SEARCH_LIMIT = 20000
_SKIPPED = {"node_modules", "__pycache__", ".ipynb_checkpoints", ".git", ".venv"}


def find_pipeline_target(root: Path, name: str) -> tuple[str, str | None]:
    """``(target, project pipeline name)`` of the pipeline called ``name`` under ``root``.

    Raises:
        tornado.web.HTTPError: 404 none, 409 several.
    """
    found: list[tuple[str, str | None]] = []
    for seen, path in enumerate(_walk(root)):
        if seen >= _SEARCH_LIMIT:
            break
        if path.suffix == ".ipynb" and path.stem == name:
            found.append((str(path), None))
        elif path.name == "metadata.yaml" and path.parent.name == name \
                and path.parent.parent.name == "pipelines":
            found.append((str(path.parent.parent.parent), name))
    if not found:
        raise tornado.web.HTTPError(404, reason=f"no notebook or project pipeline named "
                                    f"`{name}` under the server's root")
    if len(found) > 1:
        places = ", ".join(Path(target).relative_to(root).as_posix() for target, _ in found)
        raise tornado.web.HTTPError(409, reason=f"`{name}` names {len(found)} pipelines "
                                    f"({places}): pass ?path= to pick one")
    return found[0]


def _walk(root: Path) -> Any:
    stack = [root]
    while stack:
        folder = stack.pop()
        try:
            entries = sorted(folder.iterdir())
        except OSError:
            continue
        for entry in entries:
            if entry.name.startswith(".") or entry.name in _SKIPPED:
                continue
            if entry.is_dir():
                stack.append(entry)
            else:
                yield entry


#: Runs this server started whose process is alive: run id -> (pipeline, launch).
_launched: dict[str, tuple[str, Any]] = {}
_launched_lock = threading.Lock()


def _reap_later(child: subprocess.Popen[bytes], pipeline: str, launch: Any) -> None:
    """Wait for a run's process in a thread, so it never lingers as a zombie."""
    with _launched_lock:
        _launched[launch.run_id] = (pipeline, launch)

    def wait() -> None:
        child.wait()
        with _launched_lock:
            _launched.pop(launch.run_id, None)

    threading.Thread(target=wait, daemon=True, name="jupyter-blocks-api-run").start()


class PipelineHandler(BlocksHandler):
    """Shared by the API routes: the pipeline a route names."""

    def pipeline_of(self, name: str) -> tuple[Any, str, str | None]:
        """``(pipeline, target, project name)``; bad pipelines are a 400 with the one line."""
        from jupyter_blocks.project.loading import load_pipeline

        given = self.get_query_argument("path", None)
        if given:
            path = self.resolve(given, "path")
            target, project = str(path), None if path.suffix == ".ipynb" else name
        else:
            target, project = find_pipeline_target(self.root, name)
        try:
            pipeline = load_pipeline(target, project)
        except BlocksError as exc:
            self.fail(400, self.redactor(Path(target)).text(str(exc)))
        if pipeline.name != name:
            self.fail(404, f"{given} is pipeline `{pipeline.name}`, not `{name}`")
        return pipeline, target, project

    def problem(self, exc: Any) -> None:
        """Reply with an ``ApiProblem``'s status and message."""
        self.set_status(exc.status)
        self.finish(json.dumps({"message": exc.message, "error": exc.message}))


class ApiRunsHandler(PipelineHandler):
    """``POST /jupyter-blocks/api/pipelines/<name>/runs``: start a run of an api trigger."""

    def check_xsrf_cookie(self) -> None:
        """Callers with a token need no XSRF cookie; a browser session still does."""
        if self.request.headers.get("Authorization", "").lower().startswith("token "):
            return
        super().check_xsrf_cookie()

    @tornado.web.authenticated
    def post(self, name: str) -> None:
        """Start the run; 201 with its id."""
        from jupyter_blocks.schedule.api import ApiProblem, api_launch
        from jupyter_blocks.schedule.launch import spawn

        pipeline, target, project = self.pipeline_of(name)
        try:
            launch = api_launch(pipeline, target, project, self.request.body or b"")
        except ApiProblem as exc:
            self.problem(exc)
            return
        _reap_later(spawn(launch), pipeline.name, launch)
        self.set_status(201)
        self.finish(json.dumps({"run_id": launch.run_id, "pipeline": pipeline.name,
                                "trigger": launch.trigger, "status": "running",
                                "url": f"{self.request.path.rstrip('/')}/{launch.run_id}"}))


class ApiRunHandler(PipelineHandler):
    """``GET /jupyter-blocks/api/pipelines/<name>/runs/<id>``: a run's status."""

    @tornado.web.authenticated
    def get(self, name: str, run_id: str) -> None:
        """The run, or ``starting`` while its process has not recorded it yet."""
        from jupyter_blocks.history.store import RunStore
        from jupyter_blocks.schedule.api import ApiProblem, pending_status, run_status

        pipeline, target, _ = self.pipeline_of(name)
        store = RunStore.for_directory(pipeline.directory)
        hide = self.redactor(Path(target)).text
        try:
            self.finish(json.dumps(to_json(run_status(store, pipeline.name, run_id, hide))))
        except ApiProblem as exc:
            with _launched_lock:
                pending = _launched.get(run_id)
            if pending is not None and pending[0] == pipeline.name:
                self.finish(json.dumps(pending_status(pending[1], pipeline.name)))
                return
            self.problem(exc)


class ScheduleHandler(BlocksHandler):
    """``GET /jupyter-blocks/schedule?path=<notebook>``: its triggers and backfills."""

    @tornado.web.authenticated
    def get(self) -> None:
        """Each trigger with its next fire time and last run; each backfill with its counts."""
        from jupyter_blocks.schedule.scheduler import Scheduler

        notebook = self.resolve(self.get_query_argument("path", None), "path")
        try:
            scheduler = Scheduler([str(notebook)])
        except BlocksError as exc:
            self.fail(400, self.redactor(notebook).text(str(exc)))
        watched = scheduler.watched[0]
        store = scheduler.store_of(watched, create=False)
        backfills = store.orchestration().backfills(watched.pipeline.name, limit=20) \
            if store is not None else []
        triggers = scheduler.listing()
        self.finish(json.dumps(self.redactor(notebook).value(to_json({
            "pipeline": watched.pipeline.name, "triggers": triggers,
            "backfills": backfills}))))


def routes(base: str, root: Path) -> list[tuple[str, type, dict[str, Any]]]:
    """The routes of this module under ``base`` (``<base_url>jupyter-blocks``)."""
    from jupyter_server.utils import url_path_join

    pipelines = url_path_join(base, "api", "pipelines", r"([^/]+)", "runs")
    return [
        (pipelines, ApiRunsHandler, {"root": root}),
        (url_path_join(pipelines, r"([^/]+)"), ApiRunHandler, {"root": root}),
        (url_path_join(base, "schedule"), ScheduleHandler, {"root": root}),
    ]
