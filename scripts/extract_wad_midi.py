"""Write the MIDI music of Doom WAD files (e.g. Debian freedoom) as .mid files for the `midi` dataset source.

Usage: python scripts/extract_wad_midi.py OUT WAD [WAD ...]
"""

import logging
import sys
from pathlib import Path

from mixdown.data.builders.wad import WadError, extract_midi


def main(argv: list[str]) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    if len(argv) < 2:
        logging.error("usage: extract_wad_midi.py OUT WAD [WAD ...]")
        return 2
    try:
        files = extract_midi([Path(w) for w in argv[1:]], Path(argv[0]))
    except WadError as e:
        logging.error("%s", e)
        return 2
    logging.info("%d MIDI songs under %s", len(files), argv[0])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
