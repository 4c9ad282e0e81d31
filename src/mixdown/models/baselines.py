"""Baselines the model is compared with (``mixdown evaluate``): physical settings from simple rules.

* ``raw_sum``: :func:`neutral` settings (the unprocessed sum);
* ``equal_loudness``: :func:`equal_loudness`;
* ``heuristic``: the rule-based model :class:`mixdown.models.Heuristic` (through prediction);
* ``prior``: :func:`prior`, the synthetic corpus's engineering prior given each track's role;
* ``role_levels``: :func:`role_levels`, the raw sum with each track's fader at its role's mean
  level in the human mixes of the training songs (``weights/role_levels.json``): what a track's
  name alone says about a person's balance;
* ``power_oracle``: :func:`power_oracle`, per-track gain and pan fitted to the reference's band
  powers (non-negative least squares): the upper bound of gain-and-pan mixing that stays valid
  when the reference went through phase-changing processing (EQ, reverb, delay);
* ``waveform_oracle``: :func:`waveform_oracle`, least-squares waveform gains; exact for
  gain-and-pan mixes, misled by anything that shifts phase.

Not in the default set (``mixdown evaluate --baselines composer,...``), as only MIDI pairs carry
what it needs:

* ``composer``: :func:`composer`, the composer's own volumes and pans of a MIDI pair (its
  manifest's ``cc7``/``cc10``), the human's settings themselves rather than a fit.
"""

from __future__ import annotations

import math
import zlib
from pathlib import Path
from typing import Sequence

import numpy as np

from mixdown.params import spec as S

BASELINES = ("raw_sum", "equal_loudness", "heuristic", "prior", "role_levels", "power_oracle", "waveform_oracle")
#: baselines that need what only some songs carry; asked for by name, songs without it get no row
EXTRA_BASELINES = ("composer",)
#: per-role level offsets (dB) of the training songs' human mixes (``scripts/role_levels.py --out``)
ROLE_LEVELS_FILE = Path(__file__).resolve().parents[1] / "weights" / "role_levels.json"
_T = S.TRACK.columns


def neutral(n: int, sample_rate: int) -> tuple[np.ndarray, np.ndarray]:
    """The raw sum: settings that leave ``n`` tracks and the master unchanged."""
    tv = np.tile([S.neutral_track_values(sample_rate)[k] for k in S.TRACK_NAMES], (n, 1)).astype(np.float64)
    mv = np.array([S.neutral_master_values(sample_rate)[k] for k in S.MASTER_NAMES], dtype=np.float64)
    return tv, mv


def equal_loudness(session) -> tuple[np.ndarray, np.ndarray]:
    """Every track to -23 LUFS (input gain), faders down by the track count (power sum)."""
    from mixdown.measure import loudness

    tv, mv = neutral(len(session.audio), session.sample_rate)
    for i, x in enumerate(session.audio):
        lufs = loudness.integrated_loudness(x, session.sample_rate)
        tv[i, _T["input_gain_db"]] = -23.0 - lufs if math.isfinite(lufs) else 0.0
        tv[i, _T["fader_db"]] = -10 * math.log10(len(session.audio))
    return S.TRACK.clip(tv, session.sample_rate), mv


