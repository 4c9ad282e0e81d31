"""Manifest records (one song per JSON line) and atomic reading/writing of manifest files.

A built dataset folder ``<out>`` holds one JSON-lines file per split, ``<out>/<split>.jsonl``
(``train``, ``val``, ``test``), ``<out>/build_report.json`` and ``build_report.md``. Sharded
builds write ``<split>.shard-I-of-N.jsonl`` instead; :func:`merge_shard_manifests` (or
``mixdown dataset merge``) joins them.

Record (one line, keys in this order)::

    schema   "mixdown.manifest/1"
    song     unique id within the dataset: the song folder relative to the corpus root (posix)
    source   corpus: medleydb | enst | musdb | cambridge | slakh | folder
    split    train | val | test
    root     absolute corpus root; every relative path in the record is relative to it
    tracks   [Track]: path, name, role (see mixdown.data.roles.ROLES), channels, sample_rate (Hz),
             frames (samples per channel), active_regions [[start_s, end_s], ...], silent,
             clipped (fraction of samples with |x| >= 0.999), peak (max |x|), rms_db (dBFS),
             file_size (bytes), mtime (s since the epoch), meta (corpus labels)
    mix      Mix (path, channels, sample_rate, frames, clipped, peak, silent, file_size, mtime) or null
    params   path of a mixdown.params file (/2, or /1), or null
    checks   length_mismatch, rate_mismatch, mix_offset_samples (mix[n] ~ sum[n - offset]; null if
             not measured), mix_correlation (normalised peak, 0..1), aligned, warnings [str]
    meta     corpus facts about the song (e.g. MedleyDB has_bleed, ENST drummer)
    params_known  names of the parameters of ``params`` that are known (e.g. a human mix's levels
             and pans fitted by :mod:`mixdown.data.targets`); the others are unknown. null: all

Builders write manifests; :mod:`mixdown.data.dataset` only reads them.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator

from mixdown.data.roles import ROLES
from mixdown.errors import UsageError
from mixdown.fileio import atomic_write_text

SCHEMA = "mixdown.manifest/1"
SPLITS = ("train", "val", "test")
__all__ = ["ROLES", "SCHEMA", "SPLITS", "Track", "Mix", "Checks", "Record", "Skip", "read_manifest",
           "write_manifest", "atomic_write_text", "write_json", "split_file", "hash_split",
           "merge_shard_manifests"]
_SHARD_RE = re.compile(r"^(?P<split>\w+)\.shard-(?P<i>\d+)-of-(?P<n>\d+)\.jsonl$")


@dataclass
class Track:
    """One input track of a song (see the module docstring for units)."""

    path: str
    name: str
    role: str
    channels: int
    sample_rate: int
    frames: int
    active_regions: list[list[float]]
    silent: bool
    clipped: float
    peak: float
    rms_db: float
    file_size: int
    mtime: float
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass
class Mix:
    """The reference mix of a song."""

    path: str
    channels: int
    sample_rate: int
    frames: int
    clipped: float
    peak: float
    silent: bool
    file_size: int
    mtime: float


@dataclass
class Checks:
    """Consistency checks between the tracks and the mix."""

    length_mismatch: bool = False
    rate_mismatch: bool = False
    mix_offset_samples: int | None = None
    mix_correlation: float | None = None
    aligned: bool = False
    warnings: list[str] = field(default_factory=list)


@dataclass
class Record:
    """One song: a manifest line."""

    song: str
    source: str
    split: str
    root: str
    tracks: list[Track]
    mix: Mix | None
    params: str | None
    checks: Checks
    meta: dict[str, Any] = field(default_factory=dict)
    params_known: list[str] | None = None
    schema: str = SCHEMA

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict with ``schema`` first."""
        d = asdict(self)
        return {"schema": d.pop("schema"), **d}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Record:
        """Inverse of :meth:`to_dict` (unknown keys are an error: rebuild old manifests)."""
        d = dict(d)
        d["tracks"] = [Track(**t) for t in d["tracks"]]
        d["mix"] = Mix(**d["mix"]) if d.get("mix") else None
        d["checks"] = Checks(**d["checks"])
        return cls(**d)


@dataclass
class Skip:
    """Something left out of the dataset, and why: a file (path set) or a whole song."""

    song: str
    path: str | None
    reason: str


# ----------------------------------------------------------------------------- atomic writes
def write_json(path: Path, obj: Any) -> None:
    """Atomically write ``obj`` as indented JSON."""
    atomic_write_text(path, json.dumps(obj, indent=2, ensure_ascii=False) + "\n")


def write_manifest(path: Path, records: Iterable[Record | dict[str, Any]]) -> int:
    """Atomically write records as JSON lines (ASCII-escaped, readable in any locale); returns the count."""
    lines = [json.dumps(r.to_dict() if isinstance(r, Record) else r, ensure_ascii=True) for r in records]
    atomic_write_text(path, "".join(line + "\n" for line in lines))
    return len(lines)


