"""How does the oscillator lattice behave on its own, as its couplings make it?

* :mod:`~locornn.analysis.lattice.coupling`: are neighbouring sites coupled, and is the encoder
  laid out on the lattice? (read off the parameters).
* :mod:`~locornn.analysis.lattice.reach`: how far does an impulse at one site spread?
* :mod:`~locornn.analysis.lattice.free_decay`: how fast does the free oscillation die out?
* :mod:`~locornn.analysis.lattice.stability`: are the state and the gradients bounded over long
  rollouts, beside coRNN, LSTM and a vanilla RNN?
"""
