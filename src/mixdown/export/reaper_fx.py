"""REAPER plug-in state: ReaEQ, ReaComp and ReaVerb as ``<VST`` blocks of an ``.RPP`` FX chain.

## State layout (little-endian), as written

Every ``<VST`` block: a header line (plug-in id, magic, input/output pin masks, data size, two
words), the data in base64 lines of 128 characters, then ``AAAQAAAA``.

* ReaEQ data: int32 33, int32 band count, per band int32 type (Low Shelf 0, High Shelf 1, High
  Pass 4, Band 8), int32 enabled, float64 Hz, float64 linear gain, float64 octaves, uint8 1; then
  int32 1, int32 1, float64 output gain 1.0 and 16 bytes of editor state.
* ReaComp data: 8 magic bytes and 21 float32 parameter values.
* ReaVerb data: written as REAPER saved a default instance with no impulse response loaded
  (40 bytes: ten float32 values). Public REAPER projects show that ReaVerb stores its
  impulse-response chain as named modules (a NUL-terminated name such as ``ECHOGEN`` or ``FILT``,
  a uint32 size, the module's data) after a short float32 header, but no public material shows
  the module that loads a file, nor which header value is Wet or Dry. So this exporter does not
  write an impulse response or wet/dry into ReaVerb's state: the user loads the WAV and sets Wet
  and Dry by hand (:mod:`mixdown.export.reaper` says how, in the project notes too).

The headers are the ones REAPER saved for default ReaEQ/ReaComp/ReaVerb instances (only the size
field is patched). ReaEQ/ReaComp: our decoding of the data blocks recovers the defaults REAPER
saved for those instances; ReaComp's parameter scalings come from public reverse engineering and
agree with those defaults (one point per parameter). Nothing here has been loaded in REAPER.
"""

from __future__ import annotations

import base64
import hashlib
import math
import struct
import uuid
from dataclasses import dataclass

from mixdown.dsp.coefficients import HIGHPASS_OFF_HZ, HIGHPASS_Q
from mixdown.export.common import db_to_gain
from mixdown.params import spec as S


def rpp_guid(key: str) -> str:
    """A deterministic ``{GUID}`` for ``key`` (the same settings give the same file): ``uuid5``'s
    hash, over the key's UTF-8 bytes with lone surrogates passed through (a track name read from
    JSON may hold one, which plain UTF-8 cannot encode)."""
    digest = hashlib.sha1(uuid.NAMESPACE_URL.bytes + key.encode("utf-8", "surrogatepass")).digest()
    return "{" + str(uuid.UUID(bytes=digest[:16], version=5)).upper() + "}"


def bandwidth_octaves(q: float) -> float:
    """Bandwidth in octaves of a peaking band of quality ``q`` (analog prototype relation)."""
    return 2.0 / math.log(2.0) * math.asinh(1.0 / (2.0 * q))


@dataclass(frozen=True)
class _ReaPlugin:
    """A Cockos plug-in as named on an RPP ``<VST`` line, with the state header REAPER saved for it."""

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
REAVERB = _ReaPlugin("VST: ReaVerb (Cockos)", "reaverb.dll", 1919252066, "56535472657662726561766572620000",
                     base64.b64decode("YnZlcu5e7f4CAAAAAQAAAAAAAAACAAAAAAAAAAIAAAABAAAAAAAAAAIAAAAAAAAAKAAAAAEAAAAAABAA"))
_VST_TRAILER = "AAAQAAAA"  # bytes 00 00 10 00 00 00, after every VST state REAPER writes
_REAEQ_VERSION = 33
_REAEQ_TYPE = {"low_shelf": 0, "high_shelf": 1, "high_pass": 4, "peak": 8}
_REAEQ_UI_STATE = bytes.fromhex("00000000400200006b01000002000000")  # as REAPER 7 wrote it
#: ReaComp's state for a default instance (REAPER 7): 8 magic bytes, then 21 float32 parameter values
_REACOMP_DEFAULT = base64.b64decode("776t3g3wrd4AAIA/ED74PKabxDsK16M8AAAAAAAAAAAAAIA/AAAAAAAAAAAAAAAAnNEHMwAAgD8AAAAAzc"
                                    "xMPQAAAAAAAAAAAAAAAAAAgD4AAAAAAAAAAAAAAAA=")
