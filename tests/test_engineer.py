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
BASE = ROOT / "src/mixdown/weights/human-v3.pt"
EXAMPLE = ROOT / "data/examples/rock-8beat"


def _engineers_db(path: Path, tracks_of) -> Path:
    """Six engineers' mixes of three songs (rated 0.6 each), engineer ``k``'s tracks
    ``tracks_of(k)``, written as MixologyDB's JSON."""
    mixes = [
        {
            "mix-name": f"E{k}",
            "song-name": f"Song {k % 3}",
            "mix-evaluation": [{"track-num-eval": 0.6}],
            "tracks": tracks_of(k),
        }
        for k in range(6)
    ]
    path.write_text(json.dumps({"mixes": mixes}))
    return path


def _habits_db(path: Path) -> Path:
    """Engineers with one shared habit per part: the vocal high-passed at 150 Hz, compressed 4:1
    and sent at -12 dB; the guitars panned hard; the kick dry, centred, 6 dB above the rest."""
    return _engineers_db(
        path,
        lambda k: [
            track("Kick In", "KICK", "DRUMS", -20.0 - k, 0.0, 0),
            track("Gtr 1", "ELECTRIC", "GUITARS", -24.0, -6.0, -90),
            track("Gtr 2", "ELECTRIC", "GUITARS", -23.0, -6.0, 90),
            track("Lead Vox", "LEAD", "VOCALS", -26.0 + k, -4.0, 0, hp=150, comp=(-30 + k, 4), send=-12),
        ],
    )


def _train(tmp_path_factory, name: str, make_db, **kwargs):
    """A model trained 300 steps on the engineers' file ``make_db`` writes: (the db, its checkpoint)."""
    from mixdown.training.engineer import train_engineer

    tmp = tmp_path_factory.mktemp(name)
    db = read_mixologydb(make_db(tmp / "engineers.json"))
    torch.manual_seed(0)
    out = tmp / f"{name}.pt"
    train_engineer(db, BASE, out, steps=300, batch=4, songs_out=(), **kwargs)
    return db, out


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    return _train(tmp_path_factory, "engineer", _habits_db)


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


def _odds_db(path: Path) -> Path:
    """Engineers who disagree as real ones do: 4 of 6 high-pass the vocal at 150 Hz, 3 of 6
    compress it 4:1, 5 of 6 send it at -12 dB; none touch the kick's filter, compressor or send,
    but half boost its lows (low shelf +6 dB at 80 Hz) and half cut a bell at 400 Hz (-4 dB)."""
    boost = {"type": "LS", "value": {"freq": 80, "gain": 6.0, "q": 0.71}}
    cut = {"type": "NOTCH", "value": {"freq": 400, "gain": -4.0, "q": 1.0}}
    return _engineers_db(
        path,
        lambda k: [
            track("Kick In", "KICK", "DRUMS", -20.0, 0.0, 0, bands=[boost if k % 2 == 0 else cut]),
            track("Gtr 1", "ELECTRIC", "GUITARS", -24.0, -6.0, -90),
            track("Gtr 2", "ELECTRIC", "GUITARS", -23.0, -6.0, 90),
            track(
                "Lead Vox",
                "LEAD",
                "VOCALS",
                -26.0,
                -4.0,
                0,
                hp=150 if k < 4 else None,
                comp=(-32.0, 4) if k % 2 == 0 else None,
                send=-12 if k < 5 else None,
            ),
        ],
    )


@pytest.fixture(scope="module")
def trained_odds(tmp_path_factory):
    return _train(tmp_path_factory, "engineer2", _odds_db, recipe=2, eq_scale=0.5)


def test_static_gain_of_the_spec_by_hand():
    from mixdown.dsp.strip import static_gain_db

    t = torch.tensor
    # hard knee, 10 dB over a 4:1 threshold: 2.5 dB out of 10, 7.5 dB of gain reduction
    assert float(static_gain_db(t(-20.0), t(-30.0), t(4.0), t(0.0))) == pytest.approx(-7.5)
    # at the threshold inside a 6 dB knee: (1/4 - 1) * 3**2 / (2 * 6)
    assert float(static_gain_db(t(-30.0), t(-30.0), t(4.0), t(6.0))) == pytest.approx(-0.5625)
    # below the knee nothing, above it the straight line again
    assert float(static_gain_db(t(-40.0), t(-30.0), t(4.0), t(6.0))) == 0.0
    assert float(static_gain_db(t(-22.0), t(-30.0), t(2.0), t(6.0))) == pytest.approx(-4.0)


