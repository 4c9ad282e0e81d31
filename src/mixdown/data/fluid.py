"""fluidsynth rendering of General MIDI files: the soundfont lookup and one dry render.

Shared by the synthetic corpus (:mod:`mixdown.data.synth`) and the recorded drum kits
(:mod:`mixdown.data.drumkits`, which play AVL kits' soundfonts through it).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import soundfile as sf

SOUNDFONTS = ("/usr/share/sounds/sf2/FluidR3_GM.sf2", "/usr/share/soundfonts/FluidR3_GM.sf2",
              "/usr/share/sounds/sf2/default-GM.sf2")
#: fluidsynth master gain: low enough that dense parts never reach full scale (float output anyway).
FLUID_GAIN = 0.5


def find_soundfont() -> Path | None:
    """``$MIXDOWN_SOUNDFONT`` or the first installed General MIDI soundfont (FluidR3_GM)."""
    env = os.environ.get("MIXDOWN_SOUNDFONT")
    for p in ([env] if env else []) + list(SOUNDFONTS):
        if p and Path(p).is_file():
            return Path(p)
    return None


def _missing() -> str:
    if shutil.which("fluidsynth") is None:
        return "fluidsynth is not installed (run scripts/setup_system.sh)"
    return "no General MIDI soundfont found (install fluid-soundfont-gm or set MIXDOWN_SOUNDFONT)"


def render_midi(midi, sample_rate: int, workdir: Path, name: str,
                soundfont: Path | None = None) -> np.ndarray:
    """Render a ``mido.MidiFile`` dry with fluidsynth. Returns ``(frames, 2)`` float32."""
    soundfont = soundfont or find_soundfont()
    if soundfont is None:
        raise RuntimeError(_missing())
    mid, wav = workdir / f"{name}.mid", workdir / f"{name}.wav"
    midi.save(str(mid))
    cmd = ["fluidsynth", "-ni", "-q", "-R", "0", "-C", "0", "-g", str(FLUID_GAIN), "-r", str(sample_rate),
           "-O", "float", "-T", "wav", "-F", str(wav), str(soundfont), str(mid)]
    res = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=600)
    if res.returncode != 0 or not wav.exists():
        raise RuntimeError(f"fluidsynth failed on {mid} (exit {res.returncode}): {res.stderr.strip()[-500:]}")
    x, fs = sf.read(str(wav), dtype="float32", always_2d=True)
    if fs != sample_rate:
        raise RuntimeError(f"fluidsynth wrote {fs} Hz, asked for {sample_rate} Hz")
    wav.unlink()
    return x
