"""Moved to :mod:`locornn.reproduce.sequence_ablation`; this path keeps old imports working."""

from locornn._moved import alias

alias(__name__, "locornn.reproduce.sequence_ablation")
