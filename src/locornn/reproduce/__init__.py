"""Reproducing the paper: the commands behind ``locornn reproduce ...`` and their pieces.

* :mod:`~locornn.reproduce.table`: Table 1 (VPT of every Hamiltonian system x model x seed);
* :mod:`~locornn.reproduce.ablation`: which change moves VPT, one Hamiltonian cell;
* :mod:`~locornn.reproduce.sequence_ablation`: why a sequence experiment learns what it does;
* :mod:`~locornn.reproduce.budget`: VPT against training steps;
* :mod:`~locornn.reproduce.figures`: Figures 1 and 2 and the wave table;
* :mod:`~locornn.reproduce.runs`: train-or-reuse one run;
* :mod:`~locornn.reproduce.seeds`: several seeds trained together with ``jax.vmap``.

These sit above the library (:mod:`locornn.dynamics`, :mod:`locornn.models`,
:mod:`locornn.data`, :mod:`locornn.train`, :mod:`locornn.analysis`) and import from it, never
the other way round.
"""
