"""Finite-width multi-pathway networks trained by full-batch gradient descent.

The network of docs/theory.md, *Notation and loss*: ``M`` pathways, pathway ``a`` a chain of ``D_a``
weight matrices ``W_a^1 ... W_a^{D_a}`` (``W_a^1`` reads the input), summed at the
output. Hidden layers may be linear, ReLU or tanh. :func:`simulate_gd` trains such a
network and records it in the theory's mode coordinates
``K_{a alpha} = u_alpha^T Omega_a v_alpha``.

Weight layout (shared by :func:`initialize_weights`, ``weights=`` and
``extras["final_weights"]``): ``weights[a][d]`` is the matrix of pathway ``a`` and
layer ``d`` (both 0-based; ``d = 0`` reads the input), of shape
``(outputs of the layer, inputs of the layer)``; a depth-1 pathway is one
``n_out x n_in`` matrix. Weight files (:func:`save_weights`, :func:`load_weights`) hold
the same matrices as arrays ``W_<a>_<d>`` with 1-based ``a`` and ``d``.

This module is the front door: it gathers the public names of the modules that hold them,
:mod:`~pathdyn.validation.network.spec` (settings and layer sizes),
:mod:`~pathdyn.validation.network.init` (initial weights),
:mod:`~pathdyn.io.weight_files` (weight files),
:mod:`~pathdyn.validation.network.engine` (the engines and the reference gradients),
:mod:`~pathdyn.validation.network.recorder` (the mode coordinates) and
:mod:`~pathdyn.validation.network.driver` (:func:`simulate_gd`).
"""

from __future__ import annotations

from pathdyn.validation.network.driver import simulate_gd
from pathdyn.validation.network.engine import (
    FORWARD_BLOCK_COLUMNS,
    FORWARD_BLOCKS_MIN_WIDTH,
    KERNEL_MIN_WIDTH,
    PARALLEL_MIN_WIDTH,
    STACK_MAX_WIDTH,
    default_deferred_rank,
    deferral_rank,
    is_deferred,
    loss_and_gradients,
)
from pathdyn.validation.network.init import initialize_weights
from pathdyn.validation.network.spec import (
    ACTIVATIONS,
    DEFAULT_INIT_SCALE,
    DIVERGENCE_FACTOR,
    INITS,
    LOSSES,
    network_widths,
)
from pathdyn.io.weight_files import load_weights, save_weights

__all__ = [
    "ACTIVATIONS",
    "DEFAULT_INIT_SCALE",
    "DIVERGENCE_FACTOR",
    "FORWARD_BLOCK_COLUMNS",
    "FORWARD_BLOCKS_MIN_WIDTH",
    "INITS",
    "KERNEL_MIN_WIDTH",
    "LOSSES",
    "PARALLEL_MIN_WIDTH",
    "STACK_MAX_WIDTH",
    "default_deferred_rank",
    "deferral_rank",
    "initialize_weights",
    "is_deferred",
    "load_weights",
    "loss_and_gradients",
    "network_widths",
    "save_weights",
    "simulate_gd",
]
