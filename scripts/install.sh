#!/usr/bin/env bash
# Create .venv and install imr-search with its test tools; safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$python" -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
# The CPU build of torch first: left to itself, sentence-transformers pulls a multi-GB CUDA build.
.venv/bin/python -m pip install --quiet torch==2.13.0
.venv/bin/python -m pip install --quiet -e '.[test]'
# The int8 ONNX export of the embedding model (the default backend): made once, here, so that
# the first index or search does not wait for it, and a failing export fails the install.
HF_HUB_OFFLINE=1 .venv/bin/python -m indexer.onnx_model >/dev/null
