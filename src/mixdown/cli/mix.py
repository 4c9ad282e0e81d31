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
    p.add_argument("--out", type=Path, help="output mix: .wav (32-bit float) or .flac (24-bit); default "
                                            "SESSION_DIR/mixdown_mix.wav (never read back as a track)")
    p.add_argument("--params", type=Path, help="output parameter file; default next to --out")
    p.add_argument("--checkpoint", type=Path, help="model checkpoint (default: the shipped model)")
    p.add_argument("--reference", type=Path, help="reference mix whose balance, tone and dynamics to match")
    p.add_argument("--refine-steps", type=int, default=40, help="gradient steps towards --reference")
    p.add_argument("--lock", action="append", default=[], metavar="TRACK.KEY=VALUE",
                   help="fix a parameter, e.g. vocals.fader_db=-2 or master.output_gain_db=-1 (repeatable)")
    p.add_argument("--target-lufs", type=float, help="normalise to this loudness (LUFS); the master limiter "
                   "holds the true peak at -1 dBTP where the gain would pass it")
    p.add_argument("--report", type=Path, help="write an HTML report of the settings")
    p.add_argument("--batch", type=Path, help="a folder of session folders, or a text file listing them")
    p.add_argument("--take", type=int, metavar="K",
                   help="another engineer's way of mixing the session: the K-th take of a model that draws one "
                        "(the shipped default does; 0 is the take it gives unasked). Takes differ in which tracks "
                        "get a high-pass, a compressor or a reverb send and in their EQs; the same K, the same mix")
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    p.add_argument("--allow-outside-session", action="store_true",
                   help="accept tracks that are links to files outside SESSION_DIR")
    p.set_defaults(func=_cli_mix)


def _sessions(batch: Path) -> list[Path]:
    if batch.is_file():
        try:
            text = batch.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise UsageError(f"{batch}: cannot read the list of sessions ({e}); give a text file with one "
                           "session folder per line, or a folder of session folders") from None
        return [Path(line.strip()) for line in text.splitlines() if line.strip()]
    if not batch.is_dir():
        raise UsageError(f"{batch}: not found; give a folder of session folders or a text file listing them")
    return sorted(p for p in batch.iterdir() if p.is_dir())


def _session_inputs(session: Path) -> list[tuple[str, Path]]:
    """The audio files of a session folder that outputs must not replace (its tracks; a mix that
    mixdown wrote there is an earlier output, which may be replaced)."""
    from mixdown.outputs import is_mixdown_audio
    from mixdown.session import is_audio

    out = []
    for root in (session, session / "tracks"):
        if root.is_dir():
            out += [(f"track file {p.name!r}", p) for p in sorted(root.iterdir())
                    if p.is_file() and is_audio(p) and not is_mixdown_audio(p)]
    return out


def _mix_one(session: Path, out: Path, params_path: Path, args, model, report: Path | None) -> None:
    """Mix one session; the mix and its settings are published together (:func:`atomic_write_all`)."""
    import secrets

    from mixdown.fileio import atomic_write_all
    from mixdown.inference.pipeline import mix_session
    from mixdown.outputs import OutputPathError, audio_subtype, check_output_folder, check_outputs, write_tagged_audio
    from mixdown.params.io import params_text

    outputs = [("--out", out), ("--params", params_path)] + ([("--report", report)] if report else [])
    inputs = _session_inputs(session) + [(f"--{k}", v) for k in ("reference", "checkpoint")
                                         if (v := getattr(args, k)) is not None]
    check_outputs(outputs, inputs)  # every output, before any work: nothing is written for a refused run
    if params_path.suffix.lower() != ".json":
        raise OutputPathError(f"--params {params_path}: a parameter file is JSON; name it .json")
    if report:
        check_output_folder("--report", report.parent / f"{report.stem}_figures")
    subtype = audio_subtype(out)
    stats: dict[str, float] = {}
    params, audio = mix_session(session, model, reference=args.reference, locks=args.lock,
                                target_lufs=args.target_lufs, refine_steps=args.refine_steps,
                                device=args.device, progress=args.batch is None,
                                allow_outside_session=args.allow_outside_session, stats=stats, take=args.take)
    run_id = secrets.token_hex(8)
    notes = params.extra.get("notes")
    params.extra["notes"] = {**(notes if isinstance(notes, dict) else {}), "run_id": run_id}
    text = params_text(params, f"the settings predicted for {session}")
    atomic_write_all([(out, lambda tmp: write_tagged_audio(tmp, audio, params.sample_rate, subtype, run_id)),
                      (params_path, lambda tmp: tmp.write_text(text, encoding="utf-8"))])
    log.info("%s -> %s (%.1f LUFS, true peak %.2f dBTP), settings in %s", session, out,
             stats["integrated_lufs"], stats["true_peak_dbtp"], params_path)
    if stats["sample_peak_dbfs"] > 0:
        how = "float file, not clipped" if subtype == "FLOAT" else \
            f"CLIPPED by the {subtype} samples of {out.suffix} files; write a .wav file or lower the level"
        log.warning("%s peaks at %+.2f dBFS (%s)", out, stats["sample_peak_dbfs"], how)
    if report:
        from mixdown.report import write_report

        write_report(report, session, params, reference=args.reference if args.batch is None else None)


def _cli_mix(args) -> int:
    from mixdown.inference.pipeline import check_take
    from mixdown.inference.predict import load_default_model

    if (args.session_dir is None) == (args.batch is None):
        raise UsageError("give a SESSION_DIR or --batch LIST_OR_DIR (one of them)")
    if args.batch is not None and (args.out or args.params):
        raise UsageError("--out and --params name one session's outputs; with --batch each session gets "
                       "SESSION/mixdown_mix.wav and SESSION/mixdown_params.json")
    if args.batch is None:
        if not args.session_dir.is_dir():
            raise UsageError(f"{args.session_dir}: session folder not found")
        out = args.out or args.session_dir / "mixdown_mix.wav"
        model = load_default_model(args.checkpoint, args.device)
        _mix_one(args.session_dir, out, args.params or out.with_suffix(".json"), args, model, args.report)
        return 0
    sessions = _sessions(args.batch)
    model = load_default_model(args.checkpoint, args.device)
    check_take(model, args.take)  # one answer for every session, before any
    from tqdm import tqdm

    failed, broken = [], []
    for s in tqdm(sessions, desc="sessions", unit="session"):
        try:
            _mix_one(s, s / "mixdown_mix.wav", s / "mixdown_params.json", args, model,
                     (s / "mixdown_mix.html") if args.report else None)
        except UsageError as e:  # bad input in this session: the others are still mixed
            log.error("%s: %s", s, e)
            failed.append(s)
        except Exception:  # a bug: reported with its traceback, the other sessions still mixed
            log.exception("%s: internal error (a bug in mixdown; please report it with this traceback)", s)
            broken.append(s)
    if broken:
        log.error("%d of %d sessions hit an internal error: %s", len(broken), len(sessions),
                  ", ".join(map(str, broken)))
    if failed:
        log.error("%d of %d sessions failed: %s", len(failed), len(sessions), ", ".join(map(str, failed)))
    return 1 if broken else 2 if failed else 0
