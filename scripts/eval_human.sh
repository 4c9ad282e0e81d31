#!/usr/bin/env bash
# The README's results table on held-out human-mixed songs (the test splits of the LMMS and MIDI
# pairs; never lmms-reserved): raw sum, equal loudness, heuristic, prior, power oracle, waveform
# oracle, the old (synthetic) model and the shipped one, with 95 % confidence intervals over songs.
#   scripts/eval_human.sh [CORPORA_DIR] [OUT]      (resumable: rerun after an interruption)
# EXCERPTS=N: the first N 30-s excerpts of each MIDI song (default 2, as in the README; 0: all).
set -euo pipefail
cd "$(dirname "$0")/.."
CORPORA=${1:-${MIXDOWN_CORPORA:-data/corpora}}
OUT=${2:-outputs/eval_human}
PY=${PYTHON:-.venv/bin/python}
mkdir -p "$OUT"
cat "$CORPORA/lmms/test.jsonl" "$CORPORA/midi/test.jsonl" | EXCERPTS=${EXCERPTS:-2} "$PY" -c '
import json, os, sys
n = int(os.environ["EXCERPTS"])
for line in sys.stdin:
    tail = json.loads(line)["song"].rpartition("/")[2]
    if not n or not tail.isdigit() or int(tail) < n:
        sys.stdout.write(line)' > "$OUT/test.jsonl"
"$PY" -m mixdown.cli evaluate --data "$OUT/test.jsonl" --out "$OUT" --resume \
  --checkpoint synthetic-v1=src/mixdown/weights/synthetic-v1.pt \
  --checkpoint human-v1=src/mixdown/weights/human-v1.pt \
  --checkpoint human-v2=src/mixdown/weights/default.pt
"$PY" scripts/human_table.py "$OUT" > "$OUT/table.md"
cat "$OUT/table.md"
