"""``mixdown export``: a parameter file's settings as a DAW project (:mod:`mixdown.export`)."""

from __future__ import annotations

import logging
from pathlib import Path

from mixdown.errors import UsageError
from mixdown.export import FORMATS

log = logging.getLogger("mixdown.export")


def add_parser(sub) -> None:
    p = sub.add_parser("export", help="write a parameter file's settings as a DAW project",
                       description="Write the console settings of PARAMS.json as a DAWproject (Bitwig, "
                                   "Studio One, Cubase) or REAPER project referring to the session's stems.")
    p.add_argument("params", type=Path, help="mixdown.params/2 (or /1) JSON file")
    p.add_argument("--format", choices=sorted(FORMATS), help="project format (default: from --out's suffix)")
    p.add_argument("--out", type=Path, required=True, help="project file to write (.dawproject or .RPP)")
    p.add_argument("--session", type=Path, help="folder the stems' paths are relative to "
                                                "(default: the parameter file's folder)")
    p.add_argument("--embed-audio", action="store_true", help="dawproject: copy the stems into the file")
    p.add_argument("--allow-outside-session", action="store_true",
                   help="accept 'file' entries that lie outside the session folder (absolute paths, ../, links)")
    p.set_defaults(func=_cli_export)


def _cli_export(args) -> int:
    from mixdown.export import export_dawproject, export_reaper
    from mixdown.export.common import reverb_settings
    from mixdown.export.reaper import reaper_ir_path
    from mixdown.outputs import check_outputs
    from mixdown.params.io import read_params
    from mixdown.session import SessionError, track_path

    # before anything else: an output that would destroy the input is the first thing to say
    check_outputs([("--out", args.out)], [("the parameter file", args.params)])
    fmt = args.format or next((k for k, suf in FORMATS.items() if args.out.suffix.lower() == suf), None)
    if fmt is None:
        raise UsageError(f"{args.out}: cannot tell the format from the suffix; give --format dawproject|reaper")
    params = read_params(args.params)
    session = args.session if args.session is not None else args.params.parent
    if not session.is_dir():
        raise UsageError(f"{session}: session folder not found; give --session DIR")
    tracks = []
    for t in params.tracks:
        try:
            tracks.append((f"track {t.name!r}", track_path(session, t.file, allow_outside=args.allow_outside_session)))
        except SessionError:
            pass  # reported with its fix by the exporter
    outputs = [("--out", args.out)]
    ir = reaper_ir_path(params, args.out) if fmt == "reaper" else None
    if ir is not None:  # written beside the project: an output like it
        outputs.append(("the reverb's impulse response (written beside --out)", ir))
    check_outputs(outputs, [("the parameter file", args.params), *tracks])
    if fmt == "dawproject":
        path = export_dawproject(params, session, args.out, embed_audio=args.embed_audio,
                                 allow_outside_session=args.allow_outside_session)
    else:
        path = export_reaper(params, session, args.out, allow_outside_session=args.allow_outside_session)
    log.info("wrote %s (%s, %d tracks%s + master)", path, fmt, len(params.tracks),
             "" if reverb_settings(params) is None else " + reverb return")
    return 0
