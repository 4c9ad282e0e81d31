"""Role conditioning: each track's role as its name tells it (``mixdown.data.roles.role_indices``)
reaches a ``Mixformer(use_roles=True)`` the same way at training (dataset items) and at mixing time
(``predict_params`` from the session's names); a fresh role embedding changes nothing; checkpoints
keep it."""

import numpy as np
import pytest
import soundfile as sf
import torch

from mixdown.data.roles import ROLES, normalise_role, role_indices
from mixdown.inference.checkpoint import load_model, save_checkpoint
from mixdown.inference.predict import predict_params
from mixdown.models import Mixformer
from mixdown.params import spec as S
from mixdown.session import read_session

SR = 16000
KW = {"sample_rate": SR, "dim": 32, "layers": 1, "heads": 4, "hidden": 32}


def test_names_give_roles():
    assert [normalise_role(n) for n in ("ch01-synth-lead", "ch02-synth-pad", "Lead Synth", "lead_vox", "Audio 01")] \
        == ["lead", "synth", "lead", "vocals", "other"]
    assert role_indices(["kick.wav", "bass", "x"]) == [ROLES.index("drums"), ROLES.index("bass"), ROLES.index("other")]


def _batch(n=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(2, n, 2, SR // 2, generator=g) * 0.1, torch.ones(2, n, dtype=torch.bool)


def test_a_fresh_role_embedding_changes_nothing_and_a_learnt_one_does():
    torch.manual_seed(0)
    plain = Mixformer(**KW).eval()
    roles_model = Mixformer(**KW, use_roles=True).eval()
    missing = roles_model.load_state_dict(plain.state_dict(), strict=False)
    assert sorted(missing.missing_keys) == ["role_embedding.weight", "role_level"]
    x, mask = _batch()
    roles = torch.tensor([role_indices(["lead", "bass", "drums"])] * 2)
    with torch.no_grad():
        want = plain(x, mask)
        got = roles_model(x, mask, None, roles=roles)
        torch.testing.assert_close(got, want)
        roles_model.role_embedding.weight[ROLES.index("lead")] = 3.0
        moved = roles_model(x, mask, None, roles=roles)
        # permuting tracks with their roles permutes the outputs: roles follow their tracks
        perm = torch.tensor([2, 0, 1])
        permuted = roles_model(x[:, perm], mask, None, roles=roles[:, perm])
    assert (moved[0][:, 0] - want[0][:, 0]).abs().max() > 1e-3
    torch.testing.assert_close(permuted[0], moved[0][:, perm], atol=1e-5, rtol=1e-4)
    other = torch.full_like(roles, ROLES.index("other"))
    with torch.no_grad():
        torch.testing.assert_close(roles_model(x, mask), roles_model(x, mask, None, roles=other))


def _session(folder, names):
    rng = np.random.default_rng(0)
    folder.mkdir()
    for k, name in enumerate(names):
        sf.write(folder / f"{name}.wav", (rng.standard_normal((SR * 2, 1)) * 0.05 * (k + 1)).astype(np.float32), SR)
    return read_session(folder)


def test_mixing_hears_the_roles_of_the_track_names_and_checkpoints_keep_them(tmp_path):
    torch.manual_seed(0)
    model = Mixformer(**KW, use_roles=True).eval()
    with torch.no_grad():
        model.role_embedding.weight[ROLES.index("lead")] = 2.0
    save_checkpoint(tmp_path / "roles.pt", model, {**KW, "use_roles": True}, sample_rate=SR)
    loaded = load_model(tmp_path / "roles.pt")
    assert loaded.uses_roles
    named = _session(tmp_path / "named", ["a-lead", "b-bass"])
    anonymous = _session(tmp_path / "anonymous", ["a-track", "b-track"])  # the same audio, names say nothing
    tv_named, _ = predict_params(loaded, named)
    tv_anon, _ = predict_params(loaded, anonymous)
    tv_same, _ = predict_params(model, named)
    np.testing.assert_allclose(tv_same, tv_named)
    moved = np.abs(S.normalize(tv_named, S.TRACK_SPECS, SR) - S.normalize(tv_anon, S.TRACK_SPECS, SR))
    assert moved.max() > 1e-3  # the lead's role moved its settings
    with torch.no_grad():
        model.role_embedding.weight.zero_()
    tv_zero, _ = predict_params(model, named)
    tv_zero_anon, _ = predict_params(model, anonymous)
    np.testing.assert_allclose(tv_zero, tv_zero_anon, atol=1e-9)  # no role learnt: names change nothing


def test_dataset_items_carry_the_roles_of_their_track_names(tmp_path):
    import json

    from mixdown.data.dataset import MixDataset

    song = tmp_path / "song"
    song.mkdir()
    rng = np.random.default_rng(1)
    tracks = []
    for name in ("ch01-synth-lead", "kick", "pad thing"):
        sf.write(song / f"{name}.wav", rng.standard_normal((SR, 2)).astype(np.float32) * 0.1, SR)
        tracks.append({"path": f"{name}.wav", "name": name, "role": "other", "channels": 2, "sample_rate": SR,
                       "frames": SR})
    sf.write(song / "mix.wav", rng.standard_normal((SR, 2)).astype(np.float32) * 0.1, SR)
    rec = {"song": "s", "root": str(song), "tracks": tracks,
           "mix": {"path": "mix.wav", "channels": 2, "sample_rate": SR, "frames": SR}}
    (tmp_path / "m.jsonl").write_text(json.dumps(rec) + "\n")
    ds = MixDataset(tmp_path / "m.jsonl", segment_s=0.5, sample_rate=SR, max_tracks=5, items_per_epoch=4)
    for i in range(4):  # tracks are shuffled: the roles follow them
        item = ds[i]
        assert item["roles"].dtype == torch.int64 and item["roles"].shape == (5,)
        peak = item["tracks"][:3].abs().amax((1, 2))
        assert (item["roles"][3:] == ROLES.index("other")).all() and peak.min() > 0
    item = MixDataset(tmp_path / "m.jsonl", segment_s=0.5, sample_rate=SR, max_tracks=5, deterministic=True)[0]
    assert item["roles"][:3].tolist() == [ROLES.index("lead"), ROLES.index("drums"), ROLES.index("synth")]


def test_a_roles_level_offset_moves_that_roles_fader_by_exactly_its_db(tmp_path):
    """The per-role level offset is added to the fader: 0.1 normalised units of the fader's 72-dB
    range is 7.2 dB on the lead's fader and nothing on the bass's (the embedding left at zero)."""
    torch.manual_seed(0)
    model = Mixformer(**KW, use_roles=True).eval()
    named = _session(tmp_path / "named", ["a-lead", "b-bass"])
    anonymous = _session(tmp_path / "anonymous", ["a-track", "b-track"])
    with torch.no_grad():
        model.track_head[-2].bias[S.TRACK_NAMES.index("fader_db")] = -1.0  # faders well inside their range
        model.role_level[ROLES.index("lead")] = 0.1
    assert model.role_levels_db()["lead"] == pytest.approx(7.2) and model.role_levels_db()["bass"] == 0.0
    fader = S.TRACK_NAMES.index("fader_db")
    tv_named, _ = predict_params(model, named)
    tv_anon, _ = predict_params(model, anonymous)
    assert tv_named[0, fader] - tv_anon[0, fader] == pytest.approx(7.2, abs=1e-4)
    assert tv_named[1, fader] == pytest.approx(tv_anon[1, fader], abs=1e-6)
    assert Mixformer(**KW).role_levels_db() == {}
    model.set_role_levels_db({"lead": 0.0, "bass": -3.6})  # dB in, normalised units inside: -3.6 / 72
    assert model.role_level[ROLES.index("bass")].item() == pytest.approx(-0.05) and model.role_level.sum() < 0
    with pytest.raises(ValueError, match="unknown roles"):
        model.set_role_levels_db({"singer": 1.0})