def test_recipe_2_takes_each_decision_with_the_engineers_odds(trained_odds):
    """Recipe 2: whether the vocal is high-passed, compressed and sent is drawn with the
    engineers' odds (4/6, 3/6, 5/6), and each decision when taken is theirs; the kick's EQ is one
    of the engineers' two moves, at half their gain (``eq_scale``); a taken compressor's make-up
    gives back its static gain reduction at the track's loudness + 3 dB."""
    from mixdown import decisions as D
    from mixdown.inference.checkpoint import load_model
    from mixdown.training.engineer import engineer_rows

    db, path = trained_odds
    model = load_model(path)
    assert model.recipe == 2 and model.eq_scale == 0.5
    st = D.song_tracks(db, "Song 1")
    lufs = dict(zip(st.names, st.raw_lufs))
    draws = [dict(zip(st.names, D.rows_of(engineer_rows(model, st, draw=k)))) for k in range(60)]
    vox = [d["Lead Vox"] for d in draws]
    hp = [v["highpass_hz"] for v in vox if v["highpass_hz"] > 21]
    comp = [v for v in vox if v["compressor.ratio"] > 1]
    sent = [v["reverb_send_db"] for v in vox if v["reverb_send_db"] > -59]
    assert len(hp) / 60 == pytest.approx(4 / 6, abs=0.2) and all(110 < f < 200 for f in hp)
    assert len(comp) / 60 == pytest.approx(3 / 6, abs=0.2) and len(sent) / 60 == pytest.approx(5 / 6, abs=0.2)
    assert all(s == pytest.approx(-12, abs=4) for s in sent)
    for v in comp:
        assert v["compressor.ratio"] > 2.5
        level = lufs["Lead Vox"] + v["input_gain_db"] + 3.0
        over = level - v["compressor.threshold_db"]  # the spec's soft knee, written out here
        knee, slope = v["compressor.knee_db"], 1 / v["compressor.ratio"] - 1
        if 2 * over < -knee:
            gr = 0.0
        elif 2 * abs(over) <= knee:
            gr = slope * (over + knee / 2) ** 2 / (2 * knee)
        else:
            gr = slope * over
        assert v["compressor.makeup_db"] == pytest.approx(-gr, abs=1e-6)
    kicks = [d["Kick In"] for d in draws]
    assert all(k["highpass_hz"] < 21 and k["compressor.ratio"] == 1 and k["reverb_send_db"] <= -59 for k in kicks)
    from mixdown.data.mixology import eq_octaves_db

    resp = np.array([eq_octaves_db(k) for k in kicks])  # octave centres 31.5 Hz .. 16 kHz
    boost = resp[:, 1] > 2.0  # +3 dB around 63 Hz: half the +6 dB shelf
    cut = resp[:, 4] < -1.5  # -2 dB at 500 Hz: half the -4 dB bell at 400 Hz
    assert boost.any() and cut.any() and (boost ^ cut).all()
    assert np.abs(resp).max() < 4.0


def test_recipe_2_mixes_a_real_session_with_the_base_models_balance(trained_odds, tmp_path):
    """End to end through `mixdown mix`: recipe 2 keeps the base model's (human-v3's) input gains
    on every strip and, its faders moved only to keep each strip as loud as the base's strip left
    it, a mix as loud as the base model's."""
    import soundfile as sf

    from mixdown.cli import main
    from mixdown.measure.loudness import integrated_loudness

    _, path = trained_odds
    runs, lufs = {}, {}
    for label, ck in (("base", str(BASE)), ("recipe2", str(path))):
        out, params = tmp_path / f"{label}.wav", tmp_path / f"{label}.json"
        assert main(["mix", str(EXAMPLE), "--checkpoint", ck, "--out", str(out), "--params", str(params)]) == 0
        runs[label] = json.loads(params.read_text())["tracks"]
        audio, sr = sf.read(out)
        assert np.isfinite(audio).all()
        lufs[label] = integrated_loudness(audio.T, sr)
    for a, b in zip(runs["base"], runs["recipe2"]):
        assert a["name"] == b["name"]
        assert b["input_gain_db"] == pytest.approx(a["input_gain_db"], abs=1e-3)
    assert lufs["recipe2"] == pytest.approx(lufs["base"], abs=2.5)


