"""The API trigger on ``jupyter-blocks schedule --api PORT``, with a real HTTP client."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

from tests.helpers.scheduled import scheduled_notebook
from tests.schedule.conftest import free_port

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]

TOKEN = "api-token-5f4e3d"
SETTINGS = """\
triggers:
- name: hook
  schedule_type: api
  status: active
  variables:
    pause: 0
- name: paused
  schedule_type: api
  status: inactive
"""


def call(port, method, path, body=None, token=TOKEN):
    data = json.dumps(body).encode() if isinstance(body, dict) else body
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data,
                                     method=method)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


@pytest.fixture
def endpoint(tmp_path):
    notebook = scheduled_notebook(tmp_path / "taxi.ipynb", SETTINGS)
    port = free_port()
    env = {**os.environ, "JUPYTER_BLOCKS_API_TOKEN": TOKEN}
    env.pop("JUPYTER_BLOCKS_STORE", None)
    process = subprocess.Popen([sys.executable, "-m", "jupyter_blocks.cli", "schedule",
                                str(notebook), "--api", str(port), "--json"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    deadline = time.monotonic() + 30
    while True:
        try:
            call(port, "GET", "/jupyter-blocks/api/pipelines/taxi/runs/none")
            break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"no API: {process.communicate()}")
            time.sleep(0.1)
    yield port, tmp_path
    process.send_signal(signal.SIGTERM)
    process.communicate(timeout=60)


def wait_for(port, run_id, statuses=("success", "failed")):
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        status, run = call(port, "GET", f"/jupyter-blocks/api/pipelines/taxi/runs/{run_id}")
        assert status == 200, run
        if run["status"] in statuses:
            return run
        time.sleep(0.1)
    raise AssertionError(f"run {run_id} did not end: {run}")


def test_a_post_starts_a_run_and_get_follows_it(endpoint):
    port, _ = endpoint
    status, answer = call(port, "POST", "/jupyter-blocks/api/pipelines/taxi/runs",
                          {"variables": {"fail_on": "nothing"}})
    assert status == 201 and answer["trigger"] == "api:hook"
    run = wait_for(port, answer["run_id"])
    assert run["status"] == "success" and run["trigger"] == "api:hook"
    assert run["variables"]["fail_on"] == "nothing" and run["variables"]["pause"] == 0
    assert [b["block"] for b in run["blocks"]] == ["load", "total"]


def test_a_failed_run_says_which_block_and_why(endpoint):
    port, _ = endpoint
    today = f"{dt.date.today()} {dt.datetime.now(dt.timezone.utc).date()}"
    _, answer = call(port, "POST", "/jupyter-blocks/api/pipelines/taxi/runs",
                     {"variables": {"fail_on": today}})
    run = wait_for(port, answer["run_id"])
    assert run["status"] == "failed"
    [failed] = [b for b in run["blocks"] if b["status"] == "failed"]
    assert failed["block"] == "load" and "no trips for" in failed["error"]


def test_requests_without_the_token_are_401(endpoint):
    port, _ = endpoint
    assert call(port, "POST", "/jupyter-blocks/api/pipelines/taxi/runs", {}, token=None)[0] \
        == 401
    assert call(port, "POST", "/jupyter-blocks/api/pipelines/taxi/runs", {},
                token="wrong")[0] == 401


def test_unknown_pipelines_triggers_and_runs_are_404(endpoint):
    port, _ = endpoint
    status, answer = call(port, "POST", "/jupyter-blocks/api/pipelines/taxy/runs", {})
    assert status == 404 and "did you mean `taxi`" in answer["error"]
    status, answer = call(port, "POST", "/jupyter-blocks/api/pipelines/taxi/runs",
                          {"trigger": "hok"})
    assert status == 404 and "no api trigger `hok`" in answer["error"]
    status, answer = call(port, "POST", "/jupyter-blocks/api/pipelines/taxi/runs",
                          {"trigger": "paused"})
    assert status == 409 and "inactive" in answer["error"]
    status, answer = call(port, "GET", "/jupyter-blocks/api/pipelines/taxi/runs/nosuchrun")
    assert status == 404


def test_bad_variables_are_400_with_the_one_line_error(endpoint):
    port, tmp_path = endpoint
    cases = {
        b"{not json": "not JSON",
        json.dumps({"variables": [1, 2]}).encode(): "variables must be a JSON object",
        json.dumps({"variables": {"pauze": 1}}).encode(): "did you mean `pause`",
        json.dumps({"variables": {"execution_date": "soon"}}).encode(): "execution_date",
        json.dumps({"varables": {}}).encode(): "did you mean `variables`",
    }
    for body, said in cases.items():
        status, answer = call(port, "POST", "/jupyter-blocks/api/pipelines/taxi/runs", body)
        assert status == 400 and said in answer["error"], (body, answer)
        assert "\n" not in answer["error"]
    runs = tmp_path / ".jupyter_blocks" / "runs.sqlite"
    if runs.exists():
        from jupyter_blocks.history.store import RunStore

        assert RunStore.for_directory(tmp_path).list_runs() == []
