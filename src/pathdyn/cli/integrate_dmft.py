"""``pathdyn integrate --model dmft``: the infinite-width DMFT of Gaussian or orthogonal hidden layers."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pathdyn.cli.outputs import FilePlan
from pathdyn.errors import ConfigError, IntegrationError, PathdynError
from pathdyn.cli._common import write_trajectory_outputs
from pathdyn.numerics.dmft import INITS, solve_dmft, solve_dmft_flow
from pathdyn.cli.dmft_graph import integrate_graph_dmft
from pathdyn.theory.graph import GraphArchitecture

if TYPE_CHECKING:  # a type only: integrate builds the settings and imports this module
    from pathdyn.cli.integrate import IntegrateSettings


def check_dmft_options(args: Any) -> None:
    """Refuse the options of ``integrate --model dmft`` that are out of range or do not go together.

    Called once, by :class:`pathdyn.cli.integrate.IntegrateSettings` as it is built.

    Parameters
    ----------
    args : IntegrateSettings
        The run's options (not yet its architecture or modes).

    Raises
    ------
    ConfigError
        A bad ``--init``, ``--init-scale``, ``--learning-rate``, ``--steps``, ``--t-max``,
        ``--max-steps``, ``--hold-below`` or ``--tol``, naming the option.
    """
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


def _solve(args: Any, depths, S, sigma, init):
    """The DMFT trajectory of ``args`` (IntegrateSettings, learning rate and steps or t_max paired by
    :func:`check_dmft_options`); an error names the option that fixes it, not the argument."""
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


def run_dmft(settings: IntegrateSettings, plan: FilePlan) -> int:
    """Solve the DMFT and write integrate's JSON (``t``, ``K`` (time, pathways, modes), ``loss``; ``step`` for GD).

    ``plan`` is the run's checked :class:`pathdyn.cli.outputs.FilePlan`: every output is staged
    and written only when all of them have succeeded.

    Parameters
    ----------
    settings : IntegrateSettings
        The checked inputs of ``pathdyn integrate --model dmft`` (refused, when bad, as they were built).
    plan : FilePlan
        Its checked files: ``-o/--output`` (JSON, or netCDF for a ``.nc`` name) and ``--plot``.

    Returns
    -------
    int
        The exit status, 0 (a failure raises, and nothing is written).

    Raises
    ------
    ConfigError
        A value the solver refuses (``--steps``), named by its option; the options that do
        not go together were refused by :func:`check_dmft_options` when ``settings`` was built.
    IntegrationError
        If ``K`` blows up (see :func:`pathdyn.numerics.dmft.solve_dmft`), or the
        continuous-time DMFT cannot reach ``--tol`` within ``--max-steps``; the message
        names the option to change.
    """

    architecture, S = settings.architecture, settings.S
    if isinstance(architecture, GraphArchitecture):  # node-form DMFT of any DAG
        return integrate_graph_dmft(settings, plan)
    trajectory = _solve(settings, architecture.depths, S, settings.sigma, settings.init or "gaussian")
    payload = trajectory.to_json_dict()
    payload["provenance"] = dict(payload["provenance"], architecture=architecture.to_dict(), **settings.data_note)
    payload["singular_values"] = S.tolist()
    payload["depths"] = list(architecture.depths)
    payload["model"] = "dmft"
    write_trajectory_outputs(settings, plan, trajectory, payload, S, depths=architecture.depths)
    return 0
