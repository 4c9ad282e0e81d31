"""``mixdown mix``: the producer's command (thin layer over :mod:`mixdown.inference.pipeline`)."""

from __future__ import annotations

import logging
from pathlib import Path

from mixdown.errors import UsageError

log = logging.getLogger("mixdown.mix")


def add_parser(sub) -> None:
    p = sub.add_parser("mix", help="mix a session folder: predicted settings + the rendered mix",
                       description="Predict console settings for SESSION_DIR's stems and render the mix.")
    p.add_argument("session_dir", type=Path, nargs="?", help="folder of stems (or SESSION/tracks/*)")
    p.add_argument("--out", type=Path, help="output mix (.wav/.flac); default SESSION_DIR/mixdown_mix.wav")
    p.add_argument("--params", type=Path, help="output parameter file; default next to --out")
    p.add_argument("--checkpoint", type=Path, help="model checkpoint (default: the shipped model)")
    p.add_argument("--reference", type=Path, help="reference mix whose balance, tone and dynamics to match")
    p.add_argument("--refine-steps", type=int, default=40, help="gradient steps towards --reference")
    p.add_argument("--lock", action="append", default=[], metavar="TRACK.KEY=VALUE",
                   help="fix a parameter, e.g. vocals.fader_db=-2 or master.output_gain_db=-1 (repeatable)")
    p.add_argument("--target-lufs", type=float, help="normalise to this loudness (true peak <= -1 dBTP)")
    p.add_argument("--report", type=Path, help="write an HTML report of the settings")
    p.add_argument("--batch", type=Path, help="a folder of session folders, or a text file listing them")
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    p.set_defaults(func=_cli_mix)


def _sessions(batch: Path) -> list[Path]:
    if batch.is_file():
        return [Path(line.strip()) for line in batch.read_text().splitlines() if line.strip()]
    return sorted(p for p in batch.iterdir() if p.is_dir())


def _mix_one(session: Path, out: Path, params_path: Path, args, model) -> None:
    from mixdown.dsp.render import measure, write_audio
    from mixdown.inference.pipeline import mix_session
    from mixdown.params.io import write_params

    params, audio = mix_session(session, model, reference=args.reference, locks=args.lock,
                                target_lufs=args.target_lufs, refine_steps=args.refine_steps,
                                device=args.device, progress=args.batch is None)
    write_params(params, params_path)
    write_audio(out, audio, params.sample_rate)
    stats = measure(audio, params.sample_rate)
    log.info("%s -> %s (%.1f LUFS, true peak %.2f dBTP), settings in %s", session, out,
             stats["integrated_lufs"], stats["true_peak_dbtp"], params_path)
    if stats["sample_peak_dbfs"] > 0:
        log.warning("%s peaks at %+.2f dBFS (float file, not clipped)", out, stats["sample_peak_dbfs"])
    if args.report:
        from mixdown.report import write_report

        write_report(args.report if args.batch is None else out.with_suffix(".html"), session, params,
                     reference=args.reference if args.batch is None else None)  # batch: no reference section


def _cli_mix(args) -> int:
    from mixdown.inference.checkpoint import CheckpointError
    from mixdown.inference.predict import load_default_model
    from mixdown.params.io import ParamsError
    from mixdown.session import SessionError

    if (args.session_dir is None) == (args.batch is None):
        raise UsageError("give a SESSION_DIR or --batch LIST_OR_DIR (one of them)")
    try:
        model = load_default_model(args.checkpoint, args.device)
        if args.batch is None:
            out = args.out or args.session_dir / "mixdown_mix.wav"
            _mix_one(args.session_dir, out, args.params or out.with_suffix(".json"), args, model)
            return 0
        from tqdm import tqdm

        sessions = _sessions(args.batch)
        failed = []
        for s in tqdm(sessions, desc="sessions", unit="session"):
            try:
                _mix_one(s, s / "mixdown_mix.wav", s / "mixdown_params.json", args, model)
            except (SessionError, ParamsError, ValueError) as e:
                log.error("%s: %s", s, e)
                failed.append(s)
        if failed:
            raise UsageError(f"{len(failed)} of {len(sessions)} sessions failed: {', '.join(map(str, failed))}")
        return 0
    except (SessionError, ParamsError, CheckpointError, ValueError) as e:
        raise UsageError(str(e)) from e
