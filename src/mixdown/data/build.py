"""Build manifests from a public multitrack corpus: discover, analyse (in parallel, resumable), write.

``build_dataset("medleydb", root, out, jobs=4)`` writes ``<out>/{train,val,test}.jsonl`` (see
:mod:`mixdown.data.manifest` for the record) and ``<out>/build_report.{json,md}``.

- Resumable: each analysed song is cached in ``<out>/.cache/<song-hash>.json`` with a key over the
  song's file paths, sizes and mtimes (and the analysis options); a rebuild after a kill or a
  change re-reads only new or changed songs.
- Sharded: ``shard=(I, N)`` takes songs ``I, I+N, I+2N, ...`` (0-based I) of the sorted song list and
  writes ``<split>.shard-I-of-N.jsonl`` plus ``build_report.shard-I-of-N.*``. Run all N shards
  into the same ``out`` (e.g. on N machines with a shared disk), then :func:`merge_shards` (or
  ``mixdown dataset merge --out DIR``) writes the usual ``<split>.jsonl`` and ``build_report.*``.
- Never crashes on bad files: they are skipped with a reason in the report.
"""

from __future__ import annotations

import hashlib
import json
import logging
import multiprocessing
import os
import time
import traceback
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict
from pathlib import Path
from typing import Any, Iterator

from mixdown.data.analyse import analyse_song
from mixdown.data.builders import BuildError, SongSpec, get_builder
from mixdown.data.checks import AnalysisOptions
from mixdown.data.manifest import SPLITS, Skip, merge_shard_manifests, split_file, write_json, write_manifest
from mixdown.data.report import BuildReport, merge_reports, read_report, write_report
from mixdown.errors import UsageError

log = logging.getLogger(__name__)
#: bump when the analysis changes so old cache entries are ignored
CACHE_VERSION = 1
__all__ = ["BuildError", "BuildReport", "build_dataset", "merge_shards", "CACHE_VERSION"]


def _check_args(source: str, root: Path, out: Path, jobs: int, shard: tuple[int, int] | None) -> None:
    if not root.exists():
        raise BuildError(f"{root}: no such folder; pass the {source} corpus folder as --root")
    if not root.is_dir():
        raise BuildError(f"{root}: not a folder; --root must be the {source} corpus folder")
    if out.exists() and not out.is_dir():
        raise BuildError(f"{out}: exists and is not a folder; choose another --out")
    if jobs < 1:
        raise BuildError(f"jobs must be at least 1, got {jobs}")
    if shard is not None:
        i, n = shard
        if n < 1 or not 0 <= i < n:
            raise BuildError(f"shard {i}/{n}: need N >= 1 and 0 <= I < N (I is 0-based: 0/{max(n, 1)} .. "
                             f"{max(n, 1) - 1}/{max(n, 1)})")


def discover_songs(source: str, root: Path) -> tuple[list[SongSpec], list[Skip]]:
    """Songs of ``root`` sorted by id, and discovery skips; BuildError when none look like ``source``."""
    builder = get_builder(source)
    found = builder.discover(root)
    songs = sorted(found.songs, key=lambda s: s.song)
    if not songs:
        extra = f" ({len(found.skipped)} candidates skipped, e.g. {found.skipped[0].reason})" if found.skipped else ""
        raise BuildError(f"{root} does not look like a {source} corpus{extra}: expected {builder.LAYOUT}. Check "
                         f"--root (the folder that holds the songs) and --source")
    ids = [s.song for s in songs]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise BuildError(f"{root}: song ids {dupes[:5]} occur twice; rename the duplicate song folders")
    return songs, list(found.skipped)


# ----------------------------------------------------------------------------- cache
def _cache_file(out: Path, spec: SongSpec) -> Path:
    h = hashlib.sha1(f"{spec.source}\0{spec.song}".encode()).hexdigest()[:20]
    return out / ".cache" / f"{h}.json"


