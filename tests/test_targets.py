"""Level-and-pan targets fitted to human mixes (``mixdown dataset targets``), the dataset's partial
targets, the relative-level loss, and the trainer's settings-only mode."""

import json
import math

import numpy as np
import pytest
import soundfile as sf
import torch
from scipy.signal import butter, lfilter, sosfilt

from mixdown.data.dataset import MixDataset
from mixdown.data.targets import FLOOR_DB, KNOWN, fit_targets
from mixdown.params import spec as S
from mixdown.params.io import read_params
from mixdown.training.losses import MixLoss, balance_db, param_l1

SR = 16000
IN, FADER, PAN = (S.index(S.TRACK_SPECS, n) for n in ("input_gain_db", "fader_db", "pan"))
GAINS_DB = np.array([0.0, -6.0, -12.0, -3.0])
PANS = np.array([0.0, -0.5, 0.7, 0.2])


def _source(rng, n, kind):
    """Four tracks that overlap little in frequency: bass, band noise, gated hat noise, a tone."""
    t = np.arange(n) / SR
    if kind == 0:
        x = np.sin(2 * np.pi * 80 * t) * (1 + 0.5 * np.sin(2 * np.pi * 0.7 * t))
    elif kind == 1:
        x = sosfilt(butter(4, [300, 600], "bandpass", fs=SR, output="sos"), rng.standard_normal(n))
    elif kind == 2:
        x = np.diff(rng.standard_normal(n + 1)) * (np.sin(2 * np.pi * 3 * t) > 0.3)
    else:
        x = np.sin(2 * np.pi * 2000 * t + 3 * np.sin(2 * np.pi * 5 * t))
    return 0.1 * x / np.sqrt(np.mean(x ** 2))


def _pair(root, seconds=6.0, seed=0, process=True):
    """A human-mixed pair: raw tracks and a mix with known levels and constant-power pans, sent
    through phase-changing processing (an all-pass filter per side, a 3-sample delay, a
    faint diffuse tail), as a person's EQ and reverb would."""
    rng = np.random.default_rng(seed)
    n = int(seconds * SR)
    song = root / f"song{seed}"
    (song / "tracks").mkdir(parents=True)
    mix = np.zeros((2, n))
    tracks = []
    for i in range(len(GAINS_DB)):
        x = _source(rng, n, i)
        sf.write(song / "tracks" / f"t{i}.wav", x.astype(np.float32), SR, subtype="FLOAT")
        theta = (PANS[i] + 1) * math.pi / 4
        g = 10 ** (GAINS_DB[i] / 20)
        mix += g * np.stack([math.cos(theta) * x, math.sin(theta) * x]) * math.sqrt(2)
        tracks.append({"path": str(song / "tracks" / f"t{i}.wav"), "name": f"t{i}", "role": "other",
                       "channels": 1, "sample_rate": SR, "frames": n, "active_regions": [[0.0, seconds]],
                       "silent": False, "clipped": 0.0, "peak": 0.5, "rms_db": -20.0, "file_size": 1,
                       "mtime": 0.0, "meta": {}})
    a = 0.6 if process else 0.0  # first-order all-pass per side (opposite signs), then a small delay
    mix = np.stack([lfilter([-a, 1.0], [1.0, -a], mix[0]), lfilter([a, 1.0], [1.0, a], mix[1])])
    mix = np.roll(mix, 3 if process else 0, axis=1)
    tail = rng.standard_normal((2, 800)) * np.exp(-np.arange(800) / 200) * (0.005 if process else 0.0)
    mix = np.stack([np.convolve(mix[c], np.r_[1.0, tail[c]])[:n] for c in range(2)])
    sf.write(song / "mix.wav", mix.T.astype(np.float32), SR, subtype="FLOAT")
    return {"schema": "mixdown.manifest/1", "song": f"band/song{seed}", "source": "folder", "split": "train",
            "root": str(root), "tracks": tracks,
            "mix": {"path": str(song / "mix.wav"), "channels": 2, "sample_rate": SR, "frames": n, "clipped": 0.0,
                    "peak": 0.5, "silent": False, "file_size": 1, "mtime": 0.0},
            "params": None, "checks": {"length_mismatch": False, "rate_mismatch": False, "mix_offset_samples": None,
                                       "mix_correlation": None, "aligned": True, "warnings": []}, "meta": {}}


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    root = tmp_path_factory.mktemp("pairs")
    manifest = root / "train.jsonl"
    manifest.write_text("".join(json.dumps(_pair(root, seed=s)) + "\n" for s in (0, 1)))
    out = root / "targets"
    [written] = fit_targets([manifest], out, progress=False)
    return manifest, written


