"""Full-length render path: exact time-domain IIR, compiled, in blocks of bounded memory.

Reads each track in blocks and runs its strip (numba) on a pool of threads that take a block's
tracks as they come, while the calling thread works on the block before (it sums the bus and the
reverb bus, each track's post-pan output at its send level, adds the reverb's return, a streaming
partitioned convolution, :mod:`mixdown.dsp.reverb_stream`, and runs the master strip) and then
joins them; on one core everything runs on the calling thread. Filter, compressor and
convolution states are carried from block to block. Memory holds two blocks per track, the
reverb's state (independent of the song's length) and the stereo mix. No torch import: the
renderer starts fast.

``mixdown render SESSION_DIR --params PARAMS.json --out MIX.wav`` is the thin CLI on top.
"""

from __future__ import annotations

import itertools
import logging
import os
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import soundfile as sf

from mixdown.dsp import finish, kernels
from mixdown.dsp.reverb_ir import reverb_send_gain
from mixdown.dsp.reverb_stream import ReverbReturn
from mixdown.dsp.strip import pan_gains, pole, strip_coefficients
from mixdown.fileio import OutputError  # re-exported: the mix could not be written
from mixdown.params import spec as S
from mixdown.params.io import MixParams
from mixdown.session import TrackReader, probe, track_path

log = logging.getLogger(__name__)

_T = S.TRACK.columns
_M = S.MASTER.columns
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
        """Every strip over one block. Shape: ``x``, ``out`` ``(S, n, 2)`` float32."""
        kernels.strip_block(x, self.channels, self.sos, self.n_sections, self.zi, self.comp,
                            self.g_state, self.pre_gain, self.post_gain, out)

    def process_one(self, i: int, x: np.ndarray, out: np.ndarray) -> None:
        """Strip ``i`` alone over one block (releases the GIL). Shape: ``x``, ``out`` ``(n, 2)`` float32."""
        self.g_state[i] = kernels.strip_one(x, self.channels[i], self.sos[i], self.n_sections[i], self.zi[i],
                                            self.comp[i], self.g_state[i], self.pre_gain[i], self.post_gain[i, 0],
                                            self.post_gain[i, 1], out)


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
    a_att = pole(c["attack_ms"], sample_rate)
    a_rel = pole(c["release_ms"], sample_rate)
    enabled = (c["ratio"] != 1.0).astype(np.float64)  # ratio 1 is an exact no-op apart from makeup
    return np.stack([c["threshold_db"], c["ratio"], c["knee_db"], c["makeup_db"], a_att, a_rel, enabled], 1)


def track_bank(params: MixParams, channels: list[int]) -> StripBank:
    """Strips for every track of ``params`` (``channels``: 1 or 2 per track)."""
    v = params.track_matrix()
    sr = params.sample_rate
    sos, n_sec = _pack_sos(*strip_coefficients(v, S.TRACK_NAMES, sr))
    left, right = pan_gains(v[:, _T["pan"]])
    fader = 10.0 ** (v[:, _T["fader_db"]] / 20.0)
    n = len(params.tracks)
    return StripBank(np.asarray(channels, dtype=np.int64), sos, n_sec, np.zeros((n, N_SECTIONS, 2, 2)),
                     _comp_rows(v, _T, sr), np.zeros(n), 10.0 ** (v[:, _T["input_gain_db"]] / 20.0),
                     np.stack([fader * left, fader * right], 1))


def master_bank(params: MixParams) -> StripBank:
    """One stereo strip: master EQ, compressor, output gain (+ normalize gain)."""
    v = params.master_vector()[None]
    sos, n_sec = _pack_sos(*strip_coefficients(v, S.MASTER_NAMES, params.sample_rate))
    out = 10.0 ** ((v[0, _M["output_gain_db"]] + params.normalize_gain_db) / 20.0)
    return StripBank(np.array([2], dtype=np.int64), sos, n_sec, np.zeros((1, S.N_EQ_BANDS, 2, 2)),
                     _comp_rows(v, _M, params.sample_rate), np.zeros(1), np.ones(1), np.array([[out, out]]))


