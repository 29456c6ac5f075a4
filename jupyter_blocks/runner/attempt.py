"""Where one attempt of a block runs: in this process, or in a process of its own.

What belongs here: :func:`run_task`, what the runner core and the executors' workers call for
each attempt. A block with ``--timeout`` (other than a sensor, whose timeout is a deadline for
all its pokes, and an R block, whose R worker is stopped at its timeout) runs in a child process
that is killed when the time is up (``isolate``); every other attempt runs here (``execute``).
And :func:`executor_failure`, the failure of an attempt the executor itself could not run.
"""

from __future__ import annotations

import pickle
import time

from jupyter_blocks.core.errors import BlockFailed
from jupyter_blocks.runner.execute import BlockTask, Executed, run_attempt
from jupyter_blocks.runner.isolate import run_isolated


def run_task(task: BlockTask) -> Executed:
    """Run one attempt of ``task`` where it belongs; raise ``BlockFailed`` if it fails."""
    spec = task.spec
    if spec.timeout is None or task.mode == "poke" or spec.lang == "r":
        return run_attempt(task)
    started = time.perf_counter()
    executed = run_isolated(task, spec.timeout)
    executed.seconds = time.perf_counter() - started
    return executed


def executor_failure(label: str, exc: BaseException) -> BlockFailed:
    """A failure of the executor itself for a block (its values could not cross to a worker)."""
    detail = " ".join(f"{type(exc).__name__}: {exc}".split())
    hint = ""
    if "pickl" in detail.lower() or isinstance(exc, pickle.PicklingError):
        hint = ("; with worker processes or Dask a block's inputs and output must pickle: "
                "run it with the inline or threads executor")
    return BlockFailed(f"{label} could not run in the executor: {detail}{hint}")
