"""Our trainer: models predict parameters, the differentiable console mixes, losses compare.

Checkpoints are written atomically and are self-describing; a killed run resumes from
``last.pt``; metrics go to CSV and TensorBoard; progress bars and files on rank 0 only; DDP via
``torchrun`` (gloo on CPU, nccl on GPU); AMP (bfloat16 autocast for the network) on GPU only.
"""

from __future__ import annotations

import logging
import math
import os
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from torch.utils.data import DataLoader, DistributedSampler

from mixdown.dsp.console import Console
from mixdown.inference.checkpoint import read_checkpoint, save_checkpoint
from mixdown.models.batch import ModelBatch, step

log = logging.getLogger(__name__)


def dist_info() -> tuple[int, int]:
    """``(rank, world_size)``; initialises the process group when launched by torchrun.

    On CUDA each process takes the GPU of its ``LOCAL_RANK`` (torchrun sets it on every node)."""
    import torch.distributed as dist

    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and torch.cuda.is_available():
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    if dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def _needs_audio(loss_fn) -> bool:
    """Whether ``loss_fn`` compares rendered mixes (a loss without ``needs_audio`` does)."""
    return bool(getattr(loss_fn, "needs_audio", True))


def seed_everything(seed: int) -> None:
    import random

    random.seed(seed)
    np.random.seed(seed % (2 ** 32))
    torch.manual_seed(seed)


