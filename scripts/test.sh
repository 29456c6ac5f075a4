#!/usr/bin/env bash
# Install everything the test suite needs, from nothing, and run the whole suite.
#
#   bash scripts/test.sh [pytest arguments]
#
# Creates .venv (the project with its test extras), starts the local PostgreSQL when it is
# installed but stopped, installs R and its jsonlite package from Debian when they are missing
# (as root, with apt-get), prepares the BigQuery emulator's and Mage 0.9.80's own virtualenvs
# (tests/mage runs exported pipelines under real Mage) and the labextension's toolchain (Node
# packages, Debian's Chromium), then runs pytest. Tests whose service is missing
# skip with a message; with JUPYTER_BLOCKS_REQUIRE_SERVICES=1 (as CI sets it) they fail instead.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

python="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
    "$python" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet --editable '.[test]'

if command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
    if ! pg_isready --host 127.0.0.1 --port 5432 --quiet 2>/dev/null; then
        pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n 1)" main start \
            || echo "warning: could not start PostgreSQL; its tests will not run" >&2
    fi
fi

# R blocks need R (with jsonlite): Debian's packages, where this machine lets us install them.
if ! command -v Rscript >/dev/null 2>&1 \
    || ! Rscript --default-packages=base -e 'quit(status = !nzchar(system.file(package = "jsonlite")))' \
        >/dev/null 2>&1; then
    if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
        { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
            --no-install-recommends r-base-core r-cran-jsonlite; } >/dev/null 2>&1 \
            || echo "warning: could not install R (apt-get install r-base-core r-cran-jsonlite); the R block tests will not run" >&2
    fi
fi

bash scripts/setup_bqemulator.sh
bash scripts/setup_mage.sh \
    || echo "warning: could not set up Mage in .venvs/mage; the tests under tests/mage will not run" >&2
if [ -f labextension/scripts/setup.sh ]; then
    PATH="$PWD/.venv/bin:$PATH" bash labextension/scripts/setup.sh
fi

export PATH="$PWD/.venv/bin:$PATH"
# -rs: every skipped test says why (a service this machine lacks, say).
exec .venv/bin/python -m pytest -rs "$@"
