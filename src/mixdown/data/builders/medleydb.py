"""MedleyDB v1/v2: raw multitracks with the artist's mix.

Layout (``root`` may hold the song folders directly or under ``Audio/``)::

    Song/Song_MIX.wav
    Song/Song_STEMS/Song_STEM_NN.wav
    Song/Song_RAW/Song_RAW_NN_MM.wav
    Song/Song_METADATA.yaml      (or <root>/Metadata/Song_METADATA.yaml)

Tracks are the RAW files; the role comes from the raw file's ``instrument`` label in the metadata
(``stems: {S01: {instrument, component, raw: {R01: {filename, instrument}}}}``), then the stem's.
The mix is ``Song_MIX.wav``. ``has_bleed`` goes into the record's ``meta``. Without a RAW folder the
STEMS are used (with a warning). MedleyDB has no standard split: songs are split 80/10/10 by a
hash of the song name, so a song is never in two splits and the split never depends on the machine.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mixdown.data.builders import Discovery, SongSpec, TrackSpec, audio_files, audio_stem, load_yaml, song_id, walk_dirs
from mixdown.data.manifest import Skip, hash_split
from mixdown.data.roles import normalise_role

NAME = "medleydb"
LAYOUT = ("Song/Song_MIX.wav, Song/Song_RAW/Song_RAW_NN_MM.wav, Song/Song_STEMS/Song_STEM_NN.wav and "
          "Song/Song_METADATA.yaml for each song folder (directly under --root or under --root/Audio)")


def _is_song(d: Path) -> bool:
    n = d.name
    return (d / f"{n}_RAW").is_dir() or (d / f"{n}_MIX.wav").is_file() or (d / f"{n}_STEMS").is_dir()


def _metadata_file(d: Path, root: Path) -> Path | None:
    name = f"{d.name}_METADATA.yaml"
    for cand in (d / name, d.parent / "Metadata" / name, d.parent.parent / "Metadata" / name, root / "Metadata" / name):
        if cand.is_file():
            return cand
    return None


def _yes(v: Any) -> bool | None:
    if isinstance(v, bool) or v is None:
        return v
    return str(v).strip().lower() in ("yes", "true", "1", "y")


def _labels(meta: dict) -> dict[str, dict[str, str]]:
    """File name -> labels (instrument, stem id, stem instrument, component) from the metadata."""
    out: dict[str, dict[str, str]] = {}
    for stem_id, stem in sorted((meta.get("stems") or {}).items()):
        if not isinstance(stem, dict):
            continue
        s_inst = str(stem.get("instrument") or "")
        base = {"stem": str(stem_id), "stem_instrument": s_inst, "component": str(stem.get("component") or "")}
        if stem.get("filename"):
            out[str(stem["filename"])] = {**base, "instrument": s_inst, "kind": "stem"}
        for raw_id, raw in sorted((stem.get("raw") or {}).items()):
            if isinstance(raw, dict) and raw.get("filename"):
                inst = str(raw.get("instrument") or s_inst)
                out[str(raw["filename"])] = {**base, "raw": str(raw_id), "instrument": inst, "kind": "raw"}
    return out


def _song(d: Path, root: Path) -> SongSpec:
    name = d.name
    spec = SongSpec(song=song_id(d, root), source=NAME, split=hash_split(name), root=root, tracks=[])
    meta_file = _metadata_file(d, root)
    meta: dict = {}
    if meta_file is None:
        spec.warnings.append(f"no {name}_METADATA.yaml; roles guessed from file names, bleed unknown")
    else:
        spec.extra_files.append(meta_file)
        try:
            loaded = load_yaml(meta_file)
            meta = loaded if isinstance(loaded, dict) else {}
        except ValueError as e:
            spec.skips.append(Skip(spec.song, str(meta_file), str(e)))
            spec.warnings.append(f"metadata unreadable ({e}); roles guessed from file names")
    labels = _labels(meta)
    raw_dir = d / str(meta.get("raw_dir") or f"{name}_RAW")
    kind = "raw"
    if not raw_dir.is_dir():
        raw_dir, kind = d / str(meta.get("stem_dir") or f"{name}_STEMS"), "stem"
        spec.warnings.append(f"no RAW folder; the STEMS in {raw_dir.name} are the tracks")
    on_disk = {p.name: p for p in audio_files(raw_dir)}
    for fname, lab in sorted(labels.items()):
        if lab["kind"] == kind and fname not in on_disk:
            spec.skips.append(Skip(spec.song, str(raw_dir / fname), "listed in the metadata but missing"))
    for fname, path in sorted(on_disk.items()):
        lab = labels.get(fname)
        if lab is None and labels:
            spec.warnings.append(f"{fname} is not in the metadata; role guessed from its name")
        lab = lab or {}
        role = normalise_role(lab.get("instrument"), lab.get("stem_instrument"), audio_stem(path))
        spec.tracks.append(TrackSpec(path, audio_stem(path), role, {k: v for k, v in lab.items() if k != "kind"}))
    mix = d / str(meta.get("mix_filename") or f"{name}_MIX.wav")
    spec.mix = mix if mix.is_file() else None
    if spec.mix is None:
        spec.warnings.append(f"no mix {mix.name}")
    spec.meta = {"has_bleed": _yes(meta.get("has_bleed")), "instrumental": _yes(meta.get("instrumental")),
                 "artist": meta.get("artist"), "title": meta.get("title"), "genre": meta.get("genre"),
                 "version": None if meta.get("version") is None else str(meta.get("version")), "tracks_from": kind}
    return spec


def discover(root: Path) -> Discovery:
    """Song folders down to three levels below ``root`` (``root/Audio/Song`` included)."""
    songs, skipped = [], []
    for d in walk_dirs(root, 3):
        if _is_song(d) and (d == root or not _is_song(d.parent)):
            spec = _song(d, root)
            if spec.tracks:
                songs.append(spec)
            else:
                skipped.extend(spec.skips)
                skipped.append(Skip(spec.song, None, "no RAW or STEMS audio files"))
    return Discovery(songs, skipped)
