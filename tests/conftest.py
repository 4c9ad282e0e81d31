"""Shared fixtures. Keep each fixture small and documented; others may add theirs below."""

import pytest

from mixdown.params import spec as S
from mixdown.params.io import MasterParams, MixParams, TrackParams


def _neutral(specs) -> dict[str, float]:
    """Settings that leave a signal unchanged, written out from the console spec by hand:
    every gain 0 dB, high-pass 20 Hz (off), EQ gains 0, compressor ratio 1, pan 0, reverb sends at
    -60 dB (off; the reverb's own settings, the spec's example, then change nothing)."""
    freqs = {0: 100.0, 1: 250.0, 2: 800.0, 3: 2500.0, 4: 6000.0, 5: 8000.0}
    comp = {"threshold_db": 0.0, "ratio": 1.0, "attack_ms": 10.0, "release_ms": 100.0,
            "knee_db": 0.0, "makeup_db": 0.0}
    out = {}
    for s in specs:
        parts = s.name.split(".")
        if parts[0] == "eq":
            band, key = int(parts[1]), parts[2]
            out[s.name] = {"freq_hz": freqs[band], "gain_db": 0.0,
                           "q": 0.707 if band in (0, 5) else 1.0}[key]
        elif parts[0] == "compressor":
            out[s.name] = comp[parts[1]]
        elif parts[0] == "reverb":
            out[s.name] = {"predelay_ms": 20.0, "decay_low_s": 1.8, "decay_mid_s": 1.5, "decay_high_s": 0.7,
                           "highpass_hz": 200.0, "return_db": 0.0}[parts[1]]
        else:
            out[s.name] = {"input_gain_db": 0.0, "highpass_hz": 20.0, "fader_db": 0.0, "pan": 0.0,
                           "output_gain_db": 0.0, "reverb_send_db": -60.0}[s.name]
    return out


@pytest.fixture
def make_mix_params():
    """Factory: ``make_mix_params(["bass.wav", ...], sample_rate=44100, track_overrides={"bass":
    {"pan": -1.0}}, master_overrides={...})`` -> neutral :class:`MixParams`; track names are the
    file stems."""

    def make(files, sample_rate=44100, track_overrides=None, master_overrides=None, **extra):
        track_overrides = track_overrides or {}
        tracks = []
        for f in files:
            name = f.rsplit("/", 1)[-1].rsplit(".", 1)[0]
            values = {**_neutral(S.TRACK_SPECS), **track_overrides.get(name, {})}
            tracks.append(TrackParams(name, f, values))
        master = MasterParams({**_neutral(S.MASTER_SPECS), **(master_overrides or {})})
        return MixParams(sample_rate, tracks, master, dict(extra))

    return make
