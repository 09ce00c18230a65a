"""``pathdyn integrate``: integrate the reduced per-mode equations of an architecture."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np

from pathdyn.cli.outputs import print_summary
from pathdyn.errors import ConfigError
from pathdyn.io.jsonio import json_text
from pathdyn.cli._common import (
    singular_values_from_args,
    add_architecture_arguments,
    architecture_from_args,
    dataset_file,
    file_plan,
    use_file_backend,
)
from pathdyn.cli._graph import (check_graph_model, draw_edge_strengths, graph_paths_note, load_edge_strengths,
                                refuse_graph, total_only)
from pathdyn.cli.integrate_dmft import run_dmft
from pathdyn.io.labelled import require
from pathdyn.numerics.horizon import AUTO_HORIZON, choose_t_max
from pathdyn.numerics.initial import draw_initial_state, load_initial_state
from pathdyn.numerics.integrate import integrate
from pathdyn.numerics.mode_inputs import architecture_for_inputs
from pathdyn.numerics.plotting import plain_text, plot_mode_trajectories
from pathdyn.theory.graph import GraphArchitecture
from pathdyn.theory.graph_reduced import derive_graph_mode_equations
from pathdyn.theory.models import get_model, integrable_models, reduce_to_modes
from pathdyn.theory.modes import ModeEquations

COMMAND = "integrate"
HELP = "integrate the reduced q/p equations for every mode; write K(t) and the loss as JSON"
ORDER = 20
DESCRIPTION = """\
Integrate the paper's reduced q/p equations (one mode per singular value) and write
{"t", "K" (times, pathways, modes), "loss", "success", "message", ...} as JSON.

examples:
  pathdyn integrate --depths 2,5,9 --singular-values 3,1.5,0.7 --t-max 40 -o out.json
  pathdyn integrate --depths 2,8 --dataset hierarchical --init-scale 0.1 --seed 0 --t-max 40 -o out.json --plot out.png
  pathdyn integrate --depths 2,3 --singular-values 2,1 --init init.json --t-max 20 -o out.json
  pathdyn integrate --depths 2,3 --singular-values 2,1 --input-variances 0.5,2 --t-max 40 -o general.json
  pathdyn integrate --depths 2,3 --dataset aligned.npz --t-max 40 -o general.json
  pathdyn integrate --depths 2,8 --dataset hierarchical -o out.nc      (netCDF: needs pip install 'pathdyn[xarray]')
init.json holds {"q0": [[...]], "p0": [[...]]}, arrays of shape (pathways, modes).

Non-whitened inputs (docs/non-whitened.md): --input-variances (or a dataset whose inputs
are not whitened, or --general) integrates the equations with each mode's input variance
lambda = v^T Sigma_x v: error S - lambda sum_a K_a, final sum_a K_a = S / lambda. A dataset
is refused when its inputs are misaligned with its modes (above the documented threshold).

--model dmft solves the infinite-width DMFT of Gaussian hidden layers (variance sigma^2/N,
sigma = --init-scale; the ensemble mean of K), or with --init orthogonal of hidden layers
sigma * O, O orthogonal (each mode the two-channel model): with --learning-rate and --steps, gradient
descent exactly (t = eta * step, "step" in the JSON); without, gradient flow up to --t-max:
  pathdyn integrate --model dmft --depths 3,4 --singular-values 2,1 --init gaussian --init-scale 0.5 \
      --learning-rate 0.01 --steps 1200 -o out.json
  pathdyn integrate --model dmft --depths 3,4 --singular-values 2,1 --init-scale 0.5 --t-max 12 -o out.json
