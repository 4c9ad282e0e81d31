"""Rendering for the studio: the loop region fast, the whole song in the background.

**Loop region.** The region is rendered with a *pre-roll*: the tracks are read from
``PREROLL_S`` seconds before the region (or from the song's start), run through the exact
compiled channel strips and master strip of :mod:`mixdown.dsp.render`, and the pre-roll is dropped.
Each track's pre-fader strip output and its reverb return are cached with the settings that made
them (:class:`RegionCache`), so a fader, pan or send edit only re-sums them, an EQ or compressor edit
re-runs that track's strip and reverb return, and an edit of the master runs the master strip only.

*The approximation:* filter and compressor states start from silence at the start of the
pre-roll instead of carrying the whole song's history. Filter states forget their start within
milliseconds; a compressor's gain differs from the full render's by at most its gain reduction
at the pre-roll's start, and that difference decays at least as ``exp(-t / release)`` (the
release time constant is at most 1 s, so it is below 2 % of the difference after 4 s, and any
attack re-synchronises it sooner). A region that starts within ``PREROLL_S`` of the song's start
matches the full render up to float rounding (the cached sums add in another order: below -120 dB).
The background full-song render is the exact renderer of ``mixdown render`` run block by block:
it pauses while the loop has work and starts over when the settings change.

**Threads.** One thread renders the region (and, while it has nothing to render, makes the reverb
returns its cache misses), one the whole song, one the meters; the page asks for their versions.
The compiled kernels run concurrently when numba's threading layer allows it (``omp``, ``tbb``),
else they take turns.
"""

from __future__ import annotations

import copy
import itertools
import logging
import os
import sys
import threading
import time
from dataclasses import dataclass, field

import numpy as np

from mixdown.dsp.finish import apply_exact as apply_finish
from mixdown.studio import backend as B
from mixdown.studio import levels as L

log = logging.getLogger(__name__)

PREROLL_S = 4.0
_SERIAL = itertools.count()
_RENDERS = itertools.count()
FULL_DEBOUNCE_S = 0.8
OVERVIEW_BINS = 1200
METER_HOP_S = 0.1
FULL_NICE = 10  # how much lower the full-song render's CPU priority is than the loop's (Linux)
METERS_NICE = 4  # the meters', which the page shows after the audio


@dataclass
class Rendered:
    """One render's audio, ``{"mix", "raw", "reference"}`` -> ``(frames, 2)`` float32, with meters."""

    version: int  # of the settings
    start_s: float
    audio: dict[str, np.ndarray]
    meters: dict[str, dict] = field(default_factory=dict)
    seconds: float = 0.0  # wall time the render took
    key: tuple = ()  # (settings version, monitor version) it was made for
    region: tuple = ()  # (start, end) frames of a loop render
    params: B.MixParams | None = None  # the settings it was rendered with
    levels: tuple | None = None  # (names, peak, rms): per track linear levels per hop of its strip output
    inputs: object = None  # .input(j): track j's strip input (frames, channels) from its start, frames to skip
    strips: dict | None = None  # the strips' meters for the page (levels.payload), made by the meters thread
    cut_from: "Rendered | None" = None  # a loop cut out of this full render (its meters are the song's)
    bus: np.ndarray | None = None  # the master strip's input (frames, 2) from the render's start (pre-roll)
    serial: int = field(default_factory=lambda: next(_RENDERS))  # distinct for every render published


def audible(names: list[str], mute: set[str], solo: set[str]) -> list[bool]:
    """Which tracks sound: with any solo, the soloed ones; otherwise the unmuted ones."""
    return [(n in solo) if solo else (n not in mute) for n in names]


