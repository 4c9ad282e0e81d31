"""REAPER export: a plain-text ``.RPP`` project with ReaEQ and ReaComp on every track and the master.

## Mappings (our unit -> the format's unit)

REAPER (ReaComp parameters by index; "linear" = amplitude ``10^(dB/20)``):

| ours | .RPP |
|---|---|
| `input_gain_db` | item `VOLPAN` field 1, linear (before the track FX, as ours) |
| `highpass_hz` (<= 20 Hz: off) | ReaEQ band 1, type High Pass: Hz (20 when off), enabled iff > 20 Hz, |
|  | bandwidth 1.90 oct (Butterworth Q 0.7071 by the formula below), gain 1.0 |
| EQ band freq / gain / q | ReaEQ Low Shelf, Band x4, High Shelf: Hz (same), gain linear, bandwidth in |
|  | octaves `2/ln2 * asinh(1/(2Q))` (the analog peaking-band relation, used for shelves too) |
| `compressor.threshold_db` | ReaComp [0] Thresh, linear |
| `compressor.ratio` (x:1) | ReaComp [1] Ratio, `(x - 1) / 99` (1:1 .. 100:1) |
| `compressor.attack_ms`, `release_ms` | ReaComp [2] `ms / 500`, [3] `ms / 5000` |
| `compressor.knee_db` | ReaComp [14] Knee, `dB / 24` |
| `compressor.makeup_db` | ReaComp [11] Wet, linear, at most 2.0 (+6.02 dB); the rest is added to the |
|  | track volume (master: `MASTER_VOLUME`): exact, both are static gains after the compressor |
| side chain: peak | ReaComp [13] RMS size 0; [10] Dry -inf, auto make-up / auto release off, the |
|  | other parameters as REAPER's default instance |
| `fader_db` | track `VOLPAN` field 1, linear (+ make-up above +6.02 dB) |
| `pan` (-1 .. +1) | track `VOLPAN` field 2, -1 .. +1 (same scale) |
| pan law: -3 dB at centre | track pan law, `VOLPAN` field 3 = 0.7071 (1 = +0 dB, 0.5 = -6 dB) |
| master output (+ normalize) | `MASTER_VOLUME` field 1, linear (+ master make-up above +6.02 dB) |
| time | item `POSITION 0`, `LENGTH` = file length (s) |

ReaEQ / ReaComp state (little-endian) as written: a header line (plug-in id, magic, input/output
pin masks, data size, two words), the data in base64 lines of 128 characters, then ``AAAQAAAA``.
ReaEQ data: int32 33, int32 band count, per band int32 type (Low Shelf 0, High Shelf 1, High
Pass 4, Band 8), int32 enabled, float64 Hz, float64 linear gain, float64 octaves, uint8 1; then
int32 1, int32 1, float64 output gain 1.0 and 16 bytes of editor state. ReaComp data: 8 magic
bytes and 21 float32 parameter values.

## Limitations
* REAPER, FX state: the binary layout is reverse-engineered (not documented by Cockos). The
  headers are the ones REAPER 7 saved for default ReaEQ/ReaComp instances (only the size field
  is patched), and our decoding of the data blocks recovers the defaults REAPER saved for those
  instances; ReaComp's parameter scalings come from public reverse engineering and agree with
  those defaults (one point per parameter). A project written here has NOT been opened in
  REAPER (REAPER is not available on the machine this was written on): if an FX shows its
  defaults, the notes list every value to enter by hand.
* REAPER, sound: close to ours, not sample-identical. ReaEQ's exact bandwidth definition (analog
  or warped) is unknown, so the octave bandwidths are approximate, most for shelves, the high-pass
  and near Nyquist. ReaComp uses peak detection as ours, but its channel linking, knee curve and
  attack/release ballistics are its own (ours: max-over-channels side chain, the spec's soft knee,
  one-pole smoothing in dB). The pan law matches at centre and at the extremes; REAPER's taper
  in between (and its balance-style panning of stereo tracks, which our spec also uses) is
  REAPER's own. Volumes are written as they are, also above REAPER's fader range (ours reach
  +24 dB, plus make-up above +6.02 dB); whether REAPER keeps such a value was not checked.
"""

