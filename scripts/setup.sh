#!/usr/bin/env bash
# Create .venv and install mixdown with its test and benchmark extras, from scratch.
#   bash scripts/setup.sh            # Python packages only
#   bash scripts/setup.sh --system   # also fluidsynth, soundfont, mma, espeak-ng, drum kits (synthetic corpus)
#                                    # and chromium + chromium-driver (the studio's browser test); root
# torch: plain `pip install torch` takes the build on this machine's disk (no version pin).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1
[ -x .venv/bin/python ] || "$PY" -m venv .venv
pip() { .venv/bin/python -m pip "$@"; }
.venv/bin/python -c "import torch" 2>/dev/null || pip install -q torch
.venv/bin/python -c "import torchaudio" 2>/dev/null || pip install -q "torchaudio==2.11.*"
pip install -q -e ".[dev,bench,synth,studio]"
.venv/bin/python -c "import mixdown, torch, torchaudio, numba, starlette, uvicorn" # fail loudly if an install did not take
if [ "${1:-}" = "--system" ]; then
    bash scripts/setup_system.sh
fi
echo "setup: ready (.venv)"
