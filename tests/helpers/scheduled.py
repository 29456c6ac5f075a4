"""Notebooks with a ``%%pipeline`` cell for scheduler, backfill and API tests."""

from __future__ import annotations

import datetime as dt
import textwrap
from pathlib import Path

from jupyter_blocks.schedule.scheduler import Clock
from tests.helpers.notebooks import write_notebook

#: A loader that records what it was given and sleeps ``pause`` seconds (a variable).
LOAD = """\
%%block load
@data_loader
def load(**kwargs):
    import time
    time.sleep(float(kwargs.get("pause") or 0))
    if kwargs.get("fail_on") and kwargs["ds"] in str(kwargs["fail_on"]):
        raise ValueError(f"no trips for {kwargs['ds']}")
    return [kwargs["ds"], str(kwargs["interval_end_datetime"]), kwargs["interval_seconds"]]
"""
TOTAL = """\
%%block total --upstream load
@transformer
def total(load, **kwargs):
    return len(load)
"""


def scheduled_notebook(path: Path, settings: str, *cells: str, pause: float = 0.0,
                       fail_on: str = "") -> Path:
    """A notebook: the ``%%pipeline`` cell of ``settings`` (YAML), a parameters cell, ``load``
    and ``total`` (or ``cells``)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    parameters = f"pause = {pause!r}\nfail_on = {fail_on!r}"
    blocks = cells or (LOAD, TOTAL)
    notebook = write_notebook(path, "%%pipeline\n" + textwrap.dedent(settings).strip() + "\n",
                              parameters, *blocks)
    import json

    document = json.loads(notebook.read_text())
    document["cells"][1]["metadata"]["tags"] = ["parameters"]
    notebook.write_text(json.dumps(document))
    return notebook


def daily(name: str = "daily", *, start: str = "2024-01-01 05:00:00", extra: str = "") -> str:
    """The YAML of a daily trigger at 05:00 UTC (``extra``: more keys, indented by 2)."""
    lines = [f"- name: {name}", "  schedule_type: time", "  schedule_interval: '@daily'",
             f"  start_time: {start}", "  status: active"]
    lines += [f"  {line}" for line in textwrap.dedent(extra).strip().splitlines() if line]
    return "\n".join(lines)


def clock_at(text: str, speed: float = 1.0) -> Clock:
    """A scheduler clock that reads ``text`` (UTC) now."""
    return Clock(dt.datetime.fromisoformat(text).replace(tzinfo=dt.timezone.utc), speed)
