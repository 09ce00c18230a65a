"""End-to-end check of a graph's theory: an aligned finite network against its reduced model.

:func:`validate_graph_aligned` builds a network of any width on the aligned (decoupled,
spectral) initial condition (:func:`pathdyn.validation.network.graph.aligned_graph_weights`),
trains it by gradient descent, integrates the graph's per-edge reduced equations
(:func:`pathdyn.theory.graph_reduced.derive_graph_mode_equations`, in node form) from the
same edge strengths, and compares the per-path mode strengths (the total, for a graph with
too many paths to list) and every edge strength. On this initial condition the reduced
model is exact for gradient flow, so the error is gradient descent's ``O(eta)``
discretisation error at every width: the derivation checked end to end.

The data get the checks of a pathway sweep: inputs that are not whitened but aligned with
the modes are compared with the reduced model of their input variances
``lambda_alpha = v_alpha^T Sigma_x v_alpha`` (whatever the graph's ``whitened`` says),
inputs misaligned with the modes are refused with the measured misalignment unless
``allow_misaligned``, and a graph with non-linear nodes is refused (the reduced model is
the linear network's).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pathdyn._base.settings import TrainingTime
from pathdyn._base.checks import real_number
from pathdyn.errors import ArchitectureError, ConfigError
from pathdyn.numerics.alignment import InputAlignment, check_alignment
from pathdyn.numerics.datasets import Dataset, as_dataset
from pathdyn.numerics.integrate import integrate
from pathdyn.numerics.trajectory import Trajectory
from pathdyn.theory.architecture import Architecture, as_graph
from pathdyn.theory.graph import GraphArchitecture
from pathdyn.theory.graph_reduced import derive_graph_mode_equations
from pathdyn.validation.compare import Comparison, compare
from pathdyn.validation.network.graph import aligned_graph_weights, simulate_graph_gd

__all__ = ["GraphValidation", "validate_graph_aligned"]


@dataclass(frozen=True)
class GraphValidation:
    """Result of :func:`validate_graph_aligned`.

    Attributes
    ----------
    simulation, theory : Trajectory
        The network and the reduced model, ``K`` per path (or the total alone, for a graph
        with more than :data:`~pathdyn.theory.graph.MAX_LISTED_PATHS` paths) on the same times.
    comparison : Comparison
        ``max |K_GD - K_theory| / S_1`` over time, paths and modes.
    initial_strengths : ndarray, shape (n_edges, modes)
    edge_error : float
        ``max |s_GD - s_theory| / S_1`` over time, edges and modes (the network's edge
        strengths read in the node bases).
    paths_listed : bool
        Whether ``K`` is compared path by path (else the total alone).
    alignment : InputAlignment, optional
        The data's input variances and misalignment (the theory used their ``lambda``).
    """

    simulation: Trajectory
    theory: Trajectory
    comparison: Comparison
    initial_strengths: np.ndarray
    edge_error: float = float("nan")
    paths_listed: bool = True
    alignment: InputAlignment | None = None

    def summary(self) -> dict:
        """The headline numbers: error, when it peaked, per path and mode, the final total strengths.

        Returns
        -------
        dict
            Plain JSON types.
        """
        return {"error": self.comparison.error, "edge_error": self.edge_error, "time_of_max": self.comparison.time_of_max,
                "compared": "K per path" if self.paths_listed else "total K (too many paths to list)",
                "per_path": self.comparison.per_pathway.tolist() if self.paths_listed else None,
                "per_mode": self.comparison.per_mode.tolist(),
                "final_K_total": self.simulation.extras["K_total"][-1].tolist(),
                "singular_values": np.asarray(self.simulation.extras["singular_values"]).tolist(),
                **_alignment_summary(self.alignment)}


def _alignment_summary(alignment: InputAlignment | None) -> dict:
    if alignment is None:
        return {}
    return {"input_variances": alignment.input_variances.tolist(), "misalignment": alignment.misalignment}


def validate_graph_aligned(graph: GraphArchitecture | Architecture, dataset: Dataset | str, width: int | None = None, *,
                           learning_rate: float = 0.01, t_max: float = 6.0, initial_strength: float = 0.2,
                           seed: int = 0, record_dt: float = 0.05, allow_misaligned: bool = False) -> GraphValidation:
    """Train an aligned network of ``graph`` and compare it with the graph's reduced model.

    Parameters
    ----------
    graph : GraphArchitecture or Architecture (pathways: the graph of their chains)
    dataset : Dataset or str
        Whitened data, or inputs whose ``Sigma_x`` shares the right singular vectors of
        ``Sigma_yx`` (``lambda_alpha = v_alpha^T Sigma_x v_alpha`` is then read off the data and
        the reduced model of general inputs is integrated).
    width : int, optional
        Width of hidden nodes the graph gives none.
    learning_rate, t_max : float
        ``eta`` and the training time (``round(t_max / eta)`` steps).
    initial_strength : float
        Edge strengths start at ``initial_strength * (1 + u)`` with ``u`` uniform in
        ``[0, 1)`` per edge and mode (seeded), so that paths and modes differ.
    seed : int
    record_dt : float
        Recording interval in time units.
    allow_misaligned : bool
        Compare per mode even when the inputs are misaligned with the modes (warned).

    Returns
    -------
    GraphValidation

    Raises
    ------
    ConfigError
        For non-positive settings.
    ArchitectureError
        When a hidden node of ``graph`` is not linear.
    DatasetError
        When the inputs are misaligned with the modes (the measured misalignment and the
        threshold in the message) and ``allow_misaligned`` is false.
    """
    graph = as_graph(graph)  # pathways are the graph of their chains
    run_time = TrainingTime(learning_rate, t_max, record_dt=record_dt)
    real_number("initial_strength", initial_strength, positive=True, example="0.05")
    nonlinear = [f"{n} = {graph.activation(n)}" for n in graph.hidden_nodes if graph.activation(n) != "linear"]
    if nonlinear:
        raise ArchitectureError(f"graph: activations {', '.join(nonlinear)}; the reduced model is the linear network's, "
                                "so only a linear graph is compared with it")
    dataset = as_dataset(dataset)
    alignment = check_alignment(dataset, allow_misaligned)
    rank = dataset.rank
    rng = np.random.default_rng(seed)
    s0 = initial_strength * (1.0 + rng.random((len(graph.edges), rank)))
    weights, bases = aligned_graph_weights(graph, dataset, dict(zip(graph.edges, s0)), width=width, seed=seed)
    run = simulate_graph_gd(graph, dataset, width, weights=weights, bases=bases, learning_rate=learning_rate,
                            steps=run_time.steps, record_every=run_time.record_every)
    if not run.success:
        raise ConfigError(f"learning_rate, initial_strength: the aligned network {run.message}")
    # the theory of the data's own input variances: whitened only when every lambda is 1
    general = not (graph.whitened and alignment.unit_variances)
    theory_graph = GraphArchitecture.from_dict(graph.to_dict() | {"whitened": False}) if general else graph
    parameters = {"lambda": alignment.input_variances} if general else {}
    theory = integrate(derive_graph_mode_equations(theory_graph, invariants=False), s0, run.extras["singular_values"],
                       float(run.t[-1]), t_eval=run.t, parameters=parameters, rtol=1e-10, atol=1e-12)
    comparison = compare(run, theory)
    edge_error = float(np.abs(run.extras["edge_strengths"] - theory.state).max() / comparison.scale)
    return GraphValidation(run, theory, comparison, s0, edge_error, graph.paths_listed, alignment)