class Trainer:
    """Args:
        max_steps: optimisation steps. val_every, log_every: in steps.
        batch_size, num_workers: data loading. grad_clip: max gradient norm (0: off).
        amp: bfloat16 autocast for the network on GPU (the console always runs in float32).
        device: ``"auto"``, ``"cpu"`` or ``"cuda"`` (under torchrun: the process's local GPU).
        ckpt_every: also write ``last.pt`` every this many steps (0: only at validation).
        out_dir: checkpoints (``last.pt``, ``best.pt``), ``metrics.csv`` and TensorBoard logs.
        seed: base seed (``seed + rank`` per process). progress: show a progress bar (rank 0).
        logger: a :class:`mixdown.training.loggers.MetricLogger` (default: CSV only).
        val_at_start: also validate the starting weights (step 0) before the first step, as the
            run's first ``best.pt``: a fine-tune whose best step is 0 improved nothing on the
            validation set (not when resuming).
    """

    def __init__(self, max_steps: int = 1000, val_every: int = 100, log_every: int = 10, batch_size: int = 4,
                 num_workers: int = 0, grad_clip: float = 1.0, amp: bool = True, device: str = "auto",
                 out_dir: str = "outputs/train", seed: int = 0, progress: bool = True, logger=None,
                 ckpt_every: int = 0, val_at_start: bool = False):
        self.max_steps, self.val_every, self.log_every = max_steps, val_every, log_every
        self.val_at_start = bool(val_at_start)
        self.batch_size, self.num_workers, self.grad_clip = batch_size, num_workers, grad_clip
        self.amp, self.seed, self.progress, self.ckpt_every = amp, seed, progress, ckpt_every
        self.device = torch.device("cuda" if device == "auto" and torch.cuda.is_available() else
                                   ("cpu" if device == "auto" else device))
        self.out_dir = Path(out_dir)
        self.rank, self.world = 0, 1
        self.logger = logger
        self._contract = None  # the training set's InputContract, set by fit()

    # ------------------------------------------------------------------ helpers
    def _loader(self, dataset, shuffle: bool) -> DataLoader:
        """Training (``shuffle``): a padded :class:`DistributedSampler` per rank. Validation: every
        ``world``-th item from ``rank``, so the shards cover the set once, without duplicates."""
        sampler = None
        if self.world > 1:
            sampler = (DistributedSampler(dataset, shuffle=True, seed=self.seed) if shuffle
                       else list(range(self.rank, len(dataset), self.world)))
        return DataLoader(dataset, batch_size=self.batch_size, shuffle=shuffle and sampler is None,
                          sampler=sampler, num_workers=self.num_workers, drop_last=shuffle,
                          persistent_workers=self.num_workers > 0, pin_memory=self.device.type == "cuda")

    def _step_outputs(self, model, console, batch, render: bool = True):
        """``(mix or None, ref, pred, target, mask)`` of one batch; ``render=False`` (a loss that
        compares settings only) skips the console."""
        inputs = ModelBatch.from_loader(batch, self.device)  # what any model may hear; step() picks
        x, mask, ref, n = inputs.tracks, inputs.mask, inputs.reference, inputs.mask.shape[1]
        use_amp = self.amp and self.device.type == "cuda"
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=use_amp):
            tp, mp = step(model, inputs)
        # Mixed precision stops here: the network may run in bfloat16, the console never does.
        # Its filter responses (float64 inside), FFT filtering and compressor ballistics (poles
        # within 1e-5 of 1) are not safe in bfloat16, so the console runs outside autocast on
        # float32 parameters and audio.
        mix = console(x, tp.float(), mp.float(), mask) if render else None
        target = (batch["track_params"][:, :n].to(self.device), batch["master_params"].to(self.device))
        return mix, ref, (tp.float(), mp.float()), target, mask

    @torch.no_grad()
    def validate(self, model, console, loss_fn, loader) -> dict[str, float]:
        """The loss over this rank's shard, summed with the other ranks' (:meth:`_reduce`). Runs the
        bare model: under DistributedDataParallel every forward broadcasts buffers, a collective that
        would wait forever on a rank whose shard is shorter (the shards differ by up to one song)."""
        model.eval()
        net = getattr(model, "module", model)
        sums: dict[str, float] = {}
        n = 0
        for batch in loader:
            mix, ref, pred, target, mask = self._step_outputs(net, console, batch, _needs_audio(loss_fn))
            total, parts = loss_fn(mix, ref, pred, target, mask)
            for k, v in {"loss": float(total), **parts}.items():
                sums[k] = sums.get(k, 0.0) + v * len(ref)
            n += len(ref)
        model.train()
        sums, n = self._reduce(sums, n)
        return {f"val/{k}": v / max(n, 1) for k, v in sums.items()}

    def _reduce(self, sums: dict[str, float], n: int) -> tuple[dict[str, float], int]:
        """Sums and item count over every rank (each rank validates its own shard)."""
        import torch.distributed as dist

        if self.world == 1 or not dist.is_initialized():
            return sums, n
        names: list = [None] * self.world
        dist.all_gather_object(names, sorted(sums))  # a rank with an empty shard has no names
        keys = sorted(set().union(*names))
        values = torch.tensor([float(n)] + [sums.get(k, 0.0) for k in keys], dtype=torch.float64)
        values = values.to(self.device) if self.device.type == "cuda" else values
        dist.all_reduce(values)
        values = values.cpu().tolist()
        return dict(zip(keys, values[1:])), int(round(values[0]))

    def _save(self, name: str, model, model_kwargs, config, sample_rate, step, optimizer, best, metrics) -> None:
        if self.rank != 0:
            return
        net = model.module if hasattr(model, "module") else model
        extra = {"train_state": {"step": step, "best": best, "metrics": metrics,
                                 "optimizer": optimizer.state_dict() if optimizer else None}}
        save_checkpoint(self.out_dir / name, net, model_kwargs, config=config, sample_rate=sample_rate, extra=extra,
                        input_contract=self._contract)

    # ------------------------------------------------------------------ main loop
    def fit(self, model, model_kwargs: dict[str, Any], loss_fn, optimizer_factory: Callable | None,
            train_set, val_set, config: dict | None = None, sample_rate: int = 44100) -> float:
        """Train and return the best validation loss (lower is better)."""
        self.rank, self.world = dist_info()
        if self.device.type == "cuda" and self.device.index is None:
            self.device = torch.device("cuda", torch.cuda.current_device())
        seed_everything(self.seed + self.rank)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        if self.logger is None:
            from mixdown.training.loggers import MetricLogger

            self.logger = MetricLogger(tensorboard=False)
        if self.rank == 0:
            self.logger.bind(self.out_dir)
        model = model.to(self.device)
        console = Console(sample_rate)
        self._contract = getattr(train_set, "contract", None)  # what the model hears: stored in every checkpoint
        learned = getattr(model, "learned", True)
        optimizer = optimizer_factory(model.parameters()) if learned and optimizer_factory else None
        step, best = self._resume(model, optimizer)
        if self.world > 1 and learned:
            ids = [self.device.index] if self.device.type == "cuda" else None
            model = torch.nn.parallel.DistributedDataParallel(model, device_ids=ids)
        val_loader = self._loader(val_set, shuffle=False)
        if not learned or optimizer is None:
            metrics = self.validate(model, console, loss_fn, val_loader)
            self._write_metrics(0, metrics)
            self._save("last.pt", model, model_kwargs, config, sample_rate, 0, None, metrics["val/loss"], metrics)
            return metrics["val/loss"]
        train_loader = self._loader(train_set, shuffle=True)
        if self.val_at_start and step == 0:  # the starting weights: the first point of the curve
            metrics = self.validate(model, console, loss_fn, val_loader)
            self._write_metrics(0, metrics)
            best = metrics["val/loss"]
            self._save("best.pt", model, model_kwargs, config, sample_rate, 0, optimizer, best, metrics)
        bar = None
        if self.progress and self.rank == 0:
            from tqdm import tqdm

            bar = tqdm(total=self.max_steps, initial=step, desc="train", unit="step")
        epoch = 0
        t0 = time.perf_counter()
        while step < self.max_steps:
            if hasattr(train_loader.sampler, "set_epoch"):
                train_loader.sampler.set_epoch(epoch)
            if hasattr(train_set, "set_epoch"):
                train_set.set_epoch(epoch)
            for batch in train_loader:
                total, parts = self._train_step(model, console, loss_fn, optimizer, batch)
                step += 1
                if bar is not None:
                    bar.update()
                    bar.set_postfix(loss=f"{total.item():.3f}")
                if step % self.log_every == 0:
                    train_parts = {f"train/{k}": v for k, v in parts.items()}
                    self._write_metrics(step, {"train/loss": total.item(), **train_parts,
                                               "time_s": time.perf_counter() - t0})
                if step % self.val_every == 0 or step == self.max_steps:
                    metrics = self.validate(model, console, loss_fn, val_loader)
                    self._write_metrics(step, metrics)
                    if metrics["val/loss"] < best:
                        best = metrics["val/loss"]
                        self._save("best.pt", model, model_kwargs, config, sample_rate, step, optimizer, best, metrics)
                    self._save("last.pt", model, model_kwargs, config, sample_rate, step, optimizer, best, metrics)
                elif self.ckpt_every and step % self.ckpt_every == 0:
                    self._save("last.pt", model, model_kwargs, config, sample_rate, step, optimizer, best,
                               {"train/loss": total.item()})
                if step >= self.max_steps:
                    break
            epoch += 1
        if bar is not None:
            bar.close()
        return best

    def _resume(self, model, optimizer) -> tuple[int, float]:
        """Weights, optimiser state, step and best loss of ``out_dir/last.pt`` when it exists."""
        last = self.out_dir / "last.pt"
        if not last.exists():
            return 0, math.inf
        state = read_checkpoint(last)
        model.load_state_dict(state["state_dict"])
        ts = state.get("train_state", {})
        step, best = int(ts.get("step", 0)), float(ts.get("best", math.inf))
        if optimizer is not None and ts.get("optimizer"):
            optimizer.load_state_dict(ts["optimizer"])
        log.info("resumed from %s at step %d", last, step)
        return step, best

    def _train_step(self, model, console, loss_fn, optimizer, batch):
        """One optimiser step on ``batch``; returns ``(total loss, loss parts)``."""
        mix, ref, pred, target, mask = self._step_outputs(model, console, batch, _needs_audio(loss_fn))
        total, parts = loss_fn(mix, ref, pred, target, mask)
        optimizer.zero_grad(set_to_none=True)
        total.backward()
        if self.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), self.grad_clip)
        optimizer.step()
        return total, parts

    def _write_metrics(self, step: int, metrics: dict[str, float]) -> None:
        if self.rank == 0:
            self.logger.log(step, metrics)
