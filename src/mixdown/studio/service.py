"""The studio's work, without HTTP: open a session, mix, save, export, write the report.

:class:`Studio` owns the session, the editable :class:`~mixdown.studio.state.MixState`, the
render :class:`~mixdown.studio.engine.Engine` and the model. Files are written only to the paths
fixed when it starts (:class:`Paths`): the parameter file the user named (or the session's
default) and, beside it with the same stem, the DAW projects and the HTML report.
"""

from __future__ import annotations

import copy
import logging
import threading
from dataclasses import dataclass
from pathlib import Path

from mixdown.errors import MixdownError
from mixdown.studio import backend as B
from mixdown.studio.engine import Engine
from mixdown.studio.state import MixState

log = logging.getLogger(__name__)

DEFAULT_PARAMS_NAME = "mixdown_mix.json"
EXPORT_SUFFIXES = {"dawproject": ".dawproject", "reaper": ".RPP"}


class Busy(MixdownError, RuntimeError):
    """Another long job (Mix, report) is running; the message says which."""


@dataclass(frozen=True)
class Paths:
    """Where the studio reads and writes. Nothing else is ever written."""

    session: Path
    params: Path
    reference: Path | None = None
    refine: bool = True  # Mix refines towards the reference: given with --reference (one found is only played)

    def export(self, fmt: str) -> Path:
        return self.params.with_suffix(EXPORT_SUFFIXES[fmt])

    @property
    def report(self) -> Path:
        return self.params.with_suffix(".html")

    @classmethod
    def resolve(cls, session: Path, params: Path | None, reference: Path | None) -> "Paths":
        session = Path(session).resolve()
        params = (Path(params) if params else session / DEFAULT_PARAMS_NAME).resolve()
        if reference:
            return cls(session, params, Path(reference).resolve())
        found = B.find_reference(session) if session.is_dir() else None  # offered as C, not refined towards
        return cls(session, params, found.resolve() if found else None, refine=False)


