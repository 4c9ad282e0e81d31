#!/usr/bin/env bash
# The README's results table on held-out human-mixed songs (the test splits of the LMMS, MIDI and,
# when built, freedoom and simutrans pairs; never lmms-reserved): raw sum, equal loudness, heuristic,
# prior, power oracle, waveform oracle, the composers' own volumes and pans (MIDI songs only), the
# earlier models and the shipped one, with 95 % confidence intervals over songs. Writes OUT/table.md
# (every test song) and OUT/table-lmms-midi.md (without freedoom's and simutrans's songs: the 8
# songs the earlier models were first measured on).
#   scripts/eval_human.sh [CORPORA_DIR] [OUT]      (resumable: rerun after an interruption)
# EXCERPTS=N: the first N 30-s excerpts of each MIDI song (default 2, as in the README; 0: all).
set -euo pipefail
cd "$(dirname "$0")/.."
CORPORA=${1:-${MIXDOWN_CORPORA:-data/corpora}}
OUT=${2:-outputs/eval_human}
PY=${PYTHON:-.venv/bin/python}
mkdir -p "$OUT"
tests=("$CORPORA/lmms/test.jsonl" "$CORPORA/midi/test.jsonl")
[ -f "$CORPORA/freedoom/test.jsonl" ] && tests+=("$CORPORA/freedoom/test.jsonl")
[ -f "$CORPORA/simutrans/test.jsonl" ] && tests+=("$CORPORA/simutrans/test.jsonl")
cat "${tests[@]}" | EXCERPTS=${EXCERPTS:-2} "$PY" -c '
import json, os, sys
n = int(os.environ["EXCERPTS"])
for line in sys.stdin:
    tail = json.loads(line)["song"].rpartition("/")[2]
    if not n or not tail.isdigit() or int(tail) < n:
        sys.stdout.write(line)' > "$OUT/test.jsonl"
"$PY" -m mixdown.cli evaluate --data "$OUT/test.jsonl" --out "$OUT" --resume \
  --baselines raw_sum,equal_loudness,heuristic,prior,role_levels,power_oracle,waveform_oracle,composer \
  --checkpoint synthetic-v1=src/mixdown/weights/synthetic-v1.pt \
  --checkpoint human-v1=src/mixdown/weights/human-v1.pt \
  --checkpoint human-v2=src/mixdown/weights/human-v2.pt \
  --checkpoint human-v3=src/mixdown/weights/human-v3.pt \
  --checkpoint engineer-v3=src/mixdown/weights/engineer-v3.pt \
  --checkpoint engineer-v4=src/mixdown/weights/engineer-v4.pt
"$PY" scripts/human_table.py "$OUT" > "$OUT/table.md"
"$PY" scripts/human_table.py "$OUT" --exclude freedoom1/ freedoom2/ simutrans/ > "$OUT/table-lmms-midi.md"
cat "$OUT/table.md"
