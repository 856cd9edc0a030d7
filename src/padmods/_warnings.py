"""Where padmods' warnings point: at the first caller outside padmods, however deep the call."""

from __future__ import annotations

import contextlib
import os
import sys

__all__ = ["user_stacklevel"]


def _padmods_directory() -> str:
    return os.path.dirname(os.path.abspath(__file__))


def user_stacklevel() -> int:
    """The ``stacklevel`` that points a warning at the first caller outside padmods.

    For ``warnings.warn`` called in the function that calls this one: level 1 is that function;
    padmods' own frames and ``contextlib``'s (a ``with padmods.padding(...)`` block enters through
    it) are passed over, so the warning names the user's line, however deep padmods called itself
    (a plugin that fails to load, for one, is loaded by whichever lookup first needs the registry).
    """
    internal = (_padmods_directory() + os.sep, os.path.abspath(contextlib.__file__))
    frame = sys._getframe(1)
    level = 1
    while frame.f_back is not None and os.path.abspath(frame.f_code.co_filename).startswith(internal):
        frame = frame.f_back
        level += 1
    return level
