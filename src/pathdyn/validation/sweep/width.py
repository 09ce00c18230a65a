"""Width sweeps: how fast finite networks approach the reduced theory as width grows.

:func:`validate_width` runs one :class:`~pathdyn.validation.sweep.cases.ValidationCase` (or
one built from keyword arguments). It trains one network per (width, seed) by gradient descent, maps
*that network's own* initial weights to the reduced model's initial state
(:mod:`pathdyn.validation.mapping`), integrates the reduced model from it on the
network's time grid, and records the error of :func:`pathdyn.validation.compare.compare`.
The slope of log error against log width is fitted on all (width, seed) points with a
t-distribution confidence interval. The ``O(eta)`` error of gradient descent against
the flow (the learning-rate floor) is measured at the largest width by halving the
learning rate. The report says which limit is compared, the time mapping, and gives a
verdict (against targets, when given).

The verdict follows the rules of :mod:`pathdyn.validation.sweep.verdicts`.

Data whose inputs are not whitened is compared with the reduced model of its own input
variances (docs/non-whitened.md); data whose inputs are misaligned with its modes is
refused unless ``allow_misaligned``.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from pathdyn.numerics.alignment import InputAlignment, check_alignment
from pathdyn.numerics.datasets import Dataset
from pathdyn.numerics.compile import compile_rhs
from pathdyn.numerics.integrate import integrate
from pathdyn.theory.architecture import Architecture
from pathdyn.theory.models import MODELS
from pathdyn.validation.compare import compare
from pathdyn.validation.models import reduced_equations
from pathdyn.validation.network.torch_engine import resolve_device
from pathdyn.validation.sweep.cases import ValidationCase
from pathdyn.validation.sweep.distributed import check_cluster_options
from pathdyn.validation.sweep.dmft import validate_dmft_width
from pathdyn.validation.sweep.report import TIME_MAPPING, WidthScalingReport
from pathdyn.validation.sweep.statistics import fit_slope
from pathdyn.validation.sweep.tasks import Mapping, network_tasks, train_networks
from pathdyn.validation.sweep.verdicts import limit_evidence, richardson_floor, stability_note, sweep_verdict, tail_slope

__all__ = ["validate_width"]



def validate_width(case: ValidationCase | Architecture | Sequence[int], widths: Sequence[int] | None = None, seeds: Sequence[int] | None = None, *,
                   progress: Any = False, device: str = "numpy", workers: int | None = None, scheduler: str | None = None,
                   runner: Any = None, **options: Any) -> WidthScalingReport:
    """Sweep widths: each network against the reduced model from its own initial state.

    Parameters
    ----------
    case : ValidationCase, Architecture or sequence of int
        The case to run, or the depths of the pathways of a case built from ``widths``,
        ``seeds`` and ``options`` (:meth:`ValidationCase.from_options`).
    widths : sequence of int, optional
        Hidden widths ``N`` (at least two distinct for a slope); only without a case.
    seeds : sequence of int, optional
        Initial-weight seeds (default ``(0, 1, 2)``); each (width, seed) is one network.
    progress : bool or object with ``update(n)``
        Draw a progress bar on standard error (only on a terminal), or advance this one.
    device : str
        Where the networks train: ``"numpy"`` (default) or a PyTorch device (``"cuda"``,
        ``"cpu"``); see :func:`pathdyn.validation.network.simulate_gd`.
    workers : int, optional
        Train the networks on a local Dask cluster of this many processes
        (:mod:`pathdyn.validation.sweep.distributed`; the extra ``distributed``). The report
        is bit-identical to the serial one.
    scheduler : str, optional
        Train them on the existing Dask cluster at this address instead.
    runner : optional
        An open :func:`pathdyn.validation.sweep.distributed.task_runner` (several sweeps on one cluster).
    **options
        Any other field of :class:`ValidationCase` (``init``, ``init_scale``, ``theory``,
        ``mapping``, ``dataset``, ``learning_rate``, ``t_max``, ``record_points``,
        ``measure_lr_floor``, ``targets``, ``confidence``, ``rtol``, ``atol``,
        ``allow_misaligned``); only without a case. ``theory="dmft"`` compares the seed
        mean with the DMFT (:func:`pathdyn.validation.sweep.dmft.validate_dmft_width`).

    Returns
    -------
    WidthScalingReport

    Raises
    ------
    ConfigError
        Bad widths, seeds, theory, mapping or settings, or a case given with options.
    DatasetError
        Inputs misaligned with the modes, without ``allow_misaligned``.
    SimulationError, IntegrationError
        From the simulation or the integration.

    Notes
    -----
    Data with degenerate singular values is compared by subspace-invariant quantities;
    inputs that are not whitened but aligned with the modes are compared with the reduced
    model of their input variances ``lambda`` (docs/non-whitened.md). The ``O(eta)``
    floor is ``2 max |K(eta) - K(eta/2)| / S_1`` at the largest width, first seed.
    """
    case = ValidationCase.from_options(case, widths, seeds, **options)
    if MODELS[case.theory].predicts_seed_mean:  # not each network: the seed mean has its own sweep
        return validate_dmft_width(case, progress=progress, device=device, workers=workers, scheduler=scheduler,
                                   runner=runner)
    started = time.perf_counter()
    device = resolve_device(device)
    check_cluster_options(workers, scheduler)
    data = _sweep_data(case)
    # One task per network (the O(eta) floor's half-step run too), each from its own seed.
    tasks, labels = network_tasks(case, data.dataset, mapping=Mapping(case.theory, case.method, data.U, data.V),
                                  half_eta=case.measure_lr_floor, device=device, prefix="validate")
    results = train_networks(tasks, labels, progress=progress, label=f"validate {','.join(map(str, case.depths))}",
                             workers=workers, scheduler=scheduler, runner=runner)
    comparison = _compare_with_theory(case, data, results[: len(case.widths) * len(case.seeds)])
    lr_floor = None
    if case.measure_lr_floor:
        lr_floor = _lr_floor(comparison.largest_network, results[-1][1], data.S / data.alignment.input_variances)
    return _width_report(case, data, comparison, lr_floor, wall_time_s=time.perf_counter() - started)


@dataclass(frozen=True)
class _SweepData:
    """The data of a sweep in mode coordinates, and its alignment with the modes."""

    dataset: Dataset
    alignment: InputAlignment
    warnings: tuple
    U: np.ndarray
    S: np.ndarray
    V: np.ndarray
    blocks: list

    @property
    def general(self) -> bool:
        """Whether the inputs are not whitened (the theory then takes their variances)."""
        return not self.alignment.unit_variances


def _sweep_data(case: ValidationCase) -> _SweepData:
    """The case's data, checked for alignment (its warnings recorded), in mode coordinates."""
    dataset = case.resolved_dataset()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        alignment = check_alignment(dataset, case.allow_misaligned)
    rank = alignment.input_variances.size  # the modes with S > 0, as simulate_gd records them
    U, S, Vt = dataset.modes()
    blocks = [block for block in dataset.degenerate_blocks() if block[0] < rank]
    return _SweepData(dataset, alignment, tuple(str(w.message) for w in caught), U[:, :rank], S[:rank], Vt[:rank].T,
                      blocks)