A [graph] --architecture gets the graph DMFT (node form, any DAG; docs/dmft-graphs.md): K per path
with the list of "paths" (node sequences), or per edge for graphs with too many paths ("quantity").
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add this subcommand's options to ``parser``.

    Parameters
    ----------
    parser : argparse.ArgumentParser
        The subcommand's parser, to which its options are added.
    """
    add_architecture_arguments(parser, default_depths="2,2")
    data = parser.add_argument_group("singular values (one mode each)")
    source = data.add_mutually_exclusive_group()
    source.add_argument("--singular-values", metavar="S1,S2,...", help="comma-separated positive singular values")
    source.add_argument(
        "--dataset", metavar="NAME|FILE",
        help="'hierarchical' (the paper's, whitened), or a .npz (X, Y) / .csv file; default hierarchical",
    )
    data.add_argument("--input-variances", metavar="L1,L2,...",
                      help="input variance lambda of each mode (with --singular-values; implies general inputs)")
    data.add_argument("--allow-misaligned", action="store_true",
                      help="integrate per mode even when the dataset's inputs are misaligned with its modes (recorded as a warning)")
    init = parser.add_argument_group("initial conditions")
    init.add_argument("--init", metavar="FILE.json", help='{"q0": [[...]], "p0": [[...]]}, shape (pathways, modes); '
                      "with --model dmft the hidden layers' init, 'gaussian' (default) or 'orthogonal'")
    init.add_argument("--init-scale", type=float, default=None,
                      help="std of the random p(0) (default 0.1); with --model dmft sigma (default 0.3)")
    init.add_argument("--c", type=float, default=None,
                      help="conserved q^2 - p^2 of drawn initial states (default 1, the paper's; pathways only)")
    init.add_argument("--seed", type=int, default=0, help="seed of the drawn initial state (default 0)")
    run_group = parser.add_argument_group("integration")
    run_group.add_argument(
        "--t-max", type=float, default=None,
        help=f"final time, tau = 1 units (default: where every K has settled to 0.1%% of S_1, at most {AUTO_HORIZON:g})",
    )
    run_group.add_argument("--num-points", type=int, default=201, help="output times (default 201)")
    run_group.add_argument("--method", default="LSODA", help="LSODA (default), BDF, Radau, RK45, RK23, DOP853, rosenbrock (per-member steps; large ensembles)")
    run_group.add_argument("--rtol", type=float, default=1e-8, help="relative tolerance (default 1e-8)")
    run_group.add_argument("--atol", type=float, default=1e-10, help="absolute tolerance (default 1e-10)")
    run_group.add_argument("--loss-tol", type=float, default=None, help="stop once the loss is below this")
    parser.add_argument("--model", choices=integrable_models(), default="qp",
                        help="the reduced model (default qp): " + ", ".join(integrable_models()))
    dmft = parser.add_argument_group("DMFT (--model dmft)")
    dmft.add_argument("--learning-rate", type=float, default=None, help="eta: solve gradient descent at this rate")
    dmft.add_argument("--steps", type=int, default=None, help="gradient steps (with --learning-rate)")
    dmft.add_argument("--tol", type=float, default=1e-3, help="error target of the continuous-time DMFT, relative to S_1 (default 1e-3)")
    dmft.add_argument("--hold-below", type=float, default=None, metavar="E",
                      help="with --learning-rate: stop marching once every mode's |S - sum K| <= E and hold K "
                           "(each K is then within E of the full march), so long training costs only the steps "
                           "until the modes are learned")
    dmft.add_argument("--max-steps", dest="dmft_max_steps", type=int, default=None,
                      help="step budget of the continuous-time DMFT's finest grid (default 128 per unit of --t-max, "
                           "at least 1024); the marches stop once the modes are learned, so a long --t-max costs little")
    parser.add_argument("-o", "--output", default="-",
                        help="output JSON file, or FILE.nc for netCDF (xarray extra); '-' (default) prints the JSON")
    parser.add_argument("--plot", metavar="FILE.png", help="also plot K(t) of every mode per pathway")


def _architecture_for_inputs(args, lam):
    """The architecture of the arguments, with general inputs whenever input variances are used."""

    architecture = architecture_from_args(args)
    if isinstance(architecture, GraphArchitecture):
        check_graph_model(args.model)
        if args.c is not None:
            raise refuse_graph("--c", args.architecture, "its drawn edge strengths carry no q^2 - p^2; drop --c")
    return architecture_for_inputs(architecture, lam, args.whitened, argument="--whitened", source="--input-variances")


def _file_inputs(args) -> None:
    """A file's ``whitened = false`` asks for the general equations, as ``--general`` does (unless overridden)."""
    if args.whitened is not None or not args.architecture or architecture_from_args(args).whitened:
        return
    if args.singular_values is not None and args.input_variances is None:
        raise ConfigError(f"--architecture {args.architecture}: whitened = false, so the reduced equations need each "
                          "mode's input variance; give --input-variances L1,L2,... (one per singular value), a "
                          "--dataset, or --whitened")
    args.whitened = False  # the dataset's input variances are used even where they are 1