from __future__ import annotations

import base64
import math
import os
import struct
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from mixdown import __version__
from mixdown.dsp.coefficients import HIGHPASS_OFF_HZ, HIGHPASS_Q
from mixdown.export.common import (
    check_path_text,
    db_to_gain,
    fmt_num,
    log,
    rel_path,
    safe_text,
    session_tempo,
    stem_files,
)
from mixdown.fileio import atomic_write
from mixdown.params import spec as S
from mixdown.params.io import MixParams
from mixdown.session import SessionError

#: REAPER pan law value for -3 dB at centre (REAPER: 1.0 = +0 dB, 0.5 = -6 dB, <0 = default)
REAPER_PAN_LAW = 1.0 / math.sqrt(2.0)
_REAEQ_BAND = {"low_shelf": "Low Shelf", "peak": "Band", "high_shelf": "High Shelf"}
_RPP_SOURCE = {".flac": "FLAC", ".mp3": "MP3", ".ogg": "VORBIS", ".opus": "OPUS"}  # else WAVE


def _rpp_str(s: str, what: str = "string", path: bool = False) -> str:
    """A REAPER string token on one line: quoted with the first quote character it does not contain.

    A name loses its control characters (see :func:`safe_text`) and, when it holds all three quote
    characters, its double quotes become single ones (with a warning); a ``path`` that cannot be
    written exactly is refused (:class:`SessionError`)."""
    s = check_path_text(s, what) if path else safe_text(s, what)
    for q in "\"'`":
        if q not in s:
            return f"{q}{s}{q}"
    if path:
        raise SessionError(f"track {what!r}: the file path {s!r} holds all three quote characters (\" ' `), which "
                           "a REAPER project cannot carry; rename the file")
    log.warning("%s %r: holds all three quote characters; its double quotes are written as single quotes", what, s)
    return '"' + s.replace('"', "'") + '"'


def _rpp_guid(key: str) -> str:
    """A deterministic ``{GUID}`` for ``key`` (the same settings give the same file)."""
    return "{" + str(uuid.uuid5(uuid.NAMESPACE_URL, key)).upper() + "}"


def _bandwidth_octaves(q: float) -> float:
    """Bandwidth in octaves of a peaking band of quality ``q`` (analog prototype relation)."""
    return 2.0 / math.log(2.0) * math.asinh(1.0 / (2.0 * q))


@dataclass(frozen=True)
class _ReaPlugin:
    """A Cockos plug-in as named on an RPP ``<VST`` line, with the state header REAPER 7 saved for it."""

    name: str
    dll: str
    uid: int
    uid_hex: str  # "VST" + uid (big-endian) + dll stem, zero-padded to 16 bytes
    header: bytes  # uid, magic, pin masks, data size, ?, 0x00100000 (little-endian)


REAEQ = _ReaPlugin("VST: ReaEQ (Cockos)", "reaeq.dll", 1919247729, "56535472656571726561657100000000",
                   base64.b64decode("cWVlcu5e7f4CAAAAAQAAAAAAAAACAAAAAAAAAAIAAAABAAAAAAAAAAIAAAAAAAAAzQAAAAEAAAAAABAA"))
REACOMP = _ReaPlugin("VST: ReaComp (Cockos)", "reacomp.dll", 1919247213, "5653547265636D726561636F6D700000",
                     base64.b64decode("bWNlcu9e7f4EAAAAAQAAAAAAAAACAAAAAAAAAAQAAAAAAAAACAAAAAAAAAACAAAAAQAAAAAAAAACAAAAAAAA"
                                      "AFwAAAAAAAAAAAAQAA=="))
