#!/usr/bin/env bash
# Prepare the JupyterLab extension's toolchain for its tests; safe to run again.
#
#   PATH="$PWD/.venv/bin:$PATH" bash labextension/scripts/setup.sh
#
# Installs Debian's Chromium when /usr/bin/chromium is missing (Playwright drives it; no browser
# is ever downloaded), installs the Node packages with jlpm (from the virtualenv's
# jupyter-builder) and builds the extension into jupyter_blocks/labextension.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if [ ! -x /usr/bin/chromium ]; then
    sudo=""
    if [ "$(id -u)" != 0 ]; then
        sudo="sudo"
    fi
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends chromium
fi

if ! command -v jlpm >/dev/null 2>&1; then
    echo "jlpm not found: put the virtualenv's bin (with jupyterlab installed) on PATH" >&2
    exit 1
fi

jlpm install --immutable 2>/dev/null || jlpm install
jlpm build
