"""Analysis of trained networks, grouped by the question each subpackage answers.

* :mod:`locornn.analysis.waves`: does the lattice carry traveling waves? (phase, wave
  statistics, phase maps, the wave report of a run).
* :mod:`locornn.analysis.topography`: are the lattice's sites tuned to orientations, laid out
  in domains like a cortical map? (stimuli, selectivity protocols, maps, domains).
* :mod:`locornn.analysis.lattice`: how do the learned couplings make the lattice behave?
  (kernel coupling, impulse-response reach, free decay, stability).
* :mod:`locornn.analysis.probes`: what does the hidden state hold? (linear probes of the state,
  a decoder probe).

Beside them, :mod:`locornn.analysis.after_training` names the analyses a training run can ask
for, and :mod:`locornn.analysis.commands` gathers their ``locornn analyze`` subcommands.
Subpackages import from ``waves`` (the phase of a trajectory) and from the library below
(``dynamics``, ``models``, ``checkpoints``, ``plots``), never from ``train`` or ``reproduce``.

Angles everywhere are radians measured from the lattice/image column axis (x) towards the row
axis (y); see :mod:`locornn.analysis.topography.stimuli`.
"""