class Studio:
    """One session being mixed. Construction reads everything and may raise
    :class:`B.SessionError`, :class:`B.ParamsError` or :class:`B.CheckpointError` (each naming
    the file and the fix)."""

    def __init__(self, paths: Paths, checkpoint: Path | None = None, model=None):
        self.paths = paths
        self.checkpoint = checkpoint
        self._model = model
        self.session = B.open_session(paths.session)
        for info in self.session.infos:  # the page may hear only what lies inside the session folder
            if not info.path.resolve().is_relative_to(paths.session):
                raise B.SessionError(f"{info.path}: resolves to {info.path.resolve()}, outside the session folder "
                                     f"{paths.session}; copy the file into the folder instead of linking it")
        sr = self.session.sample_rate
        self.reference = self._reference(paths, sr)
        self.notes: dict = {}
        self.first_mix = not paths.params.exists()  # the model makes the first draft (see start)
        self.mixing_first = self.first_mix  # until that draft is in: the page says "mixing..."
        if self.first_mix:
            params = B.neutral_params(sr, self.session.names, self.session.files)
        else:
            params = self._matching(B.read_params(paths.params))
            log.info("settings from %s", paths.params)
        self.state = MixState(params)
        self.engine = Engine(self.session, self.state, self.reference)
        self._job = threading.Lock()
        self.job: str | None = None

    def _reference(self, paths: Paths, sr: int):
        """The reference's audio; one found in the session that cannot be read is left out with a
        warning (one given with --reference is an error naming it)."""
        if paths.reference is None:
            return None
        try:
            return B.load_reference(paths.reference, sr)
        except B.SessionError as e:
            if paths.refine:
                raise
            log.warning("%s; the studio opens without a reference (C)", e)
            self.paths = Paths(paths.session, paths.params, None, refine=False)
            return None

    def start(self) -> None:
        """Start rendering; without a parameter file, the model's first draft is made in the
        background (the page shows the job and fills the strips when it is done)."""
        self.engine.start()
        if self.first_mix:
            log.info("no %s yet: the model mixes the session%s", self.paths.params,
                     " and refines it towards the reference" if self.refine_reference is not None else "")
            threading.Thread(target=self._first_mix, name="studio-first-mix", daemon=True).start()

    def _first_mix(self) -> None:
        try:
            self.mix()
            self.state.forget_history()  # the neutral start is no step to undo to
        except Exception as e:  # the page shows it; the user can press Mix again
            log.exception("the first mix failed")
            self.engine.error = f"the model's first mix failed: {e}"
        finally:
            self.mixing_first = False

    @property
    def refine_reference(self):
        """The reference Mix refines towards: one given with ``--reference`` (a ``reference_mix.*``
        found in the session is offered for listening only)."""
        return self.reference if self.paths.refine else None

    def model(self):
        if self._model is None:
            self._model = B.load_model(self.checkpoint)
        return self._model

    def _matching(self, params: B.MixParams) -> B.MixParams:
        """``params`` with its tracks in the session's order; an error naming the file when they
        do not describe this session."""
        s = self.session
        src = self.paths.params
        fix = f"pass --params with another file name to start from the model's mix, or delete {src.name}"
        if params.sample_rate != s.sample_rate:
            raise B.ParamsError(f"{src}: sample_rate {params.sample_rate} Hz, but the session's tracks are at "
                                f"{s.sample_rate} Hz; {fix}")
        by_name = {t.name: t for t in params.tracks}
        missing = [n for n in s.names if n not in by_name]
        extra = [n for n in by_name if n not in s.names]
        if missing or extra:
            raise B.ParamsError(f"{src}: its tracks do not match the session {s.folder} (missing: "
                                f"{', '.join(missing) or 'none'}; not in the session: {', '.join(extra) or 'none'}); "
                                f"{fix}")
        out = copy.deepcopy(params)
        out.tracks = [copy.deepcopy(by_name[n]) for n in s.names]
        for t, f in zip(out.tracks, s.files):
            t.file = f
        return out

    # --------------------------------------------------------------------------- long jobs
    def _run(self, what: str, fn):
        if not self._job.acquire(blocking=False):
            raise Busy(f"{self.job} is running; wait for it to finish")
        self.job = what
        try:
            return fn()
        finally:
            self.job = None
            self._job.release()

    def mix(self, take: int | None = None) -> int:
        """Run the model (and the reference refinement) with the locked values held; ``take``: another
        engineer's way of mixing, for a model that draws one (None: the model's own)."""
        def work():
            held = self.state.lock_values()
            tv, mv, self.notes = B.predict(self.model(), self.session, held, self.refine_reference, take=take)
            version = self.state.take_model(tv, mv, held)
            self.engine.poke()
            return version

        return self._run("Mix", work)

    def report(self) -> Path:
        return self._run("the report", lambda: B.write_report(self.paths.report, self.paths.session,
                                                              self._to_save(), self.paths.reference))

    # --------------------------------------------------------------------------- files
    def _to_save(self) -> B.MixParams:
        params = self.state.copy_params()
        params.extra = {**params.extra, "notes": {**params.extra.get("notes", {}),
                                                  "studio": "edited in mixdown studio"}}
        if self.notes.get("model"):
            params.extra["model"] = self.notes["model"]
        return params

    def save(self) -> Path:
        B.write_params(self._to_save(), self.paths.params)
        log.info("saved %s", self.paths.params)
        return self.paths.params

    def export(self, fmt: str) -> Path:
        if fmt not in EXPORT_SUFFIXES:
            raise ValueError(f"unknown export format {fmt!r}; formats: {', '.join(EXPORT_SUFFIXES)}")
        out = B.export_project(self._to_save(), self.paths.session, self.paths.export(fmt), fmt)
        log.info("exported %s", out)
        return out

    # --------------------------------------------------------------------------- description
    def describe(self) -> dict:
        """The session, the spec table and the paths, for the page (JSON-ready)."""
        sr = self.session.sample_rate

        def specs(table):
            return [{"name": s.name, "unit": s.unit, "lo": B.limits(s, sr)[0], "hi": B.limits(s, sr)[1],
                     "scale": s.scale} for s in table]

        return {"session": self.paths.session.name, "sample_rate": sr,
                "seconds": self.session.frames / sr,
                "track_info": [{"name": n, "file": f, "channels": i.channels}
                           for n, f, i in zip(self.session.names, self.session.files, self.session.infos)],
                "track_specs": specs(B.track_specs()), "master_specs": specs(B.master_specs()),
                "reference": self.paths.reference.name if self.paths.reference else None,
                "reference_found": self.paths.reference is not None and not self.paths.refine,
                "mixing_first": self.mixing_first,
                "paths": {"params": str(self.paths.params), "report": str(self.paths.report),
                          **{f"export_{k}": str(self.paths.export(k)) for k in EXPORT_SUFFIXES}},
                "model": self.notes.get("model"),
                "normalize": self.state.params.master.normalize}
