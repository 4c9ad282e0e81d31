"""Export a parameter file's console settings as a DAW project: DAWproject or REAPER.

``mixdown export PARAMS.json --format dawproject|reaper --out FILE [--session DIR]``

Both exports put one audio track per stem (the stem file from time 0, full length) with its
fader and pan, plus the master bus. How much of the rest a DAW reproduces differs per format:

* **DAWproject** (``.dawproject``: a ZIP with ``project.xml`` and ``metadata.xml``, optionally the
  stems under ``audio/``), the open exchange format of Bitwig Studio, Studio One and Cubase, read
  against the official schema (``tests/schemas/Project.xsd``, bitwig/dawproject). Each channel
  carries the format's built-in ``Equalizer`` (high-pass + 6 bands, input gain) and
  ``Compressor`` devices; the importing DAW maps them onto its own EQ and compressor, so the
  sound is close to ours but not sample-identical (filter shapes, detector and knee differ).
* **REAPER** (``.RPP``, plain text): tracks, media items, input gain (item volume), fader and pan
  are set exactly. Every track gets an FX chain of **ReaEQ** (high-pass + the 6 bands) then
  **ReaComp**, the master a ``MASTERFXLIST`` of ReaEQ (6 bands) then ReaComp, carrying our
  settings in the plug-ins' binary state (base64 in the ``<VST`` blocks; layout in
  :mod:`mixdown.export.reaper_fx`). The settings are also listed in the project notes (View > Project
  notes), with the approximations.
* **Reverb** (``mixdown.params/2``): both get a return track ("Reverb return") with a post-fader
  send from every track above -60 dB, the return level and high-pass, and the spec's impulse
  response as a 2-channel 32-bit float WAV (REAPER: beside the project, to load into ReaVerb by
  hand, as the notes say; DAWproject: inside the archive, as the state of a convolution device no
  DAW has, to load into the DAW's own). Settings where no track sends (every
  ``mixdown.params/1`` file) export exactly as before.

Formats: :mod:`mixdown.export.dawproject` and :mod:`mixdown.export.reaper` (their docstrings
table every mapping whose units differ from ours, and the limitations).
"""

from __future__ import annotations

import logging

from mixdown.export.dawproject import dawproject_xml, export_dawproject
from mixdown.export.reaper import export_reaper, reaper_rpp
from mixdown.export.reaper_fx import reacomp_state, reaeq_state

__all__ = ["FORMATS", "dawproject_xml", "export_dawproject", "export_reaper", "reacomp_state", "reaeq_state",
           "reaper_rpp"]
log = logging.getLogger(__name__)

FORMATS = {"dawproject": ".dawproject", "reaper": ".rpp"}
