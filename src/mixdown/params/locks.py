"""Locked parameters (``--lock vocals.fader_db=-2``): parsed and checked against the spec table."""

from __future__ import annotations

import numpy as np

from mixdown.errors import UsageError
from mixdown.params import spec as S


def parse_locks(items: list[str] | dict[str, float], names: list[str],
                sample_rate: int | None = None) -> dict[tuple[str, str], float]:
    """``["vocals.fader_db=-2", "master.output_gain_db=-1"]`` -> ``{("vocals", "fader_db"): -2.0}``.

    ``TRACK.KEY`` is split against the session's track ``names`` (which may hold dots:
    ``vox.lead.fader_db`` locks track ``vox.lead``) and the parameter keys (which hold dots too:
    ``eq.2.gain_db``). A track named ``master`` (``master.wav``) is reached by the keys only a track
    has (``master.fader_db``); a key both have (``eq.*``, ``compressor.*``) is ambiguous there and
    refused (see :func:`is_master_lock`). Unknown tracks or keys raise ``ValueError`` listing the
    valid ones; values outside the parameter's range raise ``ValueError`` naming it.
    """
    pairs = items.items() if isinstance(items, dict) else (_split_lock(i) for i in items)
    out: dict[tuple[str, str], float] = {}
    for target, value in pairs:
        track, key = _split_target(target, names)
        master = is_master_lock(track, key)
        spec = (S.MASTER_SPECS if master else S.TRACK_SPECS)[(S.MASTER_NAMES if master else S.TRACK_NAMES).index(key)]
        problem = S.check_value(spec, float(value), sample_rate)
        if problem:
            raise UsageError(f"--lock {target}: {problem}")
        out[(track, key)] = float(value)
    return out


def is_master_lock(track: str, key: str) -> bool:
    """Whether a parsed lock ``(track, key)`` is the master bus's (else the track's of that name:
    a track named ``master`` has the keys only tracks have)."""
    return track == MASTER and key in S.MASTER_NAMES


#: the master bus in ``--lock master.KEY=VALUE``
MASTER = "master"


def _split_target(target: str, names: list[str]) -> tuple[str, str]:
    """``TRACK.KEY`` -> ``(track, key)``, trying every track name (and the master bus) as the prefix."""
    found = []
    for owner, keys in [(n, S.TRACK_NAMES) for n in dict.fromkeys(names)] + [(MASTER, S.MASTER_NAMES)]:
        if target.startswith(owner + ".") and target[len(owner) + 1:] in keys:
            found.append((owner, target[len(owner) + 1:], keys is S.MASTER_NAMES))
    if len(found) == 1:
        return found[0][:2]
    if found:
        which = " and ".join("the master bus" if m else f"track {o!r} (key {k!r})" for o, k, m in found)
        raise UsageError(f"--lock {target}: ambiguous: it names {which}; rename the track's file so that no "
                         "track name is 'master' or another track's name followed by a key")
    owners = [n for n in [*names, MASTER] if target.startswith(n + ".")]
    if owners:  # the track exists, the key does not
        owner = max(owners, key=len)
        valid = S.MASTER_NAMES if owner == MASTER and owner not in names else S.TRACK_NAMES
        raise UsageError(f"--lock {target}: no key {target[len(owner) + 1:]!r}; valid keys: {', '.join(valid)}")
    keys = [k for k in (*S.TRACK_NAMES, *S.MASTER_NAMES) if target.endswith("." + k)]
    track = target[:-len(max(keys, key=len)) - 1] if keys else target.partition(".")[0]
    raise UsageError(f"--lock {target}: no track {track!r}; tracks: {', '.join(names)}, master")


def _split_lock(item: str) -> tuple[str, float]:
    target, sep, value = item.partition("=")
    try:
        return target.strip(), float(value)
    except ValueError:
        raise UsageError(f"--lock {item!r}: expected TRACK.KEY=NUMBER, e.g. vocals.fader_db=-2") from None


def apply_locks(tv: np.ndarray, mv: np.ndarray, names: list[str], locks: dict[tuple[str, str], float]) -> None:
    """Write locked values into ``tv (N, N_TRACK_PARAMS)`` / ``mv (N_MASTER_PARAMS,)`` in place."""
    for (track, key), value in locks.items():
        if is_master_lock(track, key):
            mv[S.MASTER_NAMES.index(key)] = value
        else:
            tv[names.index(track), S.TRACK_NAMES.index(key)] = value
