"""MixologyDB: the per-track decisions of 90 human mixes of 13 songs, in mixdown's units.

MixologyDB (Clemens 2023, MIT licence; vendored in ``data/mixologydb/`` with its licence) records,
for each mix of the Mix Evaluation dataset (De Man et al.), every track's session name,
instrument type and subtype, mono/stereo, fader, pan, EQ bands, compressor, reverb sends and other
effects, and the raw track's integrated loudness (LUFS); per mix the listeners' ratings. The
audio is not included. :func:`read_mixologydb` maps it onto the console of
``docs/console.md`` track by track (the mapping is tabled in ``docs/decisions.md``):

* **part** (:data:`mixdown.data.roles.PARTS`): from the subtype (KICK, SNARE, TOM, HI-HAT,
  OVERHEAD(S)/RIDE/CRASH; names with "room" -> room; TAMBOURINE/MISC -> percussion; LEAD /
  BACKGROUND vocals; ELECTRIC / ACOUSTIC guitars; BASS; KEYS), else from the name
  (:func:`mixdown.data.roles.part_of`); the side from the name (:func:`~mixdown.data.roles.side_of`);
* **level**: the fader (``gain``) on the raw track (``input_gain_db`` 0); the level relative to the
  mix is ``raw LUFS + fader`` less the power sum of the mix's tracks (:func:`relative_levels`);
* **pan**: +-100 -> +-1 (a stereo track's two pans: their mean, its balance);
* **EQ**: HP -> ``highpass_hz`` (clipped to 20..500 Hz); LS / HS / NOTCH (bells) -> the six bands
  by direct assignment, then, where that does not reproduce their response (more than four bells,
  two shelves of a kind, values outside the ranges), a least-squares fit of the six bands to their
  response (RBJ cookbook, 48 kHz, 20 Hz..20 kHz); the fit error (mean |dB| over octave bands) is
  kept per track; LP has no counterpart (counted);
* **compressor**: threshold (dBFS of the raw track, where the console's compressor sees it: input
  gain 0), ratio "3:1", attack, release, knee, make-up (``gain``), each clipped to its range;
* **reverb**: the loudest send's ``gain`` -> ``reverb_send_db`` (-60 = off); an insert reverb's
  wet ``mix`` (0..1) -> ``20 log10(mix)``; the mix's most-sent reverb -> the master reverb
  (``length`` ms -> mid decay, the type's low/high decay ratios, ``pre-delay``).

Everything without a counterpart (gate, delay, chorus, flanger, phaser, limiters, LP, aux/bus
tracks) and every value clipped or unreadable is counted in :class:`BuildReport`, never dropped
silently.
"""

from __future__ import annotations

import functools
import json
import logging
import math
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mixdown.data.roles import PARTS, part_of, side_of
from mixdown.errors import UsageError
from mixdown.params import spec as S

log = logging.getLogger(__name__)

#: the vendored copy (``data/mixologydb/final-track-data.json``, MIT licence beside it)
DEFAULT_PATH = Path(__file__).resolve().parents[3] / "data" / "mixologydb" / "final-track-data.json"
#: songs never trained or tuned on (30 mixes): the decision benchmark's test split
TEST_SONGS = ("Pouring Room", "Not Alone", "Red To Blue", "I'd Like To Know")
_SUBTYPE_PART = {
    "KICK": "kick",
    "SNARE": "snare",
    "TOM": "tom",
    "HI-HAT": "hihat",
    "OVERHEAD": "overheads",
    "OVERHEADS": "overheads",
    "RIDE": "overheads",
    "CRASH": "overheads",
    "TAMBOURINE": "percussion",
}
#: reverb type -> (low, high) decay as multiples of the mid decay (halls and churches hold their
#: lows longest; rooms and plates are flatter; springs and tapes darken fast)
_REVERB_SHAPE = {
    "HALL": (1.3, 0.6),
    "CHURCH": (1.4, 0.55),
    "ROOM": (1.1, 0.75),
    "PLATE": (1.0, 0.85),
    "SPRING": (0.9, 0.6),
    "TAPE": (1.0, 0.6),
    "STAGE": (1.2, 0.7),
}
_EQ_GRID_HZ = np.geomspace(20.0, 20000.0, 96)
#: where :func:`fit_eqs` fits responses (Hz)
EQ_GRID_HZ = _EQ_GRID_HZ
_EQ_FS = 48000.0
#: octave-band centres where EQ responses are compared (31.5 Hz .. 16 kHz)
OCTAVES_HZ = 31.25 * 2.0 ** np.arange(10)
#: what counts as a decision *taken* (the decision benchmark's shares, the Engineer's switches): a
#: high-pass above this corner (a quarter octave above the 20 Hz "off"), ...
HIGHPASS_ON_HZ = 20.0 * 2**0.25
#: ... a compressor at this ratio or more with its threshold below the track's loudness at the
#: compressor + this (below its peaks), ...
COMPRESSOR_ON_RATIO = 2.0
COMPRESSOR_ON_MAX_THRESHOLD_REL_DB = 10.0
#: ... a reverb send above this level (dB)
SEND_ON_DB = -30.0