_VST_TRAILER = "AAAQAAAA"  # bytes 00 00 10 00 00 00, after every VST state REAPER writes
_REAEQ_VERSION = 33
_REAEQ_TYPE = {"low_shelf": 0, "high_shelf": 1, "high_pass": 4, "peak": 8}
_REAEQ_UI_STATE = bytes.fromhex("00000000400200006b01000002000000")  # as REAPER 7 wrote it
#: ReaComp's state for a default instance (REAPER 7): 8 magic bytes, then 21 float32 parameter values
_REACOMP_DEFAULT = base64.b64decode("776t3g3wrd4AAIA/ED74PKabxDsK16M8AAAAAAAAAAAAAIA/AAAAAAAAAAAAAAAAnNEHMwAAgD8AAAAAzc"
                                    "xMPQAAAAAAAAAAAAAAAAAAgD4AAAAAAAAAAAAAAAA=")
REACOMP_WET_MAX_DB = 20.0 * math.log10(2.0)  # ReaComp's Wet (its output gain) tops out at 2.0 linear


def _makeup_split(makeup_db: float) -> tuple[float, float]:
    """``(wet_db, excess_db)``: ReaComp's Wet takes the make-up up to +6.02 dB, the following fader the rest."""
    wet = min(makeup_db, REACOMP_WET_MAX_DB)
    return wet, makeup_db - wet


def reaeq_state(v: dict[str, float], strip: bool) -> bytes:
    """ReaEQ's data block: [high-pass (``strip``: a track),] our six bands, output gain 0 dB."""
    bands = []
    if strip:
        hp = v["highpass_hz"]
        on = hp > HIGHPASS_OFF_HZ
        bands.append((_REAEQ_TYPE["high_pass"], on, hp if on else HIGHPASS_OFF_HZ, 0.0, HIGHPASS_Q))
    for i, kind in enumerate(S.EQ_BAND_TYPES):
        bands.append((_REAEQ_TYPE[kind], True, *(v[f"eq.{i}.{k}"] for k in ("freq_hz", "gain_db", "q"))))
    out = struct.pack("<ii", _REAEQ_VERSION, len(bands))
    for kind, on, freq, gain_db, q in bands:  # type, enabled, Hz, linear gain, octaves, log-scale flag
        out += struct.pack("<iidddB", kind, int(on), freq, db_to_gain(gain_db), _bandwidth_octaves(q), 1)
    return out + struct.pack("<iid", 1, 1, 1.0) + _REAEQ_UI_STATE


def reacomp_state(v: dict[str, float]) -> bytes:
    """ReaComp's data block: the default instance's with our settings (Wet: see :func:`_makeup_split`)."""
    p = list(struct.unpack_from("<21f", _REACOMP_DEFAULT, 8))
    p[0] = db_to_gain(v["compressor.threshold_db"])  # linear amplitude
    p[1] = (v["compressor.ratio"] - 1.0) / 99.0  # 1:1 .. 100:1
    p[2] = v["compressor.attack_ms"] / 500.0
    p[3] = v["compressor.release_ms"] / 5000.0
    p[11] = min(db_to_gain(_makeup_split(v["compressor.makeup_db"])[0]), 2.0)  # Wet, linear: the make-up gain
    p[13] = 0.0  # RMS size 0 ms: peak detection
    p[14] = v["compressor.knee_db"] / 24.0
    return _REACOMP_DEFAULT[:8] + struct.pack("<21f", *p)


def _vst_block(plugin: _ReaPlugin, data: bytes) -> list[str]:
    """``<VST ...>``: header (size patched) on one base64 line, the data in lines of 128, the trailer."""
    header = plugin.header[:-12] + struct.pack("<I", len(data)) + plugin.header[-8:]
    b64 = base64.b64encode(data).decode("ascii")
    return [f'<VST "{plugin.name}" {plugin.dll} 0 "" {plugin.uid}<{plugin.uid_hex}> ""',
            "  " + base64.b64encode(header).decode("ascii"),
            *("  " + b64[i:i + 128] for i in range(0, len(b64), 128)),
            "  " + _VST_TRAILER, ">"]


