#!/usr/bin/env bash
# Build the human-mixed training pairs (issue 15) from Debian's packaged projects and songs:
#   <out>/lmms           LMMS demo projects (train/val/test by song)
#   <out>/lmms-reserved  the reserved LMMS projects: evaluation only (test.jsonl), never train on them
#   <out>/midi           MIDI songs whose composers set the mix (openttd-openmsx, planetblupi-music-midi)
#   <out>/freedoom       the same kind of songs from Debian freedoom's WADs (extracted to <out>/freedoom-songs)
#   <out>/simutrans      the same kind of songs from Debian simutrans-data (53 songs by the game's composers)
#   <out>/lmms-shorties  LMMS's short demo projects (projects/shorties): more produced mixes
#   <out>/targets/<src>  the same manifests with each track's level and pan fitted to the human mix
#                        (`mixdown dataset targets`): what configs/data/human.yaml trains on
# Needs scripts/setup_system.sh. Resumable: rerun after a kill and finished songs are reused.
# Usage: scripts/build_human_pairs.sh [OUT=/work/corpora] [lmms|lmms-reserved|midi|freedoom|simutrans|lmms-shorties ...]
# Logs go to <out>/<source>/build.log; run it under nohup for a long build.
set -euo pipefail
OUT=${1:-/work/corpora}
shift || true
SOURCES=("$@")
[ "${#SOURCES[@]}" -eq 0 ] && SOURCES=(lmms lmms-reserved midi freedoom simutrans lmms-shorties)
here=$(cd "$(dirname "$0")/.." && pwd)
PY=${PYTHON:-python}
declare -A ROOT=([lmms]=/usr/share/lmms/projects/demos [lmms-reserved]=/usr/share/lmms/projects/demos
                [lmms-shorties]=/usr/share/lmms/projects/shorties)
for src in "${SOURCES[@]}"; do
    root=${ROOT[$src]:-}
    if [ "$src" = midi ]; then  # one root for both packages' songs: a folder of links
        root="$OUT/midi-songs"
        mkdir -p "$root"
        ln -sfn /usr/share/games/openttd/baseset/openmsx "$root/openmsx"
        ln -sfn /usr/share/planetblupi/music "$root/planetblupi"
    fi
    build=$src
    [ "$src" = lmms-shorties ] && build=lmms
    if [ "$src" = simutrans ]; then  # a folder with one link, so the songs are named simutrans/<song>
        root="$OUT/simutrans-songs"
        build=midi
        mkdir -p "$root"
        ln -sfn /usr/share/games/simutrans/music "$root/simutrans"
    fi
    if [ "$src" = freedoom ]; then  # MIDI songs inside the WADs, written out as .mid files
        root="$OUT/freedoom-songs"
        build=midi
        PYTHONPATH="$here/src${PYTHONPATH:+:$PYTHONPATH}" "$PY" "$here/scripts/extract_wad_midi.py" "$root" \
            /usr/share/games/doom/freedoom1.wad /usr/share/games/doom/freedoom2.wad
    fi
    mkdir -p "$OUT/$src"
    echo "== $(date -u +%FT%TZ) building $src from $root into $OUT/$src"
    PYTHONPATH="$here/src${PYTHONPATH:+:$PYTHONPATH}" "$PY" -m mixdown.cli dataset build --source "$build" \
        --root "$root" --out "$OUT/$src" --jobs "${JOBS:-1}" 2>&1 | tee -a "$OUT/$src/build.log"
    if [ "$src" != lmms-reserved ]; then  # evaluation only: nothing to train on
        echo "== $(date -u +%FT%TZ) fitting levels and pans of $src into $OUT/targets/$src"
        PYTHONPATH="$here/src${PYTHONPATH:+:$PYTHONPATH}" "$PY" -m mixdown.cli dataset targets --no-progress \
            "$OUT/$src"/{train,val,test}.jsonl --out "$OUT/targets/$src" 2>&1 | tee -a "$OUT/$src/build.log"
    fi
done