@dataclass(frozen=True)
class _Comparison:
    """Every network of a sweep against the theory integrated from its own initial state."""

    errors: np.ndarray
    compared: str
    final_gd: np.ndarray
    final_theory: np.ndarray
    example: dict
    mapping_notes: tuple
    largest_network: object  # the GD trajectory of the largest width's first seed
    t: np.ndarray


def _mapped_initial_states(case, results, compiled) -> tuple:
    """The reduced initial state of every network, ``(widths, seeds, state, modes)``, and the mapping's notes."""
    initial = None
    notes = []
    for index, (state, _) in enumerate(results):
        i, j = divmod(index, len(case.seeds))
        row = state.state_array(compiled)
        if initial is None:
            initial = np.zeros((len(case.widths), len(case.seeds)) + row.shape)
        initial[i, j] = row
        if state.notes:
            notes.append(f"width {case.widths[i]}, seed {case.seeds[j]}: {state.notes}")
    return initial, tuple(notes)


def _compare_with_theory(case: ValidationCase, data: _SweepData, results) -> _Comparison:
    """Integrate the reduced model from every network's initial state on its time grid, and compare."""
    compiled = compile_rhs(reduced_equations(case.depths, case.theory, whitened=not data.general))
    initial, notes = _mapped_initial_states(case, results, compiled)
    gd_t = results[0][1].t
    theory = integrate(
        compiled, initial, data.S, float(gd_t[-1]), t_eval=gd_t, rtol=case.rtol, atol=case.atol,
        parameters={"lambda": data.alignment.input_variances} if data.general else None,
        provenance={"validate": "width sweep", "mapping": case.method},
    )
    shape = (len(case.widths), len(case.seeds))
    errors = np.zeros(shape)
    final_gd = np.zeros(shape + (len(case.depths), data.S.size))
    final_theory = np.zeros_like(final_gd)
    for index, (_, gd) in enumerate(results):
        i, j = divmod(index, len(case.seeds))
        member = replace(theory, K=theory.K[:, i, j], loss=theory.loss[:, i, j], state=None)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the misalignment warning is recorded once, in _sweep_data
            result = compare(gd, member, singular_values=data.S, blocks=data.blocks, allow_misaligned=case.allow_misaligned)
        errors[i, j] = result.error
        final_gd[i, j], final_theory[i, j] = gd.K[-1], member.K[-1]
        if (i, j) == (shape[0] - 1, 0):
            largest, example = gd, {"width": case.widths[i], "seed": case.seeds[j], "t": np.asarray(gd.t),
                                    "K_gd": np.asarray(gd.K), "K_theory": np.asarray(member.K)}
    return _Comparison(errors, result.quantity, final_gd, final_theory, example, notes, largest, gd_t)


