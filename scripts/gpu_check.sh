#!/usr/bin/env bash
# One-shot GPU check for a machine with a CUDA device (issue 14): the gpu tests, the training
# benchmark at batch 4 x 8 tracks x 6 s and at the largest batch that fits, the same step on the
# CPU (for the GPU/CPU samples/s ratio), and the data benchmark with all cores.
#
#   bash scripts/gpu_check.sh [OUT_DIR]      # default: $OUT, else ./gpu_check_out
#   PYTHON=/path/to/python bash scripts/gpu_check.sh ...
#
# Needs torch with CUDA and numba's CUDA target (`pip install -e '.[gpu]'`, done beforehand: the
# script installs nothing). Every step has its own time limit and the script carries on past a
# failure; each step's log and JSON line land in OUT_DIR, and summary.txt lists what passed.
# Whole run: about 8 minutes on an H100-class GPU (less when the steps finish early).
set -u
cd "$(dirname "$0")/.."
OUT_DIR="${1:-${OUT:-gpu_check_out}}"
PY="${PYTHON:-python}"
mkdir -p "$OUT_DIR"
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
CORES="$(nproc)"
: > "$OUT_DIR/summary.txt"

step() {  # step NAME SECONDS COMMAND...: run with a limit, log to NAME.log, JSON line to NAME.json
    local name="$1" limit="$2"; shift 2
    local t0=$SECONDS
    timeout "$limit" "$@" > "$OUT_DIR/$name.log" 2>&1
    local rc=$?
    grep '^{' "$OUT_DIR/$name.log" | tail -1 > "$OUT_DIR/$name.json" || true
    echo "$name rc=$rc $((SECONDS - t0))s" | tee -a "$OUT_DIR/summary.txt"
}

{ nvidia-smi || true; "$PY" -c "import torch, numba; print('torch', torch.__version__, 'cuda', torch.version.cuda,
'available', torch.cuda.is_available()); print('numba', numba.__version__)"
  "$PY" -c "from numba import cuda; cuda.detect()" || echo "numba's CUDA target is not usable: pip install -e '.[gpu]'"
} > "$OUT_DIR/env.txt" 2>&1

step gpu_tests 240 "$PY" -m pytest -q -p no:cacheprovider -m gpu -rs tests/test_cuda_kernels.py
step bench_train_b4 150 "$PY" scripts/bench_train.py --device cuda --batch 4 --tracks 8 --seconds 6 --steps 5
step bench_train_b4_compile 150 "$PY" scripts/bench_train.py --device cuda --batch 4 --tracks 8 --seconds 6 \
    --steps 5 --models mixformer --compile
step bench_train_max 200 "$PY" scripts/bench_train.py --device cuda --batch 8 --tracks 8 --seconds 6 --steps 2 \
    --models mixformer --max-batch
step bench_train_cpu 150 "$PY" scripts/bench_train.py --device cpu --batch 4 --tracks 8 --seconds 6 --steps 2 \
    --models mixformer --threads "$CORES"
step bench_data 200 "$PY" scripts/bench_data.py --tracks 8 --seconds 6 --batches 10 --workers "0,2,$CORES"

"$PY" - "$OUT_DIR" <<'PYEOF' | tee -a "$OUT_DIR/summary.txt"
import json, sys, pathlib
out = pathlib.Path(sys.argv[1])
def load(name):
    try:
        return json.loads((out / f"{name}.json").read_text())
    except Exception:
        return None
gpu, cpu = load("bench_train_b4"), load("bench_train_cpu")
if gpu and cpu and "mixformer" in gpu and "mixformer" in cpu:
    ratio = gpu["mixformer"]["samples_per_s"] / cpu["mixformer"]["samples_per_s"]
    print(f"mixformer batch 4 x 8 x 6 s: GPU/CPU samples/s = {ratio:.1f}x (target >= 50x)")
PYEOF