class RegionCache:
    """Raw audio of ``[start, end)`` frames plus the pre-roll, and per track what the strip makes of it.

    The console is linear after each track's compressor (docs/console.md): the strip output is the
    *pre-fader* signal (input gain, filters, compressor, make-up) times the fader-and-pan gains of
    each side, and the reverb's return (convolution, return high-pass, return gain: linear per
    channel, from silence) of the send bus is the sum of each track's own return times its send and
    fader-and-pan gains. So per track this keeps the pre-fader signal (made again only when a setting
    before the fader changes) and its reverb return (made again when that signal or the reverb's
    settings change), and an edit of a fader, a pan or a send re-sums them; an edit of the master
    re-runs only the master strip on the kept bus. Where many tracks' returns are missing (a new
    region, a change of the reverb) the send bus goes through the reverb at once, as the renderer
    does, and the tracks' returns are made afterwards while nothing else waits (:meth:`fill`).
    The sums differ from the renderer's order of operations by float rounding only (tested: below
    -120 dB of the signal).
    """

    POST_KEYS = ("fader_db", "pan", "reverb_send_db")  # the settings after the compressor (linear gains)
    MAX_RETURNS_PER_EDIT = 2  # more tracks' reverb returns missing: the send bus is convolved at once
    MAX_INCREMENTS = 32  # edits added to the kept bus (as differences) before it is summed afresh

    def __init__(self, session, start: int, end: int):
        self.serial = next(_SERIAL)
        self.start, self.end = start, end
        self.sample_rate = session.sample_rate
        self.preroll = min(start, int(PREROLL_S * session.sample_rate))
        n = end - start + self.preroll
        self.x = np.stack([np.ascontiguousarray(session.window(i, start - self.preroll, n).T)
                           for i in range(len(session.names))])
        self.channels = [info.channels for info in session.infos]
        n_tracks = len(session.names)
        self.pre = np.zeros((n_tracks, 2, n), dtype=np.float32)  # pre-fader strip outputs, channel-major
        self.pre_with: list[tuple | None] = [None] * n_tracks  # the settings each was made with
        self.wet = np.zeros((n_tracks, 2, n), dtype=np.float32)  # each one's reverb return (unit send)
        self.wet_with: list[tuple | None] = [None] * n_tracks  # (pre settings, reverb settings)
        self.hop = L.hop_frames(session.sample_rate)
        n_hops = max(1, -(-(end - start) // self.hop))
        self._pk = np.zeros((n_tracks, 2, n_hops))  # per side peak and mean square of the pre-fader outputs
        self._ms = np.zeros((n_tracks, 2, n_hops))
        self.peak, self.rms = np.zeros((n_tracks, n_hops)), np.zeros((n_tracks, n_hops))
        self.bus: np.ndarray | None = None  # the master strip's input (frames, 2) of the last mix
        self._bus64: np.ndarray | None = None  # the same (2, frames), float64, kept for increments
        self._bus_with: tuple | None = None  # the reverb settings it was summed by track with (None: not by track)
        self._dry = self._wet = None  # the gains it was summed with
        self._increments = 0
        self._reverb: tuple | None = None  # (reverb settings, an unused reverb return of them)

    @staticmethod
    def _pre_key(values: dict[str, float]) -> tuple:
        return tuple((k, v) for k, v in values.items() if k not in RegionCache.POST_KEYS)

    def _update_pre(self, params: B.MixParams) -> dict[int, np.ndarray] | None:
        """Run the strips whose settings before the fader changed; returns their previous outputs
        (None when more than :attr:`MAX_RETURNS_PER_EDIT` changed: the bus is then summed afresh)."""
        changed = [i for i, t in enumerate(params.tracks) if self.pre_with[i] != self._pre_key(t.values)]
        if not changed:
            return {}
        before = {i: self.pre[i].copy() for i in changed} if len(changed) <= self.MAX_RETURNS_PER_EDIT else None
        sub = copy.copy(params)
        sub.tracks = [params.tracks[i] for i in changed]
        bank = B.track_strips(sub, [self.channels[i] for i in changed])
        bank.post_gain[:] = 1.0  # the pre-fader signal; fader and pan are applied in the sums
        out = np.empty((len(changed),) + self.x.shape[1:], dtype=np.float32)
        bank.process(np.ascontiguousarray(self.x[changed]), out)
        self.pre[changed] = out.transpose(0, 2, 1)
        pk, ms = L.peak_ms_per_side(out[:, self.preroll:], self.hop)
        self._pk[changed], self._ms[changed] = pk, ms
        for i in changed:
            self.pre_with[i] = self._pre_key(params.tracks[i].values)
        return before

    def _returns(self, params: B.MixParams, send: np.ndarray) -> tuple[list[int], tuple]:
        """The tracks whose reverb return is missing for ``params`` (sending ones first) and the key."""
        reverb = tuple(sorted((k, v) for k, v in params.master.values.items() if k.startswith("reverb.")))
        missing = [i for i, t in enumerate(params.tracks) if self.wet_with[i] != (self.pre_with[i], reverb)]
        return sorted(missing, key=lambda i: send[i] == 0), reverb

    def _make_return(self, params: B.MixParams, i: int, reverb: tuple) -> None:
        if self._reverb is None or self._reverb[0] != reverb:  # its impulse response's spectra, made once
            self._reverb = (reverb, B.reverb_return(params))
        rev = copy.deepcopy(self._reverb[1])  # a fresh one (from silence)
        self.wet[i] = rev.process(self.pre[i].T).T
        self.wet_with[i] = (self.pre_with[i], reverb)

    def fill(self, params: B.MixParams) -> bool:
        """Make one missing reverb return for ``params`` (idle work); False when none is missing."""
        if any(w is None for w in self.pre_with):
            return False
        missing, reverb = self._returns(params, B.send_gains(params))
        if not missing:
            return False
        self._make_return(params, missing[0], reverb)
        return True

    def mix(self, params: B.MixParams, sounding: list[bool]) -> np.ndarray:
        """The region's mix ``(end - start, 2)`` for ``params`` (re-runs what changed only)."""
        before = self._update_pre(params)
        gains = B.track_strips(params, self.channels).post_gain  # (tracks, 2): fader and pan per side
        on = np.asarray(sounding, dtype=bool)
        self.peak = np.max(np.abs(gains)[:, :, None] * self._pk, axis=1)
        self.rms = np.sqrt(0.5 * np.sum(np.square(gains)[:, :, None] * self._ms, axis=1))
        send = B.send_gains(params) * on
        missing, reverb = self._returns(params, send)
        missing = [i for i in missing if send[i] > 0]
        dry, wet = gains * on[:, None], gains * send[:, None]  # per track and side: onto the bus, into the reverb
        if (self._bus_with != reverb or before is None or len(missing) > self.MAX_RETURNS_PER_EDIT
                or self._increments >= self.MAX_INCREMENTS):
            self._bus64 = self._sum(params, dry, wet, missing)
            by_track = len(missing) <= self.MAX_RETURNS_PER_EDIT  # else a send bus convolved at once: no increments
            self._bus_with = reverb if by_track else None
            self._increments = 0
        else:  # the kept bus, less the re-run strips' old contributions, plus every change of gain
            prev_dry, prev_wet = self._dry.copy(), self._wet.copy()
            for i, old in before.items():
                for c in range(2):
                    self._bus64[c] -= prev_dry[i, c] * old[c]
                    if prev_wet[i, c]:
                        self._bus64[c] -= prev_wet[i, c] * self.wet[i, c]  # its old return: still kept
                prev_dry[i] = prev_wet[i] = 0.0
            for i in missing:  # the re-run strips' new returns (and those of tracks that start sending)
                self._make_return(params, i, reverb)
            if not (np.array_equal(dry, prev_dry) and np.array_equal(wet, prev_wet)):
                self._increment(dry - prev_dry, wet - prev_wet)
        self._dry, self._wet = dry, wet
        self.bus = np.ascontiguousarray(self._bus64.T, dtype=np.float32)  # a new array: the meters read the old
        out = np.empty((1,) + self.bus.shape, dtype=np.float32)
        B.master_strip(params).process(self.bus[None], out)
        # the master's finishing stages (the limiter), its lookahead and release running through the pre-roll
        return apply_finish(out[0], params.sample_rate, params.master.finish)[self.preroll:]

    def _increment(self, d_dry: np.ndarray, d_wet: np.ndarray) -> None:
        """Add the tracks' gain changes to the kept bus (float64: rounding does not pile up; it is
        summed afresh every :attr:`MAX_INCREMENTS` edits all the same)."""
        for i, c in zip(*np.nonzero(d_dry)):
            self._bus64[c] += d_dry[i, c] * self.pre[i, c]
        for i, c in zip(*np.nonzero(d_wet)):
            self._bus64[c] += d_wet[i, c] * self.wet[i, c]
        self._increments += 1

    def _sum(self, params: B.MixParams, dry: np.ndarray, wet: np.ndarray, missing: list[int]) -> np.ndarray:
        """The master strip's input ``(2, frames)`` float64: the panned tracks and the reverb's return."""
        n = self.pre.shape[2]
        bus = np.zeros((2, n))
        for c in range(2):
            bus[c] = dry[:, c].astype(np.float32) @ self.pre[:, c]
        if wet.any():
            if len(missing) > self.MAX_RETURNS_PER_EDIT:  # the send bus through the reverb at once
                sends = np.stack([wet[:, c].astype(np.float32) @ self.pre[:, c] for c in range(2)], 1)
                bus += B.reverb_return(params).process(sends).T
            else:
                reverb = self._returns(params, wet[:, 0])[1]
                for i in missing:
                    self._make_return(params, i, reverb)
                for c in range(2):
                    bus[c] += wet[:, c].astype(np.float32) @ self.wet[:, c]
        return bus

    def input(self, i: int) -> tuple[np.ndarray, int]:
        """Track ``i``'s strip input from the pre-roll's start ``(frames, channels)``, and the pre-roll."""
        return self.x[i][:, :self.channels[i]], self.preroll

    def raw(self, sounding: list[bool]) -> np.ndarray:
        """Every sounding track at unity, a mono track in both channels (the report's raw sum)."""
        acc = np.zeros(self.x.shape[1:], dtype=np.float32)
        for i, on in enumerate(sounding):
            if on:
                acc[:, 0] += self.x[i, :, 0]
                acc[:, 1] += self.x[i, :, 1 if self.channels[i] == 2 else 0]
        return acc[self.preroll:]


def meters(audio: dict[str, np.ndarray], sr: int) -> dict[str, dict]:
    return {k: {**B.loudness(a, sr), "momentary_lufs": B.momentary(a, sr, METER_HOP_S)}
            for k, a in audio.items()}


class Engine:
    """Renders the state's settings: :attr:`loop` (the region) and :attr:`full` (the song)."""

    def __init__(self, session, state, reference: np.ndarray | None = None):
        self.session, self.state = session, state
        self.sr = session.sample_rate
        self.reference = reference  # (frames, 2) at the session's rate, or None
        self.mute: set[str] = set()
        self.solo: set[str] = set()
        self.region = (0, min(session.frames, int(12 * self.sr)))
        self.loop: Rendered | None = None
        self.full: Rendered | None = None
        self.overview: list[float] = []
        self.full_busy = False
        self.error: str | None = None
        self._monitor_version = 0
        self._cache: RegionCache | None = None
        self._warm: tuple | None = None  # (region, params, sounding) whose strips to cache next
        self._fill = False  # the region's cache may miss reverb returns (made while the loop is current)
        self._cond = threading.Condition()
        self._stop = False
        self._serial = threading.Lock()
        self._edited_at = 0.0
        self._gr: dict[tuple, np.ndarray | None] = {}  # gain reduction per (scope, audio, track settings)
        self._threads = [threading.Thread(target=self._region_loop, name="studio-region", daemon=True),
                         threading.Thread(target=self._full_loop, name="studio-full", daemon=True),
                         threading.Thread(target=self._meters_loop, name="studio-meters", daemon=True)]

    # --------------------------------------------------------------------------- control
    def start(self) -> None:
        for t in self._threads:
            t.start()

    def stop(self) -> None:
        with self._cond:
            self._stop = True
            self._cond.notify_all()
        for t in self._threads:
            if t.is_alive():
                t.join(timeout=30)

    def poke(self) -> None:
        """The settings changed: render again."""
        with self._cond:
            self._edited_at = time.monotonic()
            self._cond.notify_all()

    def set_region(self, start_s: float, end_s: float) -> None:
        song_s = self.session.frames / self.sr  # clamped first: 1e308 s in frames is no integer
        start = int(round(min(max(start_s, -1.0), song_s + 1.0) * self.sr))
        end = min(int(round(min(max(end_s, -1.0), song_s + 1.0) * self.sr)), self.session.frames)
        if not 0 <= start < end:
            raise ValueError(f"loop region {start_s:g} .. {end_s:g} s is empty or outside the song "
                             f"(0 .. {self.session.frames / self.sr:.2f} s)")
        with self._cond:
            self.region = (start, end)
            self._cond.notify_all()

    def set_monitor(self, mute: set[str], solo: set[str]) -> None:
        with self._cond:
            self.mute, self.solo = set(mute), set(solo)
            self._monitor_version += 1
            self._edited_at = time.monotonic()
            self._cond.notify_all()

    def wait_idle(self, timeout: float = 60.0) -> bool:
        """Block until both renders match the current settings (tests and scripts)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._is_current(self.loop, loop=True) and self._is_current(self.full) and not self.full_busy:
                return True
            time.sleep(0.02)
        return False

    def key(self) -> tuple:
        """(settings version, monitor version): what a render must match to be current."""
        return (self.state.version, self._monitor_version)

    def _is_current(self, r: Rendered | None, loop: bool = False) -> bool:
        if r is None or r.key != self.key():
            return False
        return not loop or r.region == self.region

    # --------------------------------------------------------------------------- region thread
    def _region_loop(self) -> None:
        while True:
            with self._cond:
                while not self._stop and self._is_current(self.loop, loop=True) and not self._fill:
                    self._cond.wait(0.5)
                if self._stop:
                    return
                idle = self._is_current(self.loop, loop=True)
                key, region, sounding = self.key(), self.region, self._sounding()
            try:
                if idle:  # nothing to render: make one missing reverb return of the region's tracks
                    self._fill = self._cache is not None and self._cache.fill(self.loop.params)
                    continue
                self.loop = self._render_region(key, region, sounding)  # meters follow in their thread
                self.error = None
                if self._warm is not None:  # fill the new region's strip cache for the next edit
                    region, params, sounding = self._warm
                    self._warm = None
                    self._cache = RegionCache(self.session, *region)
                    with self._kernel_turn():
                        self._cache.mix(params, sounding)
                self._fill = True
            except Exception as e:  # keep serving; the page shows the message
                log.exception("loop render failed")
                self.error = f"loop render failed: {e}"
                self._fill = False
                time.sleep(1.0)

    def _sounding(self) -> list[bool]:
        return audible(self.state.names, self.mute, self.solo)

    def _render_region(self, key: tuple, region: tuple[int, int], sounding: list[bool]) -> Rendered:
        t0 = time.perf_counter()
        params = self.state.copy_params()
        if self._cache is None or (self._cache.start, self._cache.end) != region:
            full = self.full
            if full is not None and full.key == key:  # a new region of a current song: cut it out (exact)
                self._cache, self._warm = None, (region, params, sounding)  # strips cached after publishing
                return Rendered(key[0], region[0] / self.sr, {k: a[region[0]:region[1]] for k, a in full.audio.items()},
                                {}, time.perf_counter() - t0, key, region, params, cut_from=full)
            self._cache = RegionCache(self.session, *region)
        with self._kernel_turn():
            mix = self._cache.mix(params, sounding)
        audio = {"mix": mix}
        old = self.loop if self.loop is not None and self.loop.region == region and self.loop.key[1] == key[1] \
            else None
        audio["raw"] = old.audio["raw"] if old else self._cache.raw(sounding)
        if self.reference is not None:
            audio["reference"] = old.audio["reference"] if old else _slice(self.reference, *region)
        on = np.asarray(sounding, dtype=bool)
        r = Rendered(key[0], region[0] / self.sr, audio, {}, time.perf_counter() - t0, key, region, params,
                     ([n for n, s in zip(self.state.names, sounding) if s], self._cache.peak[on], self._cache.rms[on]),
                     self._cache, bus=self._cache.bus)
        log.debug("loop %.2f-%.2f s rendered in %.3f s", region[0] / self.sr, region[1] / self.sr, r.seconds)
        return r

    def _kernel_turn(self):
        import numba

        try:
            layer = numba.threading_layer()
        except ValueError:  # no parallel kernel has run yet: the first one picks the layer
            layer = "unknown"
        return self._serial if layer in ("workqueue", "unknown") else _NoLock()

    # --------------------------------------------------------------------------- full-song thread
    def _full_loop(self) -> None:
        _lower_priority(FULL_NICE)  # the loop comes first: the song's render (and its workers) yield the CPU
        try:
            self.overview = self._overview()
        except Exception:
            log.exception("overview failed")
        while True:
            with self._cond:
                while not self._stop and (self._is_current(self.full) or
                                          time.monotonic() - self._edited_at < FULL_DEBOUNCE_S):
                    self._cond.wait(0.25)
                if self._stop:
                    return
                key, sounding = self.key(), self._sounding()
            self.full_busy = True
            try:
                new = self._render_full(key, sounding)
                if new is not None:
                    self.full = new
            except Exception as e:
                log.exception("full render failed")
                self.error = f"full-song render failed: {e}"
                time.sleep(2.0)
            finally:
                self.full_busy = False

    def _render_full(self, key: tuple, sounding: list[bool]) -> Rendered | None:
        """The song for ``key``, block by block; each block waits while the loop has work (the loop
        comes first), and the render is dropped (None) as soon as the settings change again."""
        t0 = time.perf_counter()
        params = self.state.copy_params()
        n = self.session.frames
        params.tracks = [t for t, on in zip(params.tracks, sounding) if on]
        mix = np.zeros((n, 2), np.float32)
        acc = L.LevelAccumulator(L.hop_frames(self.sr))
        buses: list[np.ndarray] = []

        def on_block(strips: np.ndarray, bus: np.ndarray) -> None:
            acc.add(strips)
            buses.append(bus[0].copy())

        if params.tracks:
            steps = B.render_full_steps(self.session.folder, params, on_block)
            while True:
                while not self._stop and not self._is_current(self.loop, loop=True):
                    time.sleep(0.01)
                if self._stop or self.key() != key:
                    steps.close()
                    return None
                try:
                    with self._kernel_turn():
                        next(steps)
                except StopIteration as done:
                    mix = done.value.audio  # its warnings (silent, DC-only, clipped tracks) were logged
                    break
        audio = {"mix": mix}
        old = self.full if self.full is not None and self.full.key[1] == key[1] else None
        audio["raw"] = old.audio["raw"] if old else self._raw_full(sounding)
        if self.reference is not None:
            audio["reference"] = old.audio["reference"] if old else _slice(self.reference, 0, n)
        r = Rendered(key[0], 0.0, audio, {}, time.perf_counter() - t0, key, (), params,
                     ([t.name for t in params.tracks], *acc.result()) if params.tracks else None,
                     _SongInputs(self.session, params), bus=np.concatenate(buses) if buses else None)
        log.info("full song rendered in %.2f s", r.seconds)
        return r

    def _meters_loop(self) -> None:
        """Meters of the latest renders, in their own thread: the loop thread is free for the next
        edit meanwhile, and a render replaced before its turn is never measured. While the loop has
        work (an edit came), no measuring starts: the new audio comes first."""
        _lower_priority(METERS_NICE)
        done: dict[str, Rendered | None] = {"loop": None, "full": None}
        while not self._stop:
            if not self._is_current(self.loop, loop=True):
                time.sleep(0.01)
                continue
            for name in done:
                r = getattr(self, name)
                if r is not None and not r.meters:
                    try:
                        r.meters = self._meters(r, done[name])
                        done[name] = r
                    except Exception:
                        log.exception("meters failed")
                        r.meters = {"error": {}}
            for name in done:
                r = getattr(self, name)
                if r is not None and r.strips is None:
                    try:
                        r.strips = self._strip_meters(r, name)
                    except Exception:
                        log.exception("strip meters failed")
                        r.strips = {"error": "strip meters failed; the server log has the details"}
            time.sleep(0.05)

    def _strip_meters(self, r: Rendered, scope: str) -> dict | None:
        """The strips' meters of ``r`` (:mod:`mixdown.studio.levels`): levels from the render, the
        compressors' gain reduction computed here (kept per track while its settings and the loop's
        audio stay); None when ``r`` is replaced meanwhile (or, for a loop cut out of the song, when
        the song's meters are not ready yet: they are its meters)."""
        if r.cut_from is not None:
            return r.cut_from.strips
        hop = L.hop_frames(self.sr)
        names = self.state.names
        peak, rms = np.zeros((len(names), 1)), np.zeros((len(names), 1))
        gr: dict[str, np.ndarray] = {}
        if r.levels is not None:
            rendered, p, q = r.levels
            peak, rms = np.zeros((len(names), p.shape[1])), np.zeros((len(names), p.shape[1]))
            for j, n in enumerate(rendered):
                peak[names.index(n)], rms[names.index(n)] = p[j], q[j]
            for j, t in enumerate(r.params.tracks):
                if getattr(self, scope) is not r or not self._is_current(self.loop, loop=True):
                    return None  # replaced, or an edit came: the loop's render first (measured again after)
                if t.name not in rendered:  # muted, or another track soloed
                    continue
                cache_key = (scope, r.inputs.serial, RegionCache._pre_key(t.values))  # fader, pan, send: no change
                if cache_key not in self._gr:
                    x, skip = r.inputs.input(j)
                    with self._kernel_turn():
                        g = B.compressor_gain_db(x, r.params, j)
                    self._gr[cache_key] = None if g is None else L.gain_reduction(g[skip:], hop)
                if self._gr[cache_key] is not None:
                    gr[t.name] = self._gr[cache_key]
            self._gr = {k: v for k, v in list(self._gr.items())[-4 * len(names):]}
        if r.bus is not None:  # the master compressor's, from its input bus
            with self._kernel_turn():
                g = B.compressor_gain_db(r.bus, r.params, None)
            if g is not None:
                gr["master"] = L.gain_reduction(g[r.inputs.preroll if r.region else 0:], hop)
        out = L.payload(names, peak, rms, gr, L.master_levels(r.audio["mix"], self.sr, hop), hop / self.sr)
        return {**out, "start_s": r.start_s, "version": r.version, "key": list(r.key)}

    def _meters(self, new: Rendered, old: Rendered | None) -> dict[str, dict]:
        """Meters of ``new``; those of sources that did not change are taken from ``old``."""
        kept = {k: v for k, v in old.meters.items() if k != "mix" and old.audio.get(k) is new.audio.get(k)} \
            if old is not None else {}
        return {**meters({k: a for k, a in new.audio.items() if k not in kept}, self.sr), **kept}

    def _raw_full(self, sounding: list[bool]) -> np.ndarray:
        """The raw sum of the whole song, read in blocks of all tracks at once."""
        n, block = self.session.frames, 1 << 18
        out = np.zeros((n, 2), dtype=np.float32)
        for s in range(0, n, block):
            m = min(block, n - s)
            for i, on in enumerate(sounding):
                if on:
                    w = self.session.window(i, s, m)
                    out[s:s + m] += w.T
        return out

    def _overview(self) -> list[float]:
        raw = self._raw_full([True] * len(self.state.names))
        peak = np.abs(raw).max(axis=1)
        edges = np.linspace(0, len(peak), OVERVIEW_BINS + 1).astype(int)
        bins = [float(peak[a:b].max()) if b > a else 0.0 for a, b in zip(edges[:-1], edges[1:])]
        top = max(bins) or 1.0
        return [round(v / top, 3) for v in bins]


class _SongInputs:
    """The whole song's strip inputs of a full render's tracks (``params.tracks``, the sounding ones)."""

    serial = None

    def __init__(self, session, params: B.MixParams):
        self.session, self.names = session, [t.name for t in params.tracks]

    def input(self, j: int) -> tuple[np.ndarray, int]:
        i = self.session.names.index(self.names[j])
        return self.session.window(i, 0, self.session.frames).T[:, :self.session.infos[i].channels], 0


def _lower_priority(nice: int) -> None:
    """Lower the calling thread's CPU priority by ``nice`` (Linux: priorities are per thread, and the
    threads it starts inherit it); elsewhere, or when refused, it runs at the normal priority."""
    if not sys.platform.startswith("linux"):
        return
    try:
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, min(19, os.getpriority(os.PRIO_PROCESS, tid) + nice))
    except OSError as e:
        log.debug("thread priority unchanged: %s", e)


class _NoLock:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def _slice(x: np.ndarray, start: int, end: int) -> np.ndarray:
    out = np.zeros((end - start, 2), dtype=np.float32)
    seg = x[start:end]
    out[:len(seg)] = seg
    return out
