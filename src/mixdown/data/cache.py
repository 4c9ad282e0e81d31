"""A decoded-audio cache for manifests: memory-mapped int16 shards and an index.

Decoding FLAC (or even WAV through libsndfile) for every segment keeps a GPU waiting; the cache
decodes every file of one or more manifests once into flat shards that the dataset reads as
memory maps (a segment is one contiguous slice, no decoder, no file open per item).

Layout of the cache folder::

    cache.json        {"format": "mixdown.audiocache/1"}
    shard-00000.bin   interleaved samples (frames x channels) of many files, back to back
    index.jsonl       one line per cached file: path, file_size, mtime, shard, offset (bytes),
                      frames, channels, dtype

16-bit (and 8-bit) PCM files are stored as int16, exactly the integers libsndfile decodes (half
the bytes of float32); every other file (24-bit, float WAV, FLAC above 16 bits) as float32, so
the cache always returns the same samples as decoding. Each file is keyed by its
resolved path and the manifest's ``file_size`` and ``mtime`` (the file's own when a manifest has
none): the builder refuses files that changed since the manifest was written, and
:class:`AudioCache` refuses a manifest whose files are not in the cache with the same key.

Building is resumable: an index line is written only after its samples are flushed, and a rerun
cuts each shard back to its last indexed byte and skips files already cached.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Iterator

import numpy as np
import soundfile as sf

from mixdown.errors import UsageError

log = logging.getLogger(__name__)
FORMAT = "mixdown.audiocache/1"
_SCALE = 32768.0
_INT16_SUBTYPES = {"PCM_16", "PCM_S8", "PCM_U8"}


class CacheError(UsageError):
    """A cache that does not match its manifest, or a manifest whose files changed."""


def manifest_files(manifest: str | os.PathLike) -> Iterator[tuple[str, int, float]]:
    """``(resolved path, file_size, mtime)`` of every track and mix of a manifest.

    Size and mtime come from the manifest; records without them (hand-written manifests) use
    the file's current ones.
    """
    from mixdown.data.manifest import read_records as read_manifest
    from mixdown.data.manifest import resolve

    mdir = Path(manifest).parent
    for rec in read_manifest(manifest):
        for entry in [*(rec.get("tracks") or []), *([rec["mix"]] if rec.get("mix") else [])]:
            path = resolve(rec, entry["path"], mdir)
            if "file_size" in entry and "mtime" in entry:
                yield str(path), int(entry["file_size"]), float(entry["mtime"])
            else:
                st = path.stat()
                yield str(path), st.st_size, st.st_mtime


def _same(a: tuple[int, float], b: tuple[int, float]) -> bool:
    return a[0] == b[0] and abs(a[1] - b[1]) < 1e-3


def _read_index(folder: Path) -> dict[str, dict]:
    """Index entries by path (the last entry of a path wins); a torn last line is ignored."""
    entries: dict[str, dict] = {}
    index = folder / "index.jsonl"
    if not index.exists():
        return entries
    for line in index.read_text().splitlines():
        try:
            e = json.loads(line)
        except json.JSONDecodeError:
            log.warning("%s: ignoring a partly written line", index)
            continue
        entries[e["path"]] = e
    return entries


def build_cache(manifests: list[str | os.PathLike], out: str | os.PathLike, shard_mb: int = 1024,
                progress: bool = False) -> dict[str, int]:
    """Decode every file of ``manifests`` into the cache folder ``out`` (resuming a previous build).

    Returns counts ``{"cached": n already there, "decoded": n added}``. Raises :class:`CacheError`
    when a file's size or mtime differs from its manifest's (rebuild the manifest first).
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    header = out / "cache.json"
    if header.exists() and json.loads(header.read_text()).get("format") != FORMAT:
        raise CacheError(f"{out} is not a {FORMAT} cache")
    header.write_text(json.dumps({"format": FORMAT}))
    entries = _read_index(out)
    tmp = out / "index.jsonl.tmp"  # a clean index (without a torn last line) to append to
    tmp.write_text("".join(json.dumps(e) + "\n" for e in entries.values()))
    os.replace(tmp, out / "index.jsonl")
    ends: dict[int, int] = {}  # shard -> bytes covered by the index
    for e in entries.values():
        nbytes = e["frames"] * e["channels"] * np.dtype(e["dtype"]).itemsize
        ends[e["shard"]] = max(ends.get(e["shard"], 0), e["offset"] + nbytes)
    shard = max(ends, default=0)
    for s in sorted(set(ends) | {shard}):  # drop bytes of a write the index never recorded
        p = out / f"shard-{s:05d}.bin"
        if p.exists() and p.stat().st_size > ends.get(s, 0):
            with open(p, "r+b") as fh:
                fh.truncate(ends.get(s, 0))
    todo, counts = [], {"cached": 0, "decoded": 0}
    seen = set()
    for m in manifests:
        for path, size, mtime in manifest_files(m):
            if path in seen:
                continue
            seen.add(path)
            st = os.stat(path)
            if not _same((st.st_size, st.st_mtime), (size, mtime)):
                raise CacheError(f"{path} changed since {m} was built (size/mtime differ); rebuild the manifest")
            e = entries.get(path)
            if e is not None and _same((e["file_size"], e["mtime"]), (size, mtime)):
                counts["cached"] += 1
            else:
                todo.append((path, size, mtime))
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(todo), desc="cache", unit="file")
    with open(out / "index.jsonl", "a") as index:
        for path, size, mtime in todo:
            shard_path = out / f"shard-{shard:05d}.bin"
            if shard_path.exists() and shard_path.stat().st_size > shard_mb * 2 ** 20:
                shard += 1
                shard_path = out / f"shard-{shard:05d}.bin"
            data = decode(path)
            with open(shard_path, "ab") as fh:
                offset = fh.tell()
                fh.write(data.tobytes() + b"\0" * (-data.nbytes % 4))  # keep every entry 4-byte aligned
                fh.flush()
                os.fsync(fh.fileno())
            index.write(json.dumps({"path": path, "file_size": size, "mtime": mtime, "shard": shard,
                                    "offset": offset, "frames": data.shape[0], "channels": data.shape[1],
                                    "dtype": data.dtype.name}) + "\n")
            index.flush()
            counts["decoded"] += 1
            if bar is not None:
                bar.update()
    if bar is not None:
        bar.close()
    log.info("cache %s: %d files decoded, %d already cached", out, counts["decoded"], counts["cached"])
    return counts


