"""mixdown's errors: one family.

:class:`MixdownError` is the base of every error mixdown raises on purpose. :class:`UsageError`
under it is bad input (a wrong argument, a missing folder, a malformed parameter file, an unusable
checkpoint, an output that cannot be written): the message says what is wrong and how to fix it.
Every bad-input error of the library (``ParamsError``, ``SessionError``, ``CheckpointError``,
``OutputError``, ``OutputPathError``, ``BuildError``, ``CacheError``, ``ConfigError``, ...) is a
:class:`UsageError`. The command line (:mod:`mixdown.cli`) catches :class:`UsageError` in one
place, prints the message without a traceback and exits with code 2; anything else, a
``ValueError`` from numpy or torch included, is a bug: traceback and exit code 1.
"""

from __future__ import annotations


class MixdownError(Exception):
    """The base of every error mixdown raises on purpose."""


class UsageError(MixdownError, ValueError):
    """Bad input from the user; the message names it and the fix (``mixdown`` exits with code 2).

    A ``ValueError`` too, so code that caught the library's errors as ``ValueError`` still does."""
