"""Old import paths of modules that moved: ``locornn.table`` is now ``locornn.reproduce.table``.

A stub at the old path calls :func:`alias`, which puts the new module in its place in
``sys.modules``: ``from locornn import table`` then gives the very same module object (so
attributes set on one are seen through the other) and warns once that the path moved.
"""

from __future__ import annotations

import importlib
import sys
import warnings


def alias(old: str, new: str) -> None:
    warnings.warn(f"{old} moved to {new}; import that instead (the old path will go)",
                  DeprecationWarning, stacklevel=3)
    sys.modules[old] = importlib.import_module(new)
