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
| `master.limiter` (``/3``) | JSFX `LOSER/masterLimiter` last in the master chain: threshold and ceiling |
|  | at `ceiling_dbtp` less the master volume (it runs before the fader), release (a sample-peak |
|  | approximation of the true-peak lookahead limiter; :mod:`mixdown.dsp.limiter`) |
| time | item `POSITION 0`, `LENGTH` = file length (s) |

| `reverb_send_db` (> -60 dB) | `AUXRECV` on the reverb return track: mode 0 (post-fader, post-pan), volume |
|  | linear, pan 0; none at <= -60 dB |
| `master.reverb` impulse response | `<project stem>.reverb_ir.wav` beside the project: 2 channels, 32-bit float, |
|  | the session's rate, exactly the spec's unit-energy response (loaded into ReaVerb by hand) |
| `reverb.highpass_hz` (<= 20: off) | ReaEQ after ReaVerb on the return, one High Pass band as a track's |
| `reverb.return_db` | return track `VOLPAN` field 1, linear; pan 0, pan law +0 dB (1.0); the track is |
|  | written muted (`MUTESOLO 1`) until the WAV is loaded by hand (see the limitations) |

The plug-in state layout (ReaEQ, ReaComp, ReaVerb) is in :mod:`mixdown.export.reaper_fx`.

The reverb (``mixdown.params/2``): a track "Reverb return" after the stems, with ReaVerb then
ReaEQ (high-pass), receiving a post-fader send from every track whose send is on; it feeds the
master as the spec's return does. Settings where no track sends (every send at -60 dB, as every
``mixdown.params/1`` file reads) give exactly the project they gave before the reverb existed: no
return track, no sends, no WAV (the console adds nothing then either).

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
* REAPER, reverb: ReaVerb's state that loads a file is not publicly documented (see
  :mod:`mixdown.export.reaper_fx`), so ReaVerb arrives as a default instance and the user must,
  once: open ReaVerb on "Reverb return", Add > File and choose ``<project stem>.reverb_ir.wav``;
  set Wet 0.0 dB and Dry -inf (the return must carry the tail only); add no Normalize or other
  module (the WAV is already the spec's unit-energy response, and mixdown's return level assumes
  it as is; if a ReaVerb version rescales a loaded file, the return level differs by that gain).
  The project notes say this first. The return track is written muted: until the WAV is loaded,
  ReaVerb's default instance would pass the sends dry (no tail), adding copies of the tracks at
  their send levels; the user unmutes it after the steps above. The sends use REAPER's default
  send pan law; with a project pan law other than +0 dB, the centred sends are scaled by it. The
  tail is ReaVerb's convolution of our WAV: the same response as ours when loaded as above.
"""

from __future__ import annotations

import logging
import math
import os
import time
from pathlib import Path

from mixdown import __version__
from mixdown.dsp.coefficients import HIGHPASS_OFF_HZ, HIGHPASS_Q
from mixdown.dsp.finish import FINISHERS
from mixdown.export.common import (
    ReverbSettings,
    check_path_text,
    db_to_gain,
    fmt_num,
    ir_wav_bytes,
    rel_path,
    reverb_settings,
    safe_text,
    session_tempo,
    stem_files,
)
from mixdown.export.reaper_fx import bandwidth_octaves, fx_chain, makeup_split, reverb_fx_chain, rpp_guid
from mixdown.fileio import atomic_write_all
from mixdown.params import spec as S
from mixdown.params.io import MixParams
from mixdown.session import SessionError

log = logging.getLogger(__name__)
#: REAPER pan law value for -3 dB at centre (REAPER: 1.0 = +0 dB, 0.5 = -6 dB, <0 = default)
REAPER_PAN_LAW = 1.0 / math.sqrt(2.0)
_REAEQ_BAND = {"low_shelf": "Low Shelf", "peak": "Band", "high_shelf": "High Shelf"}
_RPP_SOURCE = {".flac": "FLAC", ".mp3": "MP3", ".ogg": "VORBIS", ".opus": "OPUS"}  # else WAVE
REVERB_TRACK_NAME = "Reverb return"
#: AUXRECV mode 0: post-fader (post-pan), as the spec's send
_AUXRECV_POST_FADER = 0


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


def _ir_file_name(out_path: Path) -> str:
    """The impulse response's WAV, beside the project: ``<project stem>.reverb_ir.wav``."""
    return f"{out_path.stem}.reverb_ir.wav"


