"""What both project exporters share: the stems on disk, number formatting, safe strings."""

from __future__ import annotations

import io
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from mixdown import __version__
from mixdown.dsp.reverb_ir import reverb_impulse_response
from mixdown.errors import UsageError
from mixdown.params import spec as S
from mixdown.params.io import MixParams
from mixdown.session import SessionError, probe, track_path

log = logging.getLogger("mixdown.export")
#: characters no project file may carry: C0/C1 control characters (newline, tab, ...), line and
#: paragraph separators, lone surrogates (undecodable file-name bytes) and XML's non-characters
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff\ufffe\uffff]")


def safe_text(text: str, what: str) -> str:
    """``text`` with every character a project file cannot carry replaced by a space (with a
    warning naming ``what``): a name can never break out of its field."""
    clean = _UNSAFE.sub(" ", text)
    if clean != text:
        log.warning("%s %r: control characters replaced by spaces in the project: %r", what, text, clean)
    return clean


def check_path_text(path: str, track: str) -> str:
    """``path`` unchanged, or :class:`SessionError` when it holds a character a project file cannot
    carry (a path cannot be altered: the DAW would not find the file)."""
    if _UNSAFE.search(path):
        raise SessionError(f"track {track!r}: the file path {path!r} holds a control character (newline, tab, ...) "
                           "or undecodable bytes that a project file cannot carry; rename the file (and its "
                           "'file' entry)")
    return path


@dataclass
class _Stem:
    """One track's audio file as found on disk."""

    name: str
    path: Path
    channels: int
    sample_rate: int
    frames: int

    @property
    def seconds(self) -> float:
        return self.frames / self.sample_rate


def stem_files(params: MixParams, session_dir: Path, allow_outside_session: bool = False) -> list[_Stem]:
    """Probe every track's file (raises :class:`mixdown.session.SessionError` naming a bad one);
    files outside ``session_dir`` are refused unless ``allow_outside_session``."""
    out = []
    for t in params.tracks:
        info = probe(track_path(session_dir, t.file, allow_outside=allow_outside_session, track=t.name))
        out.append(_Stem(t.name, info.path.resolve(), info.channels, info.sample_rate, info.frames))
    return out


def fmt_num(x: float) -> str:
    """A float as written to the files: 12 significant digits."""
    return format(float(x), ".12g")


def db_to_gain(db: float) -> float:
    return 10.0 ** (db / 20.0)


def session_tempo(params: MixParams) -> float:
    source = params.extra.get("source")
    tempo = source.get("tempo") if isinstance(source, dict) else None
    return float(tempo) if isinstance(tempo, (int, float)) and 20 <= tempo <= 999 else 120.0


def rel_path(target: Path, start: Path) -> str:
    """``target`` relative to folder ``start`` (POSIX separators), absolute when impossible."""
    try:
        return Path(os.path.relpath(target, start.resolve())).as_posix()
    except ValueError:  # another drive (Windows)
        return target.as_posix()


# ----------------------------------------------------------------------------- reverb
#: the master's reverb keys (flat names, physical units), in the spec's order; each track's send
REVERB_KEYS: tuple[str, ...] = S.REVERB_MASTER_NAMES
(SEND_KEY,) = S.REVERB_TRACK_NAMES


@dataclass(frozen=True)
class ReverbSettings:
    """The reverb as both exporters write it: settings, and each track's send (None = no send)."""

    predelay_ms: float
    decay_low_s: float
    decay_mid_s: float
    decay_high_s: float
    highpass_hz: float
    return_db: float
    sends_db: tuple[float | None, ...]

    @property
    def decays_s(self) -> tuple[float, float, float]:
        return self.decay_low_s, self.decay_mid_s, self.decay_high_s

    def impulse_response(self, sample_rate: int) -> np.ndarray:
        """The spec's impulse response, ``(2, L)`` float64 (unit energy per channel)."""
        return reverb_impulse_response(sample_rate, self.predelay_ms, *self.decays_s)


def reverb_settings(params: MixParams) -> ReverbSettings | None:
    """The reverb of ``params``, or None when no track sends to it (every ``reverb_send_db`` at or
    below -60 dB, as a ``mixdown.params/1`` file reads, or the keys absent): the console then adds
    nothing, and the project is exactly the one written before the reverb existed. Sends at or
    below -60 dB are None. Half-present keys are a :class:`UsageError` naming the track or key."""
    mv = params.master.values
    have_master = [k for k in REVERB_KEYS if k in mv]
    have_send = [t.name for t in params.tracks if SEND_KEY in t.values]
    if not have_master and not have_send:
        return None
    if len(have_master) != len(REVERB_KEYS):
        missing = [k for k in REVERB_KEYS if k not in mv]
        raise UsageError(f"master: reverb settings incomplete, missing {', '.join(missing)}")
    for t in params.tracks:
        if SEND_KEY not in t.values:
            raise UsageError(f"track {t.name!r}: {SEND_KEY} missing while the master has a reverb")
    sends = tuple(float(t.values[SEND_KEY]) if t.values[SEND_KEY] > S.SEND_OFF_DB else None for t in params.tracks)
    if all(db is None for db in sends):
        return None
    return ReverbSettings(*(float(mv[k]) for k in REVERB_KEYS), sends_db=sends)


def ir_wav_bytes(ir: np.ndarray, sample_rate: int) -> bytes:
    """``ir`` ``(2, L)`` as a 2-channel 32-bit float WAV file, tagged as mixdown's (its ``software``
    metadata, :mod:`mixdown.outputs`): written beside a REAPER project in a session folder, it is
    never taken for a track by the next ``mix``."""
    from mixdown.outputs import SOFTWARE_TAG

    buf = io.BytesIO()
    with sf.SoundFile(buf, "w", samplerate=int(sample_rate), channels=ir.shape[0], format="WAV",
                      subtype="FLOAT") as f:
        f.software = f"{SOFTWARE_TAG} {__version__}"
        f.write(np.ascontiguousarray(ir.T, dtype=np.float32))
    return buf.getvalue()
