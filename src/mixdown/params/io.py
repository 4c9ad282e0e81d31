"""Read and write ``mixdown.params/2`` parameter files (see ``docs/console.md``).

The reader validates everything the spec asks for and names the track and key on every error.
Values live in flat dictionaries keyed by the names of :mod:`mixdown.params.spec`. Files of the
format before the reverb, ``mixdown.params/1``, are still read: they have no ``reverb_send_db`` and
no ``master.reverb``, so every send is off (-60 dB) and the reverb gets
:data:`~mixdown.params.spec.DEFAULT_REVERB` (silent with every send off): they render exactly as
before. Writers always write ``mixdown.params/2``.
"""

from __future__ import annotations

import difflib
import json
import logging
import math
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mixdown.errors import UsageError
from mixdown.params import spec as S

FORMAT = "mixdown.params/2"
#: The format with the master's finishing stages (:mod:`mixdown.dsp.finish`: the limiter), written
#: when a file holds one; files without one are written as ``/2``, which every reader of ``/2`` takes.
FORMAT_V3 = "mixdown.params/3"
#: The format before the reverb: still read (sends off, the default reverb), never written.
FORMAT_V1 = "mixdown.params/1"
log = logging.getLogger(__name__)
#: keys a reader knows, per object (others are ignored with a warning that suggests the close match)
TOP_KEYS = ("format", "sample_rate", "tracks", "master")
TRACK_KEYS = ("name", "file", "input_gain_db", "highpass_hz", "eq", "compressor", "fader_db", "pan", "reverb_send_db")
MASTER_KEYS = ("eq", "compressor", "reverb", "output_gain_db", "normalize")
BAND_KEYS = ("type", "freq_hz", "gain_db", "q")
NORMALIZE_KEYS = ("target_lufs", "ceiling_dbtp", "gain_db")


class ParamsError(UsageError):
    """A parameter file is malformed; the message names the file, track and key."""


@dataclass
class TrackParams:
    """One channel strip: ``values`` maps every name of ``TRACK_SPECS`` to a physical value."""

    name: str
    file: str
    values: dict[str, float]


@dataclass
class MasterParams:
    """The master bus; ``normalize`` is ``{"target_lufs", "ceiling_dbtp", "gain_db"}`` or None;
    ``finish`` holds the finishing stages that are on (``{"limiter": {...}}``; absent: off)."""

    values: dict[str, float]
    normalize: dict[str, float] | None = None
    finish: dict[str, dict[str, float]] = field(default_factory=dict)


@dataclass
class MixParams:
    """A whole parameter file."""

    sample_rate: int
    tracks: list[TrackParams]
    master: MasterParams
    extra: dict[str, Any] = field(default_factory=dict)

    def track_matrix(self) -> np.ndarray:
        """Physical per-track values, shape ``(n_tracks, N_TRACK_PARAMS)``, float64."""
        return np.array([[t.values[n] for n in S.TRACK_NAMES] for t in self.tracks], dtype=np.float64)

    def master_vector(self) -> np.ndarray:
        """Physical master values, shape ``(N_MASTER_PARAMS,)``, float64."""
        return np.array([self.master.values[n] for n in S.MASTER_NAMES], dtype=np.float64)

    @property
    def normalize_gain_db(self) -> float:
        return float(self.master.normalize["gain_db"]) if self.master.normalize else 0.0

    @classmethod
    def from_arrays(cls, sample_rate: int, names: list[str], files: list[str],
                    track_values: np.ndarray, master_values: np.ndarray, **extra: Any) -> "MixParams":
        """Build from physical arrays shaped like :meth:`track_matrix` / :meth:`master_vector`."""
        tracks = [TrackParams(n, f, {k: float(v) for k, v in zip(S.TRACK_NAMES, row)})
                  for n, f, row in zip(names, files, np.asarray(track_values, dtype=np.float64))]
        master = MasterParams({k: float(v) for k, v in zip(S.MASTER_NAMES, master_values)})
        return cls(int(sample_rate), tracks, master, dict(extra))


# ----------------------------------------------------------------------------- JSON layout
def json_path(flat_name: str) -> tuple[str | int, ...]:
    """Where a parameter of the spec table lives in a strip's JSON object:
    ``"eq.2.q"`` -> ``("eq", 2, "q")``, ``"compressor.ratio"`` -> ``("compressor", "ratio")``,
    ``"pan"`` -> ``("pan",)``, ``"reverb.decay_mid_s"`` -> ``("reverb", "decay_mid_s")``."""
    parts = flat_name.split(".")
    return ("eq", int(parts[1]), parts[2]) if parts[0] == "eq" else tuple(parts)


