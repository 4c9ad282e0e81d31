"""fluidsynth rendering of General MIDI files: the soundfont lookup and one render (dry, or wet
with fluidsynth's reverb and chorus), stopped when it runs away.

Shared by the synthetic corpus (:mod:`mixdown.data.synth`), the recorded drum kits
(:mod:`mixdown.data.drumkits`, which play AVL kits' soundfonts through it) and the composer-mixed
MIDI pairs (:mod:`mixdown.data.builders.midi`).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
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


def run_capped(cmd: list[str], out: Path, max_bytes: int, timeout_s: float) -> tuple[int, str]:
    """Run ``cmd``; stop it when ``out`` grows past ``max_bytes`` or after ``timeout_s`` (a runaway render
    dies, not the disk). Returns ``(exit code, stderr tail)``; -1 for a stopped run."""
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err)
        start, why = time.monotonic(), ""
        while proc.poll() is None:
            if out.is_file() and out.stat().st_size > max_bytes:
                why = f"stopped: output passed {max_bytes / 1e6:.0f} MB (a note that never ends?)"
            elif time.monotonic() - start > timeout_s:
                why = f"stopped after {timeout_s:.0f} s"
            if why:
                proc.kill()
                proc.wait()
                return -1, why
            time.sleep(0.05)
        err.seek(0)
        return proc.returncode, err.read().decode(errors="replace").strip()[-500:]


def render_midi(midi, sample_rate: int, workdir: Path, name: str, soundfont: Path | None = None,
                wet: bool = False, timeout_s: float = 600.0) -> np.ndarray:
    """Render a ``mido.MidiFile`` with fluidsynth. Returns ``(frames, 2)`` float32.

    Dry (reverb and chorus off) unless ``wet``. The output may be at most twice the file's length
    plus a minute (float stereo); a render that goes on longer (a synth kept sounding) or past
    ``timeout_s`` is stopped and raises RuntimeError. The MIDI and WAV files written into
    ``workdir`` are removed.
    """
    soundfont = soundfont or find_soundfont()
    if soundfont is None:
        raise RuntimeError(_missing())
    workdir.mkdir(parents=True, exist_ok=True)
    mid, wav = workdir / f"{name}.mid", workdir / f"{name}.wav"
    midi.save(str(mid))
    fx = [] if wet else ["-R", "0", "-C", "0"]
    cmd = ["fluidsynth", "-ni", "-q", *fx, "-g", str(FLUID_GAIN), "-r", str(sample_rate),
           "-O", "float", "-T", "wav", "-F", str(wav), str(soundfont), str(mid)]
    max_bytes = int((2 * midi.length + 60) * sample_rate * 8)
    try:
        code, err = run_capped(cmd, wav, max_bytes, timeout_s)
        if code != 0 or not wav.is_file():
            raise RuntimeError(f"fluidsynth failed on {mid} (exit {code}): {err}")
        x, fs = sf.read(str(wav), dtype="float32", always_2d=True)
    finally:
        wav.unlink(missing_ok=True)
        mid.unlink(missing_ok=True)
    if fs != sample_rate:
        raise RuntimeError(f"fluidsynth wrote {fs} Hz, asked for {sample_rate} Hz")
    return x
