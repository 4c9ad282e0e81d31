"""Engineers' mixes transplanted onto new sessions (the synthetic corpus's engineer targets)."""

from __future__ import annotations

import numpy as np
import pytest

from mixdown.data.mixology import TEST_SONGS, read_mixologydb
from mixdown.data.transplant import engineer_mix_params
from mixdown.params import spec as S

NAMES = ["Kick In", "Snare Top", "OH L", "OH R", "Bass DI", "Gtr 1", "Gtr 2", "Lead Vox"]
PARTS = ["kick", "snare", "overheads", "overheads", "bass", "electric_guitar", "electric_guitar", "lead_vocal"]
RAW = [-18.0, -22.0, -30.0, -31.0, -20.0, -25.0, -26.0, -19.0]


@pytest.fixture(scope="module")
def db():
    return read_mixologydb()


def test_transplant_carries_an_engineers_mix_over(db):
    p = engineer_mix_params(NAMES, PARTS, RAW, 44100, np.random.default_rng(3), db)
    src = p.extra["engineer"]
    assert src["song"] not in TEST_SONGS
    mix = [d for d in db.decisions if d.song == src["song"] and d.mix == src["mix"]]
    by_name = {d.name: d for d in mix}
    donors = [by_name[src["donors"][n]] for n in NAMES]
    assert [d.part for d in donors][:2] == ["kick", "snare"]  # same part where the mix has it
    vals = [t.values for t in p.tracks]
    for v, d, raw in zip(vals, donors, RAW):
        assert v["highpass_hz"] == pytest.approx(d.values["highpass_hz"])
        assert v["reverb_send_db"] == pytest.approx(d.values["reverb_send_db"])
        assert v["eq.2.gain_db"] == pytest.approx(d.values["eq.2.gain_db"])
        if d.values["compressor.ratio"] > 1 and -60 < raw + d.values["compressor.threshold_db"] - d.raw_lufs < 0:
            # the threshold keeps its distance below the track's loudness
            assert v["compressor.threshold_db"] - raw == pytest.approx(d.values["compressor.threshold_db"] - d.raw_lufs)
    # the overheads keep the sides their names say
    assert vals[2]["pan"] <= 0 <= vals[3]["pan"]
    # levels: the tracks stand to each other as the donors stood in the engineer's mix
    lv = np.array(RAW) + np.array([v["fader_db"] for v in vals])
    src_lv = np.array([d.level_db for d in donors])
    unique = len({id(d) for d in donors}) == len(donors)
    if unique and all(-48 < v["fader_db"] < 24 for v in vals):
        assert lv - lv[0] == pytest.approx(src_lv - src_lv[0], abs=1e-6)
    assert 10 * np.log10(np.sum(10 ** (lv / 10))) == pytest.approx(-20.0, abs=0.5)
    # every value within the table's ranges; the master reverb is the mix's
    for v in vals:
        for spec in S.TRACK_SPECS:
            assert spec.lo <= v[spec.name] <= spec.hi
    reverb = db.reverbs[f"{src['song']}/{src['mix']}"]
    assert p.master.values["reverb.decay_mid_s"] == pytest.approx(reverb["reverb.decay_mid_s"])


def test_draws_follow_the_rng_and_the_line_up(db):
    a = engineer_mix_params(NAMES, PARTS, RAW, 44100, np.random.default_rng(1), db).extra["engineer"]
    b = engineer_mix_params(NAMES, PARTS, RAW, 44100, np.random.default_rng(1), db).extra["engineer"]
    assert a == b
    mixes = {engineer_mix_params(NAMES, PARTS, RAW, 44100, np.random.default_rng(k), db).extra["engineer"]["mix"]
             for k in range(12)}
    assert len(mixes) > 2  # several engineers, drawn by rating among the closest line-ups
    # a line-up of vocals only draws mixes that have vocals
    vocal = engineer_mix_params(["Lead Vox", "BG 1"], ["lead_vocal", "backing_vocal"], [-20.0, -24.0], 44100,
                                np.random.default_rng(0), db)
    assert sorted(vocal.extra["engineer"]["donors"]) == ["BG 1", "Lead Vox"]
    donors = vocal.extra["engineer"]["donors"]
    parts = {d.name: d.part for d in db.decisions if d.mix == vocal.extra["engineer"]["mix"]
             and d.song == vocal.extra["engineer"]["song"]}
    assert parts[donors["Lead Vox"]] == "lead_vocal" and parts[donors["BG 1"]] == "backing_vocal"
    with pytest.raises(ValueError, match="equal lengths"):
        engineer_mix_params(NAMES, PARTS[:2], RAW, 44100, np.random.default_rng(0), db)