def _strip_dict(values: dict[str, float], specs: tuple[S.ParamSpec, ...]) -> dict[str, Any]:
    """A strip's JSON object, built by walking the spec table (its order is the file's key order)."""
    out: dict[str, Any] = {}
    for s in specs:
        path = json_path(s.name)
        if path[0] == "eq":
            eq = out.setdefault("eq", [{"type": kind} for kind in S.EQ_BAND_TYPES])
            eq[path[1]][path[2]] = values[s.name]
        elif len(path) == 2:  # a nested object: compressor, reverb
            out.setdefault(path[0], {})[path[1]] = values[s.name]
        else:
            out[path[0]] = values[s.name]
    return out


# ----------------------------------------------------------------------------- writing
def to_dict(params: MixParams) -> dict[str, Any]:
    """The JSON document of ``params`` (spec key order, extra keys first)."""
    tracks = [{"name": t.name, "file": t.file, **_strip_dict(t.values, S.TRACK_SPECS)} for t in params.tracks]
    master: dict[str, Any] = _strip_dict(params.master.values, S.MASTER_SPECS)
    if params.master.normalize is not None:
        master["normalize"] = dict(params.master.normalize)
    master.update({key: dict(settings) for key, settings in params.master.finish.items()})
    doc: dict[str, Any] = {"format": FORMAT_V3 if params.master.finish else FORMAT, "sample_rate": params.sample_rate}
    doc.update({k: v for k, v in params.extra.items() if k not in ("format", "sample_rate", "tracks", "master")})
    doc["tracks"] = tracks
    doc["master"] = master
    return doc


def params_text(params: MixParams, path: str | os.PathLike = "<params>") -> str:
    """The JSON text of ``params``, validated as a reader would (``path`` only names it in errors)."""
    doc = to_dict(params)
    from_dict(json.loads(json.dumps(doc)), source=str(path))  # never write a file we would reject
    try:
        return json.dumps(doc, indent=2, allow_nan=False) + "\n"
    except ValueError as e:  # a NaN / Infinity in an extra key: not representable in JSON
        raise ParamsError(f"{path}: extra keys hold a non-finite number ({e}); JSON cannot store it") from e


def write_params(params: MixParams, path: str | os.PathLike) -> None:
    """Validate and write ``params`` atomically (a temporary file renamed into place)."""
    from mixdown.fileio import atomic_write_text

    atomic_write_text(path, params_text(params, path))


# ----------------------------------------------------------------------------- reading
def read_params(path: str | os.PathLike) -> MixParams:
    """Read and validate a parameter file; raises :class:`ParamsError` naming the problem."""
    path = Path(path)
    try:
        st = os.stat(path)
        if not stat.S_ISREG(st.st_mode):
            what = "a folder" if stat.S_ISDIR(st.st_mode) else "not a regular file (a pipe, socket or device)"
            raise ParamsError(f"{path}: {what}; give the JSON parameter file")
        with open(path, "rb") as fh:
            data = fh.read()
    except OSError as e:
        raise ParamsError(f"{path}: cannot read parameter file ({e.strerror or e}); check the path") from e
    try:
        if b"\x00" in data:
            raise UnicodeDecodeError("utf-8", data, data.index(b"\x00"), data.index(b"\x00") + 1, "NUL byte")
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise ParamsError(f"{path}: not a text (UTF-8 JSON) parameter file (binary data at byte {e.start}); "
                          "give the .json file that 'mixdown mix --params' wrote") from None
    return from_dict(loads(text, str(path)), source=str(path))


#: deepest nesting of JSON arrays and objects read (a parameter file nests 4 deep; Python's parser
#: would raise ``RecursionError`` somewhere past 1000, or exhaust the stack)
MAX_JSON_DEPTH = 64


