"""`mixdown evaluate` on generated songs: outputs, an oracle that recovers gain-only mixes, and the
comparison notebook executed on the result."""

import csv
import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from mixdown.cli import main
from mixdown.dsp.render import render_to_file
from mixdown.evaluate import run_evaluation
from mixdown.params import spec as S
from mixdown.params.io import MixParams, write_params
from sessions import tone_track

pytestmark = pytest.mark.slow  # evaluation of every baseline and the notebook

SR = 16000
ROOT = Path(__file__).resolve().parents[1]


def gain_pan_song(folder: Path, seed: int) -> None:
    """Tracks + a reference made with fader and pan only (everything else neutral)."""
    rng = np.random.default_rng(seed)
    (folder / "tracks").mkdir(parents=True)
    names = ["a", "b", "c"]
    for i, n in enumerate(names):
        sf.write(folder / "tracks" / f"{n}.wav", tone_track(rng, 2 * SR, SR, 1 + i % 2), SR)
    neutral = S.neutral_track_values(SR)
    tv = np.tile([neutral[k] for k in S.TRACK_NAMES], (3, 1))
    tv[:, S.index(S.TRACK_SPECS, "fader_db")] = rng.uniform(-12, 0, 3)
    tv[:, S.index(S.TRACK_SPECS, "pan")] = rng.uniform(-0.8, 0.8, 3)
    mv = np.array([S.neutral_master_values(SR)[k] for k in S.MASTER_NAMES])
    params = MixParams.from_arrays(SR, names, [f"tracks/{n}.wav" for n in names], tv, mv)
    write_params(params, folder / "params.json")
    render_to_file(folder, params, folder / "reference_mix.wav")


@pytest.fixture(scope="module")
def evaluation(tmp_path_factory):
    root = tmp_path_factory.mktemp("eval")
    for i in range(3):
        gain_pan_song(root / "songs" / f"song{i}", seed=i)
    run_evaluation(root / "songs", root / "out", include_model=False, progress=False)
    return root / "out"


def test_outputs_exist_for_every_song_and_system(evaluation):
    rows = list(csv.DictReader(open(evaluation / "results.csv")))
    assert {r["system"] for r in rows} == {"raw_sum", "equal_loudness", "heuristic", "prior", "role_levels",
                                           "power_oracle", "waveform_oracle"}
    assert len(rows) == 21 and len(list((evaluation / "songs").glob("*.csv"))) == 3
    summary = (evaluation / "summary.md").read_text()
    assert all(s in summary for s in ("raw_sum", "power_oracle", "±"))
    assert (evaluation / "plots" / "mrstft.png").stat().st_size > 1000


def test_role_levels_sets_each_faders_role_offset_around_the_sessions_mean(tmp_path):
    """``role_levels``: the raw sum with faders at the roles' offsets (roles from the names) less
    their mean; everything else neutral; the shipped offsets file has a lead above the others."""
    import json

    from mixdown.models import baselines as B
    from mixdown.session import read_session

    rng = np.random.default_rng(0)
    names = ["lead synth", "bass", "kick", "pad thing"]
    for n in names:
        sf.write(tmp_path / f"{n}.wav", tone_track(rng, SR, SR, 1), SR)
    session = read_session(tmp_path)
    offsets = {"lead": 6.0, "bass": -2.0, "drums": 1.0}
    tv, mv = B.role_levels(session, offsets)
    fader = S.index(S.TRACK_SPECS, "fader_db")
    want = {"lead synth": 6.0, "bass": -2.0, "kick": 1.0, "pad thing": 0.0}  # "other" is not in offsets: 0 dB
    got = dict(zip(session.names, tv[:, fader]))
    mean = np.mean(list(want.values()))
    for n in names:
        assert got[n] == pytest.approx(want[n] - mean)
    raw_tv, raw_mv = B.neutral(len(names), SR)
    others = [i for i in range(tv.shape[1]) if i != fader]
    np.testing.assert_array_equal(tv[:, others], raw_tv[:, others])
    np.testing.assert_array_equal(mv, raw_mv)
    shipped = json.loads(B.ROLE_LEVELS_FILE.read_text())["offsets_db"]
    assert shipped["lead"] == max(shipped.values())
    tv, _ = B.role_levels(session)
    assert session.names[int(np.argmax(tv[:, fader]))] == "lead synth"


