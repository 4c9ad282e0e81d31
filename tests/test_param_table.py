"""The parameter table does the parameter work: ``columns`` and ``clip`` on the table, used
everywhere settings are clipped or columns looked up by name; the reverb's "no sends at 8889 Hz
and below" rule is one row of the table (its range there), which the reader, the predictions and
the training console all take from it. One role vocabulary, on the same low floor."""

import re
from pathlib import Path

import numpy as np
import torch

from mixdown.params import spec as S

SRC = Path(__file__).resolve().parents[1] / "src" / "mixdown"


def test_clip_is_every_rows_range_at_the_rate():
    rng = np.random.default_rng(0)
    for table in (S.TRACK, S.MASTER):
        for sr in (8000, 22050, 44100, None):
            x = rng.normal(0, 1e4, (5, len(table)))
            lo = np.array([s.limits(sr)[0] for s in table])
            hi = np.array([s.limits(sr)[1] for s in table])
            got = table.clip(x, sr)
            np.testing.assert_array_equal(got, np.minimum(np.maximum(x, lo), hi))
            np.testing.assert_array_equal(table.clip(torch.from_numpy(x), sr).numpy(), got)
    assert S.TRACK.columns == {n: i for i, n in enumerate(S.TRACK_NAMES)}
    assert S.MASTER.names == S.MASTER_NAMES


def test_no_reverb_up_to_8889_hz_is_the_sends_range():
    send = S.TRACK.columns["reverb_send_db"]
    assert S.TRACK_SPECS[send].limits(8000) == (-60.0, -60.0)
    assert S.TRACK_SPECS[send].limits(8890) == (-60.0, 0.0)
    assert S.TRACK.clip(np.zeros(S.N_TRACK_PARAMS), 8000)[send] == -60.0
    assert "8889 Hz" in S.check_value(S.TRACK_SPECS[send], -6.0, 8000)  # the reader's error
    assert S.check_value(S.TRACK_SPECS[send], -60.0, 8000) is None
    u = np.full(S.N_TRACK_PARAMS, 0.7)  # a network's output: denormalised at 8 kHz, the send is off
    assert S.denormalize(u, S.TRACK_SPECS, 8000)[send] == -60.0
    assert S.normalize(S.denormalize(u, S.TRACK_SPECS, 8000), S.TRACK_SPECS, 8000)[send] == 0.0


def test_the_table_is_used_everywhere():
    """No module but the table computes ranges to clip to or rebuilds a name -> column map."""
    by_hand = re.compile(r"limits\([^)]*\) for s in|enumerate\(S\.(TRACK|MASTER)_NAMES\)|np\.clip\([^\n]*-48, 24\)")
    offenders = []
    for path in SRC.rglob("*.py"):
        rel = path.relative_to(SRC).as_posix()
        if rel == "params/spec.py":
            continue
        offenders += [f"{rel}: {m.group(0)}" for m in by_hand.finditer(path.read_text(encoding="utf-8"))]
    assert offenders == []


def test_one_role_vocabulary():
    """The prior's roles are the role vocabulary at a finer grain (``data.roles``): each lies under one
    of ROLES, the prior sets every one, and every role maps to one."""
    from mixdown.data import prior
    from mixdown.data.roles import PRIOR_ROLES, ROLE_PRIOR, ROLES, prior_role

    assert set(PRIOR_ROLES.values()) <= set(ROLES) and set(ROLE_PRIOR) == set(ROLES)
    assert set(ROLE_PRIOR.values()) <= set(PRIOR_ROLES) and set(prior.SETTINGS) == set(PRIOR_ROLES)
    assert not hasattr(prior, "ROLES") and not hasattr(prior, "role_of")
    assert [prior_role(n) for n in ("kick_1", "Lead Vox", "guitar_2", "mystery")] == ["kick", "lead", "guitar", "other"]