#: ReaVerb's state for a default instance, no impulse response loaded (see the module docstring)
REAVERB_DEFAULT = base64.b64decode("AAAQwcybgD4AAIA/AAAAAAAAgD8AAIA/AAAAPwAAgD8AAIA/AAAAQA==")
REACOMP_WET_MAX_DB = 20.0 * math.log10(2.0)  # ReaComp's Wet (its output gain) tops out at 2.0 linear


def makeup_split(makeup_db: float) -> tuple[float, float]:
    """``(wet_db, excess_db)``: ReaComp's Wet takes the make-up up to +6.02 dB, the following fader the rest."""
    wet = min(makeup_db, REACOMP_WET_MAX_DB)
    return wet, makeup_db - wet


def _highpass_band(hz: float) -> tuple[int, bool, float, float, float]:
    """ReaEQ's high-pass band: 2-pole Butterworth (Q 0.7071) at ``hz``, disabled at <= 20 Hz."""
    on = hz > HIGHPASS_OFF_HZ
    return _REAEQ_TYPE["high_pass"], on, hz if on else HIGHPASS_OFF_HZ, 0.0, HIGHPASS_Q


def _reaeq_data(bands: list[tuple[int, bool, float, float, float]]) -> bytes:
    """ReaEQ's data block for ``(type, enabled, Hz, gain dB, Q)`` bands, output gain 0 dB."""
    out = struct.pack("<ii", _REAEQ_VERSION, len(bands))
    for kind, on, freq, gain_db, q in bands:  # type, enabled, Hz, linear gain, octaves, log-scale flag
        out += struct.pack("<iidddB", kind, int(on), freq, db_to_gain(gain_db), bandwidth_octaves(q), 1)
    return out + struct.pack("<iid", 1, 1, 1.0) + _REAEQ_UI_STATE


def reaeq_state(v: dict[str, float], strip: bool) -> bytes:
    """ReaEQ's data block: [high-pass (``strip``: a track),] our six bands, output gain 0 dB."""
    bands = [_highpass_band(v["highpass_hz"])] if strip else []
    for i, kind in enumerate(S.EQ_BAND_TYPES):
        bands.append((_REAEQ_TYPE[kind], True, *(v[f"eq.{i}.{k}"] for k in ("freq_hz", "gain_db", "q"))))
    return _reaeq_data(bands)


def reaeq_highpass_state(highpass_hz: float) -> bytes:
    """ReaEQ's data block holding only the high-pass band (the reverb return's high-pass)."""
    return _reaeq_data([_highpass_band(highpass_hz)])


def reacomp_state(v: dict[str, float]) -> bytes:
    """ReaComp's data block: the default instance's with our settings (Wet: see :func:`makeup_split`)."""
    p = list(struct.unpack_from("<21f", _REACOMP_DEFAULT, 8))
    p[0] = db_to_gain(v["compressor.threshold_db"])  # linear amplitude
    p[1] = (v["compressor.ratio"] - 1.0) / 99.0  # 1:1 .. 100:1
    p[2] = v["compressor.attack_ms"] / 500.0
    p[3] = v["compressor.release_ms"] / 5000.0
    p[11] = min(db_to_gain(makeup_split(v["compressor.makeup_db"])[0]), 2.0)  # Wet, linear: the make-up gain
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


def fx_chain_of(tag: str, blocks: list[tuple[_ReaPlugin, bytes]], key: str) -> list[str]:
    """``<FXCHAIN`` / ``<MASTERFXLIST`` holding ``(plug-in, data)`` blocks in order; FX ids from ``key``."""
    out = [f"<{tag}", "  SHOW 0", "  LASTSEL 0", "  DOCKED 0"]
    for k, (plugin, data) in enumerate(blocks):
        out += ["  BYPASS 0 0 0", *("  " + line for line in _vst_block(plugin, data)),
                "  FLOATPOS 0 0 0 0", f"  FXID {rpp_guid(f'{key}:fx{k}')}", "  WAK 0 0"]
    return out + [">"]


def fx_chain(tag: str, v: dict[str, float], strip: bool, key: str) -> list[str]:
    """ReaEQ then ReaComp carrying ``v`` (a channel strip or the master)."""
    return fx_chain_of(tag, [(REAEQ, reaeq_state(v, strip)), (REACOMP, reacomp_state(v))], key)


def reverb_fx_chain(highpass_hz: float, key: str) -> list[str]:
    """The reverb return's chain: ReaVerb (default state: the IR is loaded by hand), then ReaEQ's high-pass."""
    return fx_chain_of("FXCHAIN", [(REAVERB, REAVERB_DEFAULT), (REAEQ, reaeq_highpass_state(highpass_hz))], key)
