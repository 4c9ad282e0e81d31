#!/usr/bin/env bash
# Set up from scratch (if needed) and run the default test suite (a few minutes on 2 cores).
# Extra arguments go to pytest, e.g. `bash scripts/test.sh -m slow`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --system
exec .venv/bin/python -m pytest -q "$@"
