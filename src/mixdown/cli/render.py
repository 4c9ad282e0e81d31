"""``mixdown render``: render a session folder with a parameter file (:func:`mixdown.dsp.render.render_to_file`)."""

from __future__ import annotations

import logging
from pathlib import Path

from mixdown.errors import UsageError

log = logging.getLogger("mixdown.render")


def add_parser(sub) -> None:
    p = sub.add_parser("render", help="render a session folder with a parameter file",
                       description="Render SESSION_DIR with the console settings in PARAMS.json.")
    p.add_argument("session_dir", type=Path)
    p.add_argument("--params", type=Path, required=True, help="mixdown.params/2 (or /1) JSON file")
    p.add_argument("--out", type=Path, required=True, help="output stereo audio file (.wav, .flac)")
    p.add_argument("--bit-depth", choices=("32f", "24", "16"), default=None,
                   help="output sample format (default: 32-bit float in .wav, which never clips; 24-bit in .flac)")
    p.add_argument("--resample", action="store_true",
                   help="resample tracks whose sample rate differs from the parameter file's")
    p.add_argument("--allow-outside-session", action="store_true",
                   help="read 'file' entries that lie outside SESSION_DIR (absolute paths, ../, symbolic links)")
    p.set_defaults(func=_cli_render)


def _cli_render(args) -> int:
    from mixdown.dsp.render import render_to_file
    from mixdown.outputs import audio_subtype, check_outputs
    from mixdown.params.io import read_params
    from mixdown.session import SessionError, track_path

    if not args.session_dir.is_dir():
        raise UsageError(f"{args.session_dir}: session folder not found; check the path "
                       "(the parameter file's 'file' entries are relative to it)")
    # refuse an output the file format cannot hold before rendering, not after
    check_outputs([("--out", args.out)], [("--params", args.params)])
    subtype = audio_subtype(args.out, args.bit_depth)
    params = read_params(args.params)
    tracks = []
    for t in params.tracks:
        try:
            tracks.append((f"track {t.name!r}", track_path(args.session_dir, t.file,
                                                            allow_outside=args.allow_outside_session)))
        except SessionError:
            pass  # reported with its fix by render_to_file
    check_outputs([("--out", args.out)], [("--params", args.params), *tracks])
    stats = render_to_file(args.session_dir, params, args.out, subtype, args.resample, progress=True,
                           allow_outside_session=args.allow_outside_session)
    log.info("wrote %s: %d frames at %d Hz", args.out, stats["frames"], params.sample_rate)
    log.info("loudness %.1f LUFS, true peak %.2f dBTP, sample peak %.2f dBFS",
             stats["integrated_lufs"], stats["true_peak_dbtp"], stats["sample_peak_dbfs"])
    return 0
