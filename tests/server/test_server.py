"""The server extension's endpoints, served by a real Jupyter server on loopback.

The module starts one ``jupyter server`` (the ``jupyter_blocks`` extension enabled, a random
token, a temporary root) after a headless run of ``printing.ipynb`` has filled the root's run
store, then talks HTTP to it as the labextension does.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from unittest import mock

import pytest

from jupyter_blocks.project.writer import export_notebook
from jupyter_blocks.runner.run import run_target
from tests.helpers.notebooks import write_notebook
from tests.helpers.scheduled import daily, scheduled_notebook

NOTEBOOKS = Path(__file__).parents[1] / "notebooks"
PASSWORD = "pg-Pa55word-for-tests"
API_TOKEN = "tok-9f8e7d6c5b4a"
IO_CONFIG = f"""\
version: 0.1.1
default:
  DUCKDB_PATH: warehouse.duckdb
  POSTGRES_USER: etl
  POSTGRES_PASSWORD: "{{{{ env_var('JB_TEST_PG_PASSWORD', '{PASSWORD}') }}}}"
"""

HOOKED = f"""\
triggers:
{daily()}
- name: hook
  schedule_type: api
  status: active
"""

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]


@dataclass
class Server:
    url: str
    token: str
    root: Path
    run_id: str

    def request(
        self,
        method: str,
        path: str,
        query: dict[str, str] | None = None,
        body: Any = None,
        token: str | None = None,
    ) -> tuple[int, Any]:
        url = f"{self.url}jupyter-blocks/{path}"
        if query:
            url += "?" + urllib.parse.urlencode(query)
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(url, data=data, method=method)
        request.add_header("Authorization", f"token {self.token if token is None else token}")
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as error:
            text = error.read()
            try:
                return error.code, json.loads(text)
            except ValueError:
                return error.code, text.decode(errors="replace")

    def logs(self, block: str, run_id: str | None = None, **query: str) -> tuple[int, Any]:
        run = urllib.parse.quote(run_id or self.run_id)
        return self.request("GET", f"runs/{run}/logs/{block}", {"path": "printing.ipynb", **query})


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    temp = tmp_path_factory.mktemp("server")
    root = temp / "root"
    root.mkdir()
    shutil.copy(NOTEBOOKS / "printing.ipynb", root / "printing.ipynb")
    shutil.copy(NOTEBOOKS / "chain.ipynb", root / "chain.ipynb")
    shutil.copy(NOTEBOOKS / "headless_params.ipynb", root / "other.ipynb")
    (root / "io_config.yaml").write_text(IO_CONFIG)
    scheduled_notebook(root / "hooked.ipynb", HOOKED)
    with mock.patch.dict(os.environ, {"JB_TEST_API_TOKEN": API_TOKEN}):
        finished = run_target(str(root / "printing.ipynb"), echo=False)
    assert [block.name for block in finished.result.failed] == ["login"]

    port, token = _free_port(), secrets.token_hex(16)
    config = {
        "ServerApp": {
            "ip": "127.0.0.1",
            "port": port,
            "port_retries": 0,
            "open_browser": False,
            "allow_root": True,
            "root_dir": str(root),
            "jpserver_extensions": {"jupyter_blocks": True},
        },
        "IdentityProvider": {"token": token},
    }
    config_file = temp / "jupyter_server_config.json"
    config_file.write_text(json.dumps(config))
    env = {
        **os.environ,
        "JB_TEST_API_TOKEN": API_TOKEN,
        "JUPYTER_CONFIG_DIR": str(temp / "config"),
        "JUPYTER_RUNTIME_DIR": str(temp / "runtime"),
        "JUPYTER_DATA_DIR": str(temp / "data"),
    }
    env.pop("JUPYTER_BLOCKS_STORE", None)
    log = (temp / "server.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "jupyter_server", f"--config={config_file}"],
        cwd=root,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                pytest.fail(f"jupyter server exited:\n{(temp / 'server.log').read_text()}")
            try:
                status = urllib.request.Request(
                    f"{url}api/status", headers={"Authorization": f"token {token}"}
                )
                with urllib.request.urlopen(status, timeout=2):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail(
                        f"no jupyter server after 60 s:\n{(temp / 'server.log').read_text()}"
                    )
                time.sleep(0.2)
        yield Server(url, token, root, finished.result.run_id)
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


# -- GET /jupyter-blocks/runs/<run_id>/logs/<block> ----------------------------------------------


def test_logs_of_a_block_are_its_prints_and_log_records(server: Server) -> None:
    status, body = server.logs("load")
    assert status == 200, body
    assert body["run_id"] == server.run_id and body["block"] == "load"
    assert "loading 3 rows\n" in body["text"]
    assert "WARNING etl.load: the source is small" in body["text"]
    assert body["truncated"] is False
    assert body["bytes"] == body["shown_bytes"] == len(body["text"].encode())
    assert body["command"] == f"jupyter-blocks runs logs {server.run_id} load"


def test_a_block_that_printed_nothing_has_empty_logs(server: Server) -> None:
    status, body = server.logs("quiet")
    assert status == 200, body
    assert body["text"] == "" and body["bytes"] == 0 and body["truncated"] is False


def test_long_logs_are_cut_to_their_last_lines(server: Server) -> None:
    status, body = server.logs("noisy")
    assert status == 200, body
    assert body["truncated"] is True
    assert body["bytes"] == 2000 * len("line 0000 " + "x" * 30 + "\n")
    assert body["shown_bytes"] == len(body["text"].encode()) <= 64 * 1024
    assert body["text"].endswith("line 1999 " + "x" * 30 + "\n")
    assert body["text"].startswith("line ")  # whole lines only
    assert "line 0000" not in body["text"]

    status, small = server.logs("noisy", limit="1000")
    assert status == 200 and small["truncated"] is True
    assert small["shown_bytes"] <= 1000
    assert small["text"].splitlines()[-1] == "line 1999 " + "x" * 30
    assert small["text"].startswith("line ")


def test_logs_limit_is_validated(server: Server) -> None:
    status, body = server.logs("noisy", limit="lots")
    assert status == 400 and "limit" in body["message"]


def test_secrets_never_leave_the_server(server: Server) -> None:
    status, body = server.logs("connect")
    assert status == 200, body
    assert PASSWORD not in body["text"] and API_TOKEN not in body["text"]
    assert "connecting as etl with password ***" in body["text"]
    assert "api token: ***" in body["text"]

    status, run = server.request("GET", f"runs/{server.run_id}", {"path": "printing.ipynb"})
    assert status == 200, run
    login = next(block for block in run["blocks"] if block["block"] == "login")
    assert login["status"] == "failed"
    assert "login refused for password ***" in login["error"]
    assert PASSWORD not in json.dumps(run)


def test_run_detail_leaves_logs_out_but_says_how_much_there_is(server: Server) -> None:
    status, run = server.request("GET", f"runs/{server.run_id}", {"path": "printing.ipynb"})
    assert status == 200, run
    sizes = {block["block"]: block["output_bytes"] for block in run["blocks"]}
    assert sizes["quiet"] == 0 and sizes["load"] > 0 and sizes["noisy"] > 64 * 1024
    assert all("output" not in block for block in run["blocks"])


def test_logs_of_an_unknown_block_or_run_are_404_with_a_near_match(server: Server) -> None:
    status, body = server.logs("lod")
    assert status == 404
    assert "no block `lod`" in body["message"] and "did you mean `load`?" in body["message"]
    status, body = server.logs("load", run_id="no-such-run")
    assert status == 404 and "no run `no-such-run`" in body["message"]


def test_logs_need_authentication_and_a_path_inside_the_root(server: Server) -> None:
    run = urllib.parse.quote(server.run_id)
    status, _ = server.request(
        "GET", f"runs/{run}/logs/load", {"path": "printing.ipynb"}, token="wrong"
    )
    assert status == 403
    status, body = server.request("GET", f"runs/{run}/logs/load", {"path": "../printing.ipynb"})
    assert status == 403 and "outside the server root" in body["message"]
    status, body = server.request("GET", f"runs/{run}/logs/load")
    assert status == 400 and "path" in body["message"]


def test_logs_command_names_the_notebooks_folder(server: Server) -> None:
    folder = server.root / "sub dir"
    folder.mkdir(exist_ok=True)
    shutil.copy(NOTEBOOKS / "chain.ipynb", folder / "chain.ipynb")
    finished = run_target(str(folder / "chain.ipynb"), echo=False)
    run_id = finished.result.run_id
    status, body = server.request(
        "GET", f"runs/{run_id}/logs/total", {"path": "sub dir/chain.ipynb"}
    )
    assert status == 200, body
    assert body["command"] == f"jupyter-blocks runs logs {run_id} total 'sub dir'"


# -- POST /jupyter-blocks/export -----------------------------------------------------------------


def _shared_project(server: Server, name: str) -> Path:
    """A project where pipeline `chain` uses load and clean files that other.ipynb differs on."""
    export_notebook(server.root / "chain.ipynb", server.root / name)
    return server.root / name


def _files(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def test_export_over_a_shared_block_file_is_refused_with_its_pipelines(server: Server) -> None:
    project = _shared_project(server, "refused")
    before = _files(project)
    status, body = server.request(
        "POST", "export", body={"path": "other.ipynb", "project": "refused"}
    )
    assert status == 409, body
    assert body["reason"] == "shared_block_files"
    assert body["conflicts"] == [
        {"path": "data_loaders/load.py", "pipelines": ["chain"]},
        {"path": "transformers/clean.py", "pipelines": ["chain"]},
    ]
    assert "--detach" in body["message"]
    assert _files(project) == before


def test_export_with_detach_writes_the_pipelines_own_copy(server: Server) -> None:
    project = _shared_project(server, "detached")
    shared = (project / "data_loaders/load.py").read_bytes()
    status, body = server.request(
        "POST", "export", body={"path": "other.ipynb", "project": "detached", "detach": True}
    )
    assert status == 200, body
    assert body["pipeline"] == "other"
    assert body["detached"] == ["data_loaders/other/load.py", "transformers/other/clean.py"]
    assert set(body["detached"]) <= set(body["written"])
    assert (project / "data_loaders/load.py").read_bytes() == shared
    assert "data_loaders/other/load.py" in (project / "pipelines/other/metadata.yaml").read_text()


def test_export_with_force_overwrites_the_shared_file(server: Server) -> None:
    project = _shared_project(server, "forced")
    shared = (project / "data_loaders/load.py").read_bytes()
    status, body = server.request(
        "POST", "export", body={"path": "other.ipynb", "project": "forced", "force": True}
    )
    assert status == 200, body
    assert body["detached"] == []
    assert (project / "data_loaders/load.py").read_bytes() != shared
    assert not (project / "data_loaders/other").exists()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"detach": True, "force": True}, "cannot be combined"),
        ({"detach": "yes"}, "`detach` must be true or false"),
        ({"force": 1}, "`force` must be true or false"),
    ],
)
def test_export_options_are_validated(
    server: Server, options: dict[str, Any], message: str
) -> None:
    status, body = server.request(
        "POST", "export", body={"path": "other.ipynb", "project": "invalid", **options}
    )
    assert status == 400 and message in body["message"]
    assert not (server.root / "invalid").exists()


def test_export_without_a_conflict_is_unchanged(server: Server) -> None:
    status, body = server.request(
        "POST", "export", body={"path": "chain.ipynb", "project": "plain"}
    )
    assert status == 200, body
    assert body["pipeline"] == "chain" and "pipelines/chain/metadata.yaml" in body["written"]
    assert body["detached"] == []


def test_export_writes_files_with_the_permissions_of_a_plain_open(server: Server) -> None:
    status, body = server.request(
        "POST", "export", body={"path": "chain.ipynb", "project": "modes"}
    )
    assert status == 200, body
    umask = os.umask(0o022)
    os.umask(umask)  # the server inherited this process's umask
    modes = {
        str(p.relative_to(server.root / "modes")): p.stat().st_mode & 0o777
        for p in (server.root / "modes").rglob("*")
        if p.is_file()
    }
    assert set(modes) == set(body["written"])
    assert set(modes.values()) == {0o666 & ~umask}


def test_a_dry_run_export_lists_the_files_and_their_state_and_writes_nothing(
    server: Server,
) -> None:
    project = _shared_project(server, "review")
    (project / "transformers" / "clean.py").write_text("changed by hand\n")
    before = _files(project)
    status, body = server.request(
        "POST", "export", body={"path": "chain.ipynb", "project": "review", "dry_run": True}
    )
    assert status == 200, body
    assert _files(project) == before
    states = {f["path"]: f["state"] for f in body["files"]}
    assert states == {
        "data_loaders/load.py": "unchanged",
        "transformers/clean.py": "changed",
        "transformers/total.py": "unchanged",
        "pipelines/chain/metadata.yaml": "unchanged",
    }
    assert body["conflicts"] == [] and body["same_name"] == []

    status, body = server.request(
        "POST", "export", body={"path": "other.ipynb", "project": "review", "dry_run": True}
    )
    assert status == 200, body
    assert body["conflicts"] == [
        {"path": "data_loaders/load.py", "pipelines": ["chain"]},
        {"path": "transformers/clean.py", "pipelines": ["chain"]},
    ]
    assert {f["path"]: f["state"] for f in body["files"]}["pipelines/other/metadata.yaml"] == "new"
    status, body = server.request(
        "POST",
        "export",
        body={"path": "other.ipynb", "project": "review", "dry_run": True, "detach": True},
    )
    assert status == 200, body
    copies = [f["path"] for f in body["files"] if f["detached"]]
    assert copies == ["data_loaders/other/load.py", "transformers/other/clean.py"]
    assert _files(project) == before


def test_a_dry_run_export_flags_a_block_whose_name_another_block_file_has(
    server: Server,
) -> None:
    write_notebook(server.root / "daily.ipynb", "%%block trips_per_day --lang sql\nSELECT 1 AS n")
    write_notebook(server.root / "weekly.ipynb", "%%block trips_per_day\n[1, 2]")
    status, body = server.request(
        "POST", "export", body={"path": "daily.ipynb", "project": "named"}
    )
    assert status == 200, body
    status, body = server.request(
        "POST", "export", body={"path": "weekly.ipynb", "project": "named", "dry_run": True}
    )
    assert status == 200, body
    assert body["same_name"] == [
        {
            "block": "trips_per_day",
            "path": "data_loaders/trips_per_day.py",
            "others": [{"path": "data_loaders/trips_per_day.sql", "pipelines": ["daily"]}],
        }
    ]


def test_runs_are_listed_with_their_block_runs(server: Server) -> None:
    status, body = server.request("GET", "runs", {"path": "printing.ipynb"})
    assert status == 200, body
    run = next(r for r in body["runs"] if r["run_id"] == server.run_id)
    blocks = {b["block"]: b["status"] for b in run["blocks"]}
    assert blocks["load"] == "ran" and blocks["login"] == "failed"
    assert all("output" not in b and "traceback" not in b for b in run["blocks"])
    assert PASSWORD not in json.dumps(body)


def test_the_logs_of_a_failed_block_end_with_its_traceback(server: Server) -> None:
    status, body = server.logs("login")
    assert status == 200, body
    assert "Traceback (most recent call last)" in body["text"]
    assert "PermissionError: login refused for password ***" in body["text"]
    assert PASSWORD not in body["text"]


# -- GET /jupyter-blocks/schedule?path=<notebook> -----------------------------------------------

SETTINGS = """\
%%pipeline
triggers:
- name: daily
  schedule_type: time
  schedule_interval: '@daily'
  start_time: 2024-01-01 05:00:00
  status: active
