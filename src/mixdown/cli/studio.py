"""``mixdown studio``: serve the studio page (:mod:`mixdown.studio`) for a session on the loopback and
open the browser."""

from __future__ import annotations

import logging
import socket
from pathlib import Path

from mixdown.errors import UsageError

log = logging.getLogger("mixdown.studio")


def add_parser(sub) -> None:
    p = sub.add_parser("studio", help="listen, compare and tweak a mix in the browser",
                       description="Serve a local page to edit SESSION_DIR's mix: every console setting, locks, "
                                   "Mix with the model, A/B/C playback, save and export. Binds to 127.0.0.1 only; "
                                   "the URL carries a random access token.")
    p.add_argument("session_dir", type=Path, help="folder of stems (or SESSION/tracks/*)")
    p.add_argument("--checkpoint", type=Path, help="model checkpoint (default: the shipped model)")
    p.add_argument("--reference", type=Path,
                   help="reference mix to compare with (and to refine towards on Mix); without it, a "
                        "reference_mix.* in SESSION_DIR is offered for listening (C)")
    p.add_argument("--params", type=Path,
                   help="parameter file to start from when it exists, and where Save writes (default: "
                        "SESSION_DIR/mixdown_mix.json); exports and the report go beside it")
    p.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: a free one)")
    p.add_argument("--no-browser", action="store_true", help="print the URL, do not open a browser")
    p.add_argument("--check", action="store_true",
                   help="read the session, parameter file, reference and checkpoint as the page would, report "
                        "what is wrong (exit 2) or that all is well (exit 0), and serve nothing")
    p.set_defaults(func=_cli_studio)


def _bind(port: int) -> socket.socket:
    if not 0 <= port <= 65535:
        raise UsageError(f"--port {port}: must be 0 .. 65535 (0 picks a free port)")
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(("127.0.0.1", port))
        sock.listen(128)  # connections wait in the backlog from now on: the address is logged before the server runs
    except OSError as e:
        sock.close()
        raise UsageError(f"--port {port}: cannot listen on 127.0.0.1 ({e.strerror}); pick another port or 0") from e
    return sock


def _check(args) -> int:
    """``--check``: open the session as the page would, decode every track (the page reads them as it
    plays) and load the model it would mix with; exit 0, or 2 naming what is wrong."""
    from mixdown.studio import backend as B
    from mixdown.studio.service import Paths, Studio

    studio = Studio(Paths.resolve(args.session_dir, args.params, args.reference), args.checkpoint)
    B.read_all(studio.session)
    if studio.first_mix or args.checkpoint is not None:
        studio.model()
    log.info("%s: %d tracks at %d Hz%s; the studio can open it", args.session_dir, len(studio.session.names),
             studio.session.sample_rate, "" if studio.first_mix else f", settings from {studio.paths.params}")
    return 0


def _cli_studio(args) -> int:
    if args.check:
        return _check(args)
    try:
        import uvicorn

        from mixdown.studio.app import build_app, error_app
    except ImportError as e:
        raise UsageError(f"mixdown studio needs Starlette and uvicorn ({e}); install them with "
                       "pip install 'mixdown[studio]'") from e
    from mixdown.studio.guard import loopback_hosts, new_token
    from mixdown.studio.service import Paths, Studio

    sock = _bind(args.port)
    port = sock.getsockname()[1]
    token, hosts = new_token(), loopback_hosts(port)
    studio = None
    try:
        studio = Studio(Paths.resolve(args.session_dir, args.params, args.reference), args.checkpoint)
        app = build_app(studio, token, hosts)
        studio.start()
    except UsageError as e:  # bad input: the page says what is wrong
        log.error("%s", e)
        app = error_app(str(e), token, hosts)
    url = f"http://127.0.0.1:{port}/s/{token}/"
    log.info("mixdown studio at %s (Ctrl+C stops it)", url)
    if not args.no_browser:
        import webbrowser

        webbrowser.open(url)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    try:
        server.run(sockets=[sock])
    finally:
        if studio is not None:
            studio.engine.stop()
        sock.close()
    return 0
