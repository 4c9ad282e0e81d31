"""Full-length render path: exact time-domain IIR, compiled, in blocks of bounded memory.

Reads each track in blocks, runs every strip of a block in parallel (numba), sums the bus and
runs the master strip, carrying filter and compressor state from block to block. Memory holds
one block per track plus the stereo mix. No torch import: the renderer starts fast.

``mixdown render SESSION_DIR --params PARAMS.json --out MIX.wav`` is the thin CLI on top.
"""

from __future__ import annotations

import logging
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf

from mixdown.dsp import kernels
from mixdown.dsp.coefficients import eq_coefficients, highpass_coefficients
from mixdown.params import spec as S
from mixdown.params.io import MixParams, ParamsError, read_params
from mixdown.session import SessionError, TrackReader, probe

log = logging.getLogger(__name__)


class OutputError(RuntimeError):
    """The mix could not be written; the message names the file and the fix."""


_T = {n: i for i, n in enumerate(S.TRACK_NAMES)}
_M = {n: i for i, n in enumerate(S.MASTER_NAMES)}
BLOCK_FRAMES = 1 << 16
N_SECTIONS = 1 + S.N_EQ_BANDS


@dataclass
class StripBank:
    """Coefficients and state of S channel strips, laid out for :func:`kernels.strip_block`."""

    channels: np.ndarray
    sos: np.ndarray
    n_sections: np.ndarray
    zi: np.ndarray
    comp: np.ndarray
    g_state: np.ndarray
    pre_gain: np.ndarray
    post_gain: np.ndarray

    def process(self, x: np.ndarray, out: np.ndarray) -> None:
        kernels.strip_block(x, self.channels, self.sos, self.n_sections, self.zi, self.comp,
                            self.g_state, self.pre_gain, self.post_gain, out)