def decisions_taken(v, at_comp_db) -> dict:
    """Which of the three decisions a track's settings take (the bounds above): ``v`` maps a
    parameter's name to its physical value (one track's values, or a column of arrays, numpy or
    torch), ``at_comp_db`` the track's loudness at its compressor -> ``"highpass"``,
    ``"compressor"``, ``"send"`` -> bool (or bool arrays)."""
    return {
        "highpass": v["highpass_hz"] > HIGHPASS_ON_HZ,
        "compressor": (v["compressor.ratio"] >= COMPRESSOR_ON_RATIO)
        & (v["compressor.threshold_db"] < at_comp_db + COMPRESSOR_ON_MAX_THRESHOLD_REL_DB),
        "send": v["reverb_send_db"] > SEND_ON_DB,
    }
_T = S.TRACK.columns


@dataclass
class Decision:
    """One raw track as one engineer set it.

    ``values``: every per-track parameter of :data:`mixdown.params.spec.TRACK_NAMES` (physical
    units; ``input_gain_db`` 0, the fader the engineer's); ``level_db``: ``raw_lufs + fader``,
    the track's loudness before EQ and compression (relative levels: :func:`relative_levels`).
    """

    song: str
    mix: str
    rating: float
    name: str
    key: str
    part: str
    stereo: bool
    raw_lufs: float
    side: int
    values: dict[str, float]
    eq_fit_db: float = 0.0
    #: the engineer's EQ bands where the six bands had to be fitted to them (else None)
    eq_bands: list | None = None

    @property
    def level_db(self) -> float:
        return self.raw_lufs + self.values["fader_db"]


@dataclass
class BuildReport:
    """What the reader mapped, left out and repaired, counted."""

    mixes: int = 0
    tracks: int = 0
    decisions: int = 0
    no_counterpart: Counter = field(default_factory=Counter)
    skipped: Counter = field(default_factory=Counter)
    clipped: Counter = field(default_factory=Counter)
    eq_fit_db: list[float] = field(default_factory=list)

    def as_dict(self) -> dict:
        fit = np.asarray(self.eq_fit_db) if self.eq_fit_db else np.zeros(1)
        return {
            "mixes": self.mixes,
            "tracks": self.tracks,
            "decisions": self.decisions,
            "no_counterpart": dict(self.no_counterpart),
            "skipped": dict(self.skipped),
            "clipped": dict(self.clipped),
            "eq_fit_db": {
                "tracks_fitted": len(self.eq_fit_db),
                "mean": float(fit.mean()),
                "p95": float(np.percentile(fit, 95)),
                "max": float(fit.max()),
            },
        }

    def markdown(self) -> str:
        d = self.as_dict()
        rows = [
            f"MixologyDB: {d['mixes']} mixes, {d['tracks']} tracks, {d['decisions']} track decisions read.",
            "",
            "| counted | what | tracks or effects |",
            "|---|---|---|",
        ]
        for title, key in (("no counterpart", "no_counterpart"), ("skipped", "skipped"), ("clipped", "clipped")):
            rows += [f"| {title} | {k} | {v} |" for k, v in sorted(d[key].items())]
        f = d["eq_fit_db"]
        rows += [
            "",
            f"EQ fitted on {f['tracks_fitted']} tracks: mean error {f['mean']:.2f} dB, "
            f"95th percentile {f['p95']:.2f} dB, worst {f['max']:.2f} dB (octave bands).",
        ]
        return "\n".join(rows) + "\n"