def initial_state_from_args(args: argparse.Namespace, equations: ModeEquations, num_modes: int) -> tuple[np.ndarray, dict[str, Any]]:
    """``(y0, note)``: the initial state from ``--init FILE.json``, or drawn with ``--init-scale``, ``--c``, ``--seed``.

    Parameters
    ----------
    args : argparse.Namespace
        The parsed command line: ``init``, ``init_scale`` (default 0.1), ``c`` and ``seed``.
    equations : ModeEquations
        The q/p equations whose state is wanted.
    num_modes : int
        The number of modes (singular values).

    Returns
    -------
    y0 : ndarray, shape (n_state, num_modes)
        The initial state.
    note : dict
        ``{"init": path}`` or ``{"init_scale", "c", "seed"}``, for the output's provenance.

    Raises
    ------
    ConfigError
        If the ``--init`` file is malformed or the drawing settings are out of range.
    OSError
        If the ``--init`` file cannot be read.
    """

    graph = getattr(equations, "graph", None)
    if args.init:
        y0 = (load_initial_state(args.init, equations, num_modes, argument="--init") if graph is None
              else load_edge_strengths(args.init, graph, num_modes))
        return y0, {"init": str(Path(args.init))}
    scale = 0.1 if args.init_scale is None else args.init_scale
    if graph is not None:
        return draw_edge_strengths(len(graph.edges), num_modes, scale, args.seed), {"init_scale": scale, "seed": args.seed}
    c = 1.0 if args.c is None else args.c
    y0 = draw_initial_state(equations, num_modes, scale, seed=args.seed, c=c)
    return y0, {"init_scale": scale, "c": c, "seed": args.seed}


def _plot_title(depths, notes: dict, S, lam=None, graph: bool = False) -> str:
    """What was integrated: model, depths, data, input variances and initial state."""
    parts = [f"data {plain_text(notes['dataset'])}" if "dataset" in notes else
             r"$S_\alpha$ = " + ", ".join(f"{s:g}" for s in S)]
    if lam is not None:
        parts.append(r"$\lambda_\alpha$ = " + ", ".join(f"{v:.3g}" for v in lam))
    drawn = r"$s_e(0)$" if graph else "$p(0)$"
    names = {"init": "initial state from {}", "init_scale": drawn + r" $\sim {:g}\,\mathcal{{N}}(0,1)$",
             "c": "$q^2 - p^2 = {:g}$", "seed": "seed {}"}
    parts += [names[key].format(plain_text(value) if key == "init" else value) for key, value in notes.items()
              if key in names]
    model = "per-edge theory of the graph, path lengths" if graph else "q/p theory, depths"
    return f"{model} ({', '.join(map(str, depths))}): " + ", ".join(parts)


