"""Slakh2100 (FLAC, original or redux): synthesised stems of Lakh MIDI songs with their mix.

Layout::

    [slakh2100_flac_redux/]{train,validation,test}/TrackNNNNN/mix.flac
                                                 /TrackNNNNN/stems/SNN.flac
                                                 /TrackNNNNN/metadata.yaml

``metadata.yaml`` has ``stems: {S00: {inst_class, program_num, is_drum, audio_rendered, ...}}``.
Tracks are the rendered stems (name ``SNN``; role drums when ``is_drum``, else from
``inst_class``); stems with ``audio_rendered: false`` have no audio and are listed in the record's
``meta.unrendered``. The mix is ``mix.flac``. Splits are the standard parent folders (train,
validation -> val, test); songs in the redux ``omitted`` folder are skipped (duplicates); track
folders without a split parent are split 80/10/10 by a hash of the track name.
"""

from __future__ import annotations

import re
from pathlib import Path

from mixdown.data.builders import Discovery, SongSpec, TrackSpec, audio_files, audio_stem, load_yaml, song_id, walk_dirs
from mixdown.data.manifest import Skip, hash_split
from mixdown.data.roles import normalise_role

NAME = "slakh"
LAYOUT = "TrackNNNNN/{mix.flac, stems/SNN.flac, metadata.yaml}, optionally under train/, validation/, test/"
_TRACK = re.compile(r"^Track\d+$")
_PARENT_SPLIT = {"train": "train", "validation": "val", "valid": "val", "val": "val", "test": "test"}
#: Slakh ``inst_class`` -> role
INST_CLASS_ROLES = {
    "piano": "keys", "organ": "keys", "chromatic percussion": "percussion", "guitar": "guitar", "bass": "bass",
    "strings": "strings", "strings (continued)": "strings", "ensemble": "strings", "brass": "brass",
    "reed": "winds", "pipe": "winds", "synth lead": "lead", "synth pad": "synth", "synth effects": "fx",
    "sound effects": "fx", "ethnic": "other", "percussive": "percussion", "drums": "drums",
}


def role_for(stem: dict) -> str:
    """Role of one ``metadata.yaml`` stem entry."""
    if stem.get("is_drum"):
        return "drums"
    cls = str(stem.get("inst_class") or "").strip().lower()
    return INST_CLASS_ROLES.get(cls) or normalise_role(stem.get("inst_class"), stem.get("midi_program_name"))


def _read_meta(d: Path, spec: SongSpec) -> dict:
    meta_file = d / "metadata.yaml"
    if not meta_file.is_file():
        spec.warnings.append("no metadata.yaml; roles unknown")
        return {}
    spec.extra_files.append(meta_file)
    try:
        doc = load_yaml(meta_file)
    except ValueError as e:
        spec.skips.append(Skip(spec.song, str(meta_file), str(e)))
        spec.warnings.append("metadata.yaml unreadable; roles unknown")
        return {}
    return doc if isinstance(doc, dict) else {}


def _song(d: Path, root: Path, split: str) -> SongSpec:
    spec = SongSpec(song=song_id(d, root), source=NAME, split=split, root=root, tracks=[])
    meta = _read_meta(d, spec)
    stems = {str(k): v for k, v in (meta.get("stems") or {}).items() if isinstance(v, dict)}
    stem_dir = d / str(meta.get("audio_dir") or "stems")
    on_disk = {audio_stem(p): p for p in audio_files(stem_dir)}
    unrendered = sorted(k for k, v in stems.items() if v.get("audio_rendered") is False)
    for sid in sorted(stems):
        if sid not in unrendered and sid not in on_disk:
            spec.skips.append(Skip(spec.song, str(stem_dir / f"{sid}.flac"), "rendered per metadata.yaml but missing"))
    for sid, path in sorted(on_disk.items()):
        stem = stems.get(sid)
        if stem is None and stems:
            spec.warnings.append(f"{path.name} is not in metadata.yaml; role unknown")
        stem = stem or {}
        labels = {k: stem[k] for k in ("inst_class", "program_num", "is_drum", "midi_program_name", "plugin_name")
                  if k in stem}
        spec.tracks.append(TrackSpec(path, sid, role_for(stem) if stem else "other", labels))
    mix = next((p for p in (d / "mix.flac", d / "mix.wav") if p.is_file()), None)
    spec.mix = mix
    if mix is None:
        spec.warnings.append("no mix.flac")
    spec.meta = {"uuid": meta.get("UUID"), "unrendered": unrendered,
                 "split_from": "folder" if d.parent.name.lower() in _PARENT_SPLIT else "hash"}
    return spec


def discover(root: Path) -> Discovery:
    """``TrackNNNNN`` folders down to three levels below ``root``."""
    out = Discovery([])
    for d in walk_dirs(root, 3):
        if not _TRACK.match(d.name):
            continue
        parent = d.parent.name.lower()
        if parent == "omitted":
            out.skipped.append(Skip(song_id(d, root), None, "in the Slakh redux 'omitted' folder (a duplicate song)"))
            continue
        spec = _song(d, root, _PARENT_SPLIT.get(parent) or hash_split(d.name))
        if spec.tracks:
            out.songs.append(spec)
        else:
            out.skipped += spec.skips + [Skip(spec.song, None, "no stem audio files")]
    return out