def _fx_chain(tag: str, v: dict[str, float], strip: bool, key: str) -> list[str]:
    """``<FXCHAIN`` / ``<MASTERFXLIST``: ReaEQ then ReaComp carrying ``v``; FX ids derived from ``key``."""
    out = [f"<{tag}", "  SHOW 0", "  LASTSEL 0", "  DOCKED 0"]
    for k, (plugin, data) in enumerate([(REAEQ, reaeq_state(v, strip)), (REACOMP, reacomp_state(v))]):
        out += ["  BYPASS 0 0 0", *("  " + line for line in _vst_block(plugin, data)),
                "  FLOATPOS 0 0 0 0", f"  FXID {_rpp_guid(f'{key}:fx{k}')}", "  WAK 0 0"]
    return out + [">"]


def _settings_notes(params: MixParams) -> list[str]:
    """The project notes: what is applied, the approximations, and the settings (for reading)."""

    def fx_lines(v: dict[str, float], strip: bool) -> list[str]:
        out = []
        if strip:
            hp = v["highpass_hz"]
            out.append(f"  ReaEQ High Pass: {hp:.1f} Hz, BW {_bandwidth_octaves(HIGHPASS_Q):.2f} oct (Q 0.707)"
                       if hp > HIGHPASS_OFF_HZ else "  ReaEQ High Pass: off (band disabled)")
        for i, kind in enumerate(S.EQ_BAND_TYPES):
            f, g, q = (v[f"eq.{i}.{k}"] for k in ("freq_hz", "gain_db", "q"))
            out.append(f"  ReaEQ {_REAEQ_BAND[kind]} {i + 1}: {f:.1f} Hz, {g:+.2f} dB, "
                       f"BW {_bandwidth_octaves(q):.3f} oct (Q {q:.3f})")
        c = {k: v[f"compressor.{k}"] for k in S.COMPRESSOR_KEYS}
        wet, excess = _makeup_split(c["makeup_db"])
        out.append(f"  ReaComp: threshold {c['threshold_db']:.2f} dB, ratio {c['ratio']:.2f}:1, attack "
                   f"{c['attack_ms']:.1f} ms, release {c['release_ms']:.1f} ms, knee {c['knee_db']:.2f} dB, "
                   f"RMS size 0 ms (peak), wet {wet:+.2f} dB"
                   + (f" (make-up {c['makeup_db']:+.2f} dB: {excess:+.2f} dB of it in the volume)" if excess else ""))
        return out

    lines = [f"mixdown {__version__} console settings ({params.sample_rate} Hz).",
             "Applied in this project: input gain (item volume, before the FX), ReaEQ then ReaComp on every",
             "track and on the master (settings listed below, for reading), fader and pan (track volume/pan),",
             "master output gain (master volume).",
             "Approximations (close to mixdown's sound, not sample-identical):",
             "- EQ: mixdown's RBJ cookbook Q -> ReaEQ bandwidth 2/ln2*asinh(1/(2Q)) octaves, exact only for",
             "  peaking bands of the analog prototype; ReaEQ's shelves, high-pass and its behaviour near",
             "  Nyquist follow ReaEQ's own definitions. High-pass: 2-pole, Q 0.707 written as BW 1.90 oct.",
             "- ReaComp: peak detection (RMS size 0); its channel linking, knee curve and attack/release",
             "  ballistics are ReaComp's own (mixdown: max-over-channels peak side chain, soft knee,",
             "  one-pole smoothing in dB).",
             "- ReaComp's Wet (its make-up) reaches +6.02 dB at most: make-up above that is added to the",
             "  track volume (master: master volume); exact, both are static gains after the compressor.",
             "- Pan law -3 dB at centre as mixdown's; REAPER's taper in between is its own.",
             "- The ReaEQ/ReaComp state is written from a reverse-engineered layout: if an FX shows its",
             "  defaults instead, enter the values below by hand.", ""]
    for t in params.tracks:
        v = t.values
        lines.append(f"Track {t.name!r}: input gain {v['input_gain_db']:+.2f} dB, fader {v['fader_db']:+.2f} dB, "
                     f"pan {v['pan']:+.3f}")
        lines += fx_lines(v, strip=True)
    mv = params.master.values
    lines.append(f"Master: output gain {mv['output_gain_db']:+.2f} dB"
                 + (f", normalize gain {params.normalize_gain_db:+.2f} dB" if params.master.normalize else ""))
    lines += fx_lines(mv, strip=False)
    return lines


