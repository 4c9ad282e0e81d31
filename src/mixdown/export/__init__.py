"""Export a parameter file's console settings as a DAW project: DAWproject or REAPER.

``mixdown export PARAMS.json --format dawproject|reaper --out FILE [--session DIR]``

Both exports put one audio track per stem (the stem file from time 0, full length) with its
fader and pan, plus the master bus. How much of the rest a DAW reproduces differs per format:

* **DAWproject** (``.dawproject``: a ZIP with ``project.xml`` and ``metadata.xml``, optionally the
  stems under ``audio/``), the open exchange format of Bitwig Studio, Studio One and Cubase, read
  against the official schema (``tests/schemas/Project.xsd``, bitwig/dawproject). Each channel
  carries the format's built-in ``Equalizer`` (high-pass + 6 bands, input gain) and
  ``Compressor`` devices; the importing DAW maps them onto its own EQ and compressor, so the
  sound is close to ours but not sample-identical (filter shapes, detector and knee differ).
* **REAPER** (``.RPP``, plain text): tracks, media items, input gain (item volume), fader and pan
  are set exactly. Every track gets an FX chain of **ReaEQ** (high-pass + the 6 bands) then
  **ReaComp**, the master a ``MASTERFXLIST`` of ReaEQ (6 bands) then ReaComp, carrying our
  settings in the plug-ins' binary state (base64 in the ``<VST`` blocks; layout in
  :mod:`mixdown.export.reaper`). The settings are also listed in the project notes (View > Project
  notes), with the approximations.

Formats: :mod:`mixdown.export.dawproject` and :mod:`mixdown.export.reaper` (their docstrings
table every mapping whose units differ from ours, and the limitations).
"""

from __future__ import annotations

import logging
from pathlib import Path

from mixdown.export.dawproject import dawproject_xml, export_dawproject
from mixdown.export.reaper import export_reaper, reacomp_state, reaeq_state, reaper_rpp

__all__ = ["FORMATS", "dawproject_xml", "export_dawproject", "export_reaper", "reacomp_state", "reaeq_state",
           "reaper_rpp", "add_parser"]
log = logging.getLogger(__name__)

FORMATS = {"dawproject": ".dawproject", "reaper": ".rpp"}


def add_parser(sub) -> None:
    p = sub.add_parser("export", help="write a parameter file's settings as a DAW project",
                       description="Write the console settings of PARAMS.json as a DAWproject (Bitwig, "
                                   "Studio One, Cubase) or REAPER project referring to the session's stems.")
    p.add_argument("params", type=Path, help="mixdown.params/1 JSON file")
    p.add_argument("--format", choices=sorted(FORMATS), help="project format (default: from --out's suffix)")
    p.add_argument("--out", type=Path, required=True, help="project file to write (.dawproject or .RPP)")
    p.add_argument("--session", type=Path, help="folder the stems' paths are relative to "
                                                "(default: the parameter file's folder)")
    p.add_argument("--embed-audio", action="store_true", help="dawproject: copy the stems into the file")
    p.set_defaults(func=_cli_export)


def _cli_export(args) -> int:
    from mixdown.cli import CliError
    from mixdown.params.io import ParamsError, read_params
    from mixdown.session import SessionError

    fmt = args.format or next((k for k, suf in FORMATS.items() if args.out.suffix.lower() == suf), None)
    if fmt is None:
        raise CliError(f"{args.out}: cannot tell the format from the suffix; give --format dawproject|reaper")
    try:
        params = read_params(args.params)
    except ParamsError as e:
        raise CliError(str(e)) from e
    session = args.session if args.session is not None else args.params.parent
    if not session.is_dir():
        raise CliError(f"{session}: session folder not found; give --session DIR")
    try:
        if fmt == "dawproject":
            path = export_dawproject(params, session, args.out, embed_audio=args.embed_audio)
        else:
            path = export_reaper(params, session, args.out)
    except SessionError as e:
        raise CliError(str(e)) from e
    log.info("wrote %s (%s, %d tracks + master)", path, fmt, len(params.tracks))
    return 0
