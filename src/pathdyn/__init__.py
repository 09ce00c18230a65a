"""pathdyn: learning dynamics of deep linear networks with parallel pathways.

Layers
------
``pathdyn.theory``
    sympy: architecture specs, the matrix gradient flow, reduced per-mode equations,
    conserved quantities, LaTeX/JSON export.
``pathdyn.numerics``
    numpy/scipy: compiled right-hand sides, ensemble integrators, datasets.
``pathdyn.validation``
    finite-width gradient descent and its comparison with the theory.
"""

__version__ = "0.1.0"
