"""``scripts/average_checkpoints.py``: the tensor-by-tensor mean of checkpoints of one model, as a
checkpoint that loads with weights-only loading and records its inputs; other models refused."""

import subprocess
import sys
from pathlib import Path

import torch

from mixdown.inference.checkpoint import load_model, read_checkpoint, save_checkpoint
from mixdown.models import Mixformer
from scripts_helper import load_script

SR = 16000
KW = {"sample_rate": SR, "dim": 32, "layers": 1, "heads": 4, "hidden": 32, "use_roles": True}
SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "average_checkpoints.py"


def _script():
    return load_script("average_checkpoints")


def _run(*args):
    return subprocess.run([sys.executable, str(SCRIPT), *map(str, args)], capture_output=True, text=True)


def _checkpoint(path, seed, **kw):
    torch.manual_seed(seed)
    model = Mixformer(**{**KW, **kw})
    save_checkpoint(path, model, {**KW, **kw}, sample_rate=SR, extra={"train_state": {"step": seed}})
    return model


def test_the_average_is_the_mean_of_the_weights_and_loads(tmp_path):
    models = [_checkpoint(tmp_path / f"m{i}.pt", seed=i) for i in range(3)]
    digest = _script().average_checkpoints(tmp_path / "soup.pt", [tmp_path / f"m{i}.pt" for i in range(3)])
    soup = load_model(tmp_path / "soup.pt")
    for name, value in soup.state_dict().items():
        want = sum(m.state_dict()[name].double() for m in models) / 3
        torch.testing.assert_close(value.double(), want, rtol=0, atol=1e-6)
    state = read_checkpoint(tmp_path / "soup.pt")
    assert [r["step"] for r in state["averaged_from"]] == [0, 1, 2] and "train_state" not in state
    assert len(digest) == 64
    x, mask = torch.randn(1, 2, 2, SR // 2), torch.ones(1, 2, dtype=torch.bool)
    with torch.no_grad():
        track, master = soup(x, mask)
    assert torch.isfinite(track).all() and track.shape[:2] == (1, 2)


def test_checkpoints_of_different_models_are_refused(tmp_path):
    _checkpoint(tmp_path / "a.pt", seed=0)
    _checkpoint(tmp_path / "b.pt", seed=1, dim=16, hidden=16)
    done = _run(tmp_path / "soup.pt", tmp_path / "a.pt", tmp_path / "b.pt")  # the command line
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "b.pt" in done.stderr and "only checkpoints of one model" in done.stderr
    assert not (tmp_path / "soup.pt").exists()