def reaper_rpp(params: MixParams, stems: list, files: list[str]) -> str:
    """The text of a REAPER project; ``files``: each stem's path as written in ``FILE``."""
    mv = params.master.values
    master_db = mv["output_gain_db"] + params.normalize_gain_db + _makeup_split(mv["compressor.makeup_db"])[1]
    out = [f"<REAPER_PROJECT 0.1 \"6.0/mixdown-{__version__}\" {int(time.time())}", "  <NOTES 0 2"]
    out += [f"    |{line}" for line in _settings_notes(params)]
    out += ["  >", f"  SAMPLERATE {params.sample_rate} 0 0", f"  TEMPO {fmt_num(session_tempo(params))} 4 4",
            "  MASTER_NCH 2 2", f"  MASTER_VOLUME {fmt_num(db_to_gain(master_db))} 0 -1 -1 1"]
    out += ["  " + line for line in _fx_chain("MASTERFXLIST", mv, False, "mixdown:master")]
    for t, stem, path in zip(params.tracks, stems, files):
        v = t.values
        key = f"mixdown:{t.name}:{t.file}"
        excess = _makeup_split(v["compressor.makeup_db"])[1]  # the make-up ReaComp's Wet cannot hold
        source = _RPP_SOURCE.get(stem.path.suffix.lower(), "WAVE")
        out += [f"  <TRACK {_rpp_guid(key)}", f"    NAME {_rpp_str(t.name, f'track {t.name!r}: name')}",
                f"    VOLPAN {fmt_num(db_to_gain(v['fader_db'] + excess))} {fmt_num(v['pan'])} "
                f"{fmt_num(REAPER_PAN_LAW)} -1 1",
                "    MUTESOLO 0 0 0", "    NCHAN 2", "    MAINSEND 1 0"]
        out += ["    " + line for line in _fx_chain("FXCHAIN", v, True, key)]
        out += ["    <ITEM", "      POSITION 0", f"      LENGTH {fmt_num(stem.seconds)}", "      LOOP 0",
                f"      NAME {_rpp_str(stem.path.name, f'track {t.name!r}: file name')}",
                f"      VOLPAN {fmt_num(db_to_gain(v['input_gain_db']))} 0 1 -1",
                f"      <SOURCE {source}", f"        FILE {_rpp_str(path, t.name, path=True)}",
                "      >", "    >", "  >"]
    out.append(">")
    return "\n".join(out) + "\n"


def export_reaper(params: MixParams, session_dir: str | os.PathLike, out_path: str | os.PathLike,
                  allow_outside_session: bool = False) -> Path:
    """Write a REAPER ``.RPP`` project for ``params``; returns its path.

    The items refer to the stems by a path relative to the project file (REAPER resolves relative
    paths from the project folder), absolute when there is none. Every string is written on its
    own quoted field: names lose control characters (with a warning), paths that cannot be
    written exactly are refused. Stems outside ``session_dir`` are refused unless
    ``allow_outside_session``.
    """
    out_path = Path(out_path)
    stems = stem_files(params, Path(session_dir), allow_outside_session)
    text = reaper_rpp(params, stems, [rel_path(s.path, out_path.parent) for s in stems])
    atomic_write(out_path, lambda tmp: tmp.write_text(text, encoding="utf-8"))
    return out_path
