"""A tiny hand-written LMMS 1.2 project: two song-editor instruments, a Beat/Bassline with two
instruments, a sample track, automation of a volume, an LFO on a pan, FX-mixer channels with effects
and a master volume of 80 %."""

from __future__ import annotations

from pathlib import Path

from mixdown.data.builders.lmms_project import write_project

PROJECT = """<?xml version="1.0"?>
<lmms-project version="1.0" creator="LMMS" creatorversion="1.2.0" type="song">
  <head timesig_numerator="4" timesig_denominator="4" mastervol="80" masterpitch="0" bpm="120"/>
  <song>
    <trackcontainer type="song">
      <track type="0" name="Bass synth" muted="0" solo="0">
        <instrumenttrack pan="-40" fxch="1" basenote="57" pitch="0" pitchrange="1" usemasterpitch="1">
          <vol id="1001" value="55" scale_type="linear"/>
          <instrument name="tripleoscillator"><tripleoscillator vol0="33"/></instrument>
          <eldata fres="0.5" ftype="0" fcut="14000" fwet="0"/>
          <fxchain enabled="1" numofeffects="1">
            <effect name="ladspaeffect" on="1" wet="1"><ladspacontrols ports="2"/>
              <key><attribute name="file" value="caps"/><attribute name="plugin" value="Plate"/></key></effect>
          </fxchain>
          <connection><pan id="0"/></connection>
        </instrumenttrack>
        <pattern pos="0" len="192" steps="16" muted="0" type="1" name="p">
          <note pos="0" len="96" key="45" vol="100" pan="0"/></pattern>
      </track>
      <track type="0" name="Muted lead" muted="1" solo="0">
        <instrumenttrack vol="100" pan="0" fxch="0" basenote="57" pitch="0" pitchrange="1" usemasterpitch="1">
          <instrument name="tripleoscillator"><tripleoscillator/></instrument>
          <fxchain enabled="0" numofeffects="0"/>
        </instrumenttrack>
      </track>
      <track type="1" name="Beat" muted="0" solo="0">
        <bbtrack>
          <trackcontainer type="bbtrackcontainer">
            <track type="0" name="kick01.ogg" muted="0" solo="0">
              <instrumenttrack vol="120" pan="10" fxch="2" basenote="57" pitch="0" pitchrange="1" usemasterpitch="1">
                <instrument name="audiofileprocessor"><audiofileprocessor src="drums/kick01.ogg"/></instrument>
                <fxchain enabled="0" numofeffects="0"/>
              </instrumenttrack>
              <pattern pos="0" len="192" steps="16" muted="0" type="0" name="k">
                <note pos="0" len="-192" key="57" vol="100" pan="0"/></pattern>
            </track>
            <track type="0" name="Hat" muted="0" solo="0">
              <instrumenttrack vol="30" pan="50" fxch="2" basenote="57" pitch="0" pitchrange="1" usemasterpitch="1">
                <instrument name="kicker"><kicker/></instrument>
                <fxchain enabled="0" numofeffects="0"/>
              </instrumenttrack>
              <pattern pos="0" len="192" steps="16" muted="0" type="0" name="h">
                <note pos="48" len="-192" key="57" vol="100" pan="0"/></pattern>
            </track>
            <track type="0" name="Empty pad" muted="0" solo="0">
              <instrumenttrack vol="100" pan="0" fxch="0" basenote="57" pitch="0" pitchrange="1" usemasterpitch="1">
                <instrument name="tripleoscillator"><tripleoscillator/></instrument>
                <fxchain enabled="0" numofeffects="0"/>
              </instrumenttrack>
            </track>
          </trackcontainer>
        </bbtrack>
        <bbtco pos="0" len="192" muted="0" usestyle="1" name=""/>
      </track>
      <track type="2" name="Vocal take" muted="0" solo="0">
        <sampletrack vol="70" pan="-20"><fxchain enabled="1" numofeffects="0"/></sampletrack>
        <sampletco pos="0" len="192" muted="0" src="vocal.wav"/>
      </track>
      <track type="5" name="Automation track" muted="0" solo="0">
        <automationtrack/>
        <automationpattern name="Bass volume" pos="0" len="192" tens="1" mute="0" prog="0">
          <time pos="0" value="20"/><time pos="96" value="90"/>
          <object id="1001"/>
        </automationpattern>
        <automationpattern name="Master" pos="0" len="192" tens="1" mute="0" prog="0">
          <time pos="0" value="50"/>
          <object id="2002"/>
        </automationpattern>
        <automationpattern name="Filter" pos="0" len="192" tens="1" mute="0" prog="0">
          <time pos="0" value="5"/>
          <object id="3003"/>
        </automationpattern>
      </track>
    </trackcontainer>
    <fxmixer>
      <fxchannel num="0" name="Master" muted="0" soloed="0">
        <volume id="2002" value="0.8"/>
        <fxchain enabled="1" numofeffects="1">
          <effect name="ladspaeffect" on="1" wet="1"><ladspacontrols ports="0"/>
            <key><attribute name="file" value="fast_lookahead_limiter_1913"/>
              <attribute name="plugin" value="x"/></key></effect>
        </fxchain>
      </fxchannel>
      <fxchannel num="1" name="Bass bus" muted="1" soloed="0" volume="1.5">
        <fxchain enabled="1" numofeffects="0"/>
        <send channel="3" amount="0.5"/>
        <connection><volume id="0"/></connection>
      </fxchannel>
      <fxchannel num="2" name="Drums" muted="0" soloed="0" volume="0.6">
        <fxchain enabled="0" numofeffects="0"/>
        <send channel="0" amount="0.7"/>
      </fxchannel>
    </fxmixer>
    <controllers>
      <lfocontroller name="Controller 1" base="0.5" amount="1" speed="2" wave="0" type="1" syncmode="0"/>
    </controllers>
  </song>
</lmms-project>
"""


def write_demo(folder: Path, name: str = "Artist-Demo", compressed: bool = True, text: str = PROJECT) -> Path:
    """Write the project as ``<folder>/<name>.mmpz`` (or ``.mmp``) and a ``vocal.wav`` beside it."""
    import xml.etree.ElementTree as ET

    import numpy as np
    import soundfile as sf

    folder.mkdir(parents=True, exist_ok=True)
    sf.write(str(folder / "vocal.wav"), np.zeros((100, 1), dtype=np.float32), 44100)
    path = folder / f"{name}.{'mmpz' if compressed else 'mmp'}"
    return write_project(ET.fromstring(text), path, compressed=compressed)
