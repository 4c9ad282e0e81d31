"""The studio's HTTP API (Starlette) over :class:`~mixdown.studio.service.Studio`.

Every path lives below ``/s/<token>/`` (see :mod:`mixdown.studio.guard`). Request bodies are
JSON objects; every refusal is a 4xx with ``{"error": message}`` naming what was wrong, and an
unexpected failure a 500 whose message points at the server log, never a traceback.

=======  ======================  ==========================================================
method   path                    what
=======  ======================  ==========================================================
GET      ``/``                   the page
GET      ``/static/...``         the page's scripts and styles (package data)
GET      ``/api/state``          session, spec table, settings, locks, paths
GET      ``/api/status``         versions of the loop and full renders, meters, jobs; with ``?wait_s=S&tag=T``
                                 it answers once its ``tag`` differs from ``T`` (a render, its meters, a
                                 job or an error came) or after S seconds (at most 5): the page learns
                                 of a new render at once instead of at its next poll
POST     ``/api/params``         ``{"changes": [{"target", "key", "value"}], "if_version"?}``
POST     ``/api/locks``          ``{"target", "key", "locked"}``
POST     ``/api/monitor``        ``{"mute": [names], "solo": [names]}``
POST     ``/api/loop``           ``{"start_s", "end_s"}``
POST     ``/api/curves``         ``{"target", "values"?}``: EQ response and compressor curve
POST     ``/api/mix``            ``{"take"?}``: the model's mix (``take``: another engineer's way)
POST     ``/api/reset|undo|redo``
GET      ``/api/audio/{scope}/{source}.wav``  scope ``loop|full``, source ``mix|raw|reference``
GET      ``/api/audio/{scope}/{source}.f32``  the same samples as raw float32 (little-endian, interleaved
                                 stereo; headers ``x-mixdown-frames``, ``x-mixdown-sample-rate``): the page
                                 builds its buffer from them without decoding a WAV
GET      ``/api/overview``       peaks of the raw sum for the timeline
GET      ``/api/strips/{scope}``  the strips' meters of the loop or full render (levels, gain reduction)
POST     ``/api/save``, ``/api/export`` (``{"format"}``), ``/api/report``; GET ``/api/report``
=======  ======================  ==========================================================
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import math
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from mixdown.errors import UsageError
from mixdown.studio import backend as B
from mixdown.studio.guard import Guard
from mixdown.studio.service import EXPORT_SUFFIXES, Busy, Studio
from mixdown.studio.state import MASTER, EditError

log = logging.getLogger(__name__)

STATIC = Path(__file__).resolve().parent / "static"
MAX_BODY = 1 << 20
MAX_WAIT_S = 5.0
WAIT_POLL_S = 0.004  # how often a waiting status request looks at the engine
PAGE_CSP = ("default-src 'self'; img-src 'self' data:; media-src 'self' blob:; connect-src 'self'; "
            "style-src 'self'; script-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'")
REPORT_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'"


def _err(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers={"cache-control": "no-store"})


async def _json(request: Request) -> dict[str, Any]:
    body = await request.body()
    if len(body) > MAX_BODY:
        raise HTTPException(413, f"request body over {MAX_BODY} bytes")
    if not body:
        return {}
    try:
        doc = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise HTTPException(400, f"request body is not valid JSON ({e})") from None
    except RecursionError:
        raise HTTPException(400, "request body nests JSON arrays or objects too deeply") from None
    if not isinstance(doc, dict):
        raise HTTPException(400, f"request body must be a JSON object, got {type(doc).__name__}")
    return doc


def _field(doc: dict, key: str, typ, what: str):
    if key not in doc:
        raise HTTPException(400, f"missing field {key!r} ({what})")
    v = doc[key]
    ok = isinstance(v, typ) and not (isinstance(v, bool) and typ is not bool)
    if not ok or (isinstance(v, float) and not math.isfinite(v)):
        raise HTTPException(400, f"field {key!r} must be {what}, got {v!r}")
    return v


def build_app(studio: Studio, token: str, hosts: set[str]) -> Guard:
    """The ASGI app for ``studio``: the routes, wrapped in the :class:`Guard`."""
    audio_cache: dict[tuple, tuple] = {}  # (scope, source) -> (what it was made from, WAV bytes)

    async def page(request: Request) -> Response:
        return FileResponse(STATIC / "index.html", headers={"content-security-policy": PAGE_CSP,
                                                             "cache-control": "no-store"})

    async def state(request: Request) -> Response:
        return JSONResponse({**studio.describe(), **studio.state.snapshot(), **_monitor()})

    def _monitor() -> dict:
        e = studio.engine
        return {"mute": sorted(e.mute), "solo": sorted(e.solo),
                "loop_region": [e.region[0] / e.sr, e.region[1] / e.sr]}

    def _render_info(r) -> dict | None:
        if r is None:
            return None
        return {"version": r.version, "key": list(r.key), "start_s": r.start_s,
                "seconds": round(r.seconds, 4), "frames": int(r.audio["mix"].shape[0]),
                "sources": sorted(r.audio), "meters": r.meters or None, "serial": r.serial}

    def _tag() -> str:
        """What the page has seen when its status carries this tag: the renders (and whether their
        meters are in), the settings, the job, the error, the monitoring and the region."""
        e = studio.engine
        renders = [(r.serial, bool(r.meters), r.strips is not None) if r is not None else None
                   for r in (e.loop, e.full)]
        return str(hash((*renders, studio.state.version, e.key(), studio.job, e.error, e.full_busy,
                         studio.mixing_first, e.region)))

    async def status(request: Request) -> Response:
        e = studio.engine
        q = request.query_params
        if "wait_s" in q:
            try:
                wait = min(max(float(q["wait_s"]), 0.0), MAX_WAIT_S)
            except ValueError:
                raise HTTPException(400, f"wait_s must be seconds, a number; got {q['wait_s']!r}") from None
            deadline = asyncio.get_running_loop().time() + wait
            while _tag() == q.get("tag") and asyncio.get_running_loop().time() < deadline:
                await asyncio.sleep(WAIT_POLL_S)
        return JSONResponse({"version": studio.state.version, "key": list(e.key()), "job": studio.job,
                             "loop": _render_info(e.loop), "full": _render_info(e.full),
                             "full_busy": e.full_busy, "error": e.error, "mixing_first": studio.mixing_first,
                             "tag": _tag(), **_monitor()}, headers={"cache-control": "no-store"})

    async def params(request: Request) -> Response:
        doc = await _json(request)
        changes = studio.state.parse(doc.get("changes"))
        want = doc.get("if_version")
        if want is not None and want != studio.state.version:
            return _err(409, f"the settings changed since version {want} (now {studio.state.version}); "
                             "reload them and edit again")
        gesture = doc.get("gesture")
        if gesture is not None and not isinstance(gesture, str):
            raise HTTPException(400, f"field 'gesture' must be a string, got {gesture!r}")
        version = studio.state.apply(changes, gesture)
        studio.engine.poke()
        return JSONResponse({"version": version, **studio.state.snapshot()})

    async def locks(request: Request) -> Response:
        doc = await _json(request)
        studio.state.set_lock(_field(doc, "target", str, "a track name or 'master'"),
                              _field(doc, "key", str, "a parameter name"),
                              _field(doc, "locked", bool, "true or false"))
        return JSONResponse(studio.state.snapshot())

    async def monitor(request: Request) -> Response:
        doc = await _json(request)
        sets = {}
        for k in ("mute", "solo"):
            v = doc.get(k, [])
            if not isinstance(v, list) or not all(isinstance(n, str) for n in v):
                raise HTTPException(400, f"field {k!r} must be a list of track names")
            unknown = [n for n in v if n not in studio.state.names]
            if unknown:
                raise HTTPException(422, f"{k}: no track {', '.join(map(repr, unknown))}; tracks: "
                                         f"{', '.join(studio.state.names)}")
            sets[k] = set(v)
        studio.engine.set_monitor(sets["mute"], sets["solo"])
        return JSONResponse(_monitor())

    async def loop(request: Request) -> Response:
        doc = await _json(request)
        start = _field(doc, "start_s", (int, float), "seconds, a number")
        end = _field(doc, "end_s", (int, float), "seconds, a number")
        try:
            studio.engine.set_region(float(start), float(end))
        except ValueError as e:
            raise HTTPException(422, str(e)) from None
        return JSONResponse(_monitor())

    async def curves(request: Request) -> Response:
        doc = await _json(request)
        target = _field(doc, "target", str, "a track name or 'master'")
        values = studio.state.values_of(target)
        over = doc.get("values", {})
        if not isinstance(over, dict):
            raise HTTPException(400, "field 'values' must be an object of parameter: number")
        values.update({c.key: c.value for c in studio.state.parse(
            [{"target": target, "key": k, "value": v} for k, v in over.items()])} if over else {})
        sr = studio.session.sample_rate
        eq, comp = await run_in_threadpool(lambda: (B.eq_curve(values, sr, strip=target != MASTER),
                                                    B.comp_curve(values)))
        return JSONResponse({"target": target, "eq": eq, "compressor": comp})

    def _action(fn):
        async def run(request: Request) -> Response:
            await _json(request)  # a body, if any, must still be JSON
            try:
                await run_in_threadpool(fn)
            except Busy as e:
                return _err(409, str(e))
            studio.engine.poke()
            return JSONResponse({**studio.state.snapshot(), "notes": studio.notes})
        return run

    async def audio(request: Request) -> Response:
        scope, source, fmt = (request.path_params[k] for k in ("scope", "source", "fmt"))
        if scope not in ("loop", "full") or source not in ("mix", "raw", "reference") or fmt not in ("wav", "f32"):
            raise HTTPException(404, "audio is /api/audio/loop|full/mix|raw|reference.wav (or .f32)")
        r = studio.engine.loop if scope == "loop" else studio.engine.full
        if r is None:
            return _err(409, f"the {scope} render is not ready yet; try again in a moment")
        if source not in r.audio:
            return _err(404, "no reference was given (start with --reference REF.wav)")
        made = (r.key, r.region, id(r.audio[source]))
        cached = audio_cache.get((scope, source, fmt))
        if cached is None or cached[0] != made:  # one encoded file per scope, source and format: bounded memory
            encode = _wav if fmt == "wav" else _f32
            cached = (made, await run_in_threadpool(encode, r.audio[source], studio.session.sample_rate))
            audio_cache[(scope, source, fmt)] = cached
        return Response(cached[1], media_type="audio/wav" if fmt == "wav" else "application/octet-stream",
                        headers={"cache-control": "no-store", "x-mixdown-version": str(r.version),
                                 "x-mixdown-start-s": f"{r.start_s:.6f}", "x-mixdown-frames": str(len(r.audio[source])),
                                 "x-mixdown-sample-rate": str(studio.session.sample_rate),
                                 "x-mixdown-key": ".".join(map(str, r.key))})

    async def strips(request: Request) -> Response:
        scope = request.path_params["scope"]
        if scope not in ("loop", "full"):
            raise HTTPException(404, "strip meters are /api/strips/loop or /api/strips/full")
        r = studio.engine.loop if scope == "loop" else studio.engine.full
        if r is None or r.strips is None:
            return _err(409, f"the {scope} render's meters are not ready yet; try again in a moment")
        return JSONResponse(r.strips, headers={"cache-control": "no-store"})

    async def overview(request: Request) -> Response:
        return JSONResponse({"peaks": studio.engine.overview, "seconds": studio.session.frames / studio.engine.sr})

    async def mix(request: Request) -> Response:
        doc = await _json(request)
        take = _field(doc, "take", int, "a whole number, 0 or more: which engineer's way") if "take" in doc else None
        try:
            await run_in_threadpool(studio.mix, take)
        except Busy as e:
            return _err(409, str(e))
        except UsageError as e:  # a take the model cannot give
            return _err(422, str(e))
        studio.engine.poke()
        return JSONResponse({**studio.state.snapshot(), "notes": studio.notes})

    async def save(request: Request) -> Response:
        await _json(request)
        path = await run_in_threadpool(studio.save)
        return JSONResponse({"saved": str(path)})

    async def export(request: Request) -> Response:
        doc = await _json(request)
        fmt = _field(doc, "format", str, "'dawproject' or 'reaper'")
        if fmt not in EXPORT_SUFFIXES:
            raise HTTPException(422, f"unknown export format {fmt!r}; formats: {', '.join(EXPORT_SUFFIXES)}")
        path = await run_in_threadpool(studio.export, fmt)
        return JSONResponse({"exported": str(path), "format": fmt})

    async def report_write(request: Request) -> Response:
        await _json(request)
        try:
            path = await run_in_threadpool(studio.report)
        except Busy as e:
            return _err(409, str(e))
        return JSONResponse({"report": str(path), "url": "api/report"})

    async def report_read(request: Request) -> Response:
        path = studio.paths.report
        if not path.is_file():
            return _err(404, "no report written yet; press Report first")
        return HTMLResponse(path.read_text(encoding="utf-8"), headers={"content-security-policy": REPORT_CSP})

    routes = [
        Route("/", page), Route("/api/state", state), Route("/api/status", status),
        Route("/api/params", params, methods=["POST"]), Route("/api/locks", locks, methods=["POST"]),
        Route("/api/monitor", monitor, methods=["POST"]), Route("/api/loop", loop, methods=["POST"]),
        Route("/api/curves", curves, methods=["POST"]),
        Route("/api/mix", mix, methods=["POST"]),
        Route("/api/reset", _action(studio.state.reset), methods=["POST"]),
        Route("/api/undo", _action(studio.state.undo), methods=["POST"]),
        Route("/api/redo", _action(studio.state.redo), methods=["POST"]),
        Route("/api/audio/{scope}/{source}.{fmt}", audio), Route("/api/overview", overview),
        Route("/api/strips/{scope}", strips),
        Route("/api/save", save, methods=["POST"]), Route("/api/export", export, methods=["POST"]),
        Route("/api/report", report_write, methods=["POST"]), Route("/api/report", report_read),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    app = Starlette(routes=routes, exception_handlers=_handlers())
    return Guard(app, token, hosts)


def _wav(audio, sample_rate: int) -> bytes:
    buf = io.BytesIO()
    sf.write(buf, audio, sample_rate, format="WAV", subtype="FLOAT")
    return buf.getvalue()


def _f32(audio, sample_rate: int) -> bytes:
    """``(frames, 2)`` audio as little-endian float32, interleaved (exactly the rendered samples)."""
    return np.ascontiguousarray(audio, dtype="<f4").tobytes()


def _handlers() -> dict:
    async def http_error(request: Request, exc: HTTPException) -> Response:
        return _err(exc.status_code, str(exc.detail))

    async def edit_error(request: Request, exc: Exception) -> Response:
        return _err(422, str(exc))

    async def write_error(request: Request, exc: Exception) -> Response:
        log.error("%s", exc)
        return _err(500, f"could not write: {exc}; check that the folder is writable and has free space")

    async def unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unexpected error in %s %s", request.method, request.url.path)
        return _err(500, f"internal error ({type(exc).__name__}); the server log has the details")

    return {HTTPException: http_error, EditError: edit_error, B.ParamsError: edit_error,
            B.SessionError: edit_error, OSError: write_error, Exception: unexpected}


def error_app(message: str, token: str, hosts: set[str]) -> Guard:
    """The app served when the session cannot be opened: every page shows ``message``."""
    from mixdown.studio.pages import error_page

    async def show(request: Request) -> Response:
        return HTMLResponse(error_page(message), status_code=500,
                            headers={"content-security-policy": REPORT_CSP})

    return Guard(Starlette(routes=[Route("/{path:path}", show)]), token, hosts)