def role_levels(session, offsets_db: dict[str, float] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The raw sum with each track's fader at its role's offset (dB; roles from the track names,
    :func:`mixdown.data.roles.normalise_role`, as a model with ``use_roles`` hears them), less the
    session's mean offset so the mix keeps its level. ``offsets_db``: default the shipped
    :data:`ROLE_LEVELS_FILE`; roles it lacks get 0 dB."""
    from mixdown.data.roles import normalise_role, read_role_levels

    if offsets_db is None:
        offsets_db = read_role_levels(ROLE_LEVELS_FILE)
    tv, mv = neutral(len(session.audio), session.sample_rate)
    db = np.array([float(offsets_db.get(normalise_role(n), 0.0)) for n in session.names])
    tv[:, _T["fader_db"]] = db - db.mean()
    return S.TRACK.clip(tv, session.sample_rate), mv


def composer_volume_db(cc7: float) -> float:
    """A MIDI channel volume's gain against the stems' CC7 = 100, by General MIDI's volume curve
    (amplitude ~ (CC7 / 127)^2): ``40 log10(CC7 / 100)`` dB (CC7 0 is read as 1)."""
    return 40.0 * math.log10(max(float(cc7), 1.0) / 100.0)


def _numeric_cc(cc) -> bool:
    """A manifest controller summary with a numeric ``start`` (and ``max``, where given)."""
    return isinstance(cc, dict) and isinstance(cc.get("start"), (int, float)) \
        and isinstance(cc.get("max", 0), (int, float))


def has_composer_controls(controls) -> bool:
    """Whether every track's manifest ``meta`` carries the channel's ``cc7`` and ``cc10`` (a MIDI
    pair; a hand-edited manifest without numeric values gets no composer row)."""
    return bool(controls) and all(isinstance(m, dict) and _numeric_cc(m.get("cc7")) and _numeric_cc(m.get("cc10"))
                                  for m in controls)


def composer(session, controls) -> tuple[np.ndarray, np.ndarray] | None:
    """The composer's console of a MIDI pair (:mod:`mixdown.data.builders.midi`), None without one.

    ``controls``: per track, its manifest ``meta`` with the channel's ``cc7`` and ``cc10``
    (``{"start", "min", "max"}`` over the excerpt). Fader: General MIDI's volume curve against the
    stems' CC7 = 100, ``40 log10(CC7 / 100)`` dB; pan ``(CC10 - 64) / 64`` (constant power, as the
    soundfont player pans). A console setting is constant, so a volume that moves within the excerpt
    (a fade in from 0, a swell) counts at its highest value (``max``) and a pan at its start value.
    Sends stay off: the soundfont player's reverb and chorus are not the console's. None when any
    track lacks either controller (not a MIDI pair).
    """
    if not has_composer_controls(controls) or len(controls) != len(session.audio):
        return None
    tv, mv = neutral(len(session.audio), session.sample_rate)
    for i, meta in enumerate(controls):
        cc7, cc10 = meta["cc7"].get("max", meta["cc7"]["start"]), float(meta["cc10"]["start"])
        tv[i, _T["fader_db"]] = composer_volume_db(cc7)
        tv[i, _T["pan"]] = (cc10 - 64.0) / 64.0
    return S.TRACK.clip(tv, session.sample_rate), mv


def prior(session, roles: Sequence[str | None] | None = None, seed: str = "") -> tuple[np.ndarray, np.ndarray]:
    """The synthetic corpus's prior (:func:`mixdown.data.prior.sample_mix_params`) for this session.

    ``roles``: each track's role (manifest vocabulary or the prior's own); missing ones come from
    the track name. ``seed``: e.g. the song name; the draw is a pure function of it.
    """
    from mixdown.data import prior as P
    from mixdown.data.roles import prior_role
    from mixdown.measure import loudness

    roles = list(roles) if roles is not None else [None] * len(session.names)
    mapped = [prior_role(name, role) for name, role in zip(session.names, roles, strict=True)]
    lufs = [loudness.integrated_loudness(x, session.sample_rate) for x in session.audio]
    rng = np.random.default_rng(zlib.crc32(seed.encode()))
    params = P.sample_mix_params(session.names, mapped, lufs, session.sample_rate, rng, files=session.files,
                                 stereo=[x.shape[0] == 2 for x in session.audio])
    return params.track_matrix(), params.master_vector()


def gains_to_fader_pan(tv: np.ndarray, gl: np.ndarray, gr: np.ndarray) -> None:
    """Write left/right amplitude gains into ``tv`` as fader (dB) and pan (constant-power law)."""
    gl, gr = np.maximum(gl, 1e-6), np.maximum(gr, 1e-6)
    tv[:, _T["fader_db"]] = 20 * np.log10(np.hypot(gl, gr))
    tv[:, _T["pan"]] = 4 * np.arctan2(gr, gl) / math.pi - 1
    tv[:] = S.TRACK.clip(tv)


def waveform_oracle(session, reference: np.ndarray, max_frames: int = 44100 * 60, step: int = 4):
    """Least-squares left/right waveform gains per track -> fader (dB) and pan."""
    tv, mv = neutral(len(session.audio), session.sample_rate)
    n = min(reference.shape[1], max(a.shape[1] for a in session.audio), max_frames)
    gains = []
    for side in (0, 1):
        cols = [np.pad(a[min(side, a.shape[0] - 1)], (0, max(0, n - a.shape[1])))[:n:step]
                for a in session.audio]
        g, *_ = np.linalg.lstsq(np.stack(cols, 1), reference[side, :n:step], rcond=None)
        gains.append(g)
    gains_to_fader_pan(tv, *gains)
    return tv, mv


oracle = waveform_oracle  # the name it had before the power-domain oracle


def band_power_frames(x: np.ndarray, sample_rate: int, n: int, n_fft: int = 4096,
                      bands: str = "third") -> np.ndarray:
    """Power per band and frame of each channel: ``(channels, time)`` -> ``(channels, bands, frames)``.

    Hann frames of ``n_fft`` samples without overlap over the first ``n`` samples (zero-padded);
    bands of a third octave (or an ``"octave"``) from 25 Hz to 20 kHz (those below Nyquist).
    """
    x = np.asarray(x, dtype=np.float64)
    x = np.pad(x[:, :n], ((0, 0), (0, max(0, n - x.shape[1]))))
    frames = x[:, : n // n_fft * n_fft].reshape(x.shape[0], -1, n_fft) * np.hanning(n_fft)
    power = np.abs(np.fft.rfft(frames, axis=-1)) ** 2          # (C, F, bins)
    freqs = np.fft.rfftfreq(n_fft, 1.0 / sample_rate)
    step = 1 / 3 if bands == "third" else 1.0
    centres = 1000.0 * 2.0 ** np.arange(math.log2(25 / 1000), math.log2(20000 / 1000) + 1e-9, step)
    centres = centres[centres * 2 ** (step / 2) < sample_rate / 2]
    edges = [(c * 2 ** (-step / 2), c * 2 ** (step / 2)) for c in centres]
    return np.stack([power[..., (freqs >= lo) & (freqs < hi)].sum(-1) for lo, hi in edges], 1)


def power_oracle(session, reference: np.ndarray, max_frames: int = 44100 * 180, n_fft: int = 4096,
                 bands: str = "third") -> tuple[np.ndarray, np.ndarray]:
    """Per-track gain and pan fitted to the reference in the power domain.

    For each side, the reference's band power per frame (third-octave bands x ~0.1 s frames) is
    fitted as a non-negative combination of the tracks' band powers on that side (tracks assumed
    uncorrelated, so powers add), each band weighted by the reference's mean power in it (a
    relative error per band, so every band counts as much as the loud low end; frames by their
    power). The weights are squared side gains: fader = their power sum, pan from the left/right
    ratio (constant-power law). Phase does not enter, so EQ phase, all-pass filters, small delays
    and reverb do not mislead it.
    """
    from scipy.optimize import nnls

    sr = session.sample_rate
    tv, mv = neutral(len(session.audio), sr)
    n = min(reference.shape[1], max(a.shape[1] for a in session.audio), max_frames)
    n = max(n, n_fft)
    ref = band_power_frames(reference, sr, n, n_fft, bands)                    # (2, B, F)
    tracks = [band_power_frames(a, sr, n, n_fft, bands) for a in session.audio]  # (C, B, F) each
    gains = []
    for side in (0, 1):
        band = ref[side].mean(-1, keepdims=True)                                # (B, 1)
        w = np.broadcast_to(1.0 / (band + 1e-4 * band.mean() + 1e-20), ref[side].shape).ravel()
        r = ref[side].ravel()
        cols = np.stack([t[min(side, t.shape[0] - 1)].ravel() for t in tracks], 1)
        keep = cols.sum(1) > 0
        g2, _ = nnls(cols[keep] * w[keep, None], r[keep] * w[keep], maxiter=50 * cols.shape[1])
        gains.append(np.sqrt(g2))
    gains_to_fader_pan(tv, *gains)
    return tv, mv
