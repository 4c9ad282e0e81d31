#!/usr/bin/env bash
# The recipe of the shipped default model (human-v2, src/mixdown/weights/README.md): fine-tune
# human-v1 on the human-mixed pairs with their fitted level-and-pan targets, through the console
# with the reverb in the table; validation on the held-out human songs (best.pt is kept).
#   scripts/train_human.sh [CORPORA=/work/corpora] [OUT=outputs/human-v2] [extra hydra overrides]
# Needs the pairs and their targets (scripts/build_human_pairs.sh CORPORA lmms midi). Resumable:
# rerun the same command after a kill and it goes on from OUT/last.pt.
set -euo pipefail
cd "$(dirname "$0")/.."
CORPORA=${1:-${MIXDOWN_CORPORA:-/work/corpora}}
OUT=${2:-outputs/human-v2}
shift 2 || shift $# || true
PY=${PYTHON:-.venv/bin/python}
MIXDOWN_CORPORA="$CORPORA" "$PY" -m mixdown.training.main experiment=human \
    init_from=src/mixdown/weights/human-v1.pt \
    "data.train.manifests=[$CORPORA/targets/lmms/train.jsonl,$CORPORA/targets/midi/train.jsonl]" \
    "data.train.weights=[0.3,0.7]" trainer.max_steps=600 trainer.val_every=50 trainer.batch_size=4 \
    trainer.num_workers=1 optim.lr=3e-4 hydra.run.dir="$OUT" "$@"