- name: hook
  schedule_type: api
  status: active
"""


def _cli(server: Server, *args: str, clock: str | None = None) -> str:
    env = {**os.environ, **({"JUPYTER_BLOCKS_CLOCK": clock} if clock else {})}
    env.pop("JUPYTER_BLOCKS_STORE", None)
    result = subprocess.run([sys.executable, "-m", "jupyter_blocks.cli", *args], cwd=server.root,
                            env=env, capture_output=True, text=True, timeout=60, check=False)
    return result.stdout + result.stderr


def test_schedule_lists_triggers_with_next_and_last_run_and_backfills(server: Server) -> None:
    write_notebook(server.root / "scheduled.ipynb", SETTINGS, "%%block load\n[1, 2, 3]")
    _cli(server, "schedule", "scheduled.ipynb", "--once", clock="2024-01-15T06:00:00Z")
    ran = _cli(server, "schedule", "scheduled.ipynb", "--once", clock="2024-01-16T06:00:00Z")
    assert "scheduled run" in ran, ran
    _cli(server, "backfill", "scheduled.ipynb", "--start", "2020-10-01", "--end", "2020-10-03",
         "--interval", "day")

    status, body = server.request("GET", "schedule", {"path": "scheduled.ipynb"})
    assert status == 200, body
    assert body["pipeline"] == "scheduled"
    daily, hook = body["triggers"]
    assert (daily["trigger"], daily["type"], daily["status"]) == ("daily", "time", "active")
    assert daily["schedule"] == "@daily at 05:00 UTC"
    assert datetime.fromisoformat(daily["next"]).utcoffset() is not None
    assert daily["last_status"] == "success"
    # The run store's local time, sent with its offset: a browser elsewhere reads it right.
    started = datetime.fromisoformat(daily["last_started"])
    assert started.utcoffset() is not None
    assert abs((datetime.now(timezone.utc) - started).total_seconds()) < 300
    assert (hook["type"], hook["next"], hook["last_status"]) == ("api", None, None)
    [backfill] = body["backfills"]
    assert (backfill["every"], backfill["status"], backfill["intervals"], backfill["succeeded"],
            backfill["failed"]) == ("day", "success", 2, 2, 0)


def test_schedule_of_a_notebook_without_triggers_is_empty(server: Server) -> None:
    status, body = server.request("GET", "schedule", {"path": "chain.ipynb"})
    assert status == 200, body
    assert body["triggers"] == []
    assert body["backfills"] == []


def test_schedule_of_invalid_settings_is_a_400_with_one_line(server: Server) -> None:
    write_notebook(server.root / "bad_settings.ipynb",
                   SETTINGS.replace("schedule_type: time", "schedule_type: tim"), "%%block x\n1")
    status, body = server.request("GET", "schedule", {"path": "bad_settings.ipynb"})
    assert status == 400
    assert body["message"] == ("cell 1: %%pipeline triggers[0].schedule_type: input should be "
                               "'time', 'api' or 'event'")


# -- helpers -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [
        ("short\n", 100, ("short\n", False)),
        ("aaa\nbbb\nccc\n", 6, ("ccc\n", True)),
        ("aaa\nbbb\nccc", 5, ("ccc", True)),
        ("x" * 100, 10, ("x" * 10, True)),
        ("é" * 10, 5, ("éé", True)),
        ("", 10, ("", False)),
    ],
)
def test_tail_keeps_the_last_whole_lines_within_the_limit(
    text: str, limit: int, expected: tuple[str, bool]
) -> None:
    from jupyter_blocks.server.handlers import tail

    assert tail(text, limit) == expected



# -- the API trigger and the schedule ------------------------------------------------------------


def _until_done(server: Server, run_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        status, run = server.request("GET", f"api/pipelines/hooked/runs/{run_id}")
        assert status == 200, run
        if run["status"] not in ("starting", "running"):
            return run
        time.sleep(0.2)
    raise AssertionError(f"run {run_id} did not end")


def test_the_api_trigger_starts_a_run_behind_jupyters_authentication(server: Server) -> None:
    status, answer = server.request("POST", "api/pipelines/hooked/runs",
                                    body={"variables": {"fail_on": "never"}})
    assert status == 201, answer
    assert answer["trigger"] == "api:hook" and answer["url"].endswith(answer["run_id"])
    run = _until_done(server, answer["run_id"])
    assert run["status"] == "success" and run["variables"]["fail_on"] == "never"
    assert [b["status"] for b in run["blocks"]] == ["ran", "ran"]
    status, _ = server.request("POST", "api/pipelines/hooked/runs", body={}, token="wrong")
    assert status == 403


def test_the_api_trigger_refuses_bad_requests_in_one_line(server: Server) -> None:
    status, answer = server.request("POST", "api/pipelines/hookd/runs", body={})
    assert status == 404 and "hookd" in answer["message"]
    status, answer = server.request("POST", "api/pipelines/hooked/runs",
                                    body={"variables": {"pauze": 1}})
    assert status == 400 and "did you mean `pause`" in answer["message"]
    status, answer = server.request("POST", "api/pipelines/hooked/runs",
                                    body={"trigger": "daily"})
    assert status == 404 and "no api trigger `daily`" in answer["message"]
    status, _ = server.request("GET", "api/pipelines/hooked/runs/nosuchrun")
    assert status == 404


def test_the_schedule_of_a_notebook(server: Server) -> None:
    status, answer = server.request("GET", "schedule", {"path": "hooked.ipynb"})
    assert status == 200, answer
    triggers = {t["trigger"]: t for t in answer["triggers"]}
    assert triggers["daily"]["schedule"] == "@daily at 05:00 UTC"
    assert triggers["daily"]["next"].endswith("05:00:00+00:00")
    assert triggers["hook"]["type"] == "api" and answer["backfills"] == []
    status, answer = server.request("GET", "schedule", {"path": "printing.ipynb"})
    assert status == 200 and answer["triggers"] == []