@dataclass
class MixologyDB:
    """The decisions, each mix's master reverb and the build report."""

    decisions: list[Decision]
    reverbs: dict[str, dict[str, float]]
    report: BuildReport

    def songs(self) -> list[str]:
        return sorted({d.song for d in self.decisions})

    def of_song(self, song: str) -> list[Decision]:
        return [d for d in self.decisions if d.song == song]


def _num(x) -> float | None:
    if isinstance(x, bool) or not isinstance(x, (int, float)) or not math.isfinite(x):
        return None
    return float(x)


def _clip(name: str, value: float, report: BuildReport, lo: float | None = None, hi: float | None = None) -> float:
    spec = S.TRACK_SPECS[_T[name]] if name in _T else None
    lo = spec.lo if lo is None else lo
    hi = spec.hi if hi is None else hi
    if value < lo or value > hi:
        report.clipped[name] += 1
    return float(min(max(value, lo), hi))


def _part(track: dict) -> str:
    kind, sub, name = track.get("track-instrument-type"), track.get("track-instrument-subtype"), track["track-name"]
    by_name = part_of(name)
    if kind == "DRUMS" and sub in _SUBTYPE_PART:
        part = _SUBTYPE_PART[sub]
        return "room" if part == "overheads" and by_name == "room" else part
    if kind == "DRUMS" or kind == "MISC":
        return "percussion"
    if kind == "VOCALS":
        return "backing_vocal" if sub == "BACKGROUND" else "lead_vocal"
    if kind == "GUITARS":
        return "acoustic_guitar" if sub == "ACOUSTIC" else "electric_guitar"
    if kind == "BASS":
        return "bass"
    if kind == "KEYS":
        return "keys"
    return by_name


def _eq_response_db(bands: list[tuple[str, float, float, float]], freqs_hz: np.ndarray = _EQ_GRID_HZ) -> np.ndarray:
    """Magnitude response (dB) at ``freqs_hz`` of cookbook biquads ``(kind, f, gain, q)`` in series."""
    from mixdown.dsp.coefficients import biquad_coefficients

    z = np.exp(-1j * 2 * np.pi * freqs_hz / _EQ_FS)[:, None] ** np.arange(3)
    total = np.zeros_like(freqs_hz)
    for kind, f, g, q in bands:
        b, a = biquad_coefficients(kind, np.float64(f), np.float64(g), np.float64(q), _EQ_FS)
        total += 20 * np.log10(np.abs(z @ b) / np.abs(z @ a))
    return total


def eq_octaves_db(values: dict[str, float]) -> np.ndarray:
    """The six-band EQ's response (dB) at :data:`OCTAVES_HZ` (high-pass left out). Shape ``(10,)``."""
    return _eq_response_db(_bands_of(values), OCTAVES_HZ)


def _bands_of(vals: dict[str, float]) -> list[tuple[str, float, float, float]]:
    return [
        (kind, vals[f"eq.{i}.freq_hz"], vals[f"eq.{i}.gain_db"], vals[f"eq.{i}.q"])
        for i, kind in enumerate(S.EQ_BAND_TYPES)
        if vals[f"eq.{i}.gain_db"] != 0.0
    ]


def _assign_eq(bands: list[tuple[str, float, float, float]]) -> tuple[dict[str, float], bool]:
    """The six bands by direct assignment of the engineer's shelves and bells (the first shelf of
    each kind, the four largest bells in frequency order), clipped to the ranges; whether that
    reproduces their response (else it needs :func:`fit_eqs`)."""
    neutral = S.neutral_track_values(int(_EQ_FS))
    vals = {k: neutral[k] for k in neutral if k.startswith("eq.")}
    if not bands:
        return vals, True
    low = [b for b in bands if b[0] == "low_shelf"][:1]
    high = [b for b in bands if b[0] == "high_shelf"][:1]
    bells = sorted(sorted((b for b in bands if b[0] == "peak"), key=lambda b: -abs(b[2]))[:4], key=lambda b: b[1])
    for i, band in [(0, b) for b in low] + [(5, b) for b in high] + list(enumerate(bells, 1)):
        for key, value in zip(("freq_hz", "gain_db", "q"), band[1:]):
            sp = S.TRACK_SPECS[_T[f"eq.{i}.{key}"]]
            vals[f"eq.{i}.{key}"] = min(max(value, sp.lo), sp.hi)
    err = float(np.mean(np.abs(eq_octaves_db(vals) - _eq_response_db(bands, OCTAVES_HZ))))
    return vals, err <= 0.25


