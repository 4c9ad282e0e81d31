"""The training dataset: shapes and masks, loudness-normalised inputs, determinism, and the key
property that augmented inputs mixed with the transformed target parameters reproduce the
reference mix through the console."""

import numpy as np
import pytest
import torch

from mixdown.data.dataset import Augment, MixDataset
from mixdown.dsp.console import Console
from mixdown.params import spec as S
from sessions import make_corpus

SR = 16000


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return make_corpus(tmp_path_factory.mktemp("corpus"), sr=SR, seconds=3.0, songs=4)


def test_items_have_padded_tracks_mask_and_known_params(corpus):
    ds = MixDataset(corpus["train"], segment_s=2.0, sample_rate=SR, max_tracks=6, items_per_epoch=5)
    item = ds[0]
    n = int(item["mask"].sum())
    assert item["tracks"].shape == (6, 2, 2 * SR) and item["mix"].shape == (2, 2 * SR)
    assert 2 <= n <= 4 and not item["mask"][n:].any()
    assert (item["tracks"][n:] == 0).all()
    assert torch.isfinite(item["track_params"][:n]).all() and torch.isnan(item["track_params"][n:]).all()
    assert item["has_params"] and torch.isfinite(item["master_params"]).all()
    rms_db = 10 * torch.log10(item["tracks"][:n].pow(2).mean((-1, -2)))
    torch.testing.assert_close(rms_db, torch.full((n,), -20.0), atol=0.01, rtol=0)


def test_mono_tracks_are_duplicated_to_two_equal_channels(corpus):
    ds = MixDataset(corpus["val"], segment_s=1.0, sample_rate=SR, max_tracks=4, deterministic=True)
    item = ds[0]
    tracks = item["tracks"][item["mask"]]
    assert torch.equal(tracks[0, 0], tracks[0, 1])  # track0 of every song is mono
    assert not torch.equal(tracks[1, 0], tracks[1, 1])  # track1 is stereo


def test_validation_items_are_deterministic_and_training_items_vary(corpus):
    val = MixDataset(corpus["train"], segment_s=1.0, sample_rate=SR, deterministic=True)
    assert torch.equal(val[1]["tracks"], val[1]["tracks"])
    train = MixDataset(corpus["train"], segment_s=1.0, sample_rate=SR, items_per_epoch=8,
                       augment=Augment(), seed=3)
    assert torch.equal(train[2]["tracks"], train[2]["tracks"])  # seeded per index
    assert not torch.equal(train[2]["tracks"], train[5]["tracks"])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_augmented_items_still_mix_to_the_reference(corpus, seed):
    """Shuffle, channel swap, gain and tone changes are folded into the targets exactly."""
    ds = MixDataset(corpus["train"], segment_s=3.0, sample_rate=SR, max_tracks=5, items_per_epoch=4,
                    augment=Augment(shuffle_tracks=True, swap_channels_p=0.5, gain_db=6.0, tone_db=6.0), seed=seed)
    item = ds[0]
    n = int(item["mask"].sum())
    flat_bands = [S.index(S.TRACK_SPECS, f"eq.{b}.gain_db") for b in (1, 3)]
    toned = S.denormalize(item["track_params"][:n].double().numpy(), S.TRACK_SPECS, SR)[:, flat_bands]
    assert (np.abs(toned) > 1e-6).sum() == n  # every track got one tone change on one flat band
    console = Console(SR)
    mix = console(item["tracks"][None], torch.nan_to_num(item["track_params"], nan=0.5)[None],
                  item["master_params"][None], item["mask"][None])[0]
    ref = item["mix"]
    err_db = 10 * torch.log10((mix - ref).pow(2).sum() / ref.pow(2).sum())
    assert err_db < -50, float(err_db)


def test_unusable_manifests_are_refused_with_a_reason(tmp_path, corpus):
    with pytest.raises(ValueError, match="no usable songs"):
        MixDataset(corpus["train"], sample_rate=44100)
    bad = tmp_path / "bad.jsonl"
    bad.write_text("{not json\n")
    with pytest.raises(ValueError, match="bad.jsonl:1"):
        MixDataset(bad, sample_rate=SR)


def test_more_tracks_than_max_are_subsampled(corpus):
    ds = MixDataset(corpus["val"], segment_s=1.0, sample_rate=SR, max_tracks=2, deterministic=True)
    item = ds[0]
    assert item["tracks"].shape[0] == 2 and item["mask"].all()
    assert np.isfinite(item["track_params"].numpy()).all()
