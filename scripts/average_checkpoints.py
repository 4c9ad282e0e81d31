"""Average the weights of checkpoints of one model (a "model soup": checkpoints of one training
run, or fine-tuned from one another, averaged tensor by tensor), written as one checkpoint.

The inputs must hold the same model class, kwargs, parameter table and tensor names and shapes;
the output keeps the first input's description (config, sample rate, input contract, code
version) without optimiser state and records what it averaged (``averaged_from``: file name,
sha256, training step and validation loss of each input). Prints the output's sha256 and a JSON line.

    python scripts/average_checkpoints.py OUT.pt IN1.pt IN2.pt [IN3.pt ...]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
from pathlib import Path

import torch

from mixdown.fileio import atomic_write
from mixdown.inference.checkpoint import CheckpointError, load_model, read_checkpoint

log = logging.getLogger("average_checkpoints")


def average_checkpoints(out: str | Path, inputs: list[str | Path]) -> str:
    """Write the tensor-by-tensor mean of ``inputs`` to ``out``; returns the output's sha256."""
    if len(inputs) < 2:
        raise ValueError("give at least two checkpoints to average")
    states = [read_checkpoint(p) for p in inputs]
    first = states[0]
    for path, state in zip(inputs[1:], states[1:]):
        for key in ("model", "track_specs", "master_specs", "sample_rate"):
            if state[key] != first[key]:
                raise CheckpointError(f"{path}: its {key} differs from {inputs[0]}'s; only checkpoints of one "
                                      "model (same class, kwargs, parameter table, sample rate) can be averaged")
        mine, theirs = first["state_dict"], state["state_dict"]
        if set(mine) != set(theirs) or any(mine[k].shape != theirs[k].shape for k in mine):
            raise CheckpointError(f"{path}: its tensors differ in names or shapes from {inputs[0]}'s")
    mean = {}
    for k, v in first["state_dict"].items():
        if v.is_floating_point():
            mean[k] = torch.stack([s["state_dict"][k].double() for s in states]).mean(0).to(v.dtype)
        else:  # integer buffers (counters): the first's
            mean[k] = v.clone()
    record = []
    for path, state in zip(inputs, states):
        train_state = state.get("train_state", {})
        record.append({"file": Path(path).name, "sha256": hashlib.sha256(Path(path).read_bytes()).hexdigest(),
                       "step": train_state.get("step"),
                       "val_loss": (train_state.get("metrics") or {}).get("val/loss")})
    result = {k: v for k, v in first.items() if k not in ("state_dict", "train_state")}
    result["state_dict"] = mean
    result["averaged_from"] = record
    atomic_write(out, lambda tmp: torch.save(result, tmp))
    load_model(out)  # loads as users will load it
    return hashlib.sha256(Path(out).read_bytes()).hexdigest()


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("inputs", type=Path, nargs="+")
    args = ap.parse_args()
    try:
        digest = average_checkpoints(args.out, args.inputs)
    except (CheckpointError, ValueError) as e:
        log.error("%s", e)
        raise SystemExit(2) from None
    log.info("%s: mean of %d checkpoints, sha256 %s", args.out, len(args.inputs), digest)
    print(json.dumps({"out": str(args.out), "inputs": [str(p) for p in args.inputs], "sha256": digest}))


if __name__ == "__main__":
    main()
