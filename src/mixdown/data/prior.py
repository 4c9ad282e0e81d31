"""An engineering prior over console settings: what a competent mix engineer would plausibly set.

Every choice is a role-dependent range taken from published mixing practice (sources in
``data/README.md``):

* **Balance** — each role gets a loudness target relative to the lead (the lead and the rhythm
  section loudest, pads and percussion lower), jittered per song; the targets are shifted so that
  the summed bus lands near a pre-master level with headroom. Equal loudness for all tracks is
  *not* the practice (Pestana & Reiss 2014).
* **Gain staging** — the input gain brings each raw track to about -18 LUFS, the nominal level of
  analogue-modelled processing (Izhaki, ch. on gain structure); the fader then sets the balance.
* **High-pass** — on everything but kick and bass, at role-typical corners (Owsinski; Izhaki).
* **EQ** — gentle (a few dB) role-typical moves: cut low-mid "mud"/"box" regions, add presence and
  air (Owsinski's frequency guides; Izhaki, ch. on equalisers).
* **Compression** — moderate, ratio 2–6, attack/release by role (slow attack on percussive sources
  to keep the transient, fast on bass and lead), a few dB of gain reduction (Izhaki; Owsinski;
  De Man et al. 2014/2017 found moderate settings typical).
* **Panning** — kick, snare, bass and lead centred; the rest spread to both sides, alternating
  (Pestana & Reiss 2014; De Man et al. 2015 on the Open Multitrack Testbed).
* **Vocals** — the lead vocal is the loudest track, centred, always compressed, with a presence
  lift (the lead is the most prominent element of analysed mixes: De Man et al. 2014a; De Man 2017;
  vocal EQ and compression habits: Owsinski; Izhaki); backing vocals sit 8 LU below the lead,
  spread to a side; both always send to the reverb (``Role.reverb_send_db``: -18 to -10 dB for the
  lead, -14 to -6 dB for backing vocals, which sit further back).
* **Master** — gentle tonal shaping and "glue" compression: ratio about 2, slow attack, 1–3 dB of
  reduction; the output gain brings the mix towards a streaming-era loudness.
* **Reverb** — one shared reverb, sends by role (:data:`SENDS`: kick and bass mostly dry, vocals,
  strings and pads wettest) shifted by genre, and the reverb by genre (:data:`GENRE_REVERB`: tight
  rooms for funk, plates of 1.6–2.8 s for pop ballads, concert-hall decays for classical pieces), the
  low band decaying a little slower and the high band faster than the mid band, the return
  high-passed at 100–400 Hz (Owsinski; Izhaki, ch. on reverbs; Beranek 2004 for halls).

:func:`sample_mix_params` returns a :class:`~mixdown.params.io.MixParams` whose values all lie in
the spec ranges; ``params.extra["prior"]`` records the loudness targets it aimed for.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from mixdown.params import spec as S
from mixdown.params.io import MixParams

#: Nominal level (LUFS) that input gain brings each raw track to before processing.
STAGING_LUFS = -18.0

Range = tuple[float, float]
#: An EQ move: (band index 0..5, freq range Hz, gain range dB, q range, probability).
Move = tuple[int, Range, Range, Range, float]


@dataclass(frozen=True)
class Role:
    """Mixing habits for one role. Ranges are sampled uniformly (log-uniform for Hz/ms/ratio)."""

    rel_lufs: float              # loudness target relative to the lead, LU
    highpass: Range | None       # corner range, None = no high-pass (20 Hz = off)
    pan: str                     # "centre", "near" (|pan| <= 0.1) or "spread"
    ratio: Range
    attack_ms: Range
    release_ms: Range
    thr_above: Range             # threshold relative to the staged loudness, dB
    eq: tuple[Move, ...] = ()
    spread: Range = (0.25, 0.8)  # |pan| range for "spread"
    bypass_comp: float = 0.1     # probability of leaving the compressor off
    # reverb send range (dB) of a role that always sends; roles without one use :data:`SENDS`
    reverb_send_db: Range | None = None


_LOWCUT = (1, (200.0, 450.0), (-4.0, -1.0), (0.8, 2.0), 0.7)     # low-mid mud
_PRESENCE = (3, (2000.0, 5000.0), (0.5, 3.0), (0.7, 1.5), 0.6)
_AIR = (5, (8000.0, 12000.0), (0.5, 3.0), (0.6, 0.9), 0.5)

#: The prior's settings per role (keys: :data:`mixdown.data.roles.PRIOR_ROLES`, the roles the
#: synthetic corpus names its tracks by; :func:`mixdown.data.roles.prior_role_of` reads a name).
SETTINGS: dict[str, Role] = {
    "kick": Role(-3.0, None, "centre", (3, 6), (10, 30), (50, 150), (4, 12),
                 ((0, (50, 90), (1, 4), (0.6, 1.0), 0.7), (2, (300, 500), (-5, -2), (1.0, 2.5), 0.8),
                  (3, (2500, 5000), (1, 4), (0.8, 2.0), 0.6))),
    "snare": Role(-4.0, (60, 120), "near", (3, 6), (5, 20), (60, 200), (4, 12),
                  ((1, (150, 250), (1, 3), (0.8, 1.5), 0.6), (2, (400, 800), (-3, -1), (1.0, 2.5), 0.6),
                   (4, (5000, 8000), (1, 3), (0.7, 1.5), 0.5))),
    "drums": Role(-2.0, (20, 35), "near", (2, 4), (10, 30), (100, 300), (3, 10),
                  ((2, (300, 600), (-3, -1), (0.8, 2.0), 0.6), _AIR)),
    "kit": Role(-7.0, (80, 200), "near", (2, 4), (10, 30), (100, 300), (3, 10),
                ((2, (300, 600), (-3, -1), (0.8, 2.0), 0.6), _AIR)),
    "perc": Role(-10.0, (150, 300), "spread", (2, 4), (2, 10), (50, 150), (3, 10), (_AIR,),
                 spread=(0.3, 0.7)),
    "bass": Role(-3.0, None, "centre", (3, 6), (5, 30), (80, 250), (0, 6),
                 ((0, (60, 100), (0, 3), (0.6, 1.0), 0.5), (1, (200, 300), (-4, -1), (0.8, 2.0), 0.7),
                  (2, (700, 1200), (0, 3), (0.8, 1.5), 0.4), (5, (4000, 7000), (-3, 0), (0.6, 0.9), 0.3))),
    "keys": Role(-6.0, (60, 120), "spread", (2, 3), (10, 40), (100, 400), (2, 8), (_LOWCUT, _PRESENCE, _AIR),
                 spread=(0.1, 0.6), bypass_comp=0.25),
    "guitar": Role(-6.0, (80, 150), "spread", (2, 4), (5, 25), (80, 250), (1, 7),
                   (_LOWCUT, _PRESENCE, (5, (8000, 10000), (-2, 0), (0.6, 0.9), 0.4)), spread=(0.3, 0.9)),
    "strings": Role(-6.0, (60, 120), "spread", (2, 3), (20, 60), (200, 600), (2, 8),
                    (_LOWCUT, (3, (2000, 4000), (-2, 0), (0.8, 1.5), 0.4), _AIR),
                    spread=(0.2, 0.7), bypass_comp=0.3),
    "pad": Role(-10.0, (100, 200), "near", (2, 3), (20, 60), (200, 600), (2, 8),
                (_LOWCUT, _AIR), bypass_comp=0.4),
    "brass": Role(-6.0, (80, 150), "spread", (2, 4), (5, 20), (100, 300), (1, 7),
                  ((1, (250, 500), (-2, -1), (0.8, 2.0), 0.5), (3, (1000, 3000), (0, 2), (0.7, 1.5), 0.5))),
    "winds": Role(-6.0, (100, 200), "spread", (2, 4), (5, 20), (100, 300), (1, 7),
                  (_LOWCUT, _PRESENCE, _AIR)),
    "lead": Role(0.0, (80, 150), "centre", (3, 5), (2, 15), (60, 200), (0, 6),
                 (_LOWCUT, (3, (2000, 5000), (1, 3), (0.7, 1.5), 0.7),
                  (5, (10000, 12000), (1, 3), (0.6, 0.9), 0.6))),
}
# vocals: the lead vocal is the focal point: centred, 1 LU above a lead instrument's slot, always
# compressed (fast attack, several dB of reduction), mud/box cut, a presence lift and air; backing
# vocals sit well below it, thinned by a higher high-pass and spread to a side.
_VOX_PRESENCE = (3, (2500.0, 5000.0), (1.5, 4.0), (0.7, 1.4), 0.9)
SETTINGS["lead_vocal"] = Role(1.0, (80, 120), "centre", (3, 6), (2, 10), (40, 150), (2, 8),
                           ((1, (200, 450), (-3, -1), (1.0, 2.0), 0.6), _VOX_PRESENCE,
                            (5, (10000, 14000), (1, 3), (0.6, 0.9), 0.7)),
                           bypass_comp=0.0, reverb_send_db=(-18.0, -10.0))
SETTINGS["backing_vocal"] = Role(-8.0, (120, 250), "spread", (3, 6), (2, 10), (40, 150), (2, 8),
                              (_LOWCUT, (3, (2500, 5000), (0.5, 2.5), (0.7, 1.4), 0.6), _AIR),
                              spread=(0.3, 0.8), bypass_comp=0.1, reverb_send_db=(-14.0, -6.0))
SETTINGS["other"] = SETTINGS["keys"]

#: Reverb send per role: (range in dB, probability of no send). The return is at 0 dB and the
#: impulse response has unit energy, so the send is roughly the tail's level against the dry track.
SENDS: dict[str, tuple[Range, float]] = {
    "kick": ((-30.0, -20.0), 0.6), "bass": ((-32.0, -24.0), 0.8), "snare": ((-20.0, -10.0), 0.0),
    "drums": ((-24.0, -14.0), 0.1), "kit": ((-24.0, -14.0), 0.1), "perc": ((-20.0, -10.0), 0.1),
    "keys": ((-22.0, -12.0), 0.1), "guitar": ((-22.0, -12.0), 0.15), "strings": ((-16.0, -8.0), 0.0),
    "pad": ((-18.0, -8.0), 0.0), "brass": ((-20.0, -10.0), 0.1), "winds": ((-18.0, -10.0), 0.1),
    "lead": ((-18.0, -9.0), 0.0), "other": ((-22.0, -12.0), 0.1),
}
SENDS.update({r: (role.reverb_send_db, 0.0) for r, role in SETTINGS.items() if role.reverb_send_db is not None})
#: Reverb per genre (``plan["genre"]`` of the synthetic corpus; ``"classical"`` for music21 pieces):
#: (mid-band decay range in s, pre-delay range in ms, send offset in dB: how wet the genre is).
GENRE_REVERB: dict[str, tuple[Range, Range, float]] = {
    "rock": ((1.0, 1.8), (10.0, 40.0), 0.0), "pop": ((1.6, 2.8), (20.0, 60.0), 2.0),
    "jazz": ((1.0, 1.8), (5.0, 25.0), -2.0), "latin": ((1.0, 1.8), (10.0, 30.0), 0.0),
    "blues": ((1.0, 2.0), (10.0, 40.0), 0.0), "country": ((1.0, 1.8), (10.0, 40.0), -1.0),
    "funk": ((0.6, 1.2), (0.0, 20.0), -4.0), "waltz": ((1.4, 2.4), (10.0, 40.0), 1.0),
    "classical": ((1.8, 2.4), (10.0, 30.0), 4.0), "other": ((1.2, 2.2), (10.0, 40.0), 0.0),
}
_MASTER_EQ: tuple[Move, ...] = ((0, (60, 120), (-1.0, 1.5), (0.6, 0.9), 0.6),
                                (1, (200, 400), (-1.5, 0.0), (0.7, 1.5), 0.4),
                                (3, (2000, 5000), (-1.0, 1.0), (0.5, 1.0), 0.3),
                                (5, (8000, 12000), (0.0, 2.0), (0.6, 0.9), 0.6))


def _u(rng: np.random.Generator, r: Range, log: bool = False) -> float:
    lo, hi = float(r[0]), float(r[1])
    if log:
        return float(math.exp(rng.uniform(math.log(lo), math.log(hi))))
    return float(rng.uniform(lo, hi))


def _vector(values: dict[str, float], table: S.Table, sample_rate: float) -> np.ndarray:
    return table.clip(np.array([values[name] for name in table.names], dtype=np.float64), sample_rate)


def _eq_moves(rng: np.random.Generator, moves: Sequence[Move], vals: dict[str, float]) -> None:
    for band, f, g, q, p in moves:
        if rng.random() < p:
            vals[f"eq.{band}.freq_hz"] = _u(rng, f, log=True)
            vals[f"eq.{band}.gain_db"] = round(_u(rng, g), 2)
            vals[f"eq.{band}.q"] = _u(rng, q, log=True)


def _pans(roles: Sequence[str], rng: np.random.Generator) -> list[float]:
    """Centre roles at 0, 'near' within +-0.1, 'spread' roles alternating sides (random start)."""
    pans = [0.0] * len(roles)
    side = 1.0 if rng.random() < 0.5 else -1.0
    for i in rng.permutation(len(roles)):
        r = SETTINGS[roles[i]]
        if r.pan == "near":
            pans[i] = _u(rng, (-0.1, 0.1))
        elif r.pan == "spread":
            pans[i] = side * _u(rng, r.spread)
            side = -side
    return pans


def loudness_targets(roles: Sequence[str], rng: np.random.Generator, bus_lufs: float) -> np.ndarray:
    """Per-track loudness targets (LUFS): role offsets + jitter, shifted to a power sum of ``bus_lufs``."""
    rel = np.array([SETTINGS[r].rel_lufs for r in roles]) + np.clip(rng.normal(0, 1.0, len(roles)), -2, 2)
    total = 10 * np.log10(np.sum(10 ** (rel / 10)))
    return rel + (bus_lufs - total)


def _track_values(role: Role, raw_lufs: float, target: float, pan: float, stereo: bool,
                  rng: np.random.Generator) -> dict[str, float]:
    v = S.neutral_track_values()
    staged = STAGING_LUFS + rng.normal(0, 1.5)
    v["input_gain_db"] = staged - raw_lufs
    if role.highpass is not None:
        v["highpass_hz"] = _u(rng, role.highpass, log=True)
    elif rng.random() < 0.5:                      # kick/bass: off, or a subsonic clean-up filter
        v["highpass_hz"] = _u(rng, (25.0, 40.0), log=True)
    _eq_moves(rng, role.eq, v)
    est_gr = 0.0
    if rng.random() >= role.bypass_comp:
        ratio = _u(rng, role.ratio, log=True)
        thr = staged + _u(rng, role.thr_above)
        est_gr = (1 - 1 / ratio) * max(0.0, staged + 10.0 - thr) * 0.5   # rough average reduction
        v.update({"compressor.threshold_db": thr, "compressor.ratio": ratio,
                  "compressor.attack_ms": _u(rng, role.attack_ms, log=True),
                  "compressor.release_ms": _u(rng, role.release_ms, log=True),
                  "compressor.knee_db": _u(rng, (0.0, 6.0)),
                  "compressor.makeup_db": round(est_gr * _u(rng, (0.5, 1.0)), 2)})
    # loudness into the fader, estimated; a stereo track at centre pan loses 3 dB (balance law)
    pre_fader = staged + v["compressor.makeup_db"] - est_gr - (3.01 if stereo else 0.0)
    v["fader_db"] = target - pre_fader
    v["pan"] = pan
    return v


def master_values(bus_lufs: float, mix_lufs: float, rng: np.random.Generator) -> dict[str, float]:
    """Gentle master EQ and glue compression (ratio ~2, slow attack); output gain towards ``mix_lufs``."""
    v = S.neutral_master_values()
    _eq_moves(rng, _MASTER_EQ, v)
    ratio = _u(rng, (1.5, 3.0), log=True)
    thr = bus_lufs + _u(rng, (4.0, 10.0))
    v.update({"compressor.threshold_db": thr, "compressor.ratio": ratio,
              "compressor.attack_ms": _u(rng, (10.0, 30.0), log=True),
              "compressor.release_ms": _u(rng, (100.0, 400.0), log=True),
              "compressor.knee_db": _u(rng, (2.0, 6.0)),
              "compressor.makeup_db": round(_u(rng, (0.0, 1.0)), 2)})
    v["output_gain_db"] = mix_lufs - bus_lufs + 1.0   # ~1 dB of glue reduction, refined by measurement
    return v


def reverb_values(roles: Sequence[str], genre: str | None, rng: np.random.Generator) -> tuple[list[float],
                                                                                             dict[str, float]]:
    """Sends by role (:data:`SENDS`, shifted by the genre's offset) and the genre's reverb
    (:data:`GENRE_REVERB`): mid decay and pre-delay from the genre's ranges, low decay x1.0-1.3 and
    high decay x0.4-0.8 of the mid one, return high-pass 100-400 Hz (log-uniform), return 0 dB.
    Returns ``(send_db per track, {"reverb.*": value})``; a send of -60 dB is no send."""
    decay, predelay, offset = GENRE_REVERB.get(genre or "other", GENRE_REVERB["other"])
    sends = []
    for r in roles:
        (lo, hi), p_dry = SENDS.get(r, SENDS["other"])
        sends.append(S.SEND_OFF_DB if rng.random() < p_dry else float(np.clip(_u(rng, (lo, hi)) + offset, -59.0, 0.0)))
    mid = _u(rng, decay, log=True)
    master = {"reverb.predelay_ms": _u(rng, predelay), "reverb.decay_mid_s": mid,
              "reverb.decay_low_s": mid * _u(rng, (1.0, 1.3)), "reverb.decay_high_s": mid * _u(rng, (0.4, 0.8)),
              "reverb.highpass_hz": _u(rng, (100.0, 400.0), log=True), "reverb.return_db": 0.0}
    return sends, master


def track_inputs(
    track_names: Sequence[str],
    labels: Sequence[str],
    labels_name: str,
    track_loudness_lufs: Sequence[float],
    files: Sequence[str] | None,
    stereo: Sequence[bool] | None,
) -> tuple[list[str], list[bool], list[float]]:
    """A settings draw's per-track inputs checked and filled in: ``files`` (default
    ``tracks/<name>.flac``), ``stereo`` (default mono) and the raw loudness (silence, ``-inf``, as
    -70 LUFS). :class:`ValueError` when the lengths of the names, the ``labels`` (the roles or
    parts, called ``labels_name`` in the message), the loudness, files and stereo differ."""
    n = len(track_names)
    files = list(files) if files is not None else [f"tracks/{t}.flac" for t in track_names]
    stereo = list(stereo) if stereo is not None else [False] * n
    if not (len(labels) == len(track_loudness_lufs) == len(files) == len(stereo) == n):
        raise ValueError(f"track_names, {labels_name}, track_loudness_lufs, files and stereo must have equal lengths")
    return files, stereo, [float(x) if math.isfinite(x) else -70.0 for x in track_loudness_lufs]


def sample_mix_params(track_names: Sequence[str], roles: Sequence[str], track_loudness_lufs: Sequence[float],
                      sample_rate: int, rng: np.random.Generator, *, files: Sequence[str] | None = None,
                      stereo: Sequence[bool] | None = None, genre: str | None = None) -> MixParams:
    """Draw plausible console settings for one song.

    Args:
        track_names: unique track names.
        roles: role of each track (:data:`mixdown.data.roles.PRIOR_ROLES`; unknown roles use ``"other"``).
        track_loudness_lufs: measured integrated loudness of each raw track (``-inf`` for silence).
        sample_rate: the session's sample rate.
        rng: seeded generator; the result is a pure function of its state and the arguments.
        files: track files relative to the session folder (default ``tracks/<name>.flac``).
        stereo: whether each track is stereo (default all mono).
        genre: the song's genre (keys of :data:`GENRE_REVERB`; None or unknown: ``"other"``), for
            the reverb; its draws come after every other one, so the rest of a song's settings do
            not depend on it.

    Returns:
        MixParams with every value inside the spec ranges; ``extra["prior"]`` holds the targets
        (``track_target_lufs``, ``bus_target_lufs``, ``mix_target_lufs``).
    """
    roles = [r if r in SETTINGS else "other" for r in roles]
    files, stereo, raw = track_inputs(track_names, roles, "roles", track_loudness_lufs, files, stereo)
    bus = _u(rng, (-22.0, -18.0))
    mix = _u(rng, (-16.0, -12.0))
    targets = loudness_targets(roles, rng, bus)
    pans = _pans(roles, rng)
    tracks = [_track_values(SETTINGS[r], raw[i], targets[i], pans[i], stereo[i], rng) for i, r in enumerate(roles)]
    master_dict = master_values(bus, mix, rng)
    sends, reverb = reverb_values(roles, genre, rng)
    for t, send in zip(tracks, sends):
        t["reverb_send_db"] = send
    master_dict.update(reverb)
    rows = [_vector(t, S.TRACK, sample_rate) for t in tracks]
    master = _vector(master_dict, S.MASTER, sample_rate)
    prior = {"track_target_lufs": {t: round(float(x), 2) for t, x in zip(track_names, targets, strict=True)},
             "bus_target_lufs": round(bus, 2), "mix_target_lufs": round(mix, 2)}
    return MixParams.from_arrays(sample_rate, list(track_names), files, np.array(rows), master, prior=prior)
