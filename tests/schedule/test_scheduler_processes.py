"""``jupyter-blocks schedule`` as real processes: two on one store, SIGTERM, kill -9, --once.

The clock is moved and sped up through ``$JUPYTER_BLOCKS_CLOCK`` (60 times: a minutely cron
ticks every real second), so these tests take seconds.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter

import psutil
import pytest

from jupyter_blocks.history.store import RunStore
from tests.helpers.scheduled import daily, scheduled_notebook

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]

MINUTELY = ("- name: minutely\n  schedule_type: time\n  schedule_interval: '* * * * *'\n"
            "  start_time: 2024-01-01 00:00:00\n  status: active")


def schedule(*args, clock=None, **options):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("JUPYTER_BLOCKS_STORE", None)
    if clock:
        env["JUPYTER_BLOCKS_CLOCK"] = clock
    env.update(options.pop("env", {}))
    return subprocess.Popen([sys.executable, "-m", "jupyter_blocks.cli", "schedule", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True,
                            **options)


def stop(process, timeout=60):
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=timeout)
    return process.returncode, out, err


def wait_for_a_running_block(store, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for run in store.list_runs(status="running"):
            if any(b["status"] == "running" for b in store.get_run(run["run_id"])["blocks"]):
                return run
        time.sleep(0.1)
    raise AssertionError("no block started running")


def events(out):
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def test_two_schedulers_on_one_store_never_start_a_tick_twice(tmp_path, store_url):
    notebook = scheduled_notebook(tmp_path / "taxi.ipynb", f"triggers:\n{MINUTELY}")
    args = [str(notebook), "--json", "--poll", "0.05", "--store", store_url]
    first = schedule(*args, clock="2024-01-15T04:59:30Z x60")
    second = schedule(*args, clock="2024-01-15T04:59:30Z x60")
    time.sleep(7)
    outcomes = [stop(first), stop(second)]
    assert [code for code, _, _ in outcomes] == [0, 0], [err for _, _, err in outcomes]
    logged = [e for _, out, _ in outcomes for e in events(out)]
    ticks = Counter(e["tick"] for e in logged if e["event"] in ("run_started", "run_scheduled"))
    # A scheduler stopped before a claimed tick began gives it back: the other may take it.
    ticks.subtract(e["tick"] for e in logged if e["event"] == "tick_released")
    assert len(+ticks) >= 3 and set((+ticks).values()) == {1}, ticks
    runs = RunStore(store_url).list_runs(limit=1000)
    dates = Counter(r["variables"]["execution_date"] for r in runs)
    assert set(dates.values()) == {1}
    # Every run either finished or was stopped by SIGTERM: none is left running.
    assert {r["status"] for r in runs} <= {"success", "interrupted"}
    claims = RunStore(store_url).orchestration().scheduled("taxi", limit=1000)
    assert len(claims) == len({c["tick"] for c in claims})


def test_sigterm_interrupts_the_runs_in_progress_and_exits(tmp_path):
    extra = "variables:\n  pause: 60"
    notebook = scheduled_notebook(tmp_path / "taxi.ipynb", f"triggers:\n{daily(extra=extra)}")
    process = schedule(str(notebook), "--json", "--poll", "0.1", clock="2024-01-15T04:59:58Z")
    store = RunStore.for_directory(tmp_path)
    running = wait_for_a_running_block(store)
    children = psutil.Process(process.pid).children(recursive=True)
    assert children
    code, out, err = stop(process)
    assert code == 0, err
    [run] = store.list_runs()
    assert run["run_id"] == running["run_id"] and run["status"] == "interrupted"
    assert {b["status"] for b in store.get_run(run["run_id"])["blocks"]} == {"interrupted"}
    assert not [c for c in children if c.is_running() and c.status() != psutil.STATUS_ZOMBIE]
    assert [e["event"] for e in events(out)][-1] == "scheduler_stopped"


def test_a_killed_scheduler_leaves_no_run_running(tmp_path):
    extra = "variables:\n  pause: 60"
    notebook = scheduled_notebook(tmp_path / "taxi.ipynb", f"triggers:\n{daily(extra=extra)}")
    process = schedule(str(notebook), "--json", "--poll", "0.1", clock="2024-01-15T04:59:58Z")
    wait_for_a_running_block(RunStore.for_directory(tmp_path))
    children = psutil.Process(process.pid).children(recursive=True)
    process.kill()
    process.communicate()
    _, alive = psutil.wait_procs(children, timeout=15)
    assert not alive
    [run] = RunStore.for_directory(tmp_path).list_runs()
    assert run["status"] == "interrupted"


def test_once_runs_what_is_due_and_says_how_it_went(tmp_path):
    notebook = scheduled_notebook(tmp_path / "taxi.ipynb", f"triggers:\n{daily()}")
    first = schedule(str(notebook), "--once", clock="2024-01-15T04:00:00Z")
    assert first.wait(60) == 0 and first.stdout.read() == ""
    due = schedule(str(notebook), "--once", clock="2024-01-15T05:00:05Z")
    out, _ = due.communicate(timeout=60)
    assert due.returncode == 0 and "success" in out
    broken = scheduled_notebook(tmp_path / "broken.ipynb",
                                f"triggers:\n{daily(extra='variables: {fail_on: 2024-01-15}')}")
    subprocess.run([sys.executable, "-m", "jupyter_blocks.cli", "schedule", str(broken),
                    "--once"], env={**os.environ, "JUPYTER_BLOCKS_CLOCK": "2024-01-15T04:00Z"},
                   check=True, capture_output=True)
    failed = schedule(str(broken), "--once", clock="2024-01-15T05:00:05Z")
    out, _ = failed.communicate(timeout=60)
    assert failed.returncode == 1 and "failed" in out


def test_schedule_list_shows_each_trigger(tmp_path):
    notebook = scheduled_notebook(tmp_path / "taxi.ipynb", f"triggers:\n{daily()}\n"
                                  "- name: hook\n  schedule_type: api\n  status: active")
    listing = schedule("list", str(notebook), "--json", clock="2024-01-15T06:00:00Z")
    out, err = listing.communicate(timeout=60)
    assert listing.returncode == 0, err
    rows = {row["trigger"]: row for row in map(json.loads, out.splitlines())}
    assert rows["daily"]["next"] == "2024-01-16T05:00:00+00:00"
    assert rows["hook"]["schedule"] == "runs when called over HTTP"
    table = schedule("list", str(notebook), clock="2024-01-15T06:00:00Z")
    out, _ = table.communicate(timeout=60)
    assert "@daily at 05:00 UTC" in out and "2024-01-16 05:00" in out and "never run" in out


def test_bad_input_is_one_line_and_exit_code_2(tmp_path):
    missing = schedule(str(tmp_path / "nope.ipynb"), "--once")
    _, err = missing.communicate(timeout=60)
    assert missing.returncode == 2 and err.count("\n") == 1 and "no such notebook" in err
    notebook = scheduled_notebook(tmp_path / "taxi.ipynb", f"triggers:\n{daily()}")
    no_token = schedule(str(notebook), "--api", "0", env={"JUPYTER_BLOCKS_API_TOKEN": ""})
    _, err = no_token.communicate(timeout=60)
    assert no_token.returncode == 2 and "JUPYTER_BLOCKS_API_TOKEN" in err
