"""Release a training checkpoint as shipped weights: the optimiser state dropped, the rest (model
class and kwargs, resolved config, sample rate, parameter table, input contract, code version,
the step and validation metrics it was selected at) kept; prints the file's sha256.

    python scripts/release_checkpoint.py outputs/human-v2/best.pt src/mixdown/weights/default.pt
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import torch

from mixdown.fileio import atomic_write
from mixdown.inference.checkpoint import load_model, read_checkpoint


def main(src: str, dst: str) -> str:
    state = read_checkpoint(src)
    state.get("train_state", {}).pop("optimizer", None)
    atomic_write(dst, lambda tmp: torch.save(state, tmp))
    load_model(dst)  # loads as users will load it
    return hashlib.sha256(Path(dst).read_bytes()).hexdigest()


if __name__ == "__main__":
    print(main(sys.argv[1], sys.argv[2]))