def test_oracle_recovers_a_gain_and_pan_mix(evaluation):
    rows = list(csv.DictReader(open(evaluation / "results.csv")))
    oracle = [r for r in rows if r["system"] == "waveform_oracle"]
    raw = [r for r in rows if r["system"] == "raw_sum"]
    for o, r in zip(oracle, raw):
        assert float(o["gain_error_db"]) < 0.05 and float(o["pan_error"]) < 0.01
        assert float(o["mrstft"]) < 0.2 * float(r["mrstft"])
        assert float(o["spectral_balance_mae_db"]) < 0.05


def test_resuming_with_other_systems_keeps_the_earlier_ones(evaluation, tmp_path, monkeypatch):
    """``resume``: systems already measured are read back, not measured again, and an earlier run's
    systems that this run does not name stay in the results (a model added to an evaluation of the
    baselines does not drop them)."""
    import shutil

    import mixdown.evaluate as E

    out = tmp_path / "out"
    shutil.copytree(evaluation, out)
    before = list(csv.DictReader(open(out / "results.csv")))
    measured = []
    real = E.evaluate_song
    monkeypatch.setattr(E, "evaluate_song", lambda song, systems: measured.append(sorted(systems)) or
                        [{**r, "system": "raw_sum_again"} for r in real(song, {"raw_sum": None})])
    run_evaluation(evaluation.parent / "songs", out, include_model=False, progress=False, resume=True,
                   baselines=("raw_sum", "raw_sum_again"))
    assert measured == [["raw_sum_again"]] * 3  # raw_sum read back, only the new system measured
    rows = list(csv.DictReader(open(out / "results.csv")))
    assert {r["system"] for r in rows} == {r["system"] for r in before} | {"raw_sum_again"}
    assert [r["system"] for r in rows[:2]] == ["raw_sum", "raw_sum_again"]  # this run's systems first
    again = {r["song"]: r["mrstft"] for r in rows if r["system"] == "raw_sum_again"}
    assert again == {r["song"]: r["mrstft"] for r in before if r["system"] == "raw_sum"}
    assert "heuristic" in (out / "summary.md").read_text()


def test_a_reference_at_another_rate_is_resampled_with_a_warning(tmp_path, caplog):
    """A reference written at twice the tracks' rate scores as the same mix at their rate (the
    reader is ``session.load_reference``, as ``mix --reference`` uses), with a warning naming it."""
    import logging

    from scipy.signal import resample_poly

    from mixdown.evaluate import Song, evaluate_song

    gain_pan_song(tmp_path / "song", seed=5)
    folder = tmp_path / "song"
    ref, _ = sf.read(folder / "reference_mix.wav", dtype="float32")
    sf.write(folder / "reference_2x.wav", resample_poly(ref, 2, 1, axis=0).astype(np.float32), 2 * SR)
    tracks = sorted((folder / "tracks").glob("*.wav"))
    same = evaluate_song(Song("s", folder, tracks, folder / "reference_mix.wav", None), {"raw_sum": None})[0]
    with caplog.at_level(logging.WARNING):
        other = evaluate_song(Song("s", folder, tracks, folder / "reference_2x.wav", None), {"raw_sum": None})[0]
    assert "reference_2x.wav" in caplog.text and "resampling" in caplog.text
    # the polyphase filters' transition band below Nyquist trims the top octave (5.7-8 kHz) a little
    assert other["spectral_balance_mae_db"] == pytest.approx(same["spectral_balance_mae_db"], abs=0.2)
    assert other["mrstft"] == pytest.approx(same["mrstft"], abs=0.05)


def test_cli_rejects_missing_data(tmp_path, caplog):
    assert main(["evaluate", "--data", str(tmp_path / "nope"), "--out", str(tmp_path / "o")]) == 2
    assert "neither a .jsonl manifest nor a folder" in caplog.text


def test_comparison_notebook_runs_on_the_evaluation(evaluation):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    nb = nbformat.read(ROOT / "notebooks" / "compare_models.ipynb", as_version=4)
    os.environ["MIXDOWN_EVAL_DIR"] = str(evaluation)
    try:
        nbclient.NotebookClient(nb, timeout=120, kernel_name="python3",
                                resources={"metadata": {"path": str(ROOT / "notebooks")}}).execute()
    finally:
        del os.environ["MIXDOWN_EVAL_DIR"]
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    assert sum(o.output_type == "display_data" and "image/png" in o.get("data", {}) for o in outputs) >= 5


