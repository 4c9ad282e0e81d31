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


class Learned(Constant):
    """Learned, with a buffer: wrapped in DistributedDataParallel, whose forward broadcasts buffers."""

    learned = True

    def __init__(self):
        super().__init__()
        self.register_buffer("scale", torch.ones(1))

    def forward(self, x, mask, ref=None):
        tp, mp = super().forward(x, mask, ref)
        return tp + 0 * self.w * self.scale, mp + 0 * self.w


def learned_loss(mix, ref, pred, target, mask):
    total, parts = song_loss(mix, ref, pred, target, mask)
    return total + 0 * pred[0].sum(), parts


learned_loss.needs_audio = False


class OneSong(Songs):
    def __len__(self):
        return 1


def train_worker(rank: int, port: int, out: str, results) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), WORLD_SIZE="2", RANK=str(rank))
    trainer = Trainer(max_steps=2, val_every=1, batch_size=1, device="cpu", out_dir=out, progress=False, amp=False)
    results[rank] = trainer.fit(Learned(), {}, learned_loss, lambda p: torch.optim.SGD(p, 0.1), Songs(), OneSong(),
                                sample_rate=16000)
    torch.distributed.destroy_process_group()


def test_uneven_validation_shards_under_ddp_do_not_hang(tmp_path):
    """One validation song: rank 0 validates it, rank 1 nothing (as the 3-song smoke corpus's split);
    the bare model validates, so no DDP collective waits for a rank that has no batch."""
    results = mp.Manager().dict()
    ctx = mp.spawn(train_worker, args=(free_port(), str(tmp_path), results), nprocs=2, join=False)
    for _ in range(60):
        if ctx.join(timeout=1):
            break
    else:
        for p in ctx.processes:
            p.kill()
        raise AssertionError("validation hung under DDP")
    assert results[0] == results[1] == VALUES[0]
