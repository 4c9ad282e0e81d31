"""Train the Engineer model's decisions on MixologyDB's engineers (issue 24).

    python scripts/train_engineer.py --out runs/engineer/engineer.pt [--steps 2000] \
        [--validate "Vermont,Lolita,Sea Of Leaves"] [--base src/mixdown/weights/human-v3.pt]

    python scripts/train_engineer.py --from src/mixdown/weights/engineer-v2.pt --out engineer-v4.pt \
        --wetness sent --highpass-loss-db 1 --keep-mix-tone --switch-shrink 0.5 --stereo-centred \
        --compressor-scale 0.6   # engineer-v4: no training (engineer-v3: without the last)

    python scripts/train_engineer.py --from src/mixdown/weights/engineer-v4.pt --out engineer-v5.pt \
        --wetness sent --highpass-loss-db 1 --keep-mix-tone --switch-shrink 0.5 --stereo-centred \
        --compressor-scale 0.6 --kit-low-end   # engineer-v5, the default

The decision benchmark's test songs are always left out. With ``--validate`` those songs are left
out too and scored every ``--every`` steps (the errors of :func:`mixdown.decisions.system_errors`
without audio, from the songs' track lists): how the recipe was chosen. Prints the final losses
and the validation history as one JSON line. About 2 minutes on one CPU core.
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path


def main() -> None:
    import torch

    from mixdown.data.mixology import DEFAULT_PATH, TEST_SONGS, read_mixologydb
    from mixdown.training.engineer import train_engineer, with_mixing

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, required=True)
    p.add_argument(
        "--base",
        type=Path,
        default=Path(__file__).resolve().parents[1] / "src/mixdown/weights/human-v3.pt",
        help="the Mixformer whose master bus the model keeps (default: the shipped human-v3)",
    )
    p.add_argument("--mixologydb", type=Path, default=DEFAULT_PATH)
    p.add_argument("--steps", type=int, default=2000)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--d-model", type=int, default=64)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--recipe",
        type=int,
        default=2,
        choices=(1, 2),
        help="1: every decision from the drawn engineer's style (engineer-v1); 2: the engineers' median "
        "settings, each switch (high-pass, compressor, send) taken with the engineers' odds, the base's balance",
    )
    p.add_argument(
        "--eq-scale",
        type=float,
        default=1.0,
        help="recipe 2: the share (0 to 1) of the drawn engineer's EQ gains to apply (engineer-v2: 0.35)",
    )
    p.add_argument("--wetness", choices=("bus", "sent"), default="bus",
                   help="recipe 2's reverb return: the base's whole wetness on the tracks sent (bus, engineer-v2) "
                   "or each sent track as wet as the base made it (sent)")
    p.add_argument("--highpass-loss-db", type=float, default=0.0,
                   help="recipe 2: the most a taken high-pass may take off a track's power, dB "
                   "(0: no limit; engineer-v3: 1)")
    p.add_argument("--keep-mix-tone", action="store_true",
                   help="recipe 2: the master EQ undoes what the strips' EQs together change in the mix's tone")
    p.add_argument("--switch-shrink", type=float, default=0.0,
                   help="recipe 2: move each switch's odds this far (0 to 1) towards the training engineers' "
                   "share on the track's part (0: the network's alone)")
    p.add_argument("--stereo-centred", action="store_true",
                   help="recipe 2: a track heard as stereo keeps its balance (pan 0)")
    p.add_argument("--compressor-scale", type=float, default=1.0,
                   help="recipe 2: a taken compressor's gain reduction above its threshold (slope 1 - 1/ratio) "
                   "times this, above 0 and at most 1, at least 2:1's (1: the network's; engineer-v4: 0.6)")
    p.add_argument("--kit-low-end", action="store_true",
                   help="recipe 2: no high-pass on overheads (or a whole kit on one track) where the line-up has "
                   "no kick track (engineer-v5)")
    p.add_argument("--from", dest="source", type=Path,
                   help="no training: write --out as this recipe-2 checkpoint with the mixing options above")
    p.add_argument("--validate", default="", help="comma-separated training songs to hold out and score")
    p.add_argument("--every", type=int, default=250)
    p.add_argument("--weights", default="", help='loss weights by term, e.g. "eq=3,reverb_send_db=2" (default 1 each)')
    p.add_argument(
        "--standins",
        type=Path,
        help="stand-in sessions to hear the songs from (rendered there when "
        "missing; e.g. the folder mixdown evaluate --decisions keeps); default: the raw loudness",
    )
    p.add_argument("--threads", type=int, default=1, help="torch threads (the network is small: 1 is fastest)")
    args = p.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    torch.set_num_threads(args.threads)
    mixing = {"wetness": args.wetness, "highpass_loss_db": args.highpass_loss_db, "keep_mix_tone": args.keep_mix_tone,
              "switch_shrink": args.switch_shrink, "stereo_centred": args.stereo_centred,
              "compressor_scale": args.compressor_scale, "kit_low_end": args.kit_low_end}
    if not 0.0 <= args.switch_shrink <= 1.0:
        raise SystemExit(f"--switch-shrink {args.switch_shrink}: 0 (the network's odds) to 1 (the parts' odds)")
    if not 0.0 < args.compressor_scale <= 1.0:
        raise SystemExit(f"--compressor-scale {args.compressor_scale}: above 0 and at most 1 (1: the network's ratios)")
    if not 0.0 <= args.highpass_loss_db <= 24.0:
        raise SystemExit(f"--highpass-loss-db {args.highpass_loss_db}: 0 (no limit) to 24 dB (e.g. 1)")
    if args.source is not None:
        if not args.source.is_file():
            raise SystemExit(f"--from {args.source}: no such checkpoint")
        args.out.parent.mkdir(parents=True, exist_ok=True)
        try:
            sha = with_mixing(args.source, args.out, mixing)
        except ValueError as e:
            raise SystemExit(str(e)) from None
        print(json.dumps({"out": str(args.out), "sha256_12": sha, "mixing": mixing}))
        return
    if not 0.0 <= args.eq_scale <= 1.0:
        raise SystemExit(f"--eq-scale {args.eq_scale}: give the share of the engineers' EQ gains, 0 to 1 (e.g. 0.35)")
    validate = tuple(s.strip() for s in args.validate.split(",") if s.strip())
    db = read_mixologydb(args.mixologydb)
    unknown = sorted(set(validate) - set(db.songs()))
    if unknown or set(validate) & set(TEST_SONGS):
        raise SystemExit(
            f"--validate: {unknown or sorted(set(validate) & set(TEST_SONGS))} are not training songs "
            f"of {args.mixologydb} (songs: {', '.join(s for s in db.songs() if s not in TEST_SONGS)})"
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    weights = {k.strip(): float(v) for k, v in (w.split("=") for w in args.weights.split(",") if w.strip())}
    result = train_engineer(
        db,
        args.base,
        args.out,
        steps=args.steps,
        batch=args.batch,
        lr=args.lr,
        seed=args.seed,
        d_model=args.d_model,
        songs_out=TEST_SONGS + validate,
        validate=validate,
        every=args.every,
        weights=weights,
        standins=args.standins,
        recipe=args.recipe,
        eq_scale=args.eq_scale,
        mixing=mixing,
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
