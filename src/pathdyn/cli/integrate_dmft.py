"""``pathdyn integrate --model dmft``: the infinite-width DMFT of Gaussian or orthogonal hidden layers."""

from __future__ import annotations

import argparse

from pathdyn.cli.outputs import FilePlan
from pathdyn.errors import ConfigError, IntegrationError, PathdynError
from pathdyn.cli._common import architecture_from_args, singular_values_from_args, write_trajectory_outputs
from pathdyn.numerics.dmft import INITS, solve_dmft, solve_dmft_flow
from pathdyn.cli.dmft_graph import integrate_graph_dmft
from pathdyn.theory.graph import GraphArchitecture


def _check(args) -> None:
    if args.init not in (None, *INITS):
        raise ConfigError(f"--init: the DMFT model takes the hidden layers' initialisation, {' or '.join(INITS)}; "
                          f"got {args.init!r}")
    if args.init_scale is not None and not args.init_scale > 0:
        raise ConfigError(f"--init-scale: sigma must be positive, got {args.init_scale}; e.g. --init-scale 0.5")
    if (args.learning_rate is None) != (args.steps is None):
        raise ConfigError("--learning-rate/--steps: give both (gradient descent) or neither (gradient flow with --t-max)")
    if args.learning_rate is not None and not args.learning_rate > 0:
        raise ConfigError(f"--learning-rate: must be positive, got {args.learning_rate}")
    if args.learning_rate is None and args.t_max is None:
        raise ConfigError("--t-max: the continuous-time DMFT needs a final time, e.g. --t-max 12 (or give --learning-rate and --steps)")
    if args.learning_rate is None and not args.t_max > 0:
        raise ConfigError(f"--t-max: must be a positive time, got {args.t_max}")
    if args.dmft_max_steps is not None and (args.learning_rate is not None or args.dmft_max_steps < 64):
        raise ConfigError(f"--max-steps: the continuous-time DMFT's step budget, a whole number >= 64 with --t-max "
                          f"(not with --learning-rate); got {args.dmft_max_steps}")
    if args.hold_below is not None and (args.learning_rate is None or not args.hold_below > 0):
        raise ConfigError(f"--hold-below: a positive error with --learning-rate/--steps (the flow holds by itself, "
                          f"from --tol); got {args.hold_below}")
    if not args.tol > 0:
        raise ConfigError(f"--tol: must be positive, got {args.tol}; e.g. --tol 1e-3")


#: The solvers' argument names and the options that set them, per mode (gradient descent, flow).
_FLAGS = {
    "descent": {"learning_rate": "--learning-rate", "steps": "--steps", "freeze_below": "--hold-below"},
    "flow": {"max_steps": "--max-steps", "steps": "--max-steps", "tol": "--tol", "t_max": "--t-max",
             "learning_rate": "--max-steps"},
}


def _solve(args, depths, S, sigma, init):
    """The DMFT trajectory for the command line; an error names the option that fixes it, not the argument."""
    mode = "descent" if args.learning_rate is not None else "flow"
    try:
        if mode == "descent":
            trajectory = solve_dmft(depths, S, learning_rate=args.learning_rate, steps=args.steps, init_scale=sigma,
                                    init=init, freeze_below=args.hold_below)
        else:
            trajectory = solve_dmft_flow(depths, S, t_max=args.t_max, num_points=args.num_points, init_scale=sigma,
                                         tol=args.tol, init=init, max_steps=args.dmft_max_steps)
    except PathdynError as error:
        name, _, rest = str(error).partition(":")
        flag = _FLAGS[mode].get(name)
        if flag is None or not rest:
            raise
        raise type(error)(f"{flag}:{rest}") from None
    if not trajectory.success:
        # Nothing is written: a result short of --tol is a failure, said in one line (exit 2).
        raise IntegrationError(f"--max-steps: {trajectory.message.partition(': ')[2]} (at t_max = {args.t_max:g})")
    return trajectory


def run_dmft(args: argparse.Namespace, plan: FilePlan) -> int:
    """Solve the DMFT and write integrate's JSON (``t``, ``K`` (time, pathways, modes), ``loss``; ``step`` for GD).

    ``plan`` is the run's checked :class:`pathdyn.cli.outputs.FilePlan`: every output is staged
    and written only when all of them have succeeded.

    Parameters
    ----------
    args : argparse.Namespace
        The parsed command line of ``pathdyn integrate --model dmft``.
    plan : FilePlan
        Its checked files: ``-o/--output`` (JSON, or netCDF for a ``.nc`` name) and ``--plot``.

    Returns
    -------
    int
        The exit status, 0 (a failure raises, and nothing is written).

    Raises
    ------
    ConfigError
        If ``--init`` is not a DMFT initialisation, ``--init-scale`` or ``--learning-rate``
        is not positive, only one of ``--learning-rate`` and ``--steps`` is given, ``--t-max``
        is missing or not positive for gradient flow, or the inputs are not whitened
        (``--input-variances``, ``--general`` or such a dataset).
    IntegrationError
        If ``K`` blows up (see :func:`pathdyn.numerics.dmft.solve_dmft`), or the
        continuous-time DMFT cannot reach ``--tol`` within ``--max-steps``; the message
        names the option to change.
    """

    _check(args)
    architecture = architecture_from_args(args)
    S, input_variances, data_note = singular_values_from_args(args)
    if input_variances is not None:
        raise ConfigError("--model dmft: the DMFT model assumes whitened inputs; drop --input-variances/--general or whiten the dataset")
    if isinstance(architecture, GraphArchitecture):  # node-form DMFT of any DAG
        return integrate_graph_dmft(args, plan, architecture, S, data_note)
    sigma = 0.3 if args.init_scale is None else args.init_scale
    init = args.init or "gaussian"
    trajectory = _solve(args, architecture.depths, S, sigma, init)
    payload = trajectory.to_json_dict()
    payload["provenance"] = dict(payload["provenance"], architecture=architecture.to_dict(), **data_note)
    payload["singular_values"] = S.tolist()
    payload["depths"] = list(architecture.depths)
    payload["model"] = "dmft"
    write_trajectory_outputs(args, plan, trajectory, payload, S, depths=architecture.depths)
    return 0
