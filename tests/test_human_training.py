"""Training on human-mixed pairs: losses indifferent to the arbitrary (mirror images, the mix's
level), unknown targets, the manifest mixture, and song-level input normalisation."""

import json
import math

import numpy as np
import pytest
import torch

from mixdown.data.dataset import Augment, MixDataset
from mixdown.inference.contract import InputContract
from mixdown.params import spec as S
from mixdown.training.losses import MixLoss, param_l1
from sessions import make_corpus

SR = 16000
PAN = S.index(S.TRACK_SPECS, "pan")


def noise_mix(seed=0, t=SR):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(2, 2, t, generator=g)
    return x * torch.tensor([1.0, 0.3])[None, :, None]  # left louder than right: a mirror differs


def test_param_loss_compares_pan_size_when_mirror():
    tp = torch.full((1, 3, S.N_TRACK_PARAMS), 0.5)
    tp[..., PAN] = torch.tensor([0.2, 0.9, 0.5])
    tt = tp.clone()
    tt[..., PAN] = 1.0 - tt[..., PAN]          # every pan mirrored
    mp = torch.full((1, S.N_MASTER_PARAMS), 0.5)
    pred, target = (tp, mp), (tt, mp.clone())
    assert float(param_l1(pred, target, None, mirror=True)) == pytest.approx(0.0, abs=1e-7)
    assert float(param_l1(pred, target, None, mirror=False)) > 0.01
    tt[0, 0, PAN] = 0.5                          # a spread track centred: costs with or without mirror
    expected = 0.3 / (3 * S.N_TRACK_PARAMS + S.N_MASTER_PARAMS)   # |0.2 - 0.5| over every value
    assert float(param_l1(pred, target, None, mirror=True)) == pytest.approx(expected, rel=1e-4)


def test_audio_loss_takes_the_better_of_a_mix_and_its_mirror():
    ref = noise_mix()
    mirrored = ref.flip(1)
    on = MixLoss(SR, mirror=True, fft_sizes=(256, 1024))
    off = MixLoss(SR, mirror=False, fft_sizes=(256, 1024))
    assert on(mirrored, ref)[1]["stft"] == pytest.approx(0.0, abs=1e-4)
    assert off(mirrored, ref)[1]["stft"] > 0.3
    other = noise_mix(seed=1)
    assert on(other, ref)[1]["stft"] > 0.3     # a different mix is not forgiven


def test_loudness_matching_leaves_level_to_the_loudness_term_of_known_songs():
    ref = noise_mix()
    loss = MixLoss(SR, match_loudness=True, fft_sizes=(256, 1024))
    nan = (torch.full((2, 2, S.N_TRACK_PARAMS), float("nan")), torch.full((2, S.N_MASTER_PARAMS), float("nan")))
    total, parts = loss(0.25 * ref, ref, nan, nan)
    assert parts["stft"] == pytest.approx(0.0, abs=1e-4) and parts["loudness"] == 0.0
    assert "params" not in parts or parts["params"] == 0.0
    known = (nan[0], torch.full((2, S.N_MASTER_PARAMS), 0.5))
    assert loss(0.25 * ref, ref, nan, known)[1]["loudness"] == pytest.approx(12.04, abs=0.05)
    # a synthetic song where nothing sends: its reverb settings are unknown, its level is still known
    dry = torch.full((2, S.N_MASTER_PARAMS), 0.5)
    dry[:, [S.MASTER_NAMES.index(n) for n in S.REVERB_MASTER_NAMES]] = float("nan")
    assert loss(0.25 * ref, ref, nan, (nan[0], dry))[1]["loudness"] == pytest.approx(12.04, abs=0.05)


def test_unknown_targets_train_on_audio_alone_and_give_gradients():
    est = noise_mix().requires_grad_()
    tp = torch.rand(2, 2, S.N_TRACK_PARAMS, requires_grad=True)
    mp = torch.rand(2, S.N_MASTER_PARAMS, requires_grad=True)
    nan = (torch.full_like(tp, float("nan")), torch.full_like(mp, float("nan")))
    total, _ = MixLoss(SR, mirror=True, match_loudness=True, fft_sizes=(256,))(est, noise_mix(1), (tp, mp), nan)
    total.backward()
    assert torch.isfinite(total) and est.grad.abs().sum() > 0
    assert tp.grad is None or float(tp.grad.abs().sum()) == 0.0


@pytest.fixture(scope="module")
def corpora(tmp_path_factory):
    root = tmp_path_factory.mktemp("mixture")
    synth = make_corpus(root / "synth", sr=SR, seconds=2.0, songs=3)
    human = root / "human.jsonl"  # the same songs as human-mixed pairs: no parameters known
    recs = [json.loads(line) for line in synth["train"].read_text().splitlines()]
    human.write_text("".join(json.dumps({**r, "song": "h-" + r["song"], "params": None}) + "\n" for r in recs))
    return synth["train"], human