def _reverb_notes(rev: ReverbSettings, sample_rate: int, ir_file: str) -> list[str]:
    """The notes' first lines when there is a reverb: what the user must do, then its settings."""
    hp = f"{rev.highpass_hz:.1f} Hz" if rev.highpass_hz > HIGHPASS_OFF_HZ else "off"
    return ["REVERB, TO DO ONCE BY HAND (ReaVerb's file loading cannot be written into the project):",
            f"  on the track {REVERB_TRACK_NAME!r}, open ReaVerb, Add > File and choose {ir_file!r}",
            "  (written beside this project); set ReaVerb's Wet to 0.0 dB and Dry to -inf (off); add no",
            "  Normalize (or other) module; then UNMUTE the track (it is written muted: until the WAV is",
            "  loaded, ReaVerb would pass the sends dry, with no tail).",
            f"  The WAV is mixdown's exact impulse response: 2 channels, 32-bit float, {sample_rate} Hz, unit",
            "  energy per channel (the return level below assumes it is used unscaled).",
            f"Reverb: pre-delay {rev.predelay_ms:.2f} ms, decay low/mid/high {rev.decay_low_s:.3f} / "
            f"{rev.decay_mid_s:.3f} / {rev.decay_high_s:.3f} s (bands < 500 Hz, 500-4000 Hz, > 4 kHz),",
            f"  return high-pass {hp} (ReaEQ after ReaVerb), return level {rev.return_db:+.2f} dB (track volume);",
            "  sends post-fader (post-pan) from every track whose send is above -60 dB.", ""]


