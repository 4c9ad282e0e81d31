#!/usr/bin/env bash
# The recipe of the shipped default model (human-v3, src/mixdown/weights/README.md): human-v2
# (src/mixdown/weights/human-v2.pt) fine-tuned with roles (model.use_roles: each track's role as its
# name tells it, a learned embedding and a learned fader offset per role) on the union of the
# human-mixed pairs with their fitted level-and-pan targets (LMMS, MIDI, freedoom) and the
# synthetic songs (known settings: they anchor the mix level, which human mixes leave free).
# Validation: the held-out human songs. Needs the pairs and targets (scripts/build_human_pairs.sh
# CORPORA lmms midi freedoom) and a synthetic corpus (SYNTH=<dir with train.jsonl>, e.g. from
# `mixdown dataset synth --out DIR --songs 7 --seed 1 --seconds 20`).
#   SYNTH=data/synth scripts/train_human.sh [CORPORA=/work/corpora] [OUT=outputs/human-v3]
# Resumable: rerun after a kill and it goes on from OUT/last.pt. (human-v2's two-stage recipe is
# in git history: scripts/train_human.sh at 2aa6a9c.)
set -euo pipefail
cd "$(dirname "$0")/.."
CORPORA=${1:-${MIXDOWN_CORPORA:-/work/corpora}}
OUT=${2:-outputs/human-v3}
SYNTH=${SYNTH:-data/synth}
PY=${PYTHON:-.venv/bin/python}
export MIXDOWN_CORPORA="$CORPORA"
T="$CORPORA/targets"
"$PY" -m mixdown.training.main experiment=human init_from=src/mixdown/weights/human-v2.pt \
    trainer.val_every=50 trainer.batch_size=4 trainer.num_workers=1 \
    "data.train.manifests=[$SYNTH/train.jsonl,$T/lmms/train.jsonl,$T/midi/train.jsonl,$T/freedoom/train.jsonl]" \
    "data.train.weights=[0.2,0.15,0.3,0.35]" \
    "data.val.manifests=[$T/lmms/val.jsonl,$T/midi/val.jsonl,$T/freedoom/val.jsonl]" \
    trainer.max_steps=600 optim.lr=3e-4 hydra.run.dir="$OUT"
echo "human-v3 candidate: $OUT/best.pt (release: python scripts/release_checkpoint.py IN OUT)"
