"""The runner: the run assembly (``run``), the core loop (``core``) and what they use.

- ``run``: :func:`~jupyter_blocks.runner.run.run` puts every run together from a
  :class:`~jupyter_blocks.runner.run.RunRequest`.
- ``core``: the loop over the DAG; ``plan``: analyses and cache keys; ``execute``: one block's
  task (retries, timeout, tests); ``executors``: where tasks run.
- ``events``: what subscribers receive; ``selection``: which blocks; ``resume``: picking a run up
  again; ``variables``/``values``: the ``kwargs`` of a run and their command-line text;
  ``capture``: what blocks print; ``namespace``: headless globals; ``folder``: the working folder.
"""

from __future__ import annotations

from jupyter_blocks.runner.core import Runner
from jupyter_blocks.runner.events import BlockOutcome, Event, RunResult
from jupyter_blocks.runner.executors import Executor, InlineExecutor, ThreadExecutor
from jupyter_blocks.runner.plan import Analyses, Planned, block_variables, plan

__all__ = ["Analyses", "BlockOutcome", "Event", "Executor", "InlineExecutor", "Planned",
           "RunResult", "Runner", "ThreadExecutor", "block_variables", "plan"]