def _json_lines(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """``(line number, record)`` of a ``.jsonl`` manifest; a missing file or a line that is not a
    JSON object raises :class:`UsageError` naming ``path`` (and the line) and the fix."""
    if not path.is_file():
        what = "is a folder, not a manifest file" if path.is_dir() else "manifest not found"
        raise UsageError(f"{path}: {what}; build one with 'mixdown dataset build' or 'mixdown dataset synth' "
                         "and point the data config (data.train.manifests / data.val.manifests) at its .jsonl")
    with open(path, encoding="utf-8") as fh:
        for line_no, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as e:
                raise UsageError(f"{path}:{line_no}: not a JSON record ({e}); rebuild the manifest") from e
            if not isinstance(rec, dict):
                raise UsageError(f"{path}:{line_no}: not a {SCHEMA} record (a JSON {type(rec).__name__}); "
                                 "rebuild the manifest")
            yield line_no, rec


def read_manifest(path: Path) -> list[Record]:
    """Records of one ``.jsonl`` file; a bad line raises :class:`UsageError` naming ``path:line``."""
    path = Path(path)
    out = []
    for line_no, rec in _json_lines(path):
        try:
            out.append(Record.from_dict(rec))
        except (TypeError, KeyError, AttributeError) as e:
            raise UsageError(f"{path}:{line_no}: not a {SCHEMA} record ({e}); rebuild the manifest") from e
    return out


# ----------------------------------------------------------------------------- splits and shards
def split_file(out: Path, split: str, shard: tuple[int, int] | None = None) -> Path:
    """``<out>/<split>.jsonl``, or ``<out>/<split>.shard-I-of-N.jsonl`` for shard ``(I, N)``."""
    if shard is None:
        return Path(out) / f"{split}.jsonl"
    return Path(out) / f"{split}.shard-{shard[0]}-of-{shard[1]}.jsonl"


def hash_split(key: str, fractions: tuple[float, float, float] = (0.8, 0.1, 0.1)) -> str:
    """Deterministic split of ``key`` (e.g. a song name) into train/val/test by SHA-1.

    The same key always lands in the same split, on every machine and Python version.
    """
    u = int.from_bytes(hashlib.sha1(key.encode("utf-8")).digest()[:8], "big") / 2.0**64
    edge = 0.0
    for split, frac in zip(SPLITS, fractions):
        edge += frac
        if u < edge:
            return split
    return SPLITS[-1]


def merge_shard_manifests(out: Path) -> dict[str, int]:
    """Join ``<split>.shard-I-of-N.jsonl`` files of a sharded build into ``<split>.jsonl``.

    Every shard 0..N-1 must be present for each split (a shard build writes all three split
    files, empty ones included). Records are sorted by song id; a song in two shards or two splits
    is an error. The shard files are kept. Returns songs per split.
    """
    out = Path(out)
    found: dict[str, dict[int, Path]] = {}
    counts = set()
    for p in out.iterdir():
        m = _SHARD_RE.match(p.name)
        if m:
            found.setdefault(m["split"], {})[int(m["i"])] = p
            counts.add(int(m["n"]))
    if not found:
        raise UsageError(f"{out}: no <split>.shard-I-of-N.jsonl files to merge; build with --shard I/N first")
    if len(counts) != 1:
        raise UsageError(f"{out}: shard files from builds with different N {sorted(counts)}; remove the stale ones")
    n = counts.pop()
    merged: dict[str, list[dict[str, Any]]] = {}
    seen: dict[str, str] = {}
    for split, shards in sorted(found.items()):
        missing = sorted(set(range(n)) - set(shards))
        if missing:
            raise UsageError(f"{out}: {split} shards {missing} of {n} are missing; run those shards first")
        rows = [r.to_dict() for i in range(n) for r in read_manifest(shards[i])]
        for r in rows:
            if r["song"] in seen:
                raise UsageError(f"{out}: song {r['song']!r} appears in two shards ({seen[r['song']]}, {split})")
            seen[r["song"]] = split
        merged[split] = sorted(rows, key=lambda r: r["song"])
    for split, rows in merged.items():
        write_manifest(split_file(out, split), rows)
    return {split: len(rows) for split, rows in merged.items()}


def read_records(path: str | os.PathLike) -> list[dict[str, Any]]:
    """Records of one ``.jsonl`` manifest as plain dicts (what the loaders read; paths stay as
    written: :func:`resolve` makes them absolute). Errors as :func:`read_manifest`'s."""
    return [rec for _, rec in _json_lines(Path(path))]


def resolve(rec: dict, p: str | None, manifest_dir: Path) -> Path | None:
    if p is None:
        return None
    q = Path(p)
    if q.is_absolute():
        return q
    root = Path(rec.get("root") or manifest_dir)
    return root / q