def test_keep_loudness_holds_each_strips_k_weighted_loudness():
    """Recipe 2's fader moves, estimated from each track's spectrum, against the strips run in the
    time domain (the console's filters) and measured with the project's BS.1770 meter."""
    from mixdown.dsp.functional import highpass, parametric_eq
    from mixdown.measure.loudness import integrated_loudness
    from mixdown.params import spec as S

    sr, T = 44100, 3 * 44100
    g = torch.Generator().manual_seed(0)
    white = torch.randn(2, T, generator=g, dtype=torch.float64) * 0.05
    dark = torch.cumsum(white, -1) * 0.02
    dark = dark - dark.mean(-1, keepdim=True)
    bright = torch.diff(white, dim=-1, prepend=white[:, :1])
    x = torch.stack([white, dark, bright])[None].float()  # (1, 3, 2, T)

    def strip(**kw):
        v = S.neutral_track_values(sr)
        v.update({"fader_db": -10.0, "compressor.ratio": 1.0}, **kw)
        return torch.tensor([[v[n] for n in S.TRACK_NAMES]] * 3, dtype=torch.float64)[None]

    base = strip(**{"eq.5.gain_db": 4.5, "compressor.makeup_db": 4.6, "reverb_send_db": -26.0})
    new = strip(**{"highpass_hz": 150.0, "eq.1.freq_hz": 300.0, "eq.1.gain_db": -6.0, "eq.1.q": 1.0})
    new[0, :, S.TRACK.columns["reverb_send_db"]] = torch.tensor([-3.0, -60.0, -12.0], dtype=torch.float64)
    model = Engineer(sample_rate=sr, recipe=2)
    heard = k_weighted_db(x, sr)
    u, level_db = model.keep_loudness(x, heard, S.normalize(base, S.TRACK_SPECS), S.normalize(new, S.TRACK_SPECS))
    moved = S.denormalize(u.double(), S.TRACK_SPECS)
    col = S.TRACK.columns

    def loudness(v, i):
        bands = range(S.N_EQ_BANDS)
        eq = [torch.tensor([v[0, i, col[f"eq.{b}.{k}"]] for b in bands]) for k in ("freq_hz", "gain_db", "q")]
        y = parametric_eq(highpass(x[0, i].double(), v[0, i, col["highpass_hz"]], sr), *eq, sr)
        gain_db = v[0, i, col["input_gain_db"]] + v[0, i, col["compressor.makeup_db"]] + v[0, i, col["fader_db"]]
        return integrated_loudness((y * 10 ** (gain_db / 20)).numpy(), sr)

    for i in range(3):
        assert abs(float(moved[0, i, col["fader_db"]]) + 10.0) > 2.0  # it did move
        assert loudness(moved, i) == pytest.approx(loudness(base, i), abs=0.15)
    # the reverb return: the bus gets as much as the base's (each strip's measured output power
    # times its send gain), here with one track sent hard, one not, one a little
    mcol = S.MASTER.columns
    master = S.neutral_master_values(sr)
    master["reverb.return_db"] = 3.6
    master_u = S.normalize(torch.tensor([[master[n] for n in S.MASTER_NAMES]], dtype=torch.float64), S.MASTER_SPECS)
    mask = torch.ones(1, 3, dtype=torch.bool)
    out = model.keep_wetness(level_db, mask, S.normalize(base, S.TRACK_SPECS), master_u, u, master_u)
    ret = float(S.denormalize(out, S.MASTER_SPECS)[0, mcol["reverb.return_db"]])
    power = np.array([10 ** (loudness(base, i) / 10) for i in range(3)])

    def wet_db(sends_db, return_db):
        return 10 * np.log10((power * 10 ** (np.asarray(sends_db) / 10)).sum()) + return_db

    assert wet_db([-3.0, -60.0, -12.0], ret) == pytest.approx(wet_db([-26.0] * 3, 3.6), abs=0.2)
    assert ret < -10.0
    # wetness "sent": the two tracks sent are each as wet as the base made them (together: the
    # base's wetness of those two), the one left dry adds nothing
    send_spec = [S.TRACK_SPECS[col["reverb_send_db"]]]
    u2 = u.clone()  # the loudest track (white noise) left dry
    u2[..., col["reverb_send_db"]] = S.normalize(torch.tensor([[-60.0, -3.0, -12.0]], dtype=torch.float64), send_spec)

    def return_of(wetness, sends_u):
        model.wetness = wetness
        out = model.keep_wetness(level_db, mask, S.normalize(base, S.TRACK_SPECS), master_u, sends_u, master_u)
        return float(S.denormalize(out, S.MASTER_SPECS)[0, mcol["reverb.return_db"]])

    ret_sent = return_of("sent", u2)
    power = power * np.array([0.0, 1.0, 1.0])
    assert wet_db([-60.0, -3.0, -12.0], ret_sent) == pytest.approx(wet_db([-26.0] * 3, 3.6), abs=0.2)
    assert ret_sent < return_of("bus", u2) - 1.0  # the dry track's share is not piled onto the others
    # nothing sent: the base's return stays
    dry = u.clone()
    dry[..., col["reverb_send_db"]] = S.normalize(torch.full((1, 3), -60.0, dtype=torch.float64), send_spec)
    assert return_of("sent", dry) == pytest.approx(3.6, abs=1e-4)


