"""Two CPU processes train together through torchrun + DDP (gloo)."""

import os
import socket
import subprocess
import sys

import pytest

from mixdown.inference.checkpoint import read_checkpoint
from sessions import make_corpus

pytestmark = pytest.mark.slow


def free_port() -> int:
    """A TCP port nothing listens on now (the OS picks it), so parallel runs do not collide."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_process_cpu_ddp_smoke(tmp_path):
    corpus = make_corpus(tmp_path / "corpus", sr=16000, seconds=3.0, songs=3)
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", str(free_port()),
           "-m", "mixdown.training.main", "trainer=ddp_sim", "debug=default", "experiment=dmc", "logger=csv",
           "sample_rate=16000", f"paths.output_dir={out}", f"hydra.run.dir={out}",
           f"data.train.manifests=[{corpus['train']}]", f"data.val.manifests=[{corpus['val']}]"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "NUMBA_NUM_THREADS": "1"}
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    state = read_checkpoint(out / "last.pt")
    assert state["train_state"]["step"] == 2
    assert "DistributedDataParallel" not in str(state["model"]["class"])  # the bare model is saved
