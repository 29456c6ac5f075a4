#!/usr/bin/env bash
# Create Mage's own virtualenv at .venvs/mage (idempotent), to run real Mage next to our code.
#
# mage-ai pins packages that clash with the project's (ipykernel 6.15, ipython 8.10,
# jupyter_client 7.4, tornado 6.4, click < 8.2), so it lives in its own virtualenv. DuckDB is
# not among mage-ai's base requirements; its `all` extra pins duckdb 1.4.3, which is installed
# alone here so SQL blocks can run on a DuckDB file without the extra's cloud clients.
#
# Usage: bash scripts/setup_mage.sh     (PYTHON=python3.11 to choose the interpreter)
# Then:  .venvs/mage/bin/mage run PROJECT PIPELINE
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$repo_root/.venvs/mage"
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

if [[ -x "$venv/bin/mage" ]] && mage_ready; then
    echo "mage $mage_version already set up in $venv"
    exit 0
fi

if [[ ! -x "$venv/bin/python" ]]; then
    "$python" -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check "${packages[@]}"

if ! mage_ready; then
    echo "mage-ai $mage_version did not install into $venv" >&2
    exit 1
fi
echo "mage ready: $venv/bin/mage (mage run PROJECT PIPELINE)"