def loads(text: str, source: str = "<params>") -> Any:
    """Decode a parameter file's JSON text; :class:`ParamsError` naming ``source`` when it is not
    JSON, nests deeper than :data:`MAX_JSON_DEPTH` or repeats a key within one object (JSON
    readers differ on which value wins, so mixdown takes none: ``"fader_db": 999, "fader_db": -3``
    is refused, naming the key)."""
    depth = _json_depth(text)
    if depth > MAX_JSON_DEPTH:
        raise ParamsError(f"{source}: JSON nested {depth} levels deep (at most {MAX_JSON_DEPTH}); a parameter "
                          "file nests 4 levels: fix the file or re-export it")
    try:
        # NaN / Infinity literals are decoded to floats so that the range check rejects them
        # with a message naming the track and the key (a decode error could name neither).
        return json.loads(text, object_pairs_hook=_unique_keys)
    except _DuplicateKey as e:
        key, first, second, where = e.args
        raise ParamsError(f"{source}: {where}key {key!r} appears twice ({_short(first)} and {_short(second)}); "
                          "JSON readers differ on which one counts: keep one") from None
    except RecursionError:
        raise ParamsError(f"{source}: JSON nested too deeply; fix the file or re-export it") from None
    except (json.JSONDecodeError, ValueError) as e:
        raise ParamsError(f"{source}: not valid JSON ({e}); fix the file or re-export it") from e


class _DuplicateKey(Exception):
    """A key repeated within one JSON object: ``(key, first value, second value, where)``."""


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in pairs:
        if k in out:
            name = dict(pairs).get("name")
            raise _DuplicateKey(k, out[k], v, f"track {name!r}: " if isinstance(name, str) else "")
        out[k] = v
    return out


def _short(value: Any) -> str:
    text = repr(value) if not isinstance(value, int) or abs(value) < 10 ** 30 else "a very long number"
    return text if len(text) <= 40 else text[:37] + "..."


def _json_depth(text: str) -> int:
    """How deeply ``[`` and ``{`` nest in JSON ``text`` (brackets inside strings skipped), found
    without recursion; the text need not be valid JSON."""
    import re

    depth = deepest = 0
    for m in re.finditer(r'"(?:[^"\\]|\\.)*"|[\[{]|[\]}]', text):
        c = m.group()
        if c in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif c in "]}":
            depth -= 1
    return deepest


def from_dict(doc: Any, source: str = "<params>") -> MixParams:
    """Validate a decoded JSON document and build :class:`MixParams`."""
    if not isinstance(doc, dict):
        raise ParamsError(f"{source}: top level must be a JSON object")
    if doc.get("format") not in (FORMAT_V3, FORMAT, FORMAT_V1):
        raise ParamsError(f"{source}: format must be {FORMAT_V3!r} or {FORMAT!r} (or the older {FORMAT_V1!r}), "
                          f"got {doc.get('format')!r}")
    v1 = doc["format"] == FORMAT_V1
    unknown: list[str] = []
    _unknown_keys(doc, TOP_KEYS, "", unknown, extras_allowed=True)
    sr = doc.get("sample_rate")
    if "sample_rate" not in doc:
        raise ParamsError(f"{source}: missing key 'sample_rate'{_hint(doc, 'sample_rate')}")
    problem = S.check_sample_rate(sr)
    if problem:
        raise ParamsError(f"{source}: sample_rate {problem}")
    tracks_doc = _require(doc, "tracks", list, source, "file")
    if not tracks_doc:
        raise ParamsError(f"{source}: tracks is empty; a mix needs at least one track")
    tracks = [_read_track(t, i, sr, source, unknown, v1) for i, t in enumerate(tracks_doc)]
    names = [t.name for t in tracks]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ParamsError(f"{source}: duplicate track names {dupes}; names must be unique")
    master = _read_master(_require(doc, "master", dict, source, "file"), sr, source, unknown, v1,
                          finishing=doc["format"] == FORMAT_V3)
    if unknown:
        log.warning("%s: ignoring unknown keys (a reader ignores keys it does not know): %s", source,
                    "; ".join(unknown))
    extra = {k: v for k, v in doc.items() if k not in ("format", "sample_rate", "tracks", "master")}
    return MixParams(sr, tracks, master, extra)


def _hint(obj: dict, key: str) -> str:
    """`` (found 'fader_dB': a typo?)`` when ``obj`` has a key close to the missing ``key``."""
    close = difflib.get_close_matches(key, [k for k in obj if isinstance(k, str)], n=1, cutoff=0.6)
    return f" (found {close[0]!r}: a typo?)" if close else ""


