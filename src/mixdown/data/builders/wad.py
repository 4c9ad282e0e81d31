"""MIDI songs stored inside Doom WAD files, written out as plain ``.mid`` files for the ``midi`` source.

Debian's ``freedoom`` ships two WADs (``/usr/share/games/doom/freedoom{1,2}.wad``) whose music lumps
(``D_*``) are Standard MIDI Files: 66 songs by many composers, whose channels carry the composer's
volume (CC7), pan (CC10) and often reverb send (CC91): human-set mixes, like the openttd-openmsx songs.

A WAD is a 12-byte header (``IWAD``/``PWAD``, lump count, directory offset; little-endian int32)
and a directory of 16-byte entries (offset, size, 8-byte name). :func:`extract_midi` writes each
music lump that is a MIDI file (``MThd``) as ``<out>/<wad stem>/<lump name, lower case>.mid``,
once per distinct content (a lump repeated under another name is skipped with a log line); lumps
in Doom's own MUS format are skipped with a warning (convert them with a tool such as ``mus2mid``).
"""

from __future__ import annotations

import hashlib
import logging
import os
import struct
from pathlib import Path

from mixdown.errors import UsageError

log = logging.getLogger(__name__)
MAGICS = (b"IWAD", b"PWAD")
MIDI_MAGIC = b"MThd"
MUS_MAGIC = b"MUS\x1a"


class WadError(UsageError):
    """A file that is not a readable WAD; the message names it."""


def music_lumps(path: Path) -> list[tuple[str, bytes]]:
    """``(name, bytes)`` of every music lump (name ``D_*``) of the WAD at ``path``, in directory order."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as e:
        raise WadError(f"{path}: cannot read ({e.strerror or e})") from e
    if len(data) < 12 or data[:4] not in MAGICS:
        raise WadError(f"{path}: not a WAD file (no IWAD/PWAD header)")
    count, offset = struct.unpack_from("<ii", data, 4)
    if count < 0 or offset < 12 or offset + 16 * count > len(data):
        raise WadError(f"{path}: damaged WAD directory ({count} lumps at byte {offset} of {len(data)})")
    out = []
    for i in range(count):
        start, size, raw = struct.unpack_from("<ii8s", data, offset + 16 * i)
        name = raw.split(b"\0", 1)[0].decode("ascii", "replace")
        if not name.upper().startswith("D_"):
            continue
        if start < 0 or size < 0 or start + size > len(data):
            raise WadError(f"{path}: lump {name} lies outside the file (bytes {start}..{start + size})")
        out.append((name, data[start:start + size]))
    return out


def extract_midi(wads: list[Path], out: Path) -> list[Path]:
    """Write the MIDI music lumps of ``wads`` under ``out`` (see the module doc); returns the files, sorted.

    Idempotent: a file already holding the same bytes is left as it is; files are written whole
    (temporary name, then renamed), so an interrupted run leaves no half-written song.
    """
    out = Path(out)
    seen: dict[str, Path] = {}
    written = []
    for wad in wads:
        wad = Path(wad)
        mus = 0
        for name, blob in music_lumps(wad):
            if blob[:4] == MUS_MAGIC:
                mus += 1
                continue
            if blob[:4] != MIDI_MAGIC:
                log.warning("%s: lump %s is neither MIDI nor MUS; skipped", wad, name)
                continue
            digest = hashlib.sha256(blob).hexdigest()
            if digest in seen:
                log.info("%s: lump %s repeats %s; skipped", wad, name, seen[digest])
                continue
            dest = out / wad.stem / f"{name.lower()}.mid"
            seen[digest] = dest
            written.append(dest)
            if dest.is_file() and dest.read_bytes() == blob:
                continue
            dest.parent.mkdir(parents=True, exist_ok=True)
            tmp = dest.with_name(f".{dest.name}.tmp")
            tmp.write_bytes(blob)
            os.replace(tmp, dest)
        if mus:
            log.warning("%s: %d music lumps are in Doom's MUS format, not MIDI; skipped (convert them "
                        "with mus2mid to use them)", wad, mus)
    return sorted(written)
