#!/usr/bin/env bash
# Build .venv-sdk01: memgpt with the server deps and the 0.1.x line of the Letta SDK
# (letta-client 0.1.307, what Letta 0.11.7 pinned). Both SDK lines import as
# `letta_client`, so they cannot share one environment; the same SDK flow tests run
# in each:  .venv-sdk01/bin/pytest tests/server -q
set -euo pipefail
cd "$(dirname "$0")/../.."
VENV="${1:-.venv-sdk01}"
PYTHON="${PYTHON:-python3}"
[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
"$VENV/bin/pip" install -q --upgrade pip
# Not the `test` extra: it names the 1.x line of the SDK.
# PostgreSQL too: the server tests run on both store backends.
"$VENV/bin/pip" install -q -e '.[postgres]' 'pytest>=8' 'pytest-timeout>=2.3' 'hypothesis>=6.100' \
    'pgserver>=0.1.4' 'letta-client==0.1.307'
