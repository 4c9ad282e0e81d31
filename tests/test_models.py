"""Every model treats a session as a set of tracks: padded (masked) tracks change nothing, and
permuting the tracks permutes the per-track outputs and leaves the master's unchanged."""

import pytest
import torch

from mixdown.models import DMC, Heuristic, Mixformer

SR = 16000
MODELS = {"dmc": lambda: DMC(SR, dim=32, hidden=32),
          "mixformer": lambda: Mixformer(SR, dim=32, layers=2, heads=4, hidden=32),
          "mixformer_reference": lambda: Mixformer(SR, dim=32, layers=1, heads=4, hidden=32, use_reference=True),
          "heuristic": lambda: Heuristic(SR)}


def _inputs(n_tracks: int, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    tracks = torch.randn(2, n_tracks, 2, SR // 2, generator=g) * torch.rand(2, n_tracks, 1, 1, generator=g)
    reference = torch.randn(2, 2, SR // 2, generator=g) * 0.1
    return tracks, reference


@pytest.mark.parametrize("name", sorted(MODELS))
def test_padded_tracks_change_nothing(name):
    torch.manual_seed(0)
    model = MODELS[name]().eval()
    tracks, ref = _inputs(3)
    mask = torch.ones(2, 3, dtype=torch.bool)
    padded = torch.cat([tracks, torch.randn(2, 2, 2, SR // 2)], 1)  # padding rows hold noise, not silence
    pad_mask = torch.cat([mask, torch.zeros(2, 2, dtype=torch.bool)], 1)
    with torch.no_grad():
        tp, mp = model(tracks, mask, ref)
        tp2, mp2 = model(padded, pad_mask, ref)
    torch.testing.assert_close(tp2[:, :3], tp, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(mp2, mp, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_permuting_tracks_permutes_the_outputs(name):
    torch.manual_seed(0)
    model = MODELS[name]().eval()
    tracks, ref = _inputs(4, seed=1)
    mask = torch.ones(2, 4, dtype=torch.bool)
    perm = torch.tensor([2, 0, 3, 1])
    with torch.no_grad():
        tp, mp = model(tracks, mask, ref)
        tp2, mp2 = model(tracks[:, perm], mask, ref)
    torch.testing.assert_close(tp2, tp[:, perm], atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(mp2, mp, atol=1e-5, rtol=1e-4)
