"""Small MixologyDB-like JSON files for tests: tracks with the fields the reader maps."""

from __future__ import annotations


def track(name, sub, kind, lufs, gain, pan, hp=None, comp=None, send=None, bands=()):
    """One audio track of a mix: fader ``gain``, ``pan`` (+-100), an optional high-pass at ``hp``
    Hz, compressor ``comp`` = (threshold dBFS, ratio), reverb send ``send`` dB and EQ ``bands``
    (MixologyDB's own: ``{"type": "LS" | "HS" | "NOTCH", "value": {"freq", "gain", "q"}}``)."""
    p = {"gain": gain, "pan": [pan]}
    if hp or bands:
        p["eq"] = ([{"type": "HP", "value": {"freq": hp, "q": 0.71}}] if hp else []) + list(bands)
    if comp:
        p["compression"] = [
            {"name": "C", "thresh": comp[0], "ratio": f"{comp[1]}:1", "attack": 5, "release": 80, "knee": 0, "gain": 2}
        ]
    if send is not None:
        p["reverb"] = [{"name": "R", "type": "HALL", "gain": send, "pre-delay": 20, "length": 2000, "send": "True"}]
    return {
        "track-name": name,
        "track-type": "AUDIO",
        "track-instrument-type": kind,
        "track-instrument-subtype": sub,
        "channel-mode": "MONO",
        "parameters": p,
        "track-audio-features": {"track-audio-path": f"./audio/x/{name}.wav", "track-audio-lufs": lufs},
    }
