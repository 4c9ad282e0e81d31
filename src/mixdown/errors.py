"""Errors meant for the user.

:class:`UsageError` is bad input (a wrong argument, a missing folder, an unknown option): the
message says what is wrong and how to fix it. The library raises it; the command line
(:mod:`mixdown.cli`) prints the message without a traceback and exits with code 2.
"""

from __future__ import annotations


class UsageError(ValueError):
    """Bad input from the user; the message names it and the fix (``mixdown`` exits with code 2)."""
