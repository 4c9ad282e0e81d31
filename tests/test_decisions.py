"""The decision benchmark: its errors against hand-computed medians, the compressor's static curve
against the spec's formula, and `mixdown evaluate --decisions` end to end on stand-in audio."""

from __future__ import annotations

import csv
import json
import math
import shutil
import subprocess
import sys

import numpy as np
import pytest

from mixdown import decisions as D
from mixdown.data.mixology import read_mixologydb
from mixology_helpers import track

SONG = "Red To Blue"  # a test song's name, so the tiny set has both splits


def tiny_db(path):
    """Three engineers, three tracks: pans 0.2/0.4/0.9 on the guitar, a vocal high-passed at
    80/160/320 Hz, compressed at 4:1 by two of three, sent at -10/-20/-60 (off) dB."""
    mixes = []
    for k, (pan, hp, comp, send) in enumerate(
        [(20, 80, (-20, 4), -10), (40, 160, (-20, 4), -20), (90, 320, None, None)]
    ):
        mixes.append(
            {
                "mix-name": f"E{k}",
                "song-name": SONG,
                "mix-evaluation": [{"track-num-eval": 0.5 + 0.1 * k}],
                "tracks": [
                    track("Kick In", "KICK", "DRUMS", -20.0, -3.0, 0),
                    track("Gtr 1", "ELECTRIC", "GUITARS", -25.0, -6.0, pan),
                    track("Lead Vox", "LEAD", "VOCALS", -22.0, 0.0, 0, hp=hp, comp=comp, send=send),
                ],
            }
        )
    path.write_text(json.dumps({"mixes": mixes}))
    return path


def test_errors_against_hand_computed_medians(tmp_path):
    db = read_mixologydb(tiny_db(tmp_path / "tiny.json"))
    st = D.song_tracks(db, SONG)
    assert st.names == ["Gtr 1", "Kick In", "Lead Vox"] and st.parts == ["electric_guitar", "kick", "lead_vocal"]
    eng = D.engineer_features(st)
    human = D.human_errors(eng)
    # guitar |pan| 0.2, 0.4, 0.9: each against the median of the other two -> 0.45, 0.15, 0.6;
    # kick and vocal 0 everywhere
    assert human["pan"].mean() == pytest.approx((0.45 + 0.15 + 0.6) / 9)
    # vocal high-pass log2(f/20) = 2, 3, 4 octaves: |2-3.5|, |3-3|, |4-2.5|
    assert sorted(human["highpass_oct"])[-2:] == pytest.approx([1.5, 1.5])
    # sends -10, -20, -60: against the medians of the others -40, -35, -15
    vocal_send = [e for e in human["send_db"] if e > 0]
    assert sorted(vocal_send) == pytest.approx([15.0, 30.0, 45.0])
    raw = np.tile([D.S.neutral_track_values(44100)[k] for k in D.S.TRACK_NAMES], (3, 1))
    sys_err = D.system_errors(D.features(D.rows_of(raw), st.raw_lufs, st.sides), eng)
    assert sys_err["pan"] == pytest.approx([0.4, 0.0, 0.0])  # median |pan| of the guitar: 0.4
    assert sys_err["highpass_oct"] == pytest.approx([0.0, 0.0, 3.0])
    assert sys_err["send_db"] == pytest.approx([0.0, 0.0, 40.0])  # off against a median of -20
    # level relative to the mix: the raw sum keeps the recorded levels (-25, -20, -22 LUFS)
    total = 10 * math.log10(10**-2.5 + 10**-2.0 + 10**-2.2)
    assert D.features(D.rows_of(raw), st.raw_lufs, st.sides)["level_db"][:, 0] == pytest.approx(
        [-25 - total, -20 - total, -22 - total]
    )


def test_compressor_curve_is_the_spec_static_curve():
    # the spec's soft knee written out: G(L) = L + (1/R - 1)(L - T + W/2)^2 / (2W) inside the knee
    v = {"compressor.threshold_db": -20.0, "compressor.ratio": 4.0, "compressor.knee_db": 6.0}
    curve = D._compressor_curve(v, -20.0)
    for x, g in zip(D.COMP_GRID_DB, curve):
        L = -20.0 + x
        if 2 * (L + 20) < -6:
            expect = 0.0
        elif 2 * abs(L + 20) <= 6:
            expect = (0.25 - 1) * (L + 20 + 3) ** 2 / 12
        else:
            expect = (-20 + (L + 20) / 4) - L
        assert g == pytest.approx(expect, abs=1e-12)
    assert not D._compressor_curve({**v, "compressor.ratio": 1.0}, -20.0).any()