def test_spare_content_lowers_a_high_pass_that_would_cut_into_the_instrument():
    """A taken high-pass is lowered until it takes at most ``highpass_loss_db`` off the track's
    power, measured here by running scipy's Butterworth high-pass on the audio: a kick-and-snare
    track keeps its 55 Hz kick; a track with nothing below 500 Hz keeps the engineers' corner; a
    high-pass left off stays off."""
    from scipy.signal import butter, sosfilt

    from mixdown.params import spec as S

    sr, T = 44100, 2 * 44100
    t = np.arange(T) / sr
    kit = np.sin(2 * np.pi * 55 * t) * 0.6 + np.sin(2 * np.pi * 1000 * t) * 0.4
    high = np.sin(2 * np.pi * 800 * t) * 0.5 + np.sin(2 * np.pi * 3000 * t) * 0.2
    x = torch.tensor(np.stack([np.stack([kit, kit]), np.stack([high, high]), np.stack([kit, kit])]))[None].float()
    col = S.TRACK.columns["highpass_hz"]
    v = S.neutral_track_values(sr)
    rows = []
    for hz in (120.0, 120.0, 20.0):
        v["highpass_hz"] = hz
        rows.append([v[n] for n in S.TRACK_NAMES])
    u = S.normalize(torch.tensor([rows], dtype=torch.float64), S.TRACK_SPECS)
    model = Engineer(sample_rate=sr, recipe=2, highpass_loss_db=1.0)
    out = S.denormalize(model.spare_content(x, u).double(), S.TRACK_SPECS)[0, :, col]

    def loss_db(y, hz):
        return -10 * np.log10((sosfilt(butter(2, hz, "highpass", fs=sr, output="sos"), y)[sr // 2 :] ** 2).mean()
                              / (y[sr // 2 :] ** 2).mean())

    assert 30.0 < float(out[0]) < 80.0  # lowered, still a high-pass
    assert 0.6 < loss_db(kit, float(out[0])) <= 1.1  # at the limit, by an independent filter
    assert loss_db(kit, 120.0) > 2.0  # the engineers' corner would have thinned the kick
    assert float(out[1]) == pytest.approx(120.0, rel=1e-4)
    assert float(out[2]) == pytest.approx(20.0, abs=1e-3)
    with pytest.raises(ValueError, match="highpass_loss_db"):
        Engineer(recipe=2, highpass_loss_db=float("nan"))


def test_keep_tone_moves_the_eq_every_track_shares_onto_the_master():
    """Recipe 2 gives the strips the engineers' EQs; the tone the base model gave every strip
    alike (an EQ on every track is one EQ on the bus) goes onto the master: its new EQ responds as
    the base's master EQ and the shared track EQ in series (scipy's response of the cookbook
    biquads, at the octave centres)."""
    from mixdown.dsp.strip import strip_response_db
    from mixdown.params import spec as S

    sr = 44100
    eq_names = [f"eq.{i}.{k}" for i in range(S.N_EQ_BANDS) for k in ("freq_hz", "gain_db", "q")]
    track = S.neutral_track_values(sr)
    track.update({"eq.5.freq_hz": 12800.0, "eq.5.gain_db": 4.5, "eq.5.q": 0.65, "eq.3.freq_hz": 3200.0})
    track.update({"eq.3.gain_db": -1.0, "eq.3.q": 1.0})
    master = S.neutral_master_values(sr)
    master.update({"eq.0.freq_hz": 30.0, "eq.0.gain_db": 7.0, "eq.0.q": 0.7})
    master.update({"eq.5.freq_hz": 11400.0, "eq.5.gain_db": -4.7, "eq.5.q": 0.53})
    tracks = torch.tensor([[track[n] for n in S.TRACK_NAMES]] * 4, dtype=torch.float64)[None]
    tracks[0, 3, S.TRACK.columns["eq.5.gain_db"]] = 0.0  # one strip differs: the median is the shared tone
    master_u = S.normalize(torch.tensor([[master[n] for n in S.MASTER_NAMES]], dtype=torch.float64), S.MASTER_SPECS)
    model = Engineer(sample_rate=sr, recipe=2)
    out = model.keep_tone(torch.ones(1, 4, dtype=torch.bool), S.normalize(tracks, S.TRACK_SPECS), master_u, master_u)
    fitted = S.denormalize(out.double(), S.MASTER_SPECS)[:, [S.MASTER.columns[n] for n in eq_names]].numpy()
    octaves = 1000.0 * 2.0 ** np.arange(-5, 5)
    want = strip_response_db(np.array([[master[n] for n in eq_names]]), eq_names, sr, octaves)
    want = want + strip_response_db(np.array([[track[n] for n in eq_names]]), eq_names, sr, octaves)
    got = strip_response_db(fitted, eq_names, sr, octaves)
    assert np.abs(got - want).max() < 0.6
    assert np.abs(want).max() > 3.0  # a tone worth keeping: the low shelf


def test_shipped_engineer_v2_mixes_by_name_with_the_engineers_odds(tmp_path):
    """`--checkpoint engineer-v2` loads weights-only: recipe 2, trained without the test songs,
    its EQs drawn from the training songs' engineers; on the example it keeps human-v3's input
    gains, gives the strips their own decisions (not one preset on every strip) and the same mix
    on a second run."""
    from mixdown.cli import main
    from mixdown.inference.checkpoint import read_checkpoint

    state = read_checkpoint(ROOT / "src/mixdown/weights/engineer-v2.pt")  # weights_only=True inside
    assert state["model"]["class"] == "mixdown.models.engineer.Engineer"
    assert state["model"]["kwargs"]["recipe"] == 2 and state["model"]["kwargs"]["eq_scale"] == 0.35
    assert state["config"]["engineer"]["songs_out"] == list(TEST_SONGS)
    runs = []
    for label, ck in (("v2", "engineer-v2"), ("v2-again", "engineer-v2"), ("base", str(BASE))):
        params = tmp_path / f"{label}.json"
        args = ["mix", str(EXAMPLE), "--checkpoint", ck, "--out", str(tmp_path / f"{label}.wav")]
        assert main(args + ["--params", str(params)]) == 0
        runs.append(json.loads(params.read_text()))
    assert runs[0]["tracks"] == runs[1]["tracks"] and runs[0]["master"] == runs[1]["master"]
    tracks, base = runs[0]["tracks"], runs[2]["tracks"]
    assert [t["input_gain_db"] for t in tracks] == pytest.approx([t["input_gain_db"] for t in base], abs=1e-3)
    curves = {tuple(round(b["gain_db"], 1) for b in t["eq"]) for t in tracks}
    assert len(curves) >= 3  # human-v3 gives every strip nearly the same curve
    assert len({round(t["pan"], 2) for t in tracks}) >= 2
    by = {t["name"]: t for t in tracks}
    assert abs(by["bass"]["pan"]) < 0.15 and abs(by["lead"]["pan"]) < 0.15


def test_eq_scale_outside_0_to_1_is_refused_by_name(tmp_path):
    import subprocess
    import sys

    for bad in (-0.5, 1.5, float("nan")):
        with pytest.raises(ValueError, match="eq_scale"):
            Engineer(recipe=2, eq_scale=bad)
    r = subprocess.run(
        [sys.executable, str(ROOT / "scripts/train_engineer.py"), "--out", str(tmp_path / "e.pt"), "--eq-scale", "2"],
        capture_output=True,
        text=True,
    )
    assert r.returncode != 0 and "--eq-scale 2.0" in r.stderr and "0 to 1" in r.stderr
    assert not (tmp_path / "e.pt").exists()


def test_keep_mix_tone_gives_the_mix_the_base_mixs_spectrum_through_the_renderer():
    """With ``keep_mix_tone`` the master EQ undoes what the new strips' EQs (engineers' moves on
    each track, and the removal of the EQ the base gave every strip) change in the mix's tone:
    both mixes rendered by the console (:func:`mixdown.dsp.render.render_arrays`) and compared in
    octave bands by numpy's FFT lie within 1 dB of each other, where the master EQ of
    :meth:`Engineer.keep_tone` alone leaves several dB. (The tracks are independent noises: the
    estimate adds their powers, as unrelated recordings do.)"""
    from mixdown.dsp.render import render_arrays
    from mixdown.params import spec as S
    from mixdown.params.io import MixParams

    sr, T = 44100, 3 * 44100
    g = torch.Generator().manual_seed(1)
    noise = torch.randn(3, 2, T, generator=g, dtype=torch.float64) * 0.05  # independent tracks: powers add
    white = noise[0]
    dark = torch.cumsum(noise[1], -1) * 0.02
    dark = dark - dark.mean(-1, keepdim=True)
    bright = torch.diff(noise[2], dim=-1, prepend=noise[2][:, :1])
    x = torch.stack([white, dark, bright])[None].float()

    def strip(**kw):
        v = S.neutral_track_values(sr)
        v.update({"fader_db": -10.0, "compressor.ratio": 1.0, "reverb_send_db": -60.0}, **kw)
        return v

    shared = {"eq.5.gain_db": 4.5, "eq.0.gain_db": -3.0}  # the base's EQ, alike on every strip
    base = [strip(**shared) for _ in range(3)]
    new = [strip(**{"eq.0.gain_db": 6.0}), strip(**{"eq.0.gain_db": -8.0, "eq.2.gain_db": 5.0}),
           strip(**{"eq.3.gain_db": 6.0, "eq.3.q": 0.7})]

    def table(rows):
        values = torch.tensor([[[v[n] for n in S.TRACK_NAMES] for v in rows]], dtype=torch.float64)
        return S.normalize(values, S.TRACK_SPECS)

    master = S.neutral_master_values(sr)
    master["reverb.return_db"] = -60.0
    master_u = S.normalize(torch.tensor([[master[n] for n in S.MASTER_NAMES]], dtype=torch.float64), S.MASTER_SPECS)
    mask = torch.ones(1, 3, dtype=torch.bool)
    model = Engineer(sample_rate=sr, recipe=2)
    heard = k_weighted_db(x, sr)
    base_u = table(base)
    new_u, _ = model.keep_loudness(x, heard, base_u, table(new))
    tone = model.eq_tone_change_db(x, heard, mask, base_u, new_u)

    def octaves(track_u, m_u):
        tv = S.denormalize(track_u[0].double(), S.TRACK_SPECS).numpy()
        mv = S.denormalize(m_u[0].double(), S.MASTER_SPECS).numpy()
        params = MixParams.from_arrays(sr, ["a", "b", "c"], ["a.wav", "b.wav", "c.wav"], tv, mv)
        y = render_arrays([x[0, i].numpy() for i in range(3)], params).audio
        p = (np.abs(np.fft.rfft(y[sr // 2 :], axis=0)) ** 2).sum(-1)
        f = np.fft.rfftfreq(len(y) - sr // 2, 1 / sr)
        centres = 62.5 * 2.0 ** np.arange(8)
        return np.array([10 * np.log10(p[(f >= c / 2**0.5) & (f < c * 2**0.5)].sum()) for c in centres])

    reference = octaves(base_u, master_u)
    kept = octaves(new_u, model.keep_tone(mask, base_u, master_u, master_u, tone))
    shared_only = octaves(new_u, model.keep_tone(mask, base_u, master_u, master_u))
    assert np.abs(shared_only - reference).max() > 3.0  # the engineers' moves add up to a tone change
    assert np.abs(kept - reference).max() < 1.0, (kept - reference, shared_only - reference)


def test_mixing_options_set_on_a_trained_checkpoint_without_training(tmp_path):
    """``scripts/train_engineer.py --from``: engineer-v2's networks with recipe 2's mixing options
    (how engineer-v3 is made): the weights are the same tensors, the options are in the kwargs and
    the config; a bad option or a model that is not recipe 2 is refused by name, nothing written."""
    import subprocess
    import sys

    from mixdown.inference.checkpoint import load_model, read_checkpoint

    src = ROOT / "src/mixdown/weights/engineer-v2.pt"
    out = tmp_path / "v3.pt"
    cmd = [sys.executable, str(ROOT / "scripts/train_engineer.py"), "--from", str(src), "--out", str(out)]
    done = subprocess.run(cmd + ["--wetness", "sent", "--highpass-loss-db", "1", "--keep-mix-tone"],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    model = load_model(out)
    assert (model.wetness, model.highpass_loss_db, model.keep_mix_tone) == ("sent", 1.0, True)
    state, before = read_checkpoint(out), read_checkpoint(src)
    assert state["config"]["mixing"]["from"] == "engineer-v2.pt"
    assert all(torch.equal(state["state_dict"][k], v) for k, v in before["state_dict"].items())
    for flag, value in (("--highpass-loss-db", "30"), ("--compressor-scale", "0")):
        bad_cmd = cmd[:-1] + [str(tmp_path / "bad.pt"), flag, value]
        bad = subprocess.run(bad_cmd, capture_output=True, text=True)
        assert bad.returncode != 0 and flag in bad.stderr and not (tmp_path / "bad.pt").exists()
    not_recipe_2 = cmd[:3] + [str(BASE), "--out", str(tmp_path / "b.pt")]
    wrong = subprocess.run(not_recipe_2, capture_output=True, text=True)
    assert wrong.returncode != 0 and "recipe 2" in wrong.stderr and not (tmp_path / "b.pt").exists()
    # a damaged option in a checkpoint is named at load time
    from mixdown.inference.checkpoint import CheckpointError

    for value, says in ((5, "wetness=5: must be a word"), ("wet", "wetness 'wet'")):
        state["model"]["kwargs"]["wetness"] = value
        torch.save(state, tmp_path / "damaged.pt")
        with pytest.raises(CheckpointError, match=says):
            load_model(tmp_path / "damaged.pt")


def test_switch_shrink_moves_each_switch_towards_the_parts_odds(trained_odds, tmp_path):
    """``switch_shrink``: the parts' odds are counted from the engineers' decisions (the vocal:
    4, 3 and 5 of 6; the kick and guitars: none), and a switch's probability is (1 - w) x the
    network's + w x its part's; at w = 1 a vocal whose odds are made certain is always taken,
    and one made impossible never."""
    from mixdown import decisions as D
    from mixdown.data.roles import PARTS, part_of
    from mixdown.inference.checkpoint import load_model
    from mixdown.training.engineer import engineer_rows, with_mixing

    db, path = trained_odds
    out = tmp_path / "shrunk.pt"
    with_mixing(path, out, {"switch_shrink": 1.0}, db=db)
    model = load_model(out)
    vocal, kick = PARTS.index(part_of("Lead Vox")), PARTS.index(part_of("Kick In"))
    torch.testing.assert_close(model.part_odds[vocal], torch.tensor([4 / 6, 3 / 6, 5 / 6]))
    assert model.part_odds[kick].tolist() == [0.0, 0.0, 0.0]
    assert int(model.part_tracks[vocal]) == 6 and int(model.part_tracks[kick]) == 6
    st = D.song_tracks(db, "Song 1")
    model.part_odds[vocal] = torch.tensor([1.0, 0.0, 1.0])  # high-pass and send certain, no compressor
    vox = [dict(zip(st.names, D.rows_of(engineer_rows(model, st, draw=k))))["Lead Vox"] for k in range(20)]
    assert all(v["highpass_hz"] > 21 and v["compressor.ratio"] == 1 and v["reverb_send_db"] > -59 for v in vox)
    model.switch_shrink = 0.5  # halfway: the network's 3/6 and the part's 0 -> about 1 in 4
    comp = [dict(zip(st.names, D.rows_of(engineer_rows(model, st, draw=k))))["Lead Vox"] for k in range(80)]
    assert sum(v["compressor.ratio"] > 1 for v in comp) / 80 == pytest.approx(0.25, abs=0.15)


def test_stereo_centred_leaves_a_stereo_tracks_balance_alone():
    """``stereo_centred``: a track heard as stereo (its sides differ) gets pan 0, as the training
    songs' engineers left their stereo tracks (median |pan| 0 in every part); the mono double of
    the same part is still panned. Through the whole model on audio (engineer-v2's networks)."""
    import mixdown.api as api
    from mixdown.inference.checkpoint import load_model

    sr = 44100
    rng = np.random.default_rng(3)
    mono = rng.standard_normal(2 * sr).astype(np.float32) * 0.1
    stereo = rng.standard_normal((2, 2 * sr)).astype(np.float32) * 0.1  # decorrelated sides
    kick = (rng.standard_normal(2 * sr) * np.exp(-np.arange(2 * sr) % 11025 / 800)).astype(np.float32) * 0.3
    model = load_model(ROOT / "src/mixdown/weights/engineer-v2.pt")
    model.wetness, model.keep_mix_tone = "sent", True

    def pans(centred):
        model.stereo_centred = centred
        p = api.predict([np.stack([mono, mono]), stereo, kick], sr, model=model, names=["Gtr 1", "Gtr 2", "Kick"])
        return [t.values["pan"] for t in p.tracks]

    off, on = pans(False), pans(True)
    assert on[1] == 0.0 and abs(off[1]) > 0.01  # the stereo guitar: centred only with the option
    assert on[0] == pytest.approx(off[0]) and abs(on[0]) > 0.1  # the mono guitar: panned either way


def test_kit_without_kick_finds_overheads_and_whole_kits_with_no_kick_beside_them():
    def find(names, mask=None):
        roles = torch.tensor([encode_names(names)])
        mask = torch.ones(1, len(names), dtype=torch.bool) if mask is None else torch.tensor([mask])
        return Engineer.kit_without_kick(roles, mask)[0].tolist()

    assert find(["drums", "Bass", "Vox"]) == [True, False, False]
    assert find(["OH L", "OH R", "Kick In", "Snare"]) == [False, False, False, False]
    assert find(["OH L", "OH R", "Snare"]) == [True, True, False]
    assert find(["drums", "Kick In"], mask=[True, False]) == [True, False]  # a padded kick is no kick


def test_an_option_that_is_no_true_or_false_is_refused_by_name():
    for name in ("keep_mix_tone", "stereo_centred", "kit_low_end"):
        for bad in ("no", 1, None):
            with pytest.raises(ValueError, match=f"{name} .*true or false"):
                Engineer(recipe=2, **{name: bad})


def test_with_mixing_refuses_a_mistyped_option_before_writing(trained_odds, tmp_path):
    """An option of the wrong type (True for a number, a word for a number) is refused with its
    name before the checkpoint is written: no file is left that would fail to load."""
    from mixdown.errors import MixdownError
    from mixdown.training.engineer import with_mixing

    db, path = trained_odds
    for name, bad in (("compressor_scale", True), ("switch_shrink", "0.5"), ("kit_low_end", "no")):
        out = tmp_path / f"{name}.pt"
        with pytest.raises((MixdownError, ValueError), match=name):
            with_mixing(path, out, {name: bad}, db=db)
        assert not out.exists() and not list(tmp_path.glob(f"{name}.pt*"))


def test_kit_low_end_takes_no_highpass_on_a_whole_kit_and_changes_nothing_beside_a_kick():
    """``kit_low_end``: a whole kit on one track ("Drums") with no kick track gets no high-pass
    in any draw (without the option some draws take the overheads' high-pass, which would thin
    its kick); with a kick track in the session the option changes no setting. Through the
    shipped engineer-v4's networks on audio."""
    import mixdown.api as api
    from mixdown.data.mixology import HIGHPASS_ON_HZ
    from mixdown.inference.checkpoint import load_model

    sr = 44100
    rng = np.random.default_rng(5)
    t = np.arange(2 * sr) / sr
    beat = np.exp(-(np.arange(2 * sr) % 11025) / 900)
    kit = (np.sin(2 * np.pi * 55 * t) * beat + 0.05 * rng.standard_normal(2 * sr)).astype(np.float32) * 0.3
    bass = (np.sin(2 * np.pi * 82.4 * t) * 0.2).astype(np.float32)
    vox = (np.sin(2 * np.pi * 220 * t) * (1 + 0.3 * np.sin(2 * np.pi * 3 * t)) * 0.1).astype(np.float32)
    model = load_model(ROOT / "src/mixdown/weights/engineer-v4.pt")
    model.highpass_loss_db = 0.0  # the corners as decided (the limit may lower a taken one)

    def settings(names, tracks, on):
        model.kit_low_end = on
        out = []
        for k in range(8):
            model.draw = k
            out.append(api.predict([np.stack([x, x]) for x in tracks], sr, model=model, names=names))
        return out

    names, tracks = ["Drums", "Bass", "Vox"], [kit, bass, vox]
    off = [p.tracks[0].values["highpass_hz"] for p in settings(names, tracks, False)]
    on = [p.tracks[0].values["highpass_hz"] for p in settings(names, tracks, True)]
    assert any(hz > HIGHPASS_ON_HZ for hz in off)  # the overheads' odds take it in some draws
    assert all(hz <= 20.0 + 1e-3 for hz in on)
    names, tracks = ["Drums", "Kick", "Bass", "Vox"], [kit, kit, bass, vox]
    a, b = settings(names, tracks, False), settings(names, tracks, True)
    assert all(np.array_equal(x.track_matrix(), y.track_matrix()) for x, y in zip(a, b))
    assert any(p.tracks[0].values["highpass_hz"] > HIGHPASS_ON_HZ for p in b)  # beside a kick: as before


def test_compressor_scale_keeps_that_share_of_a_taken_compressors_gain_reduction(trained_odds, tmp_path):
    """``compressor_scale``: the same draws compress the same tracks, each with its threshold,
    knee and times, and above the knee the gain reduction (written out here: (1/ratio - 1) x dB
    over the threshold) is the scale's share of the network's, never gentler than 2:1; the make-up
    still gives back the new curve's reduction at the track's loudness + 3 dB. Out-of-range
    scales are refused by name."""
    from mixdown import decisions as D
    from mixdown.inference.checkpoint import load_model
    from mixdown.models.engineer import Engineer
    from mixdown.training.engineer import engineer_rows, with_mixing

    db, path = trained_odds
    out = tmp_path / "gentle.pt"
    with_mixing(path, out, {"compressor_scale": 0.8}, db=db)
    plain, gentle = load_model(path), load_model(out)
    assert gentle.compressor_scale == 0.8 and plain.compressor_scale == 1.0
    st = D.song_tracks(db, "Song 1")
    lufs = dict(zip(st.names, st.raw_lufs))
    n_taken = scaled = 0
    for k in range(40):
        a = dict(zip(st.names, D.rows_of(engineer_rows(plain, st, draw=k))))["Lead Vox"]
        b = dict(zip(st.names, D.rows_of(engineer_rows(gentle, st, draw=k))))["Lead Vox"]
        assert (a["compressor.ratio"] > 1) == (b["compressor.ratio"] > 1)
        if a["compressor.ratio"] == 1:
            continue
        n_taken += 1
        for name in ("compressor.threshold_db", "compressor.knee_db", "compressor.attack_ms", "compressor.release_ms"):
            assert b[name] == pytest.approx(a[name], abs=1e-6)
        over = 20.0 + a["compressor.knee_db"] / 2  # well above the knee: a straight line
        gr_a, gr_b = (1 / a["compressor.ratio"] - 1) * over, (1 / b["compressor.ratio"] - 1) * over
        assert gr_b == pytest.approx(min(0.8 * gr_a, (1 / 2.02 - 1) * over), rel=1e-4)  # the floor: 2.02:1
        scaled += 0.8 * gr_a < (1 / 2.02 - 1) * over
        assert b["compressor.ratio"] >= 2.0  # still counted as compressed
        level = lufs["Lead Vox"] + b["input_gain_db"] + 3.0
        from mixdown.dsp.kernels import soft_knee_gain_db

        expect = soft_knee_gain_db(level, b["compressor.threshold_db"], b["compressor.ratio"], b["compressor.knee_db"])
        assert b["compressor.makeup_db"] == pytest.approx(-expect, abs=1e-4)
    assert 8 <= n_taken <= 32 and scaled == n_taken  # about half the draws compress the vocal, each scaled
    for bad in (0.0, 1.5, float("nan")):
        with pytest.raises(ValueError, match="compressor_scale"):
            Engineer(recipe=2, compressor_scale=bad)