def reverb_of(params: MixParams) -> tuple[np.ndarray, ReverbReturn | None]:
    """Linear send gains ``(n_tracks,)`` and the streaming reverb return (None when no track sends:
    the return is then exactly zero)."""
    send = reverb_send_gain(params.track_matrix()[:, _T["reverb_send_db"]])
    if not send.any():
        return send, None
    settings = {k[len("reverb."):]: params.master.values[k] for k in S.REVERB_MASTER_NAMES}
    return send, ReverbReturn.from_settings(params.sample_rate, settings)


class Buses:
    """After the track strips: the stereo bus, the reverb bus and its return, then the master strip,
    block by block with every state carried (what :func:`render` does with the strips' outputs).

    Args:
        params: the settings. sounding: per track, whether it is heard (muted tracks neither reach
            the bus nor send); default all.
    """

    def __init__(self, params: MixParams, sounding: list[bool] | None = None):
        self.master = master_bank(params)
        send, self.reverb = reverb_of(params)
        on = np.ones(len(send), dtype=bool) if sounding is None else np.asarray(sounding, dtype=bool)
        self.on = on
        self.weights = np.stack([on.astype(np.float64), send * on])  # (2, n_tracks): bus, sends
        if self.reverb is not None and not (send * on).any():
            self.reverb = None

    def process(self, strips: np.ndarray, bus: np.ndarray, out: np.ndarray) -> None:
        """Shape: ``strips`` ``(n_tracks, m, 2)`` float32, ``bus`` ``(1, >= m, 2)`` scratch,
        ``out`` ``(1, m, 2)`` float32, written."""
        n, m = strips.shape[:2]
        if self.reverb is None:
            if self.on.all():
                np.sum(strips, axis=0, out=bus[0, :m])
            else:
                np.sum(strips[self.on], axis=0, out=bus[0, :m])
        else:  # post-pan sends summed onto the reverb bus; the return joins the stereo bus
            send = np.empty((m, 2))
            kernels.bus_sums(strips, self.weights, bus[0, :m], send)
            bus[0, :m] += self.reverb.process(send)
        # the master strip on this thread (strip_block's arithmetic without its parallel region, whose
        # worker threads wake for every block)
        self.master.process_one(0, bus[0, :m], out[0])


def _one_strip(bank: StripBank, i: int) -> StripBank:
    """Strip ``i`` of ``bank`` as a bank of its own (fresh filter and gain states)."""
    sl = slice(i, i + 1)
    return StripBank(bank.channels[sl].copy(), bank.sos[sl].copy(), bank.n_sections[sl].copy(),
                     np.zeros_like(bank.zi[sl]), bank.comp[sl].copy(), np.zeros(1), bank.pre_gain[sl].copy(),
                     bank.post_gain[sl].copy())


def strip_signals(x: np.ndarray, params: MixParams, track: int | None,
                  block_frames: int = BLOCK_FRAMES) -> tuple[np.ndarray, np.ndarray]:
    """One strip of the renderer over a whole signal, for inspection (the report's plots).

    ``track``: index into ``params.tracks``, or None for the master bus. ``x``: ``(frames, channels)``
    at ``params.sample_rate`` (1 or 2 channels for a track, 2 for the master).

    Returns ``(out, gain_db)``: the strip's output ``(frames, 2)`` float32, exactly what
    :func:`render` computes for it (summing every track's ``out``, adding the reverb's return of the
    sends (:func:`reverb_of`) and passing the sum through the master strip gives the rendered mix),
    and the compressor's smoothed gain in dB ``(frames,)`` (<= 0, makeup excluded; zeros when the
    ratio is 1).
    """
    if track is None:
        bank = master_bank(params)
    else:
        bank = _one_strip(track_bank(params, [1] * len(params.tracks)), track)
        bank.channels[0] = x.shape[1]
    out = _run_strip(x, bank, block_frames)
    filtered = replace(bank, zi=np.zeros_like(bank.zi), comp=bank.comp * [1, 1, 1, 0, 1, 1, 0], g_state=np.zeros(1),
                       post_gain=np.ones((1, 2)))  # filters only: the compressor's side chain input
    y = _run_strip(x, filtered, block_frames)
    c = bank.comp[0]
    gain = np.zeros((1, len(x)), dtype=np.float32)
    if c[6] > 0.5:
        kernels.compressor_gain_forward(np.ascontiguousarray(y.T[None]), np.array([[c[0], c[1], c[2], c[4], c[5]]]),
                                        gain, np.empty(gain.shape, dtype=np.uint8))
    return out, gain[0]


