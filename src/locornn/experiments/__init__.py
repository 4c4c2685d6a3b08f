"""The paper's experiments, one ``get_config(preset) -> ConfigDict`` module each.

Name one on the command line as ``NAME:PRESET`` (``locornn train --config hamiltonian:cpu``);
it works from any directory and after ``pip install``. A file of the same shape anywhere else
is named by its path (``--config path/to/mine.py:cpu``). See :mod:`locornn.configs`.
"""
