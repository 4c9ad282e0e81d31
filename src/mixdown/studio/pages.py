"""The page shown when a session cannot be opened: what failed, in which file, and the fix."""

from __future__ import annotations

import html

_STYLE = ("body{font:15px/1.5 system-ui,sans-serif;background:#1b1d21;color:#e6e6e6;margin:3em auto;"
          "max-width:46em;padding:0 1em}h1{color:#ff8a65;font-size:1.4em}code,pre{background:#2a2d33;"
          "padding:.6em;border-radius:4px;display:block;white-space:pre-wrap}")


def error_page(message: str) -> str:
    """An HTML page for an error message that names the file and the fix (the library's errors do)."""
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>mixdown studio: cannot open '
            f'the session</title><style>{_STYLE}</style></head><body><h1>mixdown studio cannot open this '
            f'session</h1><pre>{html.escape(message)}</pre><p>Fix the file named above, then start '
            f'<code>mixdown studio SESSION_DIR</code> again. Run <code>mixdown studio --help</code> for the '
            f'options.</p></body></html>\n')
