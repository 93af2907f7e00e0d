# Sourced by the other scripts: `uv`, pinned and hash-checked, in .venv-uv.
# uv.lock pins every dependency, direct and transitive, with hashes; uv was chosen over
# pip-tools because one lock covers the extras, the model files' group and the 0.1.x SDK
# environment (which conflicts with the 1.x line), and it installs in seconds.
uv_venv=.venv-uv
uv_version=$(sed -n 's/^uv==\([^ ]*\).*/\1/p' scripts/uv-requirements.txt)
# (Under `set -e -o pipefail`: a missing uv must not end the script here.)
installed=$("$uv_venv/bin/uv" --version 2>/dev/null | cut -d' ' -f2 || true)
if [ "$installed" != "$uv_version" ]; then
    python3 -m venv --clear "$uv_venv"
    "$uv_venv/bin/python" -m pip install --quiet --require-hashes -r scripts/uv-requirements.txt
fi
# This machine's python3, never a downloaded interpreter.
export UV_PYTHON_DOWNLOADS=never UV_PYTHON=python3
uv() { "$uv_venv/bin/uv" "$@"; }