def cache_key(spec: SongSpec, opts: AnalysisOptions) -> str:
    """SHA-1 over the song's description, the analysis options and each file's path, size and mtime."""
    files = []
    for p in spec.files():
        try:
            st = os.stat(p)
            files.append([str(p), st.st_size, st.st_mtime_ns])
        except OSError:
            files.append([str(p), -1, -1])
    doc = {"v": CACHE_VERSION, "opts": asdict(opts), "spec": asdict(spec), "files": files}
    return hashlib.sha1(json.dumps(doc, sort_keys=True, default=str).encode()).hexdigest()


def _load_cached(path: Path, key: str) -> dict[str, Any] | None:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return doc.get("result") if isinstance(doc, dict) and doc.get("key") == key else None


# ----------------------------------------------------------------------------- analysis
def _work(spec: SongSpec, out: Path, opts: AnalysisOptions) -> dict[str, Any]:
    """Prepare (decode) and analyse one song; an exception becomes ``{"error": text}``."""
    try:
        builder = get_builder(spec.source)
        if hasattr(builder, "prepare"):
            spec = builder.prepare(spec, out)
        return analyse_song(spec, opts)
    except Exception as e:  # one bad song must not stop the build
        log.debug("%s failed:\n%s", spec.song, traceback.format_exc())
        return {"error": f"{type(e).__name__}: {e}"}


def _run(todo: list[SongSpec], out: Path, opts: AnalysisOptions, jobs: int) -> Iterator[tuple[SongSpec, dict]]:
    """``(spec, result)`` as songs finish, in worker processes when ``jobs > 1``."""
    if jobs == 1 or len(todo) <= 1:
        for spec in todo:
            yield spec, _work(spec, out, opts)
        return
    ctx = multiprocessing.get_context("spawn")  # no fork of a parent that may hold threads (torch)
    with ProcessPoolExecutor(max_workers=min(jobs, len(todo)), mp_context=ctx) as pool:
        futures = {pool.submit(_work, spec, out, opts): spec for spec in todo}
        try:
            for fut in as_completed(futures):
                yield futures[fut], fut.result()
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)
            raise


def _analyse_all(songs: list[SongSpec], out: Path, opts: AnalysisOptions, jobs: int, progress: bool,
                 report: BuildReport) -> dict[str, dict[str, Any]]:
    """Results per song id: from the cache, or analysed now (and cached as each finishes)."""
    from tqdm import tqdm

    results: dict[str, dict[str, Any]] = {}
    todo, keys = [], {}
    for spec in songs:
        keys[spec.song] = cache_key(spec, opts)
        hit = _load_cached(_cache_file(out, spec), keys[spec.song])
        if hit is not None:
            results[spec.song] = hit
        else:
            todo.append(spec)
    report.cached, report.analysed = len(results), len(todo)
    with tqdm(total=len(songs), initial=len(results), desc="songs", unit="song", disable=not progress) as bar:
        for spec, res in _run(todo, out, opts, jobs):
            if "error" in res:
                report.failed += 1
                log.error("%s: analysis failed (%s); skipped, will retry on the next build", spec.song, res["error"])
                res = {"record": None, "skips": [asdict(Skip(spec.song, None, f"analysis failed: {res['error']}"))]}
            else:
                write_json(_cache_file(out, spec), {"key": keys[spec.song], "song": spec.song, "result": res})
            results[spec.song] = res
            bar.update()
    return results


# ----------------------------------------------------------------------------- writing
def _hours(rec: dict[str, Any]) -> float:
    ref = rec["mix"] or max(rec["tracks"], key=lambda t: t["frames"] / t["sample_rate"])
    return ref["frames"] / ref["sample_rate"] / 3600