def test_shares_and_spreads(tmp_path):
    db = read_mixologydb(tiny_db(tmp_path / "tiny.json"))
    st = D.song_tracks(db, SONG)
    rows = [m[k].values for m in st.engineers.values() for k in st.keys]
    parts = st.parts * 3
    s = D.shares(rows, parts, list(st.raw_lufs) * 3)
    assert s[("lead_vocal", "highpass")] == (3, 3)
    assert s[("lead_vocal", "compressed_2to1")] == (2, 3)
    assert s[("lead_vocal", "send_above_-30")] == (2, 3)
    assert s[("kick", "highpass")] == (0, 3)
    sp = D.spreads(D.engineer_features(st)["E2"])
    assert sp["pan"] == pytest.approx(np.mean(np.abs(np.array([0.9, 0, 0]) - 0.3)))


def test_crps_against_its_integral_definition_and_a_normal_closed_form():
    """CRPS(F, y) = integral of (F(t) - [y <= t])^2 dt. With F a sample's step function this is
    E|X - y| - E|X - X'| / 2 over all pairs (same draw included); the fair score takes distinct
    draws only, so that on average it scores a small ensemble as its parent distribution."""
    from scipy.stats import norm

    rng = np.random.default_rng(1)
    x, y = rng.normal(size=5), rng.normal(size=3)
    t = np.linspace(-8, 8, 400_001)
    F = (x[:, None] <= t).mean(0)
    dt = t[1] - t[0]
    integral = np.mean([np.sum((F - (yy <= t)) ** 2) * dt for yy in y])
    pairs = np.abs(x[:, None] - x[None, :]).sum()  # the diagonal is 0
    fair_minus_v = pairs / 2 * (1 / 25 - 1 / 20)
    assert D.crps(x[:, None], y[:, None]) == pytest.approx(integral + fair_minus_v, abs=1e-4)
    # four draws of N(0, 1) against y = 0.7, on average: the normal's own CRPS (Gneiting & Raftery)
    z = 0.7
    closed = z * (2 * norm.cdf(z) - 1) + 2 * norm.pdf(z) - 1 / math.sqrt(math.pi)
    got = np.mean([D.crps(rng.normal(size=(4, 1)), np.array([[z]])) for _ in range(20_000)])
    assert got == pytest.approx(closed, abs=0.01)  # the all-pairs score would be ~0.14 higher
    # components average; NaN rows are left out; nothing on one side: NaN
    two = D.crps(np.c_[x, 2 * x], np.c_[y, 2 * y])
    assert two == pytest.approx(1.5 * D.crps(x[:, None], y[:, None]))
    assert D.crps(np.r_[x, np.nan][:, None], y[:, None]) == pytest.approx(D.crps(x[:, None], y[:, None]))
    assert math.isnan(D.crps(np.full((2, 1), np.nan), y[:, None]))


def test_scores_reward_the_engineers_distribution_over_their_median(tmp_path):
    st = D.song_tracks(read_mixologydb(tiny_db(tmp_path / "tiny.json")), SONG)
    eng = D.engineer_features(st)
    # the guitar's |pan| 0.2 / 0.4 / 0.9; leaving each engineer out in turn (by hand):
    # y 0.2 vs {0.4, 0.9}: 0.45 - 0.5/2; y 0.4 vs {0.2, 0.9}: 0.35 - 0.7/2; y 0.9 vs {0.2, 0.4}: 0.6 - 0.2/2
    assert D.human_scores(eng)["pan"][0] == pytest.approx((0.2 + 0.0 + 0.5) / 3)
    median = [{**e, "pan": np.array([[0.4], [0.0], [0.0]])} for e in eng.values()][:1]
    drawn = list(eng.values())  # a system that draws exactly as these three engineers did
    assert D.system_scores(median, eng)["pan"][0] == pytest.approx((0.2 + 0.0 + 0.5) / 3)
    assert D.system_scores(drawn, eng)["pan"][0] == pytest.approx(2.8 / 9 - (2 * 1.4 / 6) / 2)


def test_paired_against_the_prior_track_by_track():
    g = D.GROUPS
    errs = {
        ("prior", "test"): {k: [np.array([1.0, 2.0, np.nan]), np.array([3.0])] for k in g},
        ("A", "test"): {k: [np.array([0.5, 2.5, 1.0]), np.array([2.0])] for k in g},
        ("B", "test"): {k: [np.array([0.0, 1.0, 0.0]), np.array([2.0])] for k in g},  # 1 closer everywhere
        ("A", "all"): {k: [np.array([0.0])] for k in g},  # no prior in this split: not paired
    }
    rows = {(r["system"], r["split"], r["group"]): r for r in D.paired_rows(errs)}
    assert set(rows) == {(s, "test", k) for s in ("A", "B") for k in g}
    a, b = rows[("A", "test", "pan")], rows[("B", "test", "pan")]
    assert a["n"] == 3 and a["difference"] == pytest.approx((-0.5 + 0.5 - 1.0) / 3)  # the NaN track left out
    assert b["difference"] == b["lo"] == b["hi"] == pytest.approx(-1.0)  # a constant shift: no width
    assert a["lo"] <= a["difference"] <= a["hi"]


