#!/usr/bin/env bash
# Create the BigQuery emulator's own virtualenv at .venvs/bqemulator (idempotent).
#
# bqemulator pins a DuckDB that clashes with the project's, so it lives in its own virtualenv.
# Offline it cannot download DuckDB's `spatial` extension, so the extension is installed from the
# `duckdb-extension-spatial` wheel into a private HOME (.venvs/bqemulator-home) that the test
# fixture passes to the emulator.
#
# Usage: bash scripts/setup_bqemulator.sh     (PYTHON=python3.11 to choose the interpreter)
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$repo_root/.venvs/bqemulator"
emulator_home="$repo_root/.venvs/bqemulator-home"
python="${PYTHON:-python3}"
packages=(
    "bqemulator==1.4.0"
    "duckdb==1.5.5"
    "duckdb-extension-spatial==1.5.5"
    "duckdb-extensions==1.5.5"
    "numpy"  # bqemulator registers DuckDB UDFs that need it, but does not declare it
)

spatial_ready() {
    HOME="$emulator_home" "$venv/bin/python" - <<'EOF' >/dev/null 2>&1
import duckdb
duckdb.connect().execute("LOAD spatial")
EOF
}

if [[ -x "$venv/bin/bqemulator" ]] && spatial_ready && "$venv/bin/python" -c "import numpy" 2>/dev/null; then
    echo "bqemulator already set up in $venv"
    exit 0
fi

if [[ ! -x "$venv/bin/python" ]]; then
    "$python" -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check "${packages[@]}"

mkdir -p "$emulator_home"
HOME="$emulator_home" "$venv/bin/python" -c \
    "from duckdb_extensions import import_extension; import_extension('spatial')"

if ! spatial_ready; then
    echo "the spatial extension did not load from $emulator_home" >&2
    exit 1
fi
echo "bqemulator ready: $venv/bin/bqemulator (HOME=$emulator_home)"