def _write(results: dict[str, dict], out: Path, shard: tuple[int, int] | None, report: BuildReport) -> None:
    by_split: dict[str, list[dict]] = {s: [] for s in SPLITS}
    for song in sorted(results):
        res = results[song]
        report.skipped += res["skips"]
        rec = res["record"]
        if rec is None:
            continue
        by_split[rec["split"]].append(rec)
        if rec["checks"]["warnings"]:
            report.warnings.append({"song": song, "warnings": rec["checks"]["warnings"]})
        if rec["mix"] is not None and not rec["checks"]["aligned"]:
            report.not_aligned.append(song)
    for split, recs in by_split.items():
        path = split_file(out, split, shard)
        write_manifest(path, recs)
        report.splits[split] = {"songs": len(recs), "tracks": sum(len(r["tracks"]) for r in recs),
                                "hours": round(sum(_hours(r) for r in recs), 6), "file": str(path)}
    report.songs_written = sum(v["songs"] for v in report.splits.values())


def _log_skips(report: BuildReport, limit: int = 20) -> None:
    for k in report.skipped[:limit]:
        log.warning("skipped %s%s: %s", k["song"], f" ({k['path']})" if k.get("path") else "", k["reason"])
    if len(report.skipped) > limit:
        log.warning("... and %d more skipped entries", len(report.skipped) - limit)


def build_dataset(source: str, root: Path, out: Path, jobs: int = 1, shard: tuple[int, int] | None = None, *,
                  options: AnalysisOptions | None = None, progress: bool = True) -> BuildReport:
    """Build the manifests of the ``source`` corpus at ``root`` into ``out``; returns the report.

    Raises BuildError for a missing root, a root without ``source``'s layout, bad jobs/shard, or a
    build where every song was skipped (the report is still written).
    """
    t0 = time.monotonic()
    root, out = Path(os.path.abspath(root)), Path(os.path.abspath(out))
    opts = options or AnalysisOptions()
    _check_args(source, root, out, jobs, shard)
    songs, disc_skips = discover_songs(source, root)
    found = len(songs)
    if shard is not None:
        songs = songs[shard[0]::shard[1]]
        if not songs:
            log.warning("shard %d/%d has no songs (%d songs in all); writing empty shard files", *shard, found)
    out.mkdir(parents=True, exist_ok=True)
    report = BuildReport(source=source, root=str(root), out=str(out), shard=list(shard) if shard else None,
                         songs_found=len(songs))
    if shard is None or shard[0] == 0:
        report.skipped += [asdict(k) for k in disc_skips]
    log.info("%s: %d songs to build from %s (%s)", source, len(songs), root,
             "all" if shard is None else f"shard {shard[0]} of {shard[1]}")
    results = _analyse_all(songs, out, opts, jobs, progress, report)
    _write(results, out, shard, report)
    report.elapsed_s = round(time.monotonic() - t0, 2)
    js = write_report(report, out, shard)
    _log_skips(report)
    log.info("%s; report in %s", report.summary(), js.with_suffix(".md"))
    if shard is not None:
        log.info("shard %d of %d done; once all %d shards are built into %s, join them with "
                 "'mixdown dataset merge --out %s' (or mixdown.data.build.merge_shards)", shard[0], shard[1],
                 shard[1], out, out)
    if report.songs_written == 0 and songs:
        raise BuildError(f"no usable songs under {root}: all {len(songs)} were skipped; see {js.with_suffix('.md')} "
                         f"for the reasons")
    return report


def merge_shards(out: Path) -> BuildReport:
    """Join the shard manifests and reports of a sharded build in ``out`` (see the module docstring)."""
    out = Path(os.path.abspath(out))
    if not out.is_dir():
        raise BuildError(f"{out}: no such folder; pass the --out folder of the shard builds")
    try:
        counts = merge_shard_manifests(out)
    except UsageError as e:
        raise BuildError(str(e)) from e
    shard_reports = sorted(out.glob("build_report.shard-*-of-*.json"))
    report = merge_reports([read_report(p) for p in shard_reports], out)
    for split, n in counts.items():
        report.splits.setdefault(split, {"songs": n, "tracks": 0, "hours": 0.0, "file": str(split_file(out, split))})
    js = write_report(report, out)
    log.info("merged %d shard reports: %s; report in %s", len(shard_reports), report.summary(), js)
    return report
