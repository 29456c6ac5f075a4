#!/usr/bin/env bash
# Create Mage's own virtualenv at .venvs/mage (idempotent), to run real Mage next to our code.
#
# mage-ai pins packages that clash with the project's test tools (ipykernel 6.15, ipython 8.10,
# jupyter_client 7.4, tornado 6.4, click < 8.2), so it lives in its own virtualenv. DuckDB is
# not among mage-ai's base requirements; its `all` extra pins duckdb 1.4.3, which is installed
# alone here so SQL blocks can run on a DuckDB file without the extra's cloud clients.
#
# jupyter-blocks itself is installed there too, editable from this checkout (its dependencies
# resolved against Mage's pins, as `pip install jupyter-blocks` into a Mage environment does),
# so exported blocks that use jupyter_blocks.io run under Mage with this checkout's code. The
# labextension is not built for it (Mage does not need it). It is reinstalled when
# pyproject.toml changes.
#
# Usage: bash scripts/setup_mage.sh     (PYTHON=python3.11 to choose the interpreter)
# Then:  .venvs/mage/bin/mage run PROJECT PIPELINE
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$repo_root/.venvs/mage"
stamp="$venv/.jupyter-blocks-pyproject"
python="${PYTHON:-python3}"
mage_version="0.9.80"
packages=(
    "mage-ai==$mage_version"
    "duckdb==1.4.3"  # what mage-ai's `all` extra pins
)

mage_ready() {
    "$venv/bin/python" - "$mage_version" <<'EOF' >/dev/null 2>&1
import sys
from importlib.metadata import version

import duckdb  # noqa: F401

sys.exit(version("mage-ai") != sys.argv[1])
EOF
}

ours_ready() {
    [[ -f "$stamp" ]] && cmp -s "$stamp" "$repo_root/pyproject.toml" \
        && "$venv/bin/python" - "$repo_root" <<'EOF' >/dev/null 2>&1
import sys
from pathlib import Path

import jupyter_blocks

sys.exit(Path(jupyter_blocks.__file__).resolve().parents[1] != Path(sys.argv[1]).resolve())
EOF
}

if [[ -x "$venv/bin/mage" ]] && mage_ready && ours_ready; then
    echo "mage $mage_version (with this checkout's jupyter-blocks) already set up in $venv"
    exit 0
fi

if [[ ! -x "$venv/bin/python" ]]; then
    "$python" -m venv "$venv"
fi
if ! mage_ready; then
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "${packages[@]}"
fi
if ! mage_ready; then
    echo "mage-ai $mage_version did not install into $venv" >&2
    exit 1
fi
SKIP_JUPYTER_BUILDER=1 "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
    --editable "$repo_root"
cp "$repo_root/pyproject.toml" "$stamp"
if ! ours_ready; then
    echo "jupyter-blocks did not install into $venv" >&2
    exit 1
fi
echo "mage ready: $venv/bin/mage (mage run PROJECT PIPELINE), with jupyter-blocks from $repo_root"