def run(args: argparse.Namespace) -> int:
    """Run the subcommand with the parsed ``args``: integrate the q/p equations (or the DMFT) and write the files.

    Parameters
    ----------
    args : argparse.Namespace
        The parsed command line.

    Returns
    -------
    int
        The exit status: 0, or 1 when the solver reported a failure (the output, holding
        ``success`` and ``message``, is written either way).

    Raises
    ------
    ConfigError
        If ``--learning-rate`` or ``--steps`` is given without ``--model dmft``, ``--t-max``
        is not positive, ``--n-in`` or ``--n-out`` is smaller than the number of modes, a
        ``.nc`` output is asked for without ``xarray``, an output file is refused by its checks,
        or a value is bad (see :func:`pathdyn.cli._common.singular_values_from_args`).
    ArchitectureError
        If the architecture is invalid or a graph (``[graph]`` table).
    DatasetError
        If the data cannot be read, or its inputs are misaligned with its modes without
        ``--allow-misaligned``.
    IntegrationError
        If the solution blows up or becomes non-finite.
    OSError
        If an output file cannot be written or moved into place.
    """

    plan = file_plan(
        "integrate",
        {"--architecture": args.architecture, "--dataset": dataset_file(args.dataset), "--init": args.init},
        {"-o/--output": (args.output, "json", True), "--plot": (args.plot, "plot", False)},
    )
    model = get_model(args.model)
    if model.kind != "ode":  # the DMFT's site equations: a Volterra march, not an ODE integrator
        return run_dmft(args, plan)
    if args.t_max is not None and not args.t_max > 0:
        raise ConfigError(f"--t-max: must be a positive time, got {args.t_max}")
    netcdf = str(args.output).endswith(".nc")
    if netcdf:
        require("xarray")  # before the work, not after it
    _file_inputs(args)
    S, lam, data_note = singular_values_from_args(args)
    architecture = _architecture_for_inputs(args, lam)
    for flag, dimension in (("--n-in", architecture.n_in), ("--n-out", architecture.n_out)):
        if dimension is not None and dimension < len(S):
            raise ConfigError(f"{flag}: {dimension} dimensions cannot carry {len(S)} modes; give {flag} >= {len(S)} or fewer singular values")
    equations = (derive_graph_mode_equations(architecture) if isinstance(architecture, GraphArchitecture)
                 else reduce_to_modes(architecture, model=args.model))
    y0, init_note = initial_state_from_args(args, equations, len(S))
    provenance = {"architecture": architecture.to_dict(), **data_note, **init_note}
    options = dict(parameters=None if lam is None else {"lambda": lam}, method=args.method, rtol=args.rtol,
                   atol=args.atol, loss_tol=args.loss_tol, provenance=provenance)
    t_max = args.t_max
    if t_max is None:
        automatic = choose_t_max(equations, y0, S, **options)
        t_max = automatic.t_max
        provenance["t_max"] = automatic.describe()
        if automatic.still_moving:
            print(f"pathdyn integrate: K still changes at t = {automatic.probe_end:g}; pass a larger --t-max", file=sys.stderr)
    trajectory = integrate(equations, y0, S, t_max, num_points=args.num_points, **options)
    payload = trajectory.to_json_dict()
    payload["singular_values"] = S.tolist()
    if lam is not None:
        payload["input_variances"] = lam.tolist()
    payload["depths"] = list(equations.depths)
    if isinstance(architecture, GraphArchitecture):
        payload["graph"] = graph_paths_note(architecture)
    with plan:
        if netcdf:
            from dataclasses import replace

            labelled = replace(trajectory, extras={**trajectory.extras, "singular_values": S})
            plan.stage("-o/--output", lambda tmp: labelled.save_netcdf(tmp))
        else:
            plan.stage_text("-o/--output", json_text(payload))
        if args.plot:
            use_file_backend()
            title = _plot_title(equations.depths, {**data_note, **init_note}, S, lam,
                                graph=isinstance(architecture, GraphArchitecture))
            drawn = total_only(trajectory)
            plan.stage("--plot", lambda tmp: plot_mode_trajectories(drawn, tmp, singular_values=S, title=title,
                                                                     depths=equations.depths if drawn is trajectory else None))
        plan.commit()
        print_summary(plan)
    return 0 if trajectory.success else 1
