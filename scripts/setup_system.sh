#!/usr/bin/env bash
# Install the system tools the synthetic corpus needs (Debian/Ubuntu):
#   fluidsynth          - renders MIDI through a soundfont (the stems)
#   fluid-soundfont-gm  - FluidR3_GM.sf2, a sampled General MIDI soundfont (MIT licence)
#   mma                 - Musical MIDI Accompaniment: chord charts + grooves -> full-band MIDI
#   espeak-ng           - speech synthesiser: the lyric words that mixdown.data.vocals re-sings
#   hydrogen-drumkits   - recorded drum kits (samples + drumkit.xml) for mixdown.data.drumkits
#   avldrums.lv2-soundfont - the AVL recorded drum kits as SF2 soundfonts
#   lmms, lmms-common   - LMMS 1.2 and its demo projects (human-mixed pairs: `--source lmms`)
#   openttd-openmsx, planetblupi-music-midi
#                       - MIDI songs whose composers set volume/pan/reverb (`--source midi`)
#   freedoom            - two Doom WADs whose music is 66 more such MIDI songs (scripts/extract_wad_midi.py)
#   simutrans-data      - the game's 53 MIDI songs, most with the composers' volumes (`simutrans` in
#                         scripts/build_human_pairs.sh); the package is 1.4 MB
#   chromium            - headless browser for the end-to-end test of `mixdown studio`
#   chromium-driver     - its WebDriver (chromedriver), which selenium drives
#
# Idempotent and non-interactive: installs only what is missing, runs `apt-get update` only
# when something must be installed, never prompts (works with CI=true and no stdin).
# Run as root, or as a user with passwordless sudo.
set -euo pipefail

PACKAGES=(fluidsynth fluid-soundfont-gm mma espeak-ng hydrogen-drumkits avldrums.lv2-soundfont
          lmms lmms-common openttd-openmsx planetblupi-music-midi freedoom simutrans-data chromium chromium-driver)
export DEBIAN_FRONTEND=noninteractive

missing=()
for p in "${PACKAGES[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$p")
    fi
done

if [ "${#missing[@]}" -eq 0 ]; then
    echo "setup_system: ${PACKAGES[*]} already installed"
    exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
    echo "setup_system: apt-get not found; install ${missing[*]} with your package manager" >&2
    exit 1
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        SUDO="sudo -n"
    else
        echo "setup_system: need root (or passwordless sudo) to install ${missing[*]}" >&2
        exit 1
    fi
fi

echo "setup_system: installing ${missing[*]}"
logfile=$(mktemp)
trap 'rm -f "$logfile"' EXIT
run() {  # quiet unless it fails; then show the tail of its output
    if ! "$@" </dev/null >"$logfile" 2>&1; then
        echo "setup_system: failed: $*" >&2
        tail -n 30 "$logfile" >&2
        exit 1
    fi
}
run $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq
run $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "${missing[@]}"
echo "setup_system: done ($(fluidsynth --version 2>/dev/null | head -n 1); $(chromium --version 2>/dev/null))"
