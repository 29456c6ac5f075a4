"""The runner: executes a DAG selection through the cache and an executor, emitting events."""

from __future__ import annotations

from jupyter_blocks.runner.core import Planned, Runner, block_variables, plan
from jupyter_blocks.runner.events import BlockOutcome, Event, RunResult
from jupyter_blocks.runner.execute import BlockFailure, BlockTask, run_task
from jupyter_blocks.runner.executors import Executor, InlineExecutor, ThreadExecutor

__all__ = ["BlockFailure", "BlockOutcome", "BlockTask", "Event", "Executor", "InlineExecutor",
           "Planned", "RunResult", "Runner", "ThreadExecutor", "block_variables", "plan",
           "run_task"]
