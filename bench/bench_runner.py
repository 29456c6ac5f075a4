"""Runner overhead: a 200-block chain of trivial blocks with the disk cache on.

Prints the overhead per block (target: under 200 µs) and the ratio of the runner's time to calling
the 200 functions directly, all measured in this run, interleaved (a warm-up round, then the
median of ``--repeats`` rounds). Each round runs with the disk cache in a temporary folder on
disk and in one on tmpfs (``/dev/shm``), since a cache write is a file created and renamed and a
slow or busy disk can dominate the figure.
"""

from __future__ import annotations

import argparse
import contextlib
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
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=REPEATS)
    args = parser.parse_args()
    dag = chain(BLOCKS)
    Runner().run(dag)  # warm the analysis and compile caches, as a notebook session would
    places = {"disk": None, "tmpfs": "/dev/shm" if Path("/dev/shm").is_dir() else None}
    runs: dict[str, list[float]] = {place: [] for place in places}
    cached: dict[str, list[float]] = {place: [] for place in places}
    directs: list[float] = []
    with contextlib.ExitStack() as stack:
        folders = {place: Path(stack.enter_context(tempfile.TemporaryDirectory(dir=base)))
                   for place, base in places.items()}
        for repeat in range(args.repeats + 1):
            for place, folder in folders.items():
                cache = Cache.beside(folder / str(repeat))
                started = time.perf_counter()
                result = Runner(cache).run(dag, use_cache=False)
                seconds = time.perf_counter() - started
                assert result.ok and result.outputs[f"b{BLOCKS - 1}"] == BLOCKS - 1
                started = time.perf_counter()
                Runner(Cache.beside(folder / str(repeat))).run(dag)
                hit = time.perf_counter() - started
                if repeat:
                    runs[place].append(seconds)
                    cached[place].append(hit)
            base_time = direct(BLOCKS)
            if repeat:
                directs.append(base_time)
    base = statistics.median(directs)
    print(f"{BLOCKS}-block chain, disk cache on, interleaved, 1 warm-up + {args.repeats}, medians")
    print(f"  calling the {BLOCKS} functions directly: {base * 1e3:8.3f} ms")
    for place in places:
        run, hit = statistics.median(runs[place]), statistics.median(cached[place])
        per_block = (run - base) / BLOCKS * 1e6
        print(f"  cache on {place}:")
        print(f"    runner, every block runs and is stored:  {run * 1e3:8.2f} ms")
        print(f"    runner, every block served from disk:     {hit * 1e3:8.2f} ms")
        print(f"    overhead per block: {per_block:.0f} µs (target < 200 µs); "
              f"ratio runner / direct: {run / base:.0f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