def fit_eqs(starts: list[dict[str, float]], bands: list[list[tuple]], steps: int = 400,
            extra_db: np.ndarray | None = None) -> list[tuple[dict, float]]:
    """Fit the six bands to each engineer's response (dB on a 96-point log grid, 20 Hz..20 kHz,
    :data:`EQ_GRID_HZ`; plus ``extra_db`` ``(len(starts), 96)`` where given: a curve to add),
    all tracks at once (Adam on the table-normalised parameters, through a sigmoid so they stay in
    range), from the direct assignment. Returns each track's values and its error: the mean |dB|
    at :data:`OCTAVES_HZ` (of the bands' response alone)."""
    import torch

    from mixdown.dsp.coefficients import biquad_coefficients

    names = [f"eq.{i}.{k}" for i in range(S.N_EQ_BANDS) for k in ("freq_hz", "gain_db", "q")]
    specs = [S.TRACK_SPECS[_T[n]] for n in names]
    u0 = np.clip(S.normalize(np.array([[v[n] for n in names] for v in starts]), specs), 1e-4, 1 - 1e-4)
    logits = torch.tensor(np.log(u0 / (1 - u0)), requires_grad=True)
    target = torch.tensor(np.stack([_eq_response_db(b) for b in bands]))
    if extra_db is not None:
        target = target + torch.as_tensor(np.asarray(extra_db, dtype=np.float64))
    w = torch.tensor(2 * np.pi * _EQ_GRID_HZ / _EQ_FS)
    cos1, cos2 = torch.cos(w), torch.cos(2 * w)

    def power(c):  # |c0 + c1 z^-1 + c2 z^-2|^2 on the unit circle, real arithmetic: (B, 3) -> (B, F)
        c0, c1, c2 = c[:, 0:1], c[:, 1:2], c[:, 2:3]
        return c0 * c0 + c1 * c1 + c2 * c2 + 2 * (c0 * c1 + c1 * c2) * cos1 + 2 * c0 * c2 * cos2

    def response(lg):
        p = S.denormalize(torch.sigmoid(lg), specs).reshape(len(starts), S.N_EQ_BANDS, 3)
        total = 0.0
        for i, kind in enumerate(S.EQ_BAND_TYPES):
            b, a = biquad_coefficients(kind, p[:, i, 0], p[:, i, 1], p[:, i, 2], _EQ_FS)
            total = total + 10 * torch.log10(power(b) / power(a))
        return total

    opt = torch.optim.Adam([logits], lr=0.05)
    with torch.enable_grad():  # also where the caller runs without gradients (a model's forward)
        for _ in range(steps):
            loss = (response(logits) - target).pow(2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
    u = torch.sigmoid(logits).detach().numpy()
    out = []
    for k, row in enumerate(S.denormalize(u, specs)):
        vals = dict(zip(names, map(float, row)))
        out.append((vals, float(np.mean(np.abs(eq_octaves_db(vals) - _eq_response_db(bands[k], OCTAVES_HZ))))))
    return out


def _ratio(text) -> float | None:
    if _num(text) is not None:
        return float(text)
    m = re.fullmatch(r"\s*([0-9.]+)\s*:\s*1\s*", str(text or ""))
    return float(m.group(1)) if m else None


def _compressor(entries: list[dict], report: BuildReport) -> dict[str, float]:
    vals = {k: v for k, v in S.neutral_track_values().items() if k.startswith("compressor.")}
    if not entries:
        return vals
    if len(entries) > 1:
        report.no_counterpart["second compressor"] += len(entries) - 1
    c = entries[0]
    thr = _num(c.get("thresh", c.get("thres")))
    ratio = _ratio(c.get("ratio"))
    if thr is None or ratio is None:
        report.skipped["compressor without threshold or ratio (left off)"] += 1
        return vals
    vals["compressor.threshold_db"] = _clip("compressor.threshold_db", thr, report)
    vals["compressor.ratio"] = _clip("compressor.ratio", ratio, report)
    for key, src in (("attack_ms", "attack"), ("release_ms", "release"), ("knee_db", "knee"), ("makeup_db", "gain")):
        v = _num(c.get(src))
        if v is not None:
            vals[f"compressor.{key}"] = _clip(f"compressor.{key}", v, report)
    return vals


def _send_db(entries: list[dict], report: BuildReport) -> float:
    best = S.SEND_OFF_DB
    for r in entries:
        g = _num(r.get("gain")) if str(r.get("send")) == "True" else None
        mix = _num(r.get("mix"))
        if g is None and mix is not None and mix > 0:
            g = 20 * math.log10(min(mix if mix <= 1 else mix / 100, 1.0))  # an insert's wet share
        if g is None:
            report.skipped["reverb without a send level"] += 1
            continue
        best = max(best, g)
    return _clip("reverb_send_db", best, report)


def _master_reverb(tracks: list[dict]) -> dict[str, float]:
    """The mix's master reverb: the reverb (by type and length) its tracks send most to."""
    weight: Counter = Counter()
    shapes: dict[tuple, dict] = {}
    for t in tracks:
        for r in t.get("parameters", {}).get("reverb", []) or []:
            length = _num(r.get("length"))
            kind = str(r.get("type") or "").upper()
            key = (kind, length, _num(r.get("pre-delay")))
            g = _num(r.get("gain"))
            weight[key] += 10 ** ((g if g is not None else -10.0) / 20)
            shapes[key] = r
    out = dict(S.DEFAULT_REVERB)
    if not weight:
        return out
    (kind, length, predelay), _ = weight.most_common(1)[0]
    low, high = _REVERB_SHAPE.get(kind, (1.1, 0.7))
    mid = length / 1000.0 if length else 1.5
    out.update(
        {
            "reverb.decay_mid_s": mid,
            "reverb.decay_low_s": mid * low,
            "reverb.decay_high_s": mid * high,
            "reverb.predelay_ms": predelay if predelay is not None else out["reverb.predelay_ms"],
        }
    )
    for k, v in out.items():
        sp = S.REVERB_MASTER_SPECS[S.REVERB_MASTER_NAMES.index(k)]
        out[k] = float(min(max(v, sp.lo), sp.hi))
    return out


def _track(t: dict, mix: dict, rating: float, report: BuildReport) -> Decision | None:
    p = t.get("parameters") or {}
    feats = t.get("track-audio-features") or {}
    lufs = _num(feats.get("track-audio-lufs"))
    if t.get("track-type") != "AUDIO" or not feats.get("track-audio-path"):
        report.no_counterpart[f"{str(t.get('track-type')).lower()} track (bus, aux or return)"] += 1
        return None
    if lufs is None:
        report.skipped["audio track without raw loudness"] += 1
        return None
    for effect in ("gate", "delay", "chorus", "flanger", "phaser", "limiter"):
        if p.get(effect):
            report.no_counterpart[effect] += 1
    vals = S.neutral_track_values(int(_EQ_FS))
    fader = _num(p.get("gain"))
    if fader is None:
        report.skipped["fader unreadable (0 dB used)"] += 1
        fader = 0.0
    vals["fader_db"] = _clip("fader_db", fader, report)
    pans = [x for x in (p.get("pan") or []) if _num(x) is not None]
    vals["pan"] = _clip("pan", float(np.mean(pans)) / 100.0, report) if pans else 0.0
    bands = []
    for e in p.get("eq") or []:
        v, kind = e.get("value") or {}, e.get("type")
        f, g, q = _num(v.get("freq")), _num(v.get("gain")), _num(v.get("q"))
        if kind == "HP":
            if f is not None:
                vals["highpass_hz"] = _clip("highpass_hz", f, report) if f > 20 else 20.0
            continue
        if kind == "LP":
            report.no_counterpart["low-pass filter"] += 1
            continue
        cookbook = {"LS": "low_shelf", "HS": "high_shelf", "NOTCH": "peak"}.get(kind)
        if cookbook is None or f is None or g is None:
            report.skipped["EQ band unreadable"] += 1
            continue
        if not (20 <= f <= 20000 and abs(g) <= 30 and (q is None or 0.05 <= q <= 40)):
            report.skipped["EQ band outside any console's range (left out)"] += 1
            continue
        q = q if q is not None and q > 0 else 0.707
        bands.append((cookbook, f, g, min(max(q, 0.1), 20.0)))
    eq, exact = _assign_eq(bands)
    vals.update(eq)
    vals.update(_compressor(p.get("compression") or [], report))
    vals["reverb_send_db"] = _send_db(p.get("reverb") or [], report)
    return Decision(
        song=mix["song-name"],
        mix=mix["mix-name"],
        rating=rating,
        name=t["track-name"],
        key=Path(str(feats["track-audio-path"])).name,
        part=_part(t),
        stereo=t.get("channel-mode") == "STEREO",
        raw_lufs=lufs,
        side=side_of(t["track-name"]),
        values=vals,
        eq_bands=None if exact else bands,
    )


def read_mixologydb(path: str | Path = DEFAULT_PATH) -> MixologyDB:
    """Read MixologyDB's ``final-track-data.json`` into per-track :class:`Decision` s (about 20 s:
    the EQ fits; read once per process and file version, callers must not modify the result).

    A raw track placed twice in one mix (a duplicate for parallel processing) keeps its first
    placement, the other counted. :class:`ValueError` naming the file for one that is not
    MixologyDB's JSON (a :class:`~mixdown.errors.UsageError`, a ``ValueError``)."""
    path = Path(path)
    try:
        stamp = path.stat().st_mtime_ns
    except OSError as e:
        raise UsageError(f"{path}: cannot read MixologyDB ({e}); the project ships it in {DEFAULT_PATH.parent}") from e
    return _read(path, stamp)


@functools.lru_cache(maxsize=2)
def _read(path: Path, stamp: int) -> MixologyDB:
    try:
        mixes = json.loads(path.read_text())["mixes"]
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise UsageError(
            f"{path}: not MixologyDB's final-track-data.json ({e}); the project ships it in {DEFAULT_PATH.parent}"
        ) from e
    report, decisions, reverbs = BuildReport(), [], {}
    for mix in mixes:
        ratings = [_num(e.get("track-num-eval")) for e in mix.get("mix-evaluation") or []]
        ratings = [r for r in ratings if r is not None]
        rating = float(np.mean(ratings)) if ratings else 0.5
        report.mixes += 1
        seen = set()
        name = f"{mix['song-name']}/{mix['mix-name']}"
        reverbs[name] = _master_reverb(mix["tracks"])
        for t in mix["tracks"]:
            report.tracks += 1
            d = _track(t, mix, rating, report)
            if d is None:
                continue
            if d.key in seen:
                report.skipped["second placement of a raw track in one mix"] += 1
                continue
            seen.add(d.key)
            decisions.append(d)
    to_fit = [d for d in decisions if d.eq_bands is not None]
    if to_fit:
        for d, (eq, err) in zip(to_fit, fit_eqs([d.values for d in to_fit], [d.eq_bands for d in to_fit])):
            d.values.update(eq)
            d.eq_fit_db = err
            report.eq_fit_db.append(err)
    report.decisions = len(decisions)
    assert all(d.part in PARTS for d in decisions)
    return MixologyDB(decisions, reverbs, report)


def power_sum_db(levels_db) -> float:
    """The level (dB) of signals at ``levels_db`` summed in power: ``10 log10(sum 10^(L/10))``."""
    return float(10 * np.log10(np.sum(10 ** (np.asarray(levels_db, dtype=np.float64) / 10))))


def relative_levels(decisions: list[Decision]) -> np.ndarray:
    """Each track's level relative to its mix: ``raw LUFS + fader`` less the power sum over the
    mix's tracks (dB). Shape ``(len(decisions),)``; tracks of several mixes are grouped by mix."""
    lv = np.array([d.level_db for d in decisions])
    out = np.empty_like(lv)
    for mix in {(d.song, d.mix) for d in decisions}:
        idx = [i for i, d in enumerate(decisions) if (d.song, d.mix) == mix]
        out[idx] = lv[idx] - power_sum_db(lv[idx])
    return out
