"""Runner overhead: a 200-block chain of trivial blocks with the disk cache on.

Prints the overhead per block (target: under 200 µs) and the ratio of the runner's time to calling
the 200 functions directly, both measured in this run (median of several repeats).
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

from jupyter_blocks.cache import Cache
from jupyter_blocks.core.grammar import parse_cell
from jupyter_blocks.core.graph import Dag
from jupyter_blocks.runner import Runner

BLOCKS = 200
REPEATS = 7


def chain(n: int) -> Dag:
    cells = ["%%block b0\n@data_loader\ndef b0(*args, **kwargs):\n    return 0"]
    for i in range(1, n):
        cells.append(
            f"%%block b{i} -u b{i - 1}\n@transformer\n"
            f"def b{i}(x, *args, **kwargs):\n    return x + 1"
        )
    return Dag.of(parse_cell(c, origin=f"cell {i + 1}") for i, c in enumerate(cells))


def direct(n: int) -> float:
    functions = [lambda *a, **k: 0] + [lambda x, *a, **k: x + 1] * (n - 1)
    started = time.perf_counter()
    value = functions[0]()
    for function in functions[1:]:
        value = function(value)
    return time.perf_counter() - started


def main() -> int:
    dag = chain(BLOCKS)
    Runner().run(dag)  # warm the analysis and compile caches, as a notebook session would
    runs, cached, directs = [], [], []
    with tempfile.TemporaryDirectory() as folder:
        for repeat in range(REPEATS):
            cache = Cache.beside(Path(folder) / str(repeat))
            started = time.perf_counter()
            result = Runner(cache).run(dag, use_cache=False)
            runs.append(time.perf_counter() - started)
            assert result.ok and result.outputs[f"b{BLOCKS - 1}"] == BLOCKS - 1
            started = time.perf_counter()
            Runner(Cache.beside(Path(folder) / str(repeat))).run(dag)
            cached.append(time.perf_counter() - started)
            directs.append(direct(BLOCKS))
    run, hit, base = (statistics.median(x) for x in (runs, cached, directs))
    per_block = (run - base) / BLOCKS * 1e6
    print(f"{BLOCKS}-block chain, disk cache on, median of {REPEATS}")
    print(f"  runner, every block runs and is stored:  {run * 1e3:8.2f} ms")
    print(f"  runner, every block served from disk:     {hit * 1e3:8.2f} ms")
    print(f"  calling the {BLOCKS} functions directly:       {base * 1e3:8.3f} ms")
    print(f"  overhead per block: {per_block:.0f} µs (target < 200 µs)")
    print(f"  ratio runner / direct: {run / base:.0f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
