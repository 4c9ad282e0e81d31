"""``python -m mixdown.cli``: the ``mixdown`` command."""

import sys

from mixdown.cli import main

sys.exit(main())
