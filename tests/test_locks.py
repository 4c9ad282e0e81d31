"""Locks (``--lock TRACK.KEY=VALUE``) follow the parameter table: the reverb's send and settings
are lockable like every other parameter, and checked against their ranges."""

import numpy as np
import pytest

from mixdown.params import spec as S
from mixdown.params.locks import apply_locks, parse_locks


def test_reverb_send_and_settings_lock():
    locks = parse_locks(["vocals.reverb_send_db=-18", "master.reverb.decay_mid_s=1.2",
                         "master.reverb.predelay_ms=35"], ["drums", "vocals"], 44100)
    assert locks == {("vocals", "reverb_send_db"): -18.0, ("master", "reverb.decay_mid_s"): 1.2,
                     ("master", "reverb.predelay_ms"): 35.0}
    tv, mv = np.zeros((2, S.N_TRACK_PARAMS)), np.zeros(S.N_MASTER_PARAMS)
    apply_locks(tv, mv, ["drums", "vocals"], locks)
    assert tv[1, S.TRACK_NAMES.index("reverb_send_db")] == -18.0 and tv[0].sum() == 0.0
    assert mv[S.MASTER_NAMES.index("reverb.decay_mid_s")] == 1.2
    assert mv[S.MASTER_NAMES.index("reverb.predelay_ms")] == 35.0


@pytest.mark.parametrize("item,fragment", [("vocals.reverb_send_db=6", "outside"),
                                           ("master.reverb.decay_mid_s=20", "outside"),
                                           ("master.reverb.highpass_hz=30000", "outside"),
                                           ("master.reverb.size=3", "no key"),
                                           ("vocals.reverb.decay_mid_s=1", "no key")])
def test_bad_reverb_locks_are_errors_naming_them(item, fragment):
    with pytest.raises(ValueError, match=fragment) as e:
        parse_locks([item], ["vocals"], 44100)
    assert item.split("=")[0] in str(e.value)
