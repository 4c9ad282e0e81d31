"""Engineers' mixes transplanted onto new sessions: target settings for the synthetic corpus.

The hand-written prior (:mod:`mixdown.data.prior`) draws every setting from ranges; this module
takes them from a real engineer instead (MixologyDB, :mod:`mixdown.data.mixology`, training songs
only). For a session's tracks (names, parts, raw loudness, mono/stereo):

1. the mixes of the training songs are ranked by how much their line-up shares with the
   session's (parts counted, a Jaccard index over the part multisets); among the best ``pool``
   one is drawn in proportion to its listeners' rating;
2. each track takes the decisions of a track of the same part in that mix (the k-th guitar the
   k-th guitar, wrapping around when the session has more), else of the same role (a tom for a
   missing snare), else of the track closest in raw loudness;
3. what is relative carries over as relative: the level relative to the mix (faders set so the
   session's tracks stand to each other as the engineer's did), the compressor threshold relative
   to the raw loudness, the pan (a name that says left or right keeps its side); high-pass, EQ,
   compressor times and ratio, send and the mix's reverb as the engineer set them.

:func:`engineer_mix_params` returns :class:`~mixdown.params.io.MixParams` like
:func:`mixdown.data.prior.sample_mix_params`; ``extra["engineer"]`` names the mix it came from.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Sequence

import numpy as np

from mixdown.data.mixology import TEST_SONGS, Decision, MixologyDB, power_sum_db
from mixdown.data.prior import track_inputs
from mixdown.data.roles import PART_ROLE, PARTS, side_of
from mixdown.params import spec as S
from mixdown.params.io import MixParams


def _mixes(db: MixologyDB) -> dict[tuple[str, str], list[Decision]]:
    out: dict[tuple[str, str], list[Decision]] = defaultdict(list)
    for d in db.decisions:
        if d.song not in TEST_SONGS:
            out[(d.song, d.mix)].append(d)
    return out


def _similarity(a: Counter, b: Counter) -> float:
    inter = sum((a & b).values())
    return inter / max(sum((a | b).values()), 1)


def choose_mix(db: MixologyDB, parts: Sequence[str], rng: np.random.Generator, pool: int = 8) -> list[Decision]:
    """One training mix for a line-up: the ``pool`` most similar, drawn by listeners' rating."""
    mixes = _mixes(db)
    want = Counter(parts)
    ranked = sorted(mixes, key=lambda k: (-_similarity(want, Counter(d.part for d in mixes[k])), k))[:pool]
    w = np.array([max(mixes[k][0].rating, 0.05) for k in ranked])
    return mixes[ranked[int(rng.choice(len(ranked), p=w / w.sum()))]]


def _donors(mix: list[Decision], parts: Sequence[str], raw: Sequence[float]) -> list[Decision]:
    by_part: dict[str, list[Decision]] = defaultdict(list)
    by_role: dict[str, list[Decision]] = defaultdict(list)
    for d in mix:
        by_part[d.part].append(d)
        by_role[PART_ROLE[d.part]].append(d)
    seen: Counter = Counter()
    out = []
    for part, lufs in zip(parts, raw):
        pool = by_part.get(part) or by_role.get(PART_ROLE.get(part, "other")) or \
            sorted(mix, key=lambda d: abs(d.raw_lufs - lufs))[:1]
        out.append(pool[seen[part] % len(pool)])
        seen[part] += 1
    return out


def engineer_mix_params(track_names: Sequence[str], parts: Sequence[str], track_loudness_lufs: Sequence[float],
                        sample_rate: int, rng: np.random.Generator, db: MixologyDB, *,
                        files: Sequence[str] | None = None, stereo: Sequence[bool] | None = None) -> MixParams:
    """Console settings for a session transplanted from one engineer's mix (module doc).

    Args:
        track_names: unique names; parts: each track's part (:data:`mixdown.data.roles.PARTS`);
        track_loudness_lufs: raw loudness (``-inf`` for silence); rng: the draw's generator;
        db: MixologyDB (:func:`mixdown.data.mixology.read_mixologydb`); files, stereo: as the prior's.
    """
    parts = [p if p in PARTS else "other" for p in parts]
    files, stereo, raw = track_inputs(track_names, parts, "parts", track_loudness_lufs, files, stereo)
    mix = choose_mix(db, parts, rng)
    donors = _donors(mix, parts, raw)
    src_level = np.array([d.level_db for d in mix])
    src_rel = {id(d): d.level_db - power_sum_db(src_level) for d in mix}
    neutral = S.neutral_track_values(sample_rate)
    rows = []
    for i, d in enumerate(donors):
        v = {k: float(d.values.get(k, neutral[k])) for k in S.TRACK_NAMES}
        v["input_gain_db"] = 0.0
        v["fader_db"] = src_rel[id(d)] - raw[i]
        if v["compressor.ratio"] > 1.0:
            v["compressor.threshold_db"] = raw[i] + (d.values["compressor.threshold_db"] - d.raw_lufs)
        side = side_of(track_names[i])
        v["pan"] = abs(v["pan"]) * side if side else v["pan"]
        if stereo[i] and not d.stereo:  # a stereo track's pan is a balance, which engineers rarely move
            v["pan"] *= 0.25
        rows.append(v)
    faders = np.array([r["fader_db"] for r in rows])
    shift = -20.0 - power_sum_db(np.array(raw) + faders)  # the sum at -20 LUFS
    for r in rows:
        r["fader_db"] += shift
    tv = np.array([[r[k] for k in S.TRACK_NAMES] for r in rows])
    tv = S.TRACK.clip(tv, sample_rate)
    master = dict(S.neutral_master_values(sample_rate))
    master.update(db.reverbs[f"{mix[0].song}/{mix[0].mix}"])
    mv = np.array([master[k] for k in S.MASTER_NAMES])
    return MixParams.from_arrays(sample_rate, list(track_names), files, tv, mv,
                                 engineer={"song": mix[0].song, "mix": mix[0].mix, "rating": round(mix[0].rating, 3),
                                           "donors": {t: d.name for t, d in zip(track_names, donors)}})
