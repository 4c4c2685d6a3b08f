"""The DeepMind Hamiltonian Dynamics Suite (Botev et al. 2021), generated in JAX.

Six data sets (``SYSTEMS``) plus the suite's ``_colors`` / ``_friction`` variants
(``VARIANTS``). Training code uses :func:`load_dataset` and :func:`sample_windows`;
the pieces are :mod:`.systems` (equations, sampling), :mod:`.render` (frames),
:mod:`.generate` (vectorised generation; its ``generate`` is exported as
``generate_trajectories`` so the submodule name stays importable), :mod:`.cache` (on-disk cache),
:mod:`.suite_format` (the suite's own TFRecord files) and :mod:`.commands` (CLI).
"""

from locornn.data.hamiltonian.dataset import HamiltonianData, load_dataset, sample_windows, to_float
from locornn.data.hamiltonian.generate import GENERATOR_VERSION, Trajectories, simulate
from locornn.data.hamiltonian.generate import generate as generate_trajectories
from locornn.data.hamiltonian.systems import ALL_SYSTEMS, SYSTEMS, VARIANTS, get_system

__all__ = [
    "ALL_SYSTEMS",
    "GENERATOR_VERSION",
    "SYSTEMS",
    "VARIANTS",
    "HamiltonianData",
    "Trajectories",
    "generate_trajectories",
    "get_system",
    "load_dataset",
    "sample_windows",
    "simulate",
    "to_float",
]