def _settings_notes(params: MixParams, rev: ReverbSettings | None = None, ir_file: str = "") -> list[str]:
    """The project notes: what is applied, the approximations, and the settings (for reading)."""

    def fx_lines(v: dict[str, float], strip: bool) -> list[str]:
        out = []
        if strip:
            hp = v["highpass_hz"]
            out.append(f"  ReaEQ High Pass: {hp:.1f} Hz, BW {bandwidth_octaves(HIGHPASS_Q):.2f} oct (Q 0.707)"
                       if hp > HIGHPASS_OFF_HZ else "  ReaEQ High Pass: off (band disabled)")
        for i, kind in enumerate(S.EQ_BAND_TYPES):
            f, g, q = (v[f"eq.{i}.{k}"] for k in ("freq_hz", "gain_db", "q"))
            out.append(f"  ReaEQ {_REAEQ_BAND[kind]} {i + 1}: {f:.1f} Hz, {g:+.2f} dB, "
                       f"BW {bandwidth_octaves(q):.3f} oct (Q {q:.3f})")
        c = {k: v[f"compressor.{k}"] for k in S.COMPRESSOR_KEYS}
        wet, excess = makeup_split(c["makeup_db"])
        out.append(f"  ReaComp: threshold {c['threshold_db']:.2f} dB, ratio {c['ratio']:.2f}:1, attack "
                   f"{c['attack_ms']:.1f} ms, release {c['release_ms']:.1f} ms, knee {c['knee_db']:.2f} dB, "
                   f"RMS size 0 ms (peak), wet {wet:+.2f} dB"
                   + (f" (make-up {c['makeup_db']:+.2f} dB: {excess:+.2f} dB of it in the volume)" if excess else ""))
        return out

    lines = _reverb_notes(rev, params.sample_rate, ir_file) if rev is not None else []
    lines += [f"mixdown {__version__} console settings ({params.sample_rate} Hz).",
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
    for k, t in enumerate(params.tracks):
        v = t.values
        lines.append(f"Track {t.name!r}: input gain {v['input_gain_db']:+.2f} dB, fader {v['fader_db']:+.2f} dB, "
                     f"pan {v['pan']:+.3f}")
        lines += fx_lines(v, strip=True)
        if rev is not None:
            send = rev.sends_db[k]
            lines.append(f"  Reverb send: {send:+.2f} dB (post-fader)" if send is not None else "  Reverb send: off")
    mv = params.master.values
    lines.append(f"Master: output gain {mv['output_gain_db']:+.2f} dB"
                 + (f", normalize gain {params.normalize_gain_db:+.2f} dB" if params.master.normalize else ""))
    lines += fx_lines(mv, strip=False)
    lines += [f"  {f.describe(params.master.finish[f.KEY])} (last, after the output gain)"
              for f in FINISHERS if f.KEY in params.master.finish]
    return lines


def _reverb_track(rev: ReverbSettings) -> list[str]:
    """The reverb return: receives every track's send (post-fader), ReaVerb then ReaEQ's high-pass,
    volume = return level, pan centre with pan law +0 dB; muted until the user loads the WAV."""
    key = "mixdown:reverb-return"
    out = [f"  <TRACK {rpp_guid(key)}", f"    NAME {_rpp_str(REVERB_TRACK_NAME)}",
           f"    VOLPAN {fmt_num(db_to_gain(rev.return_db))} 0 1 -1 1", "    MUTESOLO 1 0 0", "    NCHAN 2",
           "    MAINSEND 1 0"]
    # source track, mode, volume, pan, mute, mono, phase, source/destination channels, pan law, MIDI off, automation
    out += [f"    AUXRECV {k} {_AUXRECV_POST_FADER} {fmt_num(db_to_gain(db))} 0 0 0 0 0 0 -1:U 31 -1 ''"
            for k, db in enumerate(rev.sends_db) if db is not None]
    out += ["    " + line for line in reverb_fx_chain(rev.highpass_hz, key)]
    return out + ["  >"]


def reaper_rpp(params: MixParams, stems: list, files: list[str], ir_file: str = "reverb_ir.wav") -> str:
    """The text of a REAPER project; ``files``: each stem's path as written in ``FILE``; ``ir_file``:
    the impulse response's WAV as named in the notes (when ``params`` has a reverb)."""
    rev = reverb_settings(params)
    mv = params.master.values
    master_db = mv["output_gain_db"] + params.normalize_gain_db + makeup_split(mv["compressor.makeup_db"])[1]
    out = [f"<REAPER_PROJECT 0.1 \"6.0/mixdown-{__version__}\" {int(time.time())}", "  <NOTES 0 2"]
    out += [f"    |{line}" for line in _settings_notes(params, rev, ir_file)]
    out += ["  >", f"  SAMPLERATE {params.sample_rate} 0 0", f"  TEMPO {fmt_num(session_tempo(params))} 4 4",
            "  MASTER_NCH 2 2", f"  MASTER_VOLUME {fmt_num(db_to_gain(master_db))} 0 -1 -1 1"]
    master_fx = fx_chain("MASTERFXLIST", mv, False, "mixdown:master")
    for f in FINISHERS:  # the master's finishing stages (the limiter), last in its chain
        if f.KEY in params.master.finish:
            master_fx[-1:-1] = ["  BYPASS 0 0 0", *("  " + line for line in f.reaper_fx(params.master.finish[f.KEY],
                                                                                         master_db)),
                                "  FLOATPOS 0 0 0 0", f"  FXID {rpp_guid(f'mixdown:master:{f.KEY}')}", "  WAK 0 0"]
    out += ["  " + line for line in master_fx]
    for t, stem, path in zip(params.tracks, stems, files):
        v = t.values
        key = f"mixdown:{t.name}:{t.file}"
        excess = makeup_split(v["compressor.makeup_db"])[1]  # the make-up ReaComp's Wet cannot hold
        source = _RPP_SOURCE.get(stem.path.suffix.lower(), "WAVE")
        out += [f"  <TRACK {rpp_guid(key)}", f"    NAME {_rpp_str(t.name, f'track {t.name!r}: name')}",
                f"    VOLPAN {fmt_num(db_to_gain(v['fader_db'] + excess))} {fmt_num(v['pan'])} "
                f"{fmt_num(REAPER_PAN_LAW)} -1 1",
                "    MUTESOLO 0 0 0", "    NCHAN 2", "    MAINSEND 1 0"]
        out += ["    " + line for line in fx_chain("FXCHAIN", v, True, key)]
        out += ["    <ITEM", "      POSITION 0", f"      LENGTH {fmt_num(stem.seconds)}", "      LOOP 0",
                f"      NAME {_rpp_str(stem.path.name, f'track {t.name!r}: file name')}",
                f"      VOLPAN {fmt_num(db_to_gain(v['input_gain_db']))} 0 1 -1",
                f"      <SOURCE {source}", f"        FILE {_rpp_str(path, t.name, path=True)}",
                "      >", "    >", "  >"]
    if rev is not None:
        out += _reverb_track(rev)
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
    With a reverb, the impulse response goes beside the project (``<project stem>.reverb_ir.wav``,
    :func:`reaper_ir_path`, tagged as mixdown's output); the two files are published together
    (:func:`mixdown.fileio.atomic_write_all`): a project that cannot be written leaves no WAV.
    """
    out_path = Path(out_path)
    stems = stem_files(params, Path(session_dir), allow_outside_session)
    ir_path = reaper_ir_path(params, out_path)
    text = reaper_rpp(params, stems, [rel_path(s.path, out_path.parent) for s in stems], _ir_file_name(out_path))
    items = []
    if ir_path is not None:
        from mixdown.outputs import same_file

        if any(same_file(s.path, ir_path) for s in stems):
            raise SessionError(f"{ir_path}: the reverb's impulse response would overwrite a track's file; "
                               "write the project elsewhere or under another name")
        wav = ir_wav_bytes(reverb_settings(params).impulse_response(params.sample_rate), params.sample_rate)
        items.append((ir_path, lambda tmp: tmp.write_bytes(wav)))
    atomic_write_all([*items, (out_path, lambda tmp: tmp.write_text(text, encoding="utf-8"))])
    if ir_path is not None:
        log.info("wrote the reverb's impulse response %s (load it into ReaVerb: see the project notes)", ir_path)
    return out_path


def reaper_ir_path(params: MixParams, out_path: str | os.PathLike) -> Path | None:
    """Where :func:`export_reaper` writes the impulse response for a project at ``out_path``
    (``<project stem>.reverb_ir.wav`` beside it), or None when ``params`` has no reverb: an output
    like the project itself, which callers check against the inputs before any work."""
    return None if reverb_settings(params) is None else Path(out_path).with_name(_ir_file_name(Path(out_path)))
