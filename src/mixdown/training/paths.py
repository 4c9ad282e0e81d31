"""Where data and outputs live (configured in ``configs/paths/``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass
class Paths:
    root_dir: str
    data_dir: str
    output_dir: str
    corpora_dir: str | None = None  # built corpora (e.g. the human-mixed pairs)

    def __post_init__(self) -> None:
        Path(self.output_dir).mkdir(parents=True, exist_ok=True)