def decode(path: str | os.PathLike) -> np.ndarray:
    """All samples of an audio file: int16 for up-to-16-bit PCM, else float32. Shape ``(frames, channels)``."""
    dtype = "int16" if sf.info(str(path)).subtype in _INT16_SUBTYPES else "float32"
    x, _ = sf.read(str(path), dtype=dtype, always_2d=True)
    return np.ascontiguousarray(x)


class AudioCache:
    """Read side of a cache folder, checked against the manifests that will read from it.

    Args:
        folder: the cache folder written by :func:`build_cache`.
        manifests: every file of these must be cached with the manifest's size and mtime.

    Memory maps are opened lazily in each process (DataLoader workers open their own).
    """

    def __init__(self, folder: str | os.PathLike, manifests: list[str | os.PathLike] = ()):
        self.folder = Path(folder)
        header = self.folder / "cache.json"
        if not header.exists() or json.loads(header.read_text()).get("format") != FORMAT:
            raise CacheError(f"{self.folder} is not an audio cache; run `mixdown dataset cache MANIFEST --out DIR`")
        self.entries = _read_index(self.folder)
        for m in manifests:
            for path, size, mtime in manifest_files(m):
                e = self.entries.get(path)
                if e is None or not _same((e["file_size"], e["mtime"]), (size, mtime)):
                    why = "is not cached" if e is None else "is stale (size/mtime differ from the manifest)"
                    raise CacheError(f"{path} {why} in {self.folder}; run `mixdown dataset cache {m} "
                                     f"--out {self.folder}`")
        self._maps: dict[int, np.memmap] = {}  # shard -> bytes

    def __getstate__(self):
        return {**self.__dict__, "_maps": {}}  # workers map the shards themselves

    def _shard(self, s: int) -> np.memmap:
        if s not in self._maps:
            self._maps[s] = np.memmap(self.folder / f"shard-{s:05d}.bin", dtype=np.uint8, mode="r")
        return self._maps[s]

    def frames(self, path: str | os.PathLike) -> int:
        return int(self.entries[str(path)]["frames"])

    def read(self, path: str | os.PathLike, start: int, n: int) -> np.ndarray:
        """``n`` frames from ``start`` (fewer at the end) as float32 (same values as decoding).

        Shape: ``(frames, channels)``.
        """
        e = self.entries[str(path)]
        ch, dt = e["channels"], np.dtype(e["dtype"])
        start = min(max(start, 0), e["frames"])
        stop = min(start + n, e["frames"])
        step = ch * dt.itemsize
        raw = self._shard(e["shard"])[e["offset"] + start * step: e["offset"] + stop * step]
        x = raw.view(dt).reshape(-1, ch)
        return x.astype(np.float32) / np.float32(_SCALE) if dt == np.int16 else np.array(x)
