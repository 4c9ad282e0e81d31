"""Metric logging: a CSV file (always readable) and TensorBoard (when installed). Rank 0 only."""

from __future__ import annotations

import csv
import logging
from pathlib import Path

log = logging.getLogger(__name__)


class MetricLogger:
    """Args: csv, tensorboard: which sinks to write. ``bind(out_dir)`` before ``log``."""

    def __init__(self, csv: bool = True, tensorboard: bool = True):
        self.csv, self.tensorboard = csv, tensorboard
        self.out_dir: Path | None = None
        self._tb = None

    def bind(self, out_dir: str | Path) -> "MetricLogger":
        self.out_dir = Path(out_dir)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        if self.tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError:
                log.warning("tensorboard is not installed; metrics go to metrics.csv only")
            else:
                self._tb = SummaryWriter(str(self.out_dir / "tensorboard"))
        return self

    def log(self, step: int, metrics: dict[str, float]) -> None:
        if self.out_dir is None:
            raise RuntimeError("MetricLogger.bind(out_dir) must be called first")
        if self.csv:
            path = self.out_dir / "metrics.csv"
            new = not path.exists()
            with open(path, "a", newline="") as fh:
                w = csv.writer(fh)
                if new:
                    w.writerow(["step", "name", "value"])
                w.writerows([step, k, f"{v:.6g}"] for k, v in metrics.items())
        if self._tb is not None:
            for k, v in metrics.items():
                self._tb.add_scalar(k, v, step)
            self._tb.flush()
