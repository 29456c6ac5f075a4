"""Import cost: ``import jupyter_blocks`` and ``%load_ext jupyter_blocks`` beyond pandas.

Each measurement runs in a fresh interpreter (median of several); the target is under 0.3 s more
than importing pandas.
"""

from __future__ import annotations

import statistics
import subprocess
import sys

REPEATS = 7
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


def measure(code: str) -> float:
    runs = []
    for _ in range(REPEATS):
        out = subprocess.run([sys.executable, "-c", TIMER.format(code=code)],
                             capture_output=True, text=True, check=True)
        runs.append(float(out.stdout.strip().splitlines()[-1]))
    return statistics.median(runs)


def main() -> int:
    times = {name: measure(code) for name, code in SNIPPETS.items()}
    for name, seconds in times.items():
        print(f"  {name:<38} {seconds:6.3f} s")
    extra_import = times["import pandas, jupyter_blocks"] - times["import pandas"]
    extra_load = times["IPython shell + pandas + %load_ext"] - times["IPython shell + pandas"]
    print(f"import jupyter_blocks beyond pandas: {extra_import:.3f} s (target < 0.3 s)")
    print(f"%load_ext jupyter_blocks beyond pandas + IPython: {extra_load:.3f} s (target < 0.3 s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
