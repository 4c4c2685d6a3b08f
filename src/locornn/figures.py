"""Moved to :mod:`locornn.reproduce.figures`; this path keeps old imports working for now."""

from locornn._moved import alias

alias(__name__, "locornn.reproduce.figures")
