"""One song from discovery to manifest record: read every file once, check tracks against the mix.

:func:`analyse_song` runs in build worker processes; it never raises for bad audio: unreadable,
empty, non-audio or NaN-carrying files become :class:`~mixdown.data.manifest.Skip` entries and the
song keeps its remaining tracks (a song without any usable track is skipped whole).
"""

from __future__ import annotations

import os
from dataclasses import asdict
from pathlib import Path
from typing import Any

from mixdown.data.builders import SongSpec, TrackSpec
from mixdown.data.checks import (
    DEFAULT_OPTIONS,
    AnalysisOptions,
    AudioError,
    AudioStats,
    active_regions,
    analyse_audio,
    estimate_offset,
    excerpt_start,
)
from mixdown.data.manifest import Checks, Mix, Record, Skip, Track

#: tracks clipping on more than this fraction of samples get a warning
CLIP_WARN = 1e-4


def _rel(path: Path, root: Path) -> str:
    """``path`` relative to ``root`` (posix) when inside it, else absolute."""
    path, root = Path(os.path.abspath(path)), Path(os.path.abspath(root))
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return str(path)


def _stats(path: Path, song: str, opts: AnalysisOptions, skips: list[Skip]) -> AudioStats | None:
    """Analysis of one file, or None with a skip entry (unreadable, empty, NaN/Inf samples)."""
    try:
        st = analyse_audio(path, opts)
    except AudioError as e:
        skips.append(Skip(song, str(path), e.reason))
        return None
    if st.nonfinite:
        skips.append(Skip(song, str(path), f"{st.nonfinite} NaN/Inf samples"))
        return None
    return st


def _track(t: TrackSpec, st: AudioStats, root: Path, opts: AnalysisOptions) -> Track:
    fs = os.stat(t.path)
    regions = active_regions(st.frame_rms, st.hop / st.sample_rate, opts, st.frames / st.sample_rate)
    return Track(path=_rel(t.path, root), name=t.name, role=t.role, channels=st.channels,
                 sample_rate=st.sample_rate, frames=st.frames, active_regions=regions, silent=not regions,
                 clipped=round(st.clipped, 8), peak=round(st.peak, 6), rms_db=round(st.rms_db, 2),
                 file_size=fs.st_size, mtime=fs.st_mtime, meta=dict(t.meta))


def _mix(path: Path, st: AudioStats, root: Path, opts: AnalysisOptions) -> Mix:
    fs = os.stat(path)
    silent = not active_regions(st.frame_rms, st.hop / st.sample_rate, opts)
    return Mix(path=_rel(path, root), channels=st.channels, sample_rate=st.sample_rate, frames=st.frames,
               clipped=round(st.clipped, 8), peak=round(st.peak, 6), silent=silent, file_size=fs.st_size,
               mtime=fs.st_mtime)


def _offset_checks(checks: Checks, paths: list[Path], mix_path: Path, mix_st: AudioStats,
                   opts: AnalysisOptions) -> None:
    """Fill ``mix_offset_samples``, ``mix_correlation`` and ``aligned`` (rates already equal)."""
    sr = mix_st.sample_rate
    length = min(mix_st.frames, int(opts.excerpt_s * sr))
    start = excerpt_start(mix_st.frame_rms, mix_st.hop, mix_st.frames, length)
    est = estimate_offset(paths, mix_path, sr, start, length, opts)
    if est is None:
        checks.warnings.append("offset not measured: the track sum or the mix is silent in the excerpt")
        return
    offset, corr = est
    checks.mix_offset_samples, checks.mix_correlation = int(offset), round(corr, 4)
    checks.aligned = abs(offset) <= opts.align_tolerance and corr >= opts.min_correlation
    if abs(offset) > opts.align_tolerance:
        checks.warnings.append(f"mix is offset by {offset} samples ({offset / sr * 1000:.1f} ms) from the track sum")
    if corr < opts.min_correlation:
        checks.warnings.append(f"weak correlation {corr:.2f} between the track sum and the mix; offset unreliable")


def _checks(tracks: list[Track], mix: Mix | None, paths: list[Path], mix_path: Path | None,
            mix_st: AudioStats | None, opts: AnalysisOptions) -> Checks:
    checks = Checks()
    rates = sorted({t.sample_rate for t in tracks} | ({mix.sample_rate} if mix else set()))
    lengths = sorted({t.frames for t in tracks} | ({mix.frames} if mix else set()))
    checks.rate_mismatch = len(rates) > 1
    checks.length_mismatch = len(lengths) > 1
    if checks.rate_mismatch:
        checks.warnings.append(f"sample rates differ: {rates} Hz")
    if checks.length_mismatch:
        checks.warnings.append(f"lengths differ: {lengths[0]}..{lengths[-1]} frames")
    for t in tracks:
        if t.silent:
            checks.warnings.append(f"track {t.name!r} is silent")
        if t.clipped > CLIP_WARN:
            checks.warnings.append(f"track {t.name!r} clips on {t.clipped:.2%} of samples")
    if mix is None:
        checks.warnings.append("no reference mix")
    elif checks.rate_mismatch:
        checks.warnings.append("offset not measured: sample rates differ")
    else:
        _offset_checks(checks, paths, mix_path, mix_st, opts)
    return checks


def _params(spec: SongSpec, names: list[str], warnings: list[str], skips: list[Skip]) -> str | None:
    """The params file (relative to root) when it is a valid mixdown.params file (/2, or /1 from before the reverb)."""
    if spec.params is None:
        return None
    from mixdown.params.io import ParamsError, read_params

    try:
        params = read_params(spec.params)
    except ParamsError as e:
        skips.append(Skip(spec.song, str(spec.params), f"invalid parameter file: {e}"))
        return None
    unknown = sorted({t.name for t in params.tracks} - set(names))
    if unknown:
        warnings.append(f"params.json names tracks that are not in the song: {unknown}")
    return _rel(spec.params, spec.root)


def analyse_song(spec: SongSpec, opts: AnalysisOptions = DEFAULT_OPTIONS) -> dict[str, Any]:
    """Analyse every file of ``spec``; returns ``{"record": Record dict or None, "skips": [Skip dict]}``."""
    skips = list(spec.skips)
    tracks, paths = [], []
    for t in spec.tracks:
        st = _stats(t.path, spec.song, opts, skips)
        if st is not None:
            tracks.append(_track(t, st, spec.root, opts))
            paths.append(t.path)
    if not tracks:
        skips.append(Skip(spec.song, None, "no usable tracks (see the file entries)"))
        return {"record": None, "skips": [asdict(s) for s in skips]}
    mix_st = _stats(spec.mix, spec.song, opts, skips) if spec.mix is not None else None
    mix = _mix(spec.mix, mix_st, spec.root, opts) if mix_st is not None else None
    checks = _checks(tracks, mix, paths, spec.mix, mix_st, opts)
    if spec.mix is not None and mix is None:
        checks.warnings.append("the mix file is unusable (see skipped files)")
    checks.warnings = list(spec.warnings) + checks.warnings
    params = _params(spec, [t.name for t in tracks], checks.warnings, skips)
    record = Record(song=spec.song, source=spec.source, split=spec.split, root=str(Path(os.path.abspath(spec.root))),
                    tracks=tracks, mix=mix, params=params, checks=checks, meta=dict(spec.meta))
    return {"record": record.to_dict(), "skips": [asdict(s) for s in skips]}