def _lr_floor(full, half, scales) -> float | None:
    """``2 max |K(eta) - K(eta/2)| / max(S / lambda)`` (:func:`richardson_floor`); None if the grids differ or it is rounding."""
    if half.K.shape == full.K.shape and np.allclose(half.t, full.t):
        return richardson_floor(full.K, half.K, float(np.max(scales)))
    return None


def _width_report(case: ValidationCase, data: _SweepData, comparison: _Comparison, lr_floor, wall_time_s: float):
    """The slope, the verdict and the :class:`WidthScalingReport` of a compared sweep."""
    widths, errors, confidence = case.widths, comparison.errors, case.confidence
    slope, ci, _ = fit_slope(widths, errors, confidence)
    tail = tail_slope(widths, errors)
    expected_exact = MODELS[case.theory].is_exact(case.depths, case.init, case.method)
    verdict, passed = sweep_verdict(slope, ci, tail, errors, widths, lr_floor, dict(case.targets), expected_exact,
                               naive=case.method == "naive", confidence=confidence)
    note = stability_note(case.learning_rate, case.depths, data.S, data.alignment.input_variances)
    verdict = verdict if note is None else f"{verdict}; {note}"
    return WidthScalingReport(
        depths=case.depths, widths=widths, seeds=case.seeds, init=case.init, init_scale=case.sigma, theory=case.theory,
        mapping=case.method, dataset=data.dataset.name, singular_values=tuple(float(s) for s in data.S),
        learning_rate=float(case.learning_rate), t_max=float(comparison.t[-1]), steps=case.steps, errors=errors,
        slope=slope, slope_ci=ci, tail_slope=tail, confidence=confidence, lr_floor=lr_floor, time_mapping=TIME_MAPPING,
        limit=MODELS[case.theory].limit_compared(case.method, case.init, case.depths), compared=comparison.compared,
        verdict=verdict, passed=passed, targets=dict(case.targets), final_K_gd=comparison.final_gd,
        final_K_theory=comparison.final_theory, example=comparison.example, wall_time_s=wall_time_s,
        mapping_notes=comparison.mapping_notes, evidence=limit_evidence(widths, errors, lr_floor, confidence),
        input_variances=tuple(float(v) for v in data.alignment.input_variances),
        misalignment=data.alignment.misalignment, warnings=data.warnings,
    )