def test_fitted_levels_and_pans_match_the_mix_through_phase_changes(fitted):
    _, written = fitted
    recs = [json.loads(line) for line in written.read_text().splitlines()]
    assert len(recs) == 2
    for rec in recs:
        assert rec["params_known"] == list(KNOWN)
        tv = read_params(rec["params"]).track_matrix()
        level = tv[:, IN] + tv[:, FADER]
        rel = level - level[0]
        np.testing.assert_allclose(rel, GAINS_DB - GAINS_DB[0], atol=1.0)
        np.testing.assert_allclose(tv[:, PAN], PANS, atol=0.1)
        # everything else neutral
        neutral = S.neutral_track_values(SR)
        assert tv[0, S.index(S.TRACK_SPECS, "highpass_hz")] == neutral["highpass_hz"]


def test_fitting_twice_resumes_and_never_overwrites_its_input(fitted, tmp_path):
    manifest, written = fitted
    before = {p: p.stat().st_mtime_ns for p in written.parent.glob("*.params.json")}
    fit_targets([manifest], written.parent, progress=False)
    assert {p: p.stat().st_mtime_ns for p in written.parent.glob("*.params.json")} == before
    with pytest.raises(ValueError, match="overwrite their own manifest"):
        fit_targets([manifest], manifest.parent, progress=False)


def test_a_track_left_out_of_the_mix_is_floored(tmp_path):
    rec = _pair(tmp_path, seed=3)
    silent = np.zeros(int(6.0 * SR), dtype=np.float32)  # a track the person muted: not in the mix
    silent[::997] = 0.01
    sf.write(rec["tracks"][0]["path"], silent, SR)
    (tmp_path / "m").mkdir()
    manifest = tmp_path / "m" / "train.jsonl"
    manifest.write_text(json.dumps(rec) + "\n")
    [written] = fit_targets([manifest], tmp_path / "out", progress=False)
    tv = read_params(json.loads(written.read_text())["params"]).track_matrix()
    level = tv[:, IN] + tv[:, FADER]
    assert level.max() - level.min() <= FLOOR_DB + 1e-9


def test_the_dataset_reads_partial_targets(fitted):
    _, written = fitted
    ds = MixDataset(written, segment_s=2.0, sample_rate=SR, max_tracks=6, deterministic=True, normalize="song")
    item = ds[0]
    tp, mp, mask = item["track_params"], item["master_params"], item["mask"]
    n = int(mask.sum())
    assert n == 4 and item["has_params"]
    known = torch.isfinite(tp[:n])
    assert known[:, [IN, FADER, PAN]].all()
    others = [i for i in range(S.N_TRACK_PARAMS) if i not in (IN, FADER, PAN)]
    assert not known[:, others].any() and torch.isnan(mp).all()
    # one gain for every track of the window: relative target levels are the fitted ones
    phys = S.denormalize(tp[:n].double().nan_to_num(0.5), S.TRACK_SPECS, SR)
    level = (phys[:, IN] + phys[:, FADER]).numpy()
    # (validation items are not shuffled: the manifest's track order)
    np.testing.assert_allclose(level - level[0], GAINS_DB - GAINS_DB[0], atol=1.0)


def _settings(levels_db, pans=None, sr=SR):
    """Normalised track settings ``(1, N, P)`` with the given level (all in the fader) and pans."""
    tv = np.tile([S.neutral_track_values(sr)[k] for k in S.TRACK_NAMES], (len(levels_db), 1))
    tv[:, FADER] = levels_db
    if pans is not None:
        tv[:, PAN] = pans
    return torch.as_tensor(S.normalize(tv, S.TRACK_SPECS, sr), dtype=torch.float64)[None]


def _partial(target):
    t = torch.full_like(target, float("nan"))
    t[..., [IN, FADER, PAN]] = target[..., [IN, FADER, PAN]]
    return t


def test_balance_is_relative_and_in_db():
    target = _partial(_settings([0.0, -6.0, -12.0]))
    songs = torch.tensor([True])
    flat = _settings([0.0, 0.0, 0.0])
    # errors 0, +6, +12 dB; their mean (+6) is the overall level: |-6|, |0|, |6| -> 4 dB
    assert float(balance_db(flat, target, songs, None)) == pytest.approx(4.0, abs=1e-6)
    louder = _settings([10.0, 4.0, -2.0])  # right balance, 10 dB louder overall: no cost
    assert float(balance_db(louder, target, songs, None)) == pytest.approx(0.0, abs=1e-6)
    mask = torch.tensor([[True, True, False]])  # a padded track does not count
    assert float(balance_db(flat, target, songs, mask)) == pytest.approx(3.0, abs=1e-6)
    assert float(balance_db(flat, target, torch.tensor([False]), None)) == 0.0