def _pack_sos(b: np.ndarray, a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Drop identity sections (exact: they pass the signal unchanged) and pack [b0 b1 b2 a1 a2].

    Shape: ``b, a`` ``(S, K, 3)`` -> sos ``(S, K, 5)`` (unused rows zero), n_sections ``(S,)``.
    """
    n_strips, k = b.shape[:2]
    sos = np.zeros((n_strips, k, 5))
    n_sec = np.zeros(n_strips, dtype=np.int64)
    for s in range(n_strips):
        rows = [np.r_[b[s, j], a[s, j, 1:]] for j in range(k) if not np.array_equal(b[s, j], a[s, j])]
        n_sec[s] = len(rows)
        if rows:
            sos[s, :len(rows)] = rows
    return sos, n_sec


def _comp_rows(values: np.ndarray, cols: dict[str, int], sample_rate: float) -> np.ndarray:
    c = {k: values[:, cols[f"compressor.{k}"]] for k in S.COMPRESSOR_KEYS}
    a_att = np.exp(-1.0 / (0.001 * c["attack_ms"] * sample_rate))
    a_rel = np.exp(-1.0 / (0.001 * c["release_ms"] * sample_rate))
    enabled = (c["ratio"] != 1.0).astype(np.float64)  # ratio 1 is an exact no-op apart from makeup
    return np.stack([c["threshold_db"], c["ratio"], c["knee_db"], c["makeup_db"], a_att, a_rel, enabled], 1)


def _eq(values: np.ndarray, cols: dict[str, int], sample_rate: float):
    f, g, q = (np.stack([values[:, cols[f"eq.{i}.{k}"]] for i in range(S.N_EQ_BANDS)], -1)
               for k in ("freq_hz", "gain_db", "q"))
    return eq_coefficients(f, g, q, sample_rate, S.EQ_BAND_TYPES)


def track_bank(params: MixParams, channels: list[int]) -> StripBank:
    """Strips for every track of ``params`` (``channels``: 1 or 2 per track)."""
    v = params.track_matrix()
    sr = params.sample_rate
    hb, ha = highpass_coefficients(v[:, _T["highpass_hz"]], sr)
    eb, ea = _eq(v, _T, sr)
    sos, n_sec = _pack_sos(np.concatenate([hb[:, None], eb], 1), np.concatenate([ha[:, None], ea], 1))
    theta = (v[:, _T["pan"]] + 1.0) * math.pi / 4.0
    fader = 10.0 ** (v[:, _T["fader_db"]] / 20.0)
    n = len(params.tracks)
    return StripBank(np.asarray(channels, dtype=np.int64), sos, n_sec, np.zeros((n, N_SECTIONS, 2, 2)),
                     _comp_rows(v, _T, sr), np.zeros(n), 10.0 ** (v[:, _T["input_gain_db"]] / 20.0),
                     np.stack([fader * np.cos(theta), fader * np.sin(theta)], 1))


def master_bank(params: MixParams) -> StripBank:
    """One stereo strip: master EQ, compressor, output gain (+ normalize gain)."""
    v = params.master_vector()[None]
    eb, ea = _eq(v, _M, params.sample_rate)
    sos, n_sec = _pack_sos(eb, ea)
    out = 10.0 ** ((v[0, _M["output_gain_db"]] + params.normalize_gain_db) / 20.0)
    return StripBank(np.array([2], dtype=np.int64), sos, n_sec, np.zeros((1, S.N_EQ_BANDS, 2, 2)),
                     _comp_rows(v, _M, params.sample_rate), np.zeros(1), np.ones(1), np.array([[out, out]]))


@dataclass
class RenderResult:
    """A rendered mix. ``audio``: ``(frames, 2)`` float32; ``stats``: loudness figures."""

    audio: np.ndarray
    sample_rate: int
    stats: dict[str, float] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def render(session_dir: str | os.PathLike, params: MixParams, *, resample: bool = False,
           block_frames: int = BLOCK_FRAMES, progress: bool = False) -> RenderResult:
    """Render a session folder with a parameter file's settings (the exact full-length path).

    Args:
        session_dir: folder the ``file`` entries are relative to.
        params: the console settings.
        resample: resample tracks whose rate differs from ``params.sample_rate`` (else an error).
        block_frames: frames per processing block (memory bound).
        progress: show a progress bar.

    Returns:
        :class:`RenderResult` with the stereo mix, shape ``(frames, 2)``.
    """
    session_dir = Path(session_dir)
    sr = params.sample_rate
    infos = [probe(session_dir / t.file) for t in params.tracks]
    readers: list[TrackReader] = []
    warnings: list[str] = []
    try:
        for info in infos:
            readers.append(TrackReader(info, sr, resample))
        n_frames = max(r.frames for r in readers)
        for t, r in zip(params.tracks, readers):
            if r.frames < n_frames:
                msg = f"track {t.name!r} is {r.frames} frames, padded with silence to {n_frames}"
                log.info(msg)
        audio = _render_blocks(readers, params, n_frames, block_frames, progress)
        for t, r in zip(params.tracks, readers):
            if r.peak == 0.0:
                warnings.append(f"track {t.name!r} ({r.info.path.name}) is silent; it contributes nothing")
            elif r.peak >= 0.999:
                warnings.append(f"track {t.name!r} ({r.info.path.name}) peaks at full scale; it may be clipped "
                                "at the source (re-export it with headroom if so)")
        for w in warnings:
            log.warning("%s", w)
    finally:
        for r in readers:
            r.close()
    return RenderResult(audio, sr, warnings=warnings)


def _render_blocks(readers: list[TrackReader], params: MixParams, n_frames: int, block_frames: int,
                   progress: bool) -> np.ndarray:
    tracks = track_bank(params, [r.channels for r in readers])
    master = master_bank(params)
    n = len(readers)
    x = np.zeros((n, block_frames, 2), dtype=np.float32)
    strips = np.empty_like(x)
    bus = np.empty((1, block_frames, 2), dtype=np.float32)
    audio = np.empty((n_frames, 2), dtype=np.float32)
    starts = range(0, n_frames, block_frames)
    if progress:
        from tqdm import tqdm

        starts = tqdm(starts, desc="render", unit="block")
    for start in starts:
        m = min(block_frames, n_frames - start)
        for i, r in enumerate(readers):
            r.read_into(x[i, :m])
        tracks.process(x[:, :m], strips[:, :m])
        np.sum(strips[:, :m], axis=0, out=bus[0, :m])
        master.process(bus[:, :m], audio[None, start:start + m])
    return audio


def measure(audio: np.ndarray, sample_rate: int) -> dict[str, float]:
    """Integrated loudness (LUFS), true peak (dBTP) and sample peak (dBFS) of ``(frames, 2)`` audio."""
    from mixdown import loudness

    x = audio.T
    return {"integrated_lufs": float(loudness.integrated_loudness(x, sample_rate)),
            "true_peak_dbtp": float(loudness.true_peak_dbtp(x, sample_rate)),
            "sample_peak_dbfs": float(loudness.sample_peak_dbfs(x))}


def write_audio(path: str | os.PathLike, audio: np.ndarray, sample_rate: int, subtype: str = "FLOAT") -> None:
    """Write ``(frames, channels)`` audio atomically (temporary file, then rename)."""
    from mixdown.fileio import atomic_write

    atomic_write(path, lambda tmp: sf.write(str(tmp), audio, sample_rate, subtype=subtype))


def render_to_file(session_dir: str | os.PathLike, params: MixParams, out_path: str | os.PathLike,
                   subtype: str = "FLOAT", resample: bool = False, progress: bool = False) -> dict:
    """Render and write the mix; returns loudness stats and warnings (also logged)."""
    result = render(session_dir, params, resample=resample, progress=progress)
    stats = measure(result.audio, result.sample_rate)
    warnings: list[str] = []  # the track warnings were logged by render()
    if stats["sample_peak_dbfs"] > 0.0:
        how = "kept above full scale in the float file" if subtype == "FLOAT" else \
            f"CLIPPED by the {subtype} file format; write a float file or lower master.output_gain_db"
        warnings.append(f"mix peaks at {stats['sample_peak_dbfs']:+.2f} dBFS (above 0 dBFS): {how}")
    elif stats["true_peak_dbtp"] > 0.0:
        warnings.append(f"mix true peak {stats['true_peak_dbtp']:+.2f} dBTP is above 0 dBTP")
    for w in warnings:
        log.warning("%s", w)
    warnings = result.warnings + warnings
    try:
        write_audio(out_path, result.audio, result.sample_rate, subtype)
    except (OSError, sf.SoundFileError) as e:
        raise OutputError(f"{out_path}: cannot write the mix ({e}); check that the folder is writable "
                          "and has free space") from e
    return {**stats, "warnings": warnings, "frames": int(result.audio.shape[0])}


# ----------------------------------------------------------------------------- CLI
def add_parser(sub) -> None:
    p = sub.add_parser("render", help="render a session folder with a parameter file",
                       description="Render SESSION_DIR with the console settings in PARAMS.json.")
    p.add_argument("session_dir", type=Path)
    p.add_argument("--params", type=Path, required=True, help="mixdown.params/1 JSON file")
    p.add_argument("--out", type=Path, required=True, help="output stereo audio file (.wav, .flac)")
    p.add_argument("--bit-depth", choices=("32f", "24", "16"), default="32f",
                   help="output sample format (default: 32-bit float, which never clips)")
    p.add_argument("--resample", action="store_true",
                   help="resample tracks whose sample rate differs from the parameter file's")
    p.set_defaults(func=_cli_render)


def _check_out_format(out: Path, bit_depth: str, subtypes: dict[str, str]) -> None:
    """Refuse an output the file format cannot hold before rendering, not after (FLAC has no float)."""
    from mixdown.cli import CliError

    fmt = out.suffix[1:].upper()
    if fmt not in sf.available_formats():
        raise CliError(f"{out}: unknown output format {out.suffix!r}; name the file .wav or .flac")
    ok = [b for b, st in subtypes.items() if sf.check_format(fmt, st)]
    if bit_depth not in ok:
        fix = f"pass --bit-depth {' or '.join(ok)}" if ok else "name the file .wav"
        raise CliError(f"{out}: {fmt} files cannot hold --bit-depth {bit_depth} samples; {fix} "
                       "(or write a .wav file, which holds 32-bit float)")


def _cli_render(args) -> int:
    from mixdown.cli import CliError

    if not args.session_dir.is_dir():
        raise CliError(f"{args.session_dir}: session folder not found; check the path "
                       "(the parameter file's 'file' entries are relative to it)")
    subtypes = {"32f": "FLOAT", "24": "PCM_24", "16": "PCM_16"}
    subtype = subtypes[args.bit_depth]
    _check_out_format(args.out, args.bit_depth, subtypes)
    try:
        params = read_params(args.params)
        stats = render_to_file(args.session_dir, params, args.out, subtype, args.resample, progress=True)
    except (ParamsError, SessionError, OutputError) as e:
        raise CliError(str(e)) from e
    log.info("wrote %s: %d frames at %d Hz", args.out, stats["frames"], params.sample_rate)
    log.info("loudness %.1f LUFS, true peak %.2f dBTP, sample peak %.2f dBFS",
             stats["integrated_lufs"], stats["true_peak_dbtp"], stats["sample_peak_dbfs"])
    return 0
