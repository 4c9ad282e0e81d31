"""Validation under DDP covers the whole validation set once: two gloo processes with different
shards agree on the whole set's loss, and rank 0 saves it (no padded duplicates counted)."""

import os

import torch
import torch.multiprocessing as mp

from mixdown.inference.checkpoint import read_checkpoint
from mixdown.training.trainer import Trainer
from test_ddp import free_port

VALUES = [0.0, 1.0, 4.0, 9.0, 16.0]  # per-song losses; 5 songs on 2 ranks: DistributedSampler pads one


class Songs(torch.utils.data.Dataset):
    def __len__(self):
        return len(VALUES)

    def __getitem__(self, i):
        return {"tracks": torch.zeros(2, 2, 8), "mask": torch.ones(2, dtype=torch.bool),
                "mix": torch.full((2, 8), VALUES[i]), "track_params": torch.zeros(2, 3),
                "master_params": torch.zeros(3)}


class Constant(torch.nn.Module):
    """Predicts zeros; not learned, so ``fit`` validates once and saves ``last.pt``."""

    learned = False

    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(1))

    def forward(self, x, mask, ref=None):
        return torch.zeros(x.shape[0], x.shape[1], 3), torch.zeros(x.shape[0], 3)


def song_loss(mix, ref, pred, target, mask):
    """The song's value (batch size 1), and a part that is the value's square root."""
    return ref.mean(), {"root": float(ref.mean().sqrt())}


song_loss.needs_audio = False


def worker(rank: int, port: int, out: str, results) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), WORLD_SIZE="2", RANK=str(rank))
    trainer = Trainer(batch_size=1, device="cpu", out_dir=out, progress=False, amp=False)
    best = trainer.fit(Constant(), {}, song_loss, None, Songs(), Songs(), sample_rate=16000)
    results[rank] = (best, trainer._loader(Songs(), shuffle=False).sampler)
    torch.distributed.destroy_process_group()


def test_validation_is_reduced_over_ranks(tmp_path):
    results = mp.Manager().dict()
    mp.spawn(worker, args=(free_port(), str(tmp_path), results), nprocs=2, join=True)
    shards = [list(results[r][1]) for r in range(2)]
    assert shards == [[0, 2, 4], [1, 3]]  # the shards differ and cover the set once
    whole = sum(VALUES) / len(VALUES)
    rank0_alone = sum(VALUES[i] for i in shards[0]) / len(shards[0])
    assert abs(rank0_alone - whole) > 0.5
    assert results[0][0] == results[1][0] == whole  # both ranks see the whole set's loss
    metrics = read_checkpoint(tmp_path / "last.pt")["train_state"]["metrics"]
    assert metrics["val/loss"] == whole
    assert abs(metrics["val/root"] - sum(v ** 0.5 for v in VALUES) / len(VALUES)) < 1e-9