def _run_strip(x: np.ndarray, bank: StripBank, block_frames: int) -> np.ndarray:
    n = len(x)
    buf = np.zeros((1, block_frames, 2), dtype=np.float32)
    out = np.empty((n, 2), dtype=np.float32)
    for start in range(0, n, block_frames):
        m = min(block_frames, n - start)
        buf[0, :m, :x.shape[1]] = x[start:start + m]
        bank.process(buf[:, :m], out[None, start:start + m])
    return out


@dataclass
class RenderResult:
    """A rendered mix. ``audio``: ``(frames, 2)`` float32; ``stats``: loudness figures."""

    audio: np.ndarray
    sample_rate: int
    stats: dict[str, float] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def render(session_dir: str | os.PathLike, params: MixParams, *, resample: bool = False,
           block_frames: int = BLOCK_FRAMES, progress: bool = False,
           allow_outside_session: bool = False) -> RenderResult:
    """Render a session folder with a parameter file's settings (the exact full-length path):
    :func:`render_steps` run to its end.

    Args:
        session_dir: folder the ``file`` entries are relative to.
        params: the console settings.
        resample: resample tracks whose rate differs from ``params.sample_rate`` (else an error).
        block_frames: frames per processing block (memory bound).
        progress: show a progress bar.
        allow_outside_session: read ``file`` entries that resolve outside ``session_dir`` (refused
            by default, before anything is opened).

    Returns:
        :class:`RenderResult` with the stereo mix, shape ``(frames, 2)``, and the tracks' warnings.
    """
    return run_steps(render_steps(session_dir, params, resample=resample, block_frames=block_frames,
                                  allow_outside_session=allow_outside_session), progress)


def run_steps(steps, progress: bool = False):
    """Run a render generator (:func:`render_steps`) to its end and return its result; ``progress``
    shows a bar in percent."""
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=100, desc="render", unit="%")
    try:
        while True:
            try:
                done = next(steps)
            except StopIteration as end:
                return end.value
            if bar is not None:
                bar.update(round(100 * done) - bar.n)
    finally:
        if bar is not None:
            bar.close()