def test_relative_songs_leave_levels_to_balance_and_give_gradients():
    target = (_partial(_settings([0.0, -6.0], pans=[0.5, -0.3])), torch.full((1, S.N_MASTER_PARAMS), float("nan")))
    pred_t = _settings([20.0, 14.0], pans=[-0.5, 0.3]).requires_grad_()  # mirrored pans, 20 dB louder
    pred = (pred_t, torch.full((1, S.N_MASTER_PARAMS), 0.5, dtype=torch.float64))
    assert float(param_l1(pred, target, None, mirror=True).detach()) == pytest.approx(0.0, abs=1e-7)
    loss = MixLoss(SR, stft_weight=0.0, loudness_weight=0.0, balance_weight=0.1, mirror=True)
    assert not loss.needs_audio
    wrong = (_settings([0.0, 0.0]).requires_grad_(), pred[1])
    total, parts = loss(None, torch.zeros(1, 2, 10), wrong, target)
    assert parts["balance_db"] == pytest.approx(3.0, abs=1e-6) and "stft" not in parts
    total.backward()
    assert wrong[0].grad[..., FADER].abs().sum() > 0
    # a song whose overall level is known (master settings known) compares absolute levels instead
    known_master = (target[0], torch.full((1, S.N_MASTER_PARAMS), 0.5, dtype=torch.float64))
    assert float(param_l1(pred, known_master, None, mirror=True).detach()) > 0.01


def test_settings_only_training_skips_the_console(fitted, tmp_path, monkeypatch):
    from mixdown.dsp.console import Console
    from mixdown.models import Mixformer
    from mixdown.training.trainer import Trainer

    _, written = fitted

    def refuse(*a, **k):
        raise AssertionError("the console ran although the loss compares settings only")

    monkeypatch.setattr(Console, "forward", refuse)
    ds = MixDataset(written, segment_s=1.0, sample_rate=SR, max_tracks=6, normalize="song", items_per_epoch=4)
    val = MixDataset(written, segment_s=1.0, sample_rate=SR, max_tracks=6, normalize="song", deterministic=True)
    model = Mixformer(SR, dim=32, layers=1, heads=2, hidden=32)
    loss = MixLoss(SR, stft_weight=0.0, loudness_weight=0.0, balance_weight=0.1, mirror=True)
    trainer = Trainer(max_steps=3, val_every=3, batch_size=2, out_dir=str(tmp_path / "run"), progress=False,
                      device="cpu")
    best = trainer.fit(model, {"sample_rate": SR, "dim": 32, "layers": 1, "heads": 2, "hidden": 32}, loss,
                       lambda p: torch.optim.AdamW(p, 1e-3), ds, val)
    assert math.isfinite(best) and (tmp_path / "run" / "last.pt").is_file()
    metrics = (tmp_path / "run" / "metrics.csv").read_text()
    assert "val/balance_db" in metrics and "stft" not in metrics


def test_mirror_shares_the_transforms_and_equals_the_better_of_both():
    from mixdown.measure.stft import mrstft_loss

    g = torch.Generator().manual_seed(0)
    est, ref = torch.randn(3, 2, 4000, generator=g), torch.randn(3, 2, 4000, generator=g)
    ref[0] = est[0].flip(0) * 0.9
    both = mrstft_loss(est, ref, fft_sizes=(256, 1024), reduction="none", mirror=True)
    one = torch.minimum(mrstft_loss(est, ref, fft_sizes=(256, 1024), reduction="none"),
                        mrstft_loss(est.flip(1), ref, fft_sizes=(256, 1024), reduction="none"))
    torch.testing.assert_close(both, one)
    assert float(both[0]) < float(both[1])


def test_an_unreadable_track_names_the_manifest_and_song_and_writes_no_manifest(tmp_path):
    rec = _pair(tmp_path, seed=4)
    rec["tracks"][1]["path"] = str(tmp_path / "gone.wav")
    (tmp_path / "m").mkdir()
    manifest = tmp_path / "m" / "train.jsonl"
    manifest.write_text(json.dumps(rec) + "\n")
    with pytest.raises(ValueError, match=r"train.jsonl: song 'band/song4': .*gone.wav"):
        fit_targets([manifest], tmp_path / "out", progress=False)
    assert not (tmp_path / "out" / "train.jsonl").exists()


def test_a_silent_mix_is_refused_by_name(tmp_path):
    rec = _pair(tmp_path, seed=5)
    sf.write(rec["mix"]["path"], np.zeros((int(6.0 * SR), 2), np.float32), SR, subtype="FLOAT")
    (tmp_path / "m").mkdir()
    manifest = tmp_path / "m" / "train.jsonl"
    manifest.write_text(json.dumps(rec) + "\n")
    with pytest.raises(ValueError, match=r"song 'band/song5': .*mix.wav: the mix is silent"):
        fit_targets([manifest], tmp_path / "out", progress=False)
