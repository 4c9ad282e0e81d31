#!/usr/bin/env bash
# The recipe of the shipped default model (human-v2, src/mixdown/weights/README.md), two stages:
#  1. fine-tune human-v1 on the human-mixed pairs with their fitted level-and-pan targets, through
#     the console with the reverb in the table (OUT/stage1; human-v2 continues from its best.pt);
#  2. add synthetic songs (known settings: they anchor the mix level, which human mixes leave
#     free) at a lower learning rate (OUT/stage2; its best.pt is human-v2).
# Validation: the held-out human songs. Needs the pairs and targets (scripts/build_human_pairs.sh
# CORPORA lmms midi) and a synthetic corpus (SYNTH=<dir with train.jsonl>, e.g. from
# `mixdown dataset synth --out DIR --songs 60 --seed 1 --seconds 20`).
#   SYNTH=data/synth scripts/train_human.sh [CORPORA=/work/corpora] [OUT=outputs/human-v2]
# Resumable: rerun after a kill and each stage goes on from its last.pt.
set -euo pipefail
cd "$(dirname "$0")/.."
CORPORA=${1:-${MIXDOWN_CORPORA:-/work/corpora}}
OUT=${2:-outputs/human-v2}
SYNTH=${SYNTH:-data/synth}
PY=${PYTHON:-.venv/bin/python}
export MIXDOWN_CORPORA="$CORPORA"
HUMAN="$CORPORA/targets/lmms/train.jsonl,$CORPORA/targets/midi/train.jsonl"
common=(experiment=human trainer.val_every=50 trainer.batch_size=4 trainer.num_workers=1)
"$PY" -m mixdown.training.main "${common[@]}" init_from=src/mixdown/weights/human-v1.pt \
    "data.train.manifests=[$HUMAN]" "data.train.weights=[0.3,0.7]" \
    trainer.max_steps=600 optim.lr=3e-4 hydra.run.dir="$OUT/stage1"
"$PY" -m mixdown.training.main "${common[@]}" init_from="$OUT/stage1/best.pt" \
    "data.train.manifests=[$SYNTH/train.jsonl,$HUMAN]" "data.train.weights=[0.25,0.25,0.5]" \
    trainer.max_steps=150 optim.lr=1e-4 hydra.run.dir="$OUT/stage2"
echo "human-v2 candidate: $OUT/stage2/best.pt (release: python scripts/release_checkpoint.py IN OUT)"
