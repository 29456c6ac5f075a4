"""The API trigger: starting a pipeline's run over HTTP, and reading its status.

What belongs here: what both HTTP endpoints share, the Jupyter server's (behind Jupyter's own
authentication) and the scheduler's (``schedule --api PORT``, a bearer token): reading a
request (:func:`read_request`), choosing the pipeline's ``api`` trigger, checking the variables
before anything starts, building the run's :class:`~jupyter_blocks.schedule.launch.Launch`, and
a run's status as JSON (:func:`run_status`); plus the scheduler's small HTTP server
(:func:`serve_api`). Problems are :class:`ApiProblem` with the HTTP status and a one-line
message.

The routes, on both::

    POST /jupyter-blocks/api/pipelines/<name>/runs       {"variables": {...}, "trigger": "..."}
         201 {"run_id": ..., "pipeline": ..., "trigger": ..., "status": "running", "url": ...}
    GET  /jupyter-blocks/api/pipelines/<name>/runs/<id>  200 the run with its blocks
"""

from __future__ import annotations

import hmac
import json
import re
import threading
import uuid
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from jupyter_blocks.core.errors import BlocksError, did_you_mean
from jupyter_blocks.core.pipeline import Pipeline
from jupyter_blocks.project.triggers import Trigger
from jupyter_blocks.schedule.launch import Launch

#: Where the routes live.
PREFIX = "/jupyter-blocks/api/pipelines"
#: The environment variable holding the scheduler endpoint's bearer token.
TOKEN_ENV = "JUPYTER_BLOCKS_API_TOKEN"
_LARGEST_BODY = 1 << 20
_RUNS = re.compile(rf"^{PREFIX}/(?P<name>[^/]+)/runs/?$")
_RUN = re.compile(rf"^{PREFIX}/(?P<name>[^/]+)/runs/(?P<run_id>[^/]+)/?$")