def test_mirror_metric_forgives_the_sides(evaluation):
    """`mrstft_or_mirror` is the MR-STFT of the mix or of its left/right mirror, whichever is closer:
    never above `mrstft`, and for the oracle (the reference's own sides) the same."""
    rows = list(csv.DictReader(open(evaluation / "results.csv")))
    for r in rows:
        assert float(r["mrstft_or_mirror"]) <= float(r["mrstft"]) + 1e-12
    for r in (r for r in rows if r["system"] == "waveform_oracle"):
        assert float(r["mrstft_or_mirror"]) == pytest.approx(float(r["mrstft"]))


def test_a_mirrored_mix_scores_as_the_mix_itself(tmp_path):
    from mixdown.measure import metrics

    rng = np.random.default_rng(5)
    left, right = rng.normal(0, 0.1, SR), rng.normal(0, 0.02, SR)
    ref = np.stack([left, right])
    plain = metrics.mix_metrics(ref[::-1].copy(), ref, SR)["mrstft"]
    assert plain > 0.3  # a mirrored mix is far from the reference in plain MR-STFT ...
    assert metrics.mix_metrics(ref, ref, SR)["mrstft"] < 1e-6  # ... and its mirror is the reference


def test_paired_differences_are_per_song_with_a_bootstrap_interval(tmp_path):
    """``paired``: excerpts of a song are averaged before pairing (a song with three excerpts
    counts once), songs without both systems are left out, the interval comes from resampling
    songs (a constant difference has a zero-width interval; it holds the mean otherwise), and
    the script prints the same figures from two evaluation folders."""
    import csv
    import json
    import subprocess
    import sys

    from mixdown.evaluate import paired

    rows = []
    # song a: three excerpts, base 1.0, system 1.0 / 1.3 / 1.6 (mean 1.3: +0.3)
    for i, x in enumerate((1.0, 1.3, 1.6)):
        rows += [{"song": f"a/{i:02d}", "group": "a", "system": "base", "mrstft": "1.0"},
                 {"song": f"a/{i:02d}", "group": "a", "system": "cand", "mrstft": str(x)}]
    # song b: one excerpt, -0.1; song c: only the base (left out)
    rows += [{"song": "b", "group": "b", "system": "base", "mrstft": "2.0"},
             {"song": "b", "group": "b", "system": "cand", "mrstft": "1.9"},
             {"song": "c", "group": "c", "system": "base", "mrstft": "5.0"}]
    p = paired(rows, "base", "cand", "mrstft")
    assert p["n"] == 2 and p["closer"] == 1
    assert p["mean"] == pytest.approx((0.3 - 0.1) / 2)
    assert p["base_mean"] == pytest.approx(1.5) and p["system_mean"] == pytest.approx(1.6)
    assert -0.1 - 1e-9 <= p["lo"] < p["mean"] < p["hi"] <= 0.3 + 1e-9
    base = [r for r in rows if r["system"] == "base"]
    shifted = base + [dict(r, system="cand", mrstft=str(float(r["mrstft"]) + 0.25)) for r in base]
    q = paired(shifted, "base", "cand", "mrstft")
    assert q["n"] == 3 and q["closer"] == 0
    assert q["mean"] == pytest.approx(0.25) and q["lo"] == pytest.approx(0.25) and q["hi"] == pytest.approx(0.25)
    with pytest.raises(Exception, match="no song"):
        paired(rows, "base", "other", "mrstft")
    for name, system in (("A", "base"), ("B", "cand")):
        (tmp_path / name).mkdir()
        with open(tmp_path / name / "results.csv", "w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=["song", "group", "system", "mrstft"])
            w.writeheader()
            w.writerows(r for r in rows if r["system"] == system)
    root = Path(__file__).resolve().parents[1]
    res = subprocess.run([sys.executable, str(root / "scripts" / "paired.py"), str(tmp_path / "A"), str(tmp_path / "B"),
                          "--base", "base", "--metrics", "mrstft"], capture_output=True, text=True, check=True)
    line = json.loads(res.stdout.strip().splitlines()[-1])["paired"][0]
    assert line["system"] == "cand" and line["mean"] == pytest.approx(p["mean"]) and line["n"] == 2
    assert "| cand | mrstft | 2 |" in res.stdout
    script = [sys.executable, str(root / "scripts" / "paired.py")]
    for args, named in (([str(tmp_path / "nowhere"), "--base", "base"], "nowhere/results.csv"),
                        ([str(tmp_path / "A"), str(tmp_path / "B"), "--base", "nobody"], "nobody"),
                        ([str(tmp_path / "A"), "--base", "base", "--systems", "cand"], "cand")):
        bad = subprocess.run(script + args, capture_output=True, text=True)
        assert bad.returncode == 2 and named in bad.stderr and "Traceback" not in bad.stderr