def render_steps(session_dir: str | os.PathLike, params: MixParams, *, resample: bool = False,
                 block_frames: int = BLOCK_FRAMES, allow_outside_session: bool = False, on_block=None):
    """The full-length render, one block per step: a generator that yields the fraction done after
    each block and returns the :class:`RenderResult` (the mix and the tracks' warnings: silent,
    DC-only or clipped tracks, also logged). :func:`render` runs it to the end; the studio steps
    through it, may pause between steps or drop it (the files are closed). Arguments as
    :func:`render`; ``on_block``, when given, is called with every block's strip outputs
    ``(n_tracks, m, 2)`` and the master strip's input ``(1, m, 2)`` (``block_frames`` frames but the
    last)."""
    session_dir = Path(session_dir)
    sr = params.sample_rate
    paths = [track_path(session_dir, t.file, allow_outside=allow_outside_session, track=t.name)
             for t in params.tracks]
    infos = [probe(p) for p in paths]
    readers: list[TrackReader] = []
    warnings: list[str] = []
    keep_open = can_keep_open(sum(info.sample_rate == sr for info in infos))
    try:
        for info in infos:
            readers.append(TrackReader(info, sr, resample, keep_open=keep_open))
        n_frames = max(r.frames for r in readers)
        for t, r in zip(params.tracks, readers):
            if r.frames < n_frames:
                msg = f"track {t.name!r} is {r.frames} frames, padded with silence to {n_frames}"
                log.info(msg)
        audio = yield from _blocks(readers, params, n_frames, block_frames, on_block)
        for t, r in zip(params.tracks, readers):
            if r.peak == 0.0:
                warnings.append(f"track {t.name!r} ({r.info.path.name}) is silent; it contributes nothing")
            elif r.dc_only:
                warnings.append(f"track {t.name!r} ({r.info.path.name}) holds only a constant (DC) offset, no "
                                "audio; check the file or the recording chain")
            elif r.peak >= 0.999:
                warnings.append(f"track {t.name!r} ({r.info.path.name}) peaks at full scale; it may be clipped "
                                "at the source (re-export it with headroom if so)")
        for w in warnings:
            log.warning("%s", w)
    finally:
        for r in readers:
            r.close()
    return RenderResult(audio, sr, warnings=warnings)


#: open files kept free for everything else (Python, numba, the output) when tracks are held open
FD_HEADROOM = 32


def can_keep_open(n_files: int) -> bool:
    """Whether ``n_files`` more files may stay open at once. The process's soft limit on open files
    (``ulimit -n``: 256 by default on macOS) is raised towards its hard limit when it is short
    (logged); where that is not enough, False: :func:`render` then reads the tracks in turn, each
    opened for one block at a time (slower, with a warning saying how to raise the limit)."""
    try:
        import resource
    except ImportError:  # no such limit to query (Windows)
        return True
    try:
        in_use = len(os.listdir("/dev/fd"))
    except OSError:
        in_use = 64
    need = in_use + n_files + FD_HEADROOM
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft >= need:
        return True
    target = need if hard == resource.RLIM_INFINITY else min(hard, need)
    if target > soft:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            log.info("raised the limit on open files from %d to %d for %d tracks", soft, target, n_files)
            soft = target
        except (ValueError, OSError) as e:
            log.debug("cannot raise the limit on open files (%s)", e)
    if soft >= need:
        return True
    log.warning("%d tracks but at most %d open files (ulimit -n, hard limit %s): reading the tracks in turn, "
                "which is slower; raise the limit (ulimit -n %d) to read them at once", n_files, soft,
                "unlimited" if hard == resource.RLIM_INFINITY else hard, need)
    return False


def render_arrays(tracks, params: MixParams, *, block_frames: int = BLOCK_FRAMES,
                  progress: bool = False) -> RenderResult:
    """Render tracks held in memory (``(channels, frames)`` arrays, one per ``params.tracks`` entry, at
    ``params.sample_rate``) with the same code as :func:`render`. Returns :class:`RenderResult`."""
    from mixdown.session import ArrayReader, SessionError, as_track

    if len(tracks) != len(params.tracks):
        raise SessionError(f"{len(tracks)} tracks given for {len(params.tracks)} tracks in the settings")
    readers = [ArrayReader(as_track(x, i), t.name) for i, (x, t) in enumerate(zip(tracks, params.tracks))]
    n_frames = max(r.frames for r in readers)
    return RenderResult(run_steps(_blocks(readers, params, n_frames, block_frames), progress), params.sample_rate)