class ApiProblem(Exception):
    """A request that cannot be served: its HTTP status and a one-line message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def read_request(body: bytes) -> tuple[dict[str, Any], str | None]:
    """``(variables, trigger name)`` of a POST body; an empty body asks for no variables.

    Raises:
        ApiProblem: 400 for a body that is not a JSON object, or bad ``variables``.
    """
    if not body.strip():
        return {}, None
    try:
        document = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ApiProblem(400, f"the body is not JSON: {exc}") from None
    if not isinstance(document, dict):
        raise ApiProblem(400, 'the body must be a JSON object like {"variables": {"ds": '
                         '"2021-01-01"}}')
    unknown = sorted(set(document) - {"variables", "trigger"})
    if unknown:
        raise ApiProblem(400, f"unknown key `{unknown[0]}` in the body"
                         + did_you_mean(unknown[0], ["variables", "trigger"])
                         + " (it takes variables and trigger)")
    variables = document.get("variables") or {}
    if not isinstance(variables, dict):
        raise ApiProblem(400, f"variables must be a JSON object of names and values, got "
                         f"{type(variables).__name__}")
    for name in variables:
        if not name.isidentifier():
            raise ApiProblem(400, f"variable name {name!r} is not a Python identifier")
    trigger = document.get("trigger")
    if trigger is not None and not isinstance(trigger, str):
        raise ApiProblem(400, "trigger must be the name of one of the pipeline's api triggers")
    return variables, trigger


def api_trigger(pipeline: Pipeline, name: str | None) -> Trigger:
    """The api trigger a request starts: the one named, or the pipeline's only active one.

    Raises:
        ApiProblem: 404 when the pipeline has no such api trigger (or several and none named),
            409 when it is inactive.
    """
    settings = pipeline.settings
    triggers: list[Trigger] = [t for t in (settings.triggers if settings is not None else [])
                               if t.schedule_type == "api"]
    names = [t.name for t in triggers]
    if name is None:
        active = [t for t in triggers if t.status == "active"]
        if len(active) == 1 or (len(triggers) == 1 and triggers):
            chosen = active[0] if len(active) == 1 else triggers[0]
        elif not triggers:
            raise ApiProblem(404, f"pipeline `{pipeline.name}` has no trigger with "
                             "schedule_type: api (add one to its %%pipeline cell)")
        elif not active:
            raise ApiProblem(409, f"every api trigger of pipeline `{pipeline.name}` is "
                             f"inactive ({', '.join(names)}): status: active starts one")
        else:
            raise ApiProblem(404, f"pipeline `{pipeline.name}` has active api triggers "
                             f"{', '.join(t.name for t in active)}: name one in the body's "
                             '"trigger"')
    else:
        found = [t for t in triggers if t.name == name]
        if not found:
            raise ApiProblem(404, f"pipeline `{pipeline.name}` has no api trigger `{name}`"
                             + did_you_mean(name, names))
        chosen = found[0]
    if chosen.status != "active":
        raise ApiProblem(409, f"api trigger `{chosen.name}` of pipeline `{pipeline.name}` is "
                         "inactive (status: active starts it)")
    return chosen


def api_launch(pipeline: Pipeline, target: str, project_name: str | None, body: bytes, *,
               store: str | None = None, executor: str = "inline", workers: int | None = None,
               scheduler: str | None = None) -> Launch:
    """The run a POST asks for, checked before anything starts.

    Raises:
        ApiProblem: 400 bad body or variables (a name no block reads, with the near one; a
            bad ``execution_date``), 404 no api trigger, 409 inactive trigger.
    """
    variables, name = read_request(body)
    trigger = api_trigger(pipeline, name)
    values = {**(trigger.variables or {}), **variables}
    _check_variables(pipeline, variables)
    settings = trigger.trigger_settings
    return Launch(target=target, pipeline=project_name, trigger=f"api:{trigger.name}",
                  run_id=uuid.uuid4().hex[:12], variables=values, store=store,
                  executor=executor, workers=workers, scheduler=scheduler,
                  skip_if_running=settings.skip_if_previous_running,
                  run_limit=settings.pipeline_run_limit, timeout=settings.timeout,
                  timeout_status=settings.timeout_status)


def _check_variables(pipeline: Pipeline, variables: Mapping[str, Any]) -> None:
    from jupyter_blocks.runner.plan import check_variables_read
    from jupyter_blocks.runner.variables import as_datetime

    if "execution_date" in variables:
        try:
            as_datetime(variables["execution_date"])
        except BlocksError as exc:
            raise ApiProblem(400, f"variables.{exc}") from None
    try:
        check_variables_read(pipeline, {name: f"variables.{name}" for name in variables})
    except BlocksError as exc:
        raise ApiProblem(400, str(exc)) from None


def run_status(store: Any, pipeline: str, run_id: str, redact: Callable[[str], str] = str
               ) -> dict[str, Any]:
    """A run of ``pipeline`` as JSON: status, times, trigger and each block's outcome.

    Raises:
        ApiProblem: 404 when the store has no such run of that pipeline.
    """
    try:
        run = store.get_run(run_id)
    except BlocksError:
        raise ApiProblem(404, f"pipeline `{pipeline}` has no run `{run_id}`") from None
    if run["pipeline"] != pipeline:
        raise ApiProblem(404, f"pipeline `{pipeline}` has no run `{run_id}`")
    blocks = [{key: block.get(key) for key in ("block", "attempt", "status", "started_at",
                                                "finished_at", "seconds", "rows", "cols")}
              | {"error": redact(block["error"]) if block.get("error") else None}
              for block in run["blocks"]]
    return {key: run.get(key) for key in ("run_id", "pipeline", "status", "trigger",
                                          "started_at", "finished_at", "seconds")} | {
        "variables": run.get("variables"), "blocks": blocks}


def pending_status(launch: Launch, pipeline: str) -> dict[str, Any]:
    """The status of a run whose process has not recorded it yet: ``starting``."""
    return {"run_id": launch.run_id, "pipeline": pipeline, "status": "starting",
            "trigger": launch.trigger, "blocks": []}


def serve_api(scheduler: Any, port: int, token: str, host: str = "127.0.0.1"
              ) -> ThreadingHTTPServer:
    """Serve the API trigger of ``scheduler``'s pipelines on ``host:port`` in a thread.

    Every request needs ``Authorization: Bearer <token>``; runs are started and tracked by the
    scheduler (timeouts, SIGTERM), in processes of their own.
    """
    starting: dict[str, tuple[Launch, str]] = {}

    class Handler(BaseHTTPRequestHandler):
        server_version = "jupyter-blocks"

        def log_message(self, format: str, *args: Any) -> None:
            return  # requests are not the scheduler's log

        def do_POST(self) -> None:
            self._serve(self._post)

        def do_GET(self) -> None:
            self._serve(self._get)

        def _serve(self, action: Callable[[], tuple[int, dict[str, Any]]]) -> None:
            try:
                self._authorise()
                status, payload = action()
            except ApiProblem as exc:
                status, payload = exc.status, {"error": exc.message}
            except BlocksError as exc:
                status, payload = 400, {"error": str(exc)}
            except Exception as exc:  # one bad request must not stop the endpoint
                status, payload = 500, {"error": f"{type(exc).__name__}: {exc}"}
            data = json.dumps(payload, default=str).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            if status == 401:
                self.send_header("WWW-Authenticate", 'Bearer realm="jupyter-blocks"')
            self.end_headers()
            self.wfile.write(data)

        def _authorise(self) -> None:
            given = self.headers.get("Authorization", "")
            scheme, _, value = given.partition(" ")
            if scheme.lower() != "bearer" or not hmac.compare_digest(value.strip(), token):
                raise ApiProblem(401, f"send the token of ${TOKEN_ENV} as "
                                 "Authorization: Bearer <token>")

        def _watched(self, name: str) -> Any:
            watched = scheduler.find(name)
            if watched is None:
                known = [w.pipeline.name for w in scheduler.watched]
                raise ApiProblem(404, f"no pipeline `{name}` is scheduled here"
                                 + did_you_mean(name, known))
            return watched

        def _post(self) -> tuple[int, dict[str, Any]]:
            match = _RUNS.match(self.path.split("?", 1)[0])
            if match is None:
                raise ApiProblem(404, f"no route {self.path}; POST {PREFIX}/<name>/runs")
            length = int(self.headers.get("Content-Length") or 0)
            if length > _LARGEST_BODY:
                raise ApiProblem(400, "the body is larger than 1 MiB")
            body = self.rfile.read(length) if length else b""
            watched = self._watched(match["name"])
            launch = api_launch(watched.pipeline, watched.target, watched.name, body,
                                store=scheduler.store_url, executor=scheduler.executor,
                                workers=scheduler.workers, scheduler=scheduler.dask_scheduler)
            starting[launch.run_id] = (launch, watched.pipeline.name)
            scheduler.start_api_run(launch, watched)
            return 201, {"run_id": launch.run_id, "pipeline": watched.pipeline.name,
                         "trigger": launch.trigger, "status": "running",
                         "url": f"{PREFIX}/{watched.pipeline.name}/runs/{launch.run_id}"}

        def _get(self) -> tuple[int, dict[str, Any]]:
            match = _RUN.match(self.path.split("?", 1)[0])
            if match is None:
                raise ApiProblem(404, f"no route {self.path}; GET {PREFIX}/<name>/runs/<id>")
            watched = self._watched(match["name"])
            store = scheduler.store_of(watched)
            try:
                return 200, run_status(store, watched.pipeline.name, match["run_id"],
                                       scheduler.redactor_for(watched))
            except ApiProblem:
                pending = starting.get(match["run_id"])
                if pending is not None and pending[1] == watched.pipeline.name:
                    return 200, pending_status(pending[0], pending[1])
                raise

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True,
                     name="jupyter-blocks-api").start()
    return server
