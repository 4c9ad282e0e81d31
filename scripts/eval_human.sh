#!/usr/bin/env bash
# The README's results table on held-out human-mixed songs (the test splits of the LMMS and MIDI
# pairs; never lmms-reserved): raw sum, equal loudness, heuristic, prior, power oracle, waveform
# oracle, the old (synthetic) model and the shipped one, with 95 % confidence intervals over songs.
#   scripts/eval_human.sh [CORPORA_DIR] [OUT]      (resumable: rerun after an interruption)
set -euo pipefail
cd "$(dirname "$0")/.."
CORPORA=${1:-${MIXDOWN_CORPORA:-data/corpora}}
OUT=${2:-outputs/eval_human}
mkdir -p "$OUT"
cat "$CORPORA/lmms/test.jsonl" "$CORPORA/midi/test.jsonl" > "$OUT/test.jsonl"
MIXDOWN=${MIXDOWN:-.venv/bin/mixdown}
"$MIXDOWN" evaluate --data "$OUT/test.jsonl" --out "$OUT" --resume \
  --checkpoint synthetic-v1=src/mixdown/weights/synthetic-v1.pt \
  --checkpoint human-v1=src/mixdown/weights/default.pt