def _sines(amps, freqs, seconds=2.0):
    t = torch.arange(int(SR * seconds), dtype=torch.float64) / SR
    mono = sum(a * torch.sin(2 * math.pi * f * t) for a, f in zip(amps, freqs))
    return torch.stack([mono, 0.5 * mono])[None]  # (1, 2, T): channels summed, their ratio cancels


def test_band_balance_is_the_octave_band_level_difference_of_sines():
    """One sine in each octave band (centres 31.25 Hz .. 4 kHz at 16 kHz): a band's energy is
    its sine's power, so the distance is the mean |20 log10(b_k / a_k)|, exactly; bands without a
    sine in either signal (8 kHz) and without bins (16 kHz, above Nyquist) are left out."""
    from mixdown.training.losses import band_balance_db

    freqs = 1000.0 * 2.0 ** np.arange(-5, 3)
    a = np.array([0.1, 0.2, 0.05, 0.1, 0.3, 0.1, 0.02, 0.1])
    b = a * 10 ** (np.array([3.0, -6.0, 0, 1.5, 0, 0, -2.0, 12.0]) / 20)
    got = band_balance_db(_sines(b, freqs), _sines(a, freqs), SR)
    assert got.shape == (1,)
    assert float(got) == pytest.approx(np.mean(np.abs(20 * np.log10(b / a))), abs=0.02)
    assert float(band_balance_db(_sines(3 * a, freqs), _sines(3 * a, freqs), SR)) == pytest.approx(0.0, abs=1e-9)
    # the evaluation's measure (Welch, loudness matching off) agrees on the same signals
    from mixdown.measure.metrics import spectral_balance_error_db

    _, want = spectral_balance_error_db(_sines(b, freqs)[0].numpy(), _sines(a, freqs)[0].numpy(), SR,
                                        loudness_match=False)
    assert float(got) == pytest.approx(want, abs=0.05)
    loss = MixLoss(SR, stft_weight=0.0, loudness_weight=0.0, band_weight=0.5)
    assert loss.needs_audio
    est = _sines(b, freqs).requires_grad_()
    total, parts = loss(est, _sines(a, freqs))
    total.backward()
    assert parts["band_db"] == pytest.approx(float(got), abs=1e-9)
    assert float(total.detach()) == pytest.approx(0.5 * float(got), abs=1e-9)
    assert torch.isfinite(est.grad).all() and est.grad.abs().sum() > 0


def test_mixture_weights_choose_the_manifest(corpora):
    synth, human = corpora
    only_human = MixDataset([synth, human], segment_s=1.0, sample_rate=SR, items_per_epoch=12, weights=[0, 1],
                            augment=Augment())
    items = [only_human[i] for i in range(12)]
    assert all(it["song"].startswith("h-") and not it["has_params"] for it in items)
    assert all(torch.isnan(it["track_params"]).all() and torch.isnan(it["master_params"]).all() for it in items)
    both = MixDataset([synth, human], segment_s=1.0, sample_rate=SR, items_per_epoch=40, weights=[1, 1])
    n_human = sum(both[i]["song"].startswith("h-") for i in range(40))
    assert 8 <= n_human <= 32


def test_song_normalisation_keeps_relative_levels(corpora):
    synth, human = corpora
    ds = MixDataset([human], segment_s=1.0, sample_rate=SR, deterministic=True, normalize="song",
                    augment=Augment(gain_db=6.0))
    item = ds[0]
    n = int(item["mask"].sum())
    tracks = item["tracks"][:n].double()
    power = tracks.pow(2).mean((-1, -2))
    assert 10 * torch.log10(power.mean()) == pytest.approx(-20.0, abs=0.01)
    # the same song read raw: the levels relative to each other are unchanged
    import soundfile as sf
    rec = json.loads(human.read_text().splitlines()[0])
    raw = [sf.read(t["path"], frames=SR, always_2d=True)[0] for t in rec["tracks"]]
    raw_db = np.array([10 * np.log10(np.mean(np.repeat(x, 2 // x.shape[1], 1) ** 2)) for x in raw])
    got_db = 10 * np.log10(power.numpy())
    np.testing.assert_allclose(got_db - got_db[0], raw_db - raw_db[0], atol=0.05)
    c = InputContract(normalize="song")
    g = c.input_gains_db(np.stack([np.ones((2, 100)), 0.1 * np.ones((2, 100)), np.zeros((2, 100))]))
    assert g[0] == g[1] == g[2]
    with pytest.raises(ValueError, match="normalize"):
        InputContract(normalize="loudest")
