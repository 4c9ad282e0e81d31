"""The Engineer model: it learns engineers' per-track decisions, hears loudness as BS.1770 does,
loads as a self-describing weights-only checkpoint and mixes real sessions end to end."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from mixdown.data.mixology import TEST_SONGS, read_mixologydb
from mixdown.models.engineer import Engineer, encode_names, k_weighted_db
from mixology_helpers import track

ROOT = Path(__file__).resolve().parents[1]
BASE = ROOT / "src/mixdown/weights/default.pt"
EXAMPLE = ROOT / "data/examples/rock-8beat"


def _habits_db(path: Path) -> Path:
    """Engineers with one shared habit per part: the vocal high-passed at 150 Hz, compressed 4:1
    and sent at -12 dB; the guitars panned hard; the kick dry, centred, 6 dB above the rest."""
    mixes = []
    for k in range(6):
        mixes.append(
            {
                "mix-name": f"E{k}",
                "song-name": f"Song {k % 3}",
                "mix-evaluation": [{"track-num-eval": 0.6}],
                "tracks": [
                    track("Kick In", "KICK", "DRUMS", -20.0 - k, 0.0, 0),
                    track("Gtr 1", "ELECTRIC", "GUITARS", -24.0, -6.0, -90),
                    track("Gtr 2", "ELECTRIC", "GUITARS", -23.0, -6.0, 90),
                    track("Lead Vox", "LEAD", "VOCALS", -26.0 + k, -4.0, 0, hp=150, comp=(-30 + k, 4), send=-12),
                ],
            }
        )
    path.write_text(json.dumps({"mixes": mixes}))
    return path


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    from mixdown.training.engineer import train_engineer

    tmp = tmp_path_factory.mktemp("engineer")
    db = read_mixologydb(_habits_db(tmp / "habits.json"))
    torch.manual_seed(0)
    out = tmp / "engineer.pt"
    train_engineer(db, BASE, out, steps=300, batch=4, songs_out=())
    return db, out


def test_learns_the_engineers_habits(trained):
    from mixdown import decisions as D
    from mixdown.inference.checkpoint import load_model
    from mixdown.training.engineer import engineer_rows

    db, path = trained
    model = load_model(path)  # weights only, allow-listed class
    assert isinstance(model, Engineer)
    st = D.song_tracks(db, "Song 1")
    rows = D.rows_of(engineer_rows(model, st))
    by = dict(zip(st.names, rows))
    vox, kick, g1, g2 = by["Lead Vox"], by["Kick In"], by["Gtr 1"], by["Gtr 2"]
    assert 110 < vox["highpass_hz"] < 200 and kick["highpass_hz"] < 25
    assert vox["compressor.ratio"] > 3
    # the kick's compressor does nothing over its level range (idle: ratio 1 or a threshold above
    # its peaks), the vocal's reduces its peaks
    from mixdown.decisions import _compressor_curve

    lufs = dict(zip(st.names, st.raw_lufs))
    assert np.abs(_compressor_curve(kick, lufs["Kick In"] + kick["input_gain_db"])).max() < 0.5
    assert _compressor_curve(vox, lufs["Lead Vox"] + vox["input_gain_db"]).min() < -3
    assert vox["reverb_send_db"] == pytest.approx(-12, abs=3) and kick["reverb_send_db"] < -45
    assert abs(kick["pan"]) < 0.1 and abs(vox["pan"]) < 0.1
    assert g1["pan"] < -0.7 and g2["pan"] > 0.7  # hard left and right: sides alternate in track order
    # the vocal's threshold sits as far below its loudness as the engineers' did (-30 + k against
    # -26 + k LUFS: 4 dB below)
    assert vox["compressor.threshold_db"] - lufs["Lead Vox"] == pytest.approx(-4, abs=2.5)
    # levels relative to the mix as the engineers set them, not as recorded
    lv = {n: lufs[n] + r["input_gain_db"] + r["fader_db"] for n, r in by.items()}
    gaps = [
        m["Kick In"].level_db - m["Lead Vox"].level_db
        for m in ({d.name: d for d in db.decisions if d.mix == mix} for mix in st.engineers)
    ]
    assert (lv["Kick In"] - lv["Lead Vox"]) == pytest.approx(np.mean(gaps), abs=2.0)


def test_k_weighted_loudness_of_a_sine():
    # a full-scale 1 kHz sine in both channels reads 0 LUFS in BS.1770 (K-weighting is +0.69 dB at
    # 1 kHz, the -0.691 offset takes it back): independent of mixdown's own meter
    sr = 48000
    t = np.arange(sr * 2) / sr
    x = torch.tensor(np.sin(2 * np.pi * 1000 * t), dtype=torch.float32).expand(2, -1)
    assert float(k_weighted_db(x, sr)) - 0.691 == pytest.approx(0.0, abs=0.05)
    # 100 Hz loses about 1.3 dB to the high-pass stage of the K filter (BS.1770's table)
    lo = torch.tensor(np.sin(2 * np.pi * 100 * t), dtype=torch.float32).expand(2, -1)
    assert float(k_weighted_db(x, sr) - k_weighted_db(lo, sr)) == pytest.approx(1.8, abs=0.6)
    # gated as BS.1770 gates (the project's meter, tested against the standard's reference
    # signals): a quiet second and a silent one after a tone are gated out, the edges are not
    from mixdown.measure.loudness import integrated_loudness

    gap = torch.cat([x, 1e-4 * x[:, :sr], torch.zeros(2, sr)], -1)
    assert float(k_weighted_db(gap, sr)) - 0.691 == pytest.approx(integrated_loudness(gap.numpy(), sr), abs=0.02)
    assert float(k_weighted_db(gap, sr)) > float(k_weighted_db(x, sr)) - 1.0
    assert float(k_weighted_db(torch.zeros(2, sr), sr)) == -120.0


def test_pan_sides_and_alternation():
    roles = torch.tensor([encode_names(["Gtr 1", "Gtr 2", "OH R", "OH L", "Gtr 3", "Bass DI"])])
    signs = Engineer.pan_signs(roles, torch.ones(1, 6, dtype=torch.bool))
    # guitars alternate from the left; the bass, the next part, starts on the right
    assert signs.tolist() == [[-1.0, 1.0, 1.0, -1.0, -1.0, 1.0]]


def test_mixes_a_real_session_end_to_end(trained, tmp_path):
    from mixdown.cli import main

    _, path = trained
    out, params = tmp_path / "mix.wav", tmp_path / "mix.json"
    assert main(["mix", str(EXAMPLE), "--checkpoint", str(path), "--out", str(out), "--params", str(params)]) == 0
    p = json.loads(params.read_text())
    assert p["format"] == "mixdown.params/2" and len(p["tracks"]) == 5
    # the model adds no trim of its own: each input gain is the analysis windows' gain (within a
    # few dB of 0), so each compressor sees its track as the model heard it
    assert all(abs(t["input_gain_db"]) < 12 and math.isfinite(t["fader_db"]) for t in p["tracks"])
    # a lead sits central; the model's reverb is a real room (decays within the table's range)
    lead = [t for t in p["tracks"] if t["name"] == "lead"][0]
    assert abs(lead["pan"]) < 0.2
    r = p["master"]["reverb"]
    assert 0.1 <= r["decay_mid_s"] <= 10


def test_shipped_engineer_mixes_by_name_with_decisions_per_strip(tmp_path):
    """`--checkpoint engineer-v1` (a shipped model's name) loads weights-only and gives the
    example's strips their own decisions: not one preset copied onto every strip, the same mix
    on a second run."""
    from mixdown.cli import main
    from mixdown.inference.checkpoint import read_checkpoint

    state = read_checkpoint(ROOT / "src/mixdown/weights/engineer-v1.pt")  # weights_only=True inside
    assert state["model"]["class"] == "mixdown.models.engineer.Engineer"
    assert state["config"]["engineer"]["songs_out"][:4] == list(TEST_SONGS)
    runs = []
    for k in range(2):
        params = tmp_path / f"mix{k}.json"
        args = ["mix", str(EXAMPLE), "--checkpoint", "engineer-v1", "--out", str(tmp_path / f"mix{k}.wav")]
        assert main(args + ["--params", str(params)]) == 0
        runs.append(json.loads(params.read_text()))
    assert runs[0]["tracks"] == runs[1]["tracks"]
    tracks = runs[0]["tracks"]
    for key in ("fader_db", "pan", "reverb_send_db"):
        assert len({round(t[key], 3) for t in tracks}) >= 3, key
    assert len({round(t["compressor"]["ratio"], 2) for t in tracks}) >= 3
    curves = {tuple(round(b["gain_db"], 1) for b in t["eq"]) for t in tracks}
    assert len(curves) == len(tracks)
    by = {t["name"]: t for t in tracks}
    assert abs(by["bass"]["pan"]) < 0.15  # the bass central, as nearly every engineer has it