def render_threads() -> int:
    """Threads the block loop runs track strips on: the cores this process may use (its CPU
    affinity, so ``taskset -c 0`` means one), at most ``NUMBA_NUM_THREADS`` when that is set."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # no affinity to query (macOS, Windows)
        cores = os.cpu_count() or 1
    limit = os.environ.get("NUMBA_NUM_THREADS")
    return max(1, min(cores, int(limit)) if limit and limit.isdigit() else cores)


def _blocks(readers: list[TrackReader], params: MixParams, n_frames: int, block_frames: int, on_block=None):
    """The block loop (the one every full-length render runs): yields the fraction done after each
    block, returns the mix ``(n_frames, 2)`` float32.

    Each track's block is read and run through its strip on a pool of :func:`render_threads` - 1
    threads (file reading and the compiled strips release the GIL), while this thread sums the
    previous block's strips and runs the reverb and the master strip, then takes the tracks left:
    the tracks' work of block ``k + 1`` overlaps the buses' work of block ``k``; on one core all
    of it runs on this thread. Every state is carried
    in order (a track's block starts only after its previous block ended), so the result does not
    depend on the number of threads. Two blocks of buffers are held (double buffering)."""
    tracks = track_bank(params, [r.channels for r in readers])
    buses = Buses(params)
    if buses.reverb is not None:
        log.info("reverb: %d of %d tracks send, impulse response %.2f s", np.count_nonzero(buses.weights[1]),
                 len(readers), buses.reverb.ir_frames / params.sample_rate)
    n = len(readers)
    x = np.zeros((2, n, block_frames, 2), dtype=np.float32)
    strips = np.empty_like(x)
    bus = np.empty((1, block_frames, 2), dtype=np.float32)
    audio = np.empty((n_frames, 2), dtype=np.float32)
    starts = list(range(0, n_frames, block_frames))

    def work(k: int, m: int, claim, done: list) -> None:
        """Take the tracks of block ``k`` one at a time from ``claim`` (a counter shared by the
        threads working on the block) until none is left: read the track's block and run its
        strip; ``done[i]``: whether its output is finite, or the error reading it raised."""
        while (i := next(claim)) < n:
            try:
                readers[i].read_into(x[k % 2, i, :m])
                tracks.process_one(i, x[k % 2, i, :m], strips[k % 2, i, :m])
                done[i] = bool(np.isfinite(strips[k % 2, i, :m]).all())
            except Exception as e:  # raised by the block loop, first track first
                done[i] = e

    threads = render_threads()
    workers = min(threads - 1, n) if threads > 1 else 1

    def submit(k: int) -> tuple:
        """Start block ``k``'s tracks on the pool: ``(m, claim, done, futures)``."""
        if k >= len(starts):
            return 0, iter(()), [], []
        m = min(block_frames, n_frames - starts[k])
        claim, done = itertools.count(), [None] * n
        return m, claim, done, [pool.submit(work, k, m, claim, done) for _ in range(workers)]

    # the pool's threads, and this one once the buses are done, take a block's tracks as they come:
    # a thread the system leaves waiting holds up one track, not a fixed share of the block
    pool = ThreadPoolExecutor(workers, thread_name_prefix="mixdown-render") if threads > 1 else _Inline()
    job = submit(0)
    try:
        for k, start in enumerate(starts):
            m, claim, done, futures = job
            work(k, m, claim, done)  # the tracks no pool thread has taken yet
            for f in futures:
                f.result()
            for i, ok in enumerate(done):
                if isinstance(ok, Exception):
                    raise ok
                if not ok:
                    raise _overflow(f"track {params.tracks[i].name!r} ({readers[i].info.path.name}, peak "
                                    f"{_dbfs(readers[i].peak)})", start, params.sample_rate,
                                    "lower its input_gain_db, EQ gains, make-up or fader_db, or repair the file")
            job = submit(k + 1)
            buses.process(strips[k % 2, :, :m], bus, audio[None, start:start + m])
            if not np.isfinite(audio[start:start + m]).all():
                raise _overflow("the master bus (the sum of the tracks)", start, params.sample_rate,
                                "lower the tracks' faders or the master's EQ gains, make-up or output_gain_db")
            if on_block is not None:
                on_block(strips[k % 2, :, :m], bus[:, :m])
            yield (start + m) / n_frames
    finally:  # also when the generator is dropped: no task may still touch the files
        for f in job[3]:
            f.cancel()
        wait(job[3])
        pool.shutdown()
    # the master's finishing stages (the limiter) on the whole mix, last
    return finish.apply_exact(audio, params.sample_rate, params.master.finish)


class _Inline:
    """The pool of :func:`_blocks` on one core: each task runs at once on the calling thread (the
    same order of every track's blocks, so the same samples; no thread hand-offs, whose wake-ups
    cost wall time on a busy core)."""

    def submit(self, fn, *args) -> Future:
        f: Future = Future()
        try:
            f.set_result(fn(*args))
        except BaseException as e:  # raised where the pool's result() would raise it
            f.set_exception(e)
        return f

    def shutdown(self) -> None:
        pass


def _dbfs(peak: float) -> str:
    return f"{20 * np.log10(peak):+.0f} dBFS" if peak > 0 else "silent"


def _overflow(what: str, start: int, sample_rate: int, fix: str):
    """The error for a strip or bus whose samples left float32's range (a file holding huge samples
    times large gains): :class:`mixdown.session.SessionError`, so the command exits with code 2."""
    from mixdown.session import SessionError

    return SessionError(f"{what}: the signal overflows 32-bit float (beyond +770 dBFS) in the block from "
                        f"{start / sample_rate:.2f} s, so the mix would hold infinities; {fix}")


def measure(audio: np.ndarray, sample_rate: int, true_peak_dbtp: float | None = None) -> dict[str, float]:
    """Integrated loudness (LUFS), true peak (dBTP) and sample peak (dBFS) of ``(frames, 2)`` audio
    (the loudness and the true peak on two threads: both release the GIL). ``true_peak_dbtp``: the
    audio's true peak when already measured (:func:`mixdown.measure.loudness.true_peak_dbtp`)."""
    from mixdown.measure import loudness

    x = audio.T
    if true_peak_dbtp is not None:
        return {"integrated_lufs": float(loudness.integrated_loudness(x, sample_rate)),
                "true_peak_dbtp": float(true_peak_dbtp), "sample_peak_dbfs": float(loudness.sample_peak_dbfs(x))}
    with ThreadPoolExecutor(1) as pool:
        true_peak = pool.submit(loudness.true_peak_dbtp, x, sample_rate)
        lufs = loudness.integrated_loudness(x, sample_rate)
        return {"integrated_lufs": float(lufs), "true_peak_dbtp": float(true_peak.result()),
                "sample_peak_dbfs": float(loudness.sample_peak_dbfs(x))}


def write_audio(path: str | os.PathLike, audio: np.ndarray, sample_rate: int, subtype: str = "FLOAT",
                run_id: str | None = None) -> None:
    """Write ``(frames, channels)`` audio atomically (temporary file, then rename), tagged as
    mixdown's output (:mod:`mixdown.outputs`) so it is never read back as a track."""
    from mixdown.fileio import atomic_write
    from mixdown.outputs import write_tagged_audio

    atomic_write(path, lambda tmp: write_tagged_audio(tmp, audio, sample_rate, subtype, run_id))


def render_to_file(session_dir: str | os.PathLike, params: MixParams, out_path: str | os.PathLike,
                   subtype: str = "FLOAT", resample: bool = False, progress: bool = False,
                   allow_outside_session: bool = False) -> dict:
    """Render and write the mix; returns loudness stats and warnings (also logged)."""
    result = render(session_dir, params, resample=resample, progress=progress,
                    allow_outside_session=allow_outside_session)
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
    except OutputError:
        raise
    except (OSError, sf.SoundFileError) as e:
        raise OutputError(f"{out_path}: cannot write the mix ({e}); check that the folder is writable "
                          "and has free space") from e
    return {**stats, "warnings": warnings, "frames": int(result.audio.shape[0])}