@pytest.mark.skipif(
    shutil.which("fluidsynth") is None or shutil.which("mma") is None,
    reason="stand-in sessions need fluidsynth and mma (scripts/setup_system.sh)",
)
def _evaluate(tiny, out, baselines):
    cmd = [sys.executable, "-m", "mixdown.cli", "evaluate", "--decisions", "--mixologydb", str(tiny)]
    return subprocess.run(
        cmd + ["--out", str(out), "--baselines", baselines], capture_output=True, text=True, timeout=600
    )


def test_evaluate_decisions_cli_end_to_end(tmp_path):
    """`mixdown evaluate --decisions` renders the stand-in session, mixes it with the systems
    and writes the table, the CSVs and the plot."""
    tiny = tiny_db(tmp_path / "tiny.json")
    out = tmp_path / "out"
    r = _evaluate(tiny, out, "raw_sum,prior")
    assert r.returncode == 0, r.stderr[-2000:]
    assert sorted(p.name for p in (out / "standins" / "red-to-blue" / "tracks").iterdir()) == [
        "Gtr 1.wav",
        "Kick In.wav",
        "Lead Vox.wav",
    ]
    rows = list(csv.DictReader((out / "decisions.csv").open()))
    assert list(rows[0]) == ["system", "split", "group", "error", "n"]
    got = {(r["system"], r["split"], r["group"]): float(r["error"]) for r in rows}
    assert {s for s, _, _ in got} == {"human", "raw_sum", "prior"}
    assert got[("human", "test", "pan")] == pytest.approx(0.4 / 3, abs=1e-4)
    assert got[("raw_sum", "all", "highpass_oct")] == pytest.approx(1.0, abs=1e-4)
    # the prior high-passes a lead vocal and centres it, whatever it draws
    assert got[("prior", "test", "highpass_oct")] < 1.0
    score_rows = csv.DictReader((out / "scores.csv").open())
    scores = {(r["system"], r["split"], r["group"]): float(r["score"]) for r in score_rows}
    # the engineers' ceiling as a distribution: the guitar's pan (test above) over three tracks
    assert scores[("human", "test", "pan")] == pytest.approx(0.7 / 3 / 3, abs=1e-4)
    assert scores[("raw_sum", "all", "highpass_oct")] == pytest.approx(1.0, abs=1e-4)  # one draw: its error
    assert "As distributions" in (out / "decisions.md").read_text()
    paired = {(r["system"], r["split"], r["group"]): r for r in csv.DictReader((out / "paired.csv").open())}
    assert {s for s, _, _ in paired} == {"raw_sum"}  # against the prior; neither the prior nor human
    # the raw sum leaves the vocal open, 3 octaves under the engineers' median corner; the prior
    # high-passes a lead vocal (above), so the raw sum is the further of the two
    assert float(paired[("raw_sum", "test", "highpass_oct")]["difference"]) > 0
    assert int(paired[("raw_sum", "test", "highpass_oct")]["n"]) == 3
    assert (out / "decisions.png").stat().st_size > 1000
    assert "| human |" in (out / "decisions.md").read_text()
    r = _evaluate(tiny, tmp_path / "o2", "nonesuch")
    assert r.returncode == 2 and "nonesuch" in r.stderr and "raw_sum" in r.stderr


def test_decision_benchmark_refuses_bad_input_before_any_work(tmp_path):
    tiny = tiny_db(tmp_path / "tiny.json")
    (tmp_path / "file").write_text("x")
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    cases = [
        (["--mixologydb", str(bad), "--out", str(tmp_path / "o1")], "bad.json"),
        (["--mixologydb", str(tiny), "--out", str(tmp_path / "file")], "not a folder"),
        (["--mixologydb", str(tiny), "--out", str(tmp_path / "o3"), "--draws", "0"], "--draws"),
    ]
    for extra, says in cases:
        cmd = [sys.executable, "-m", "mixdown.cli", "evaluate", "--decisions", "--baselines", "raw_sum"] + extra
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
        assert r.returncode == 2 and says in r.stderr, r.stderr[-500:]
    assert not (tmp_path / "o1").exists() and not (tmp_path / "o3").exists()


def test_a_stand_in_session_missing_a_track_is_named(tmp_path):
    from mixdown.errors import UsageError

    st = D.song_tracks(read_mixologydb(tiny_db(tmp_path / "tiny.json")), SONG)
    assert D.standin_order(st, ["Lead Vox", "Kick In", "Gtr 1"], tmp_path) == [2, 1, 0]
    with pytest.raises(UsageError, match="lacks \\['Kick In'\\]; delete the folder"):
        D.standin_order(st, ["Lead Vox", "Gtr 1"], tmp_path)