def _unknown_keys(obj: dict, known: tuple[str, ...], where: str, out: list[str], extras_allowed: bool = False) -> None:
    """Append ``"WHERE: 'key' (did you mean 'k'?)"`` for each key of ``obj`` not in ``known``.

    ``extras_allowed`` (the top level, where writers add keys such as ``model`` or ``notes``):
    only keys close to a known one are listed (likely typos)."""
    for key in obj:
        if key in known:
            continue
        close = difflib.get_close_matches(str(key), known, n=1, cutoff=0.6)
        if extras_allowed and not close:
            continue
        out.append(f"{where + ': ' if where else ''}{key!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))


def _require(obj: dict, key: str, typ: type, source: str, where: str) -> Any:
    if key not in obj:
        raise ParamsError(f"{source}: {where}: missing key {key!r}{_hint(obj, key)}")
    val = obj[key]
    if not isinstance(val, typ):
        raise ParamsError(f"{source}: {where}: {key!r} must be a {typ.__name__}, got {type(val).__name__}")
    return val


def _read_strip(obj: dict, specs: tuple[S.ParamSpec, ...], source: str, where: str, known: tuple[str, ...],
                unknown: list[str]) -> dict[str, Any]:
    """Every parameter of ``specs`` from a strip's JSON object, walking the table in the file's order
    (EQ bands, compressor, then the strip's own keys and the master's reverb); errors name the strip
    (``master.reverb`` for the reverb) and the key. Keys that are not in ``known`` (the strip's
    own), not band, compressor or reverb keys, are listed in ``unknown`` with the close match."""
    eq = _require(obj, "eq", list, source, where)
    if len(eq) != S.N_EQ_BANDS:
        raise ParamsError(f"{source}: {where}: eq must have {S.N_EQ_BANDS} bands, got {len(eq)}")
    checked: set[int] = set()
    groups: dict[str, dict] = {}
    flat: dict[str, Any] = {}
    for s in sorted(specs, key=lambda s: {"eq": 0, "compressor": 1}.get(json_path(s.name)[0], 2)):
        path = json_path(s.name)
        if path[0] == "eq":
            band, bw = eq[path[1]], f"{where}: eq[{path[1]}]"
            if path[1] not in checked:
                _check_band(band, path[1], source, bw)
                checked.add(path[1])
            container, key, at = band, path[2], bw
        elif len(path) == 2:  # a nested object: compressor, reverb
            if path[0] not in groups:
                groups[path[0]] = _require(obj, path[0], dict, source, where)
            at = f"{where}.reverb" if path[0] == "reverb" else f"{where}: {path[0]}"
            container, key = groups[path[0]], path[1]
        else:
            container, key, at = obj, path[0], where
        if key not in container:
            raise ParamsError(f"{source}: {at}: missing key {key!r}{_hint(container, key)}")
        flat[s.name] = container[key]
    for i in sorted(checked):
        _unknown_keys(eq[i], BAND_KEYS, f"{where}: eq[{i}]", unknown)
    if "compressor" in groups:
        _unknown_keys(groups["compressor"], S.COMPRESSOR_KEYS, f"{where}: compressor", unknown)
    if "reverb" in groups:
        _unknown_keys(groups["reverb"], tuple(n.split(".", 1)[1] for n in S.REVERB_MASTER_NAMES),
                      f"{where}.reverb", unknown)
    _unknown_keys(obj, known, where, unknown)
    return flat


def _check_band(band: Any, i: int, source: str, where: str) -> None:
    kind = S.EQ_BAND_TYPES[i]
    if not isinstance(band, dict):
        raise ParamsError(f"{source}: {where} must be an object")
    if band.get("type") != kind:
        raise ParamsError(f"{source}: {where}: type must be {kind!r} (band order is "
                          f"{', '.join(S.EQ_BAND_TYPES)}), got {band.get('type')!r}")


def _check_all(flat: dict[str, Any], specs: tuple[S.ParamSpec, ...], sr: int, source: str,
               where: str) -> dict[str, float]:
    out = {}
    for s in specs:
        msg = S.check_value(s, flat[s.name], sr)
        if msg:
            at, key = _where(where, s.name)
            raise ParamsError(f"{source}: {at}: {key}: {msg}")
        out[s.name] = float(flat[s.name])
    return out


def _where(where: str, flat_name: str) -> tuple[str, str]:
    """How range errors name a parameter: ``("track 'a'", "eq[2].q")``, ``("master", "compressor.ratio")``;
    the master's reverb settings as ``("master.reverb", "decay_mid_s")``."""
    parts = flat_name.split(".")
    if parts[0] == "eq":
        return where, f"eq[{parts[1]}].{parts[2]}"
    if parts[0] == "reverb":
        return f"{where}.reverb", parts[1]
    return where, flat_name


def _without_reverb(specs: tuple[S.ParamSpec, ...]) -> tuple[S.ParamSpec, ...]:
    """The table of a ``mixdown.params/1`` file: ``specs`` without the reverb's parameters."""
    reverb = set(S.REVERB_TRACK_NAMES + S.REVERB_MASTER_NAMES)
    return tuple(s for s in specs if s.name not in reverb)


def _read_track(t: Any, i: int, sr: int, source: str, unknown: list[str], v1: bool = False) -> TrackParams:
    if not isinstance(t, dict):
        raise ParamsError(f"{source}: tracks[{i}] must be an object")
    name = t.get("name")
    where = f"track {name!r}" if isinstance(name, str) else f"tracks[{i}]"
    name = _require(t, "name", str, source, where)
    file = _require(t, "file", str, source, where)
    if "\x00" in file:
        raise ParamsError(f"{source}: {where}: file {file!r} holds a NUL character, which no file name can; "
                          "fix the 'file' entry")
    specs = _without_reverb(S.TRACK_SPECS) if v1 else S.TRACK_SPECS
    values = _check_all(_read_strip(t, specs, source, where, TRACK_KEYS, unknown), specs, sr, source, where)
    if v1:  # no sends before the reverb
        values["reverb_send_db"] = S.SEND_OFF_DB
    return TrackParams(name, file, {n: values[n] for n in S.TRACK_NAMES})


def _read_master(m: dict, sr: int, source: str, unknown: list[str], v1: bool = False,
                 finishing: bool = False) -> MasterParams:
    """The master; with ``finishing`` (``/3``) its finishing stages too (in ``/1`` and ``/2`` they are
    off: their keys are unknown there)."""
    from mixdown.dsp.finish import FINISHERS

    specs = _without_reverb(S.MASTER_SPECS) if v1 else S.MASTER_SPECS
    known = MASTER_KEYS + (tuple(f.KEY for f in FINISHERS) if finishing else ())
    values = _check_all(_read_strip(m, specs, source, "master", known, unknown), specs, sr, source, "master")
    if v1:  # silent: every send is off
        values.update(S.DEFAULT_REVERB)
    values = {n: values[n] for n in S.MASTER_NAMES}
    norm = m.get("normalize")
    if norm is not None:
        if not isinstance(norm, dict):
            raise ParamsError(f"{source}: master: normalize must be an object")
        for k in NORMALIZE_KEYS:
            v = norm.get(k)
            if k not in norm:
                raise ParamsError(f"{source}: master: normalize: missing key {k!r}{_hint(norm, k)}")
            if isinstance(v, bool) or not isinstance(v, (int, float)) or S.check_magnitude(v) or not math.isfinite(v):
                raise ParamsError(f"{source}: master: normalize: {k} " + (S.check_magnitude(v) or
                                                                         f"must be a finite number, got {v!r}"))
            lo, hi = S.NORMALIZE_RANGES[k]
            if not lo <= v <= hi:
                raise ParamsError(f"{source}: master: normalize: {k}: {v} is outside [{lo:g}, {hi:g}]"
                                  + (" dB; re-run 'mixdown mix --target-lufs' or remove 'normalize'"
                                     if k == "gain_db" else ""))
        _unknown_keys(norm, NORMALIZE_KEYS, "master: normalize", unknown)
        norm = {k: float(norm[k]) for k in ("target_lufs", "ceiling_dbtp", "gain_db")}
    finish = {}
    for f in FINISHERS if finishing else ():
        if m.get(f.KEY) is not None:
            obj = _require(m, f.KEY, dict, source, "master")
            for spec in f.SPECS:
                if spec.name not in obj:
                    raise ParamsError(f"{source}: master: {f.KEY}: missing key {spec.name!r}{_hint(obj, spec.name)}")
                problem = S.check_value(spec, obj[spec.name], sr)
                if problem:
                    raise ParamsError(f"{source}: master: {f.KEY}: {spec.name}: {problem}")
            _unknown_keys(obj, tuple(spec.name for spec in f.SPECS), f"master: {f.KEY}", unknown)
            finish[f.KEY] = {spec.name: float(obj[spec.name]) for spec in f.SPECS}
    return MasterParams(values, norm, finish)
