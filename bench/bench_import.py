"""Import cost: ``import jupyter_blocks``, ``%load_ext jupyter_blocks``, and ``jupyter-blocks run``.

Each measurement runs in a fresh interpreter, interleaved, one warm-up round then the median of
``--repeats``:

- ``import jupyter_blocks`` and ``%load_ext jupyter_blocks`` beyond pandas (target < 0.3 s each);
- what ``jupyter-blocks run NOTEBOOK -q`` imports that a plain script doing the same work
  (``import pandas, pyarrow.parquet``) does not: the wall time of importing exactly those
  modules in a fresh interpreter after pandas and pyarrow, their ``-X importtime`` self time by
  package, and whether the heavy ones a quiet run does without (SQLAlchemy, pydantic, rich,
  YAML) stay out of it. The notebook is one trivial block, so the run adds nothing else.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

SNIPPETS = {
    "import pandas": "import pandas",
    "import pandas, jupyter_blocks": "import pandas, jupyter_blocks",
    "IPython shell + pandas": "import pandas\nfrom IPython.testing.globalipapp import start_ipython"
                              "\nip = start_ipython()",
    "IPython shell + pandas + %load_ext": "import pandas\nfrom IPython.testing.globalipapp "
                                          "import start_ipython\nip = start_ipython()\n"
                                          "ip.run_line_magic('load_ext', 'jupyter_blocks')",
}
TIMER = "import time\n_t = time.perf_counter()\n{code}\nprint(time.perf_counter() - _t)"
BASELINE = "import pandas, pyarrow.parquet"
#: Packages a quiet run of a folder without io_config.yaml, on the default store, never needs.
NOT_NEEDED = ("sqlalchemy", "pydantic", "rich", "yaml")
RUN = ("import sys, runpy\nsys.argv = ['jupyter-blocks', 'run', {notebook!r}, '-q']\n"
       "try:\n    runpy.run_module('jupyter_blocks.cli', run_name='__main__')\n"
       "except SystemExit as exc:\n    assert not exc.code, exc.code\n"
       "import json\nprint(json.dumps(sorted(sys.modules)))")


def fresh(code: str, *options: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *options, "-c", code], capture_output=True, text=True,
                          check=True)


def seconds(code: str) -> float:
    return float(fresh(TIMER.format(code=code)).stdout.strip().splitlines()[-1])


def notebook_in(folder: Path) -> Path:
    cell = {"cell_type": "code", "execution_count": None, "id": "c1", "metadata": {},
            "outputs": [], "source": "%%block one\n1"}
    path = folder / "one.ipynb"
    path.write_text(json.dumps({"cells": [cell], "nbformat": 4, "nbformat_minor": 5,
                                "metadata": {}}))
    return path


def self_times(stderr: str) -> dict[str, int]:
    found: dict[str, int] = {}
    for line in stderr.splitlines():
        match = re.match(r"import time:\s+(\d+) \|\s+\d+ \|\s*(\S+)", line)
        if match:
            found[match[2]] = int(match[1])
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        notebook = notebook_in(Path(directory))
        run = RUN.format(notebook=str(notebook))
        loaded = set(json.loads(fresh(run).stdout.strip().splitlines()[-1]))
        baseline = set(json.loads(fresh(f"{BASELINE}\nimport sys, json\n"
                                        "print(json.dumps(sorted(sys.modules)))").stdout))
        extra = sorted(name for name in loaded - baseline
                       if not name.startswith("__") and not name.endswith(".__main__")
                       and name != "runpy")
        by_package: Counter[str] = Counter()
        timed = self_times(fresh(run, "-X", "importtime").stderr)
        for name in extra:
            by_package[name.split(".")[0]] += timed.get(name, 0)
        # Import exactly those modules after the baseline: what the CLI adds to the script.
        importing = f"{BASELINE}\nimport importlib\n_t = time.perf_counter()\n" + "".join(
            f"importlib.import_module({name!r})\n" for name in extra) + \
            "print(time.perf_counter() - _t)"
        snippets = dict(SNIPPETS)
        rounds: dict[str, list[float]] = {name: [] for name in [*snippets, "run imports"]}
        for round_ in range(args.repeats + 1):
            for name, code in snippets.items():
                value = seconds(code)
                if round_:
                    rounds[name].append(value)
            value = float(fresh("import time\n" + importing).stdout.strip().splitlines()[-1])
            if round_:
                rounds["run imports"].append(value)
    times = {name: statistics.median(values) for name, values in rounds.items()}
    print(f"fresh interpreters, interleaved, 1 warm-up + {args.repeats}, medians")
    for name in snippets:
        print(f"  {name:<38} {times[name]:6.3f} s")
    extra_import = times["import pandas, jupyter_blocks"] - times["import pandas"]
    extra_load = times["IPython shell + pandas + %load_ext"] - times["IPython shell + pandas"]
    print(f"import jupyter_blocks beyond pandas: {extra_import:.3f} s (target < 0.3 s)")
    print(f"%load_ext jupyter_blocks beyond pandas + IPython: {extra_load:.3f} s (target < 0.3 s)")
    print(f"jupyter-blocks run -q imports {len(extra)} modules beyond `{BASELINE}`: "
          f"{times['run imports']:.3f} s to import them after it")
    print("  -X importtime self time by package (ms):",
          ", ".join(f"{package} {us / 1000:.1f}" for package, us in by_package.most_common(8)))
    heavy = [name for name in NOT_NEEDED if name in {m.split(".")[0] for m in loaded}]
    print(f"  imported although a quiet run does not need them: {', '.join(heavy) or 'none'}")
    return 1 if heavy else 0


if __name__ == "__main__":
    sys.exit(main())
