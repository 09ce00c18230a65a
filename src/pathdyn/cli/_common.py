"""Argument helpers shared by the subcommands."""

from __future__ import annotations

from pathdyn._base.settings import TrainingTime
from pathdyn.errors import ArchitectureError, ConfigError
import numpy as np

from pathdyn.cli.outputs import FilePlan, print_summary
from pathdyn.io.jsonio import json_text
from pathdyn.numerics.plotting import plot_mode_trajectories
from pathdyn.numerics.trajectory import Trajectory
from pathdyn.theory.architecture import Architecture, parse_depths
from pathdyn.numerics.datasets import dataset_option
from pathdyn.numerics.mode_inputs import dataset_modes
from pathdyn.theory.architecture import load_architecture_toml
from pathdyn.theory.graph import GraphArchitecture


def add_architecture_arguments(parser, default_depths: str = "2,2") -> None:
    """``--depths``, ``--architecture FILE.toml``, ``--n-in``, ``--n-out``, ``--whitened/--general``."""
    group = parser.add_argument_group("architecture")
    group.add_argument("--depths", default=None, help=f"comma-separated depth per pathway (default {default_depths})")
    group.add_argument("--architecture", metavar="FILE.toml", help="read the architecture from a TOML file")
    group.add_argument("--n-in", type=int, default=None, help="input dimension (default: symbolic)")
    group.add_argument("--n-out", type=int, default=None, help="output dimension (default: symbolic)")
    inputs = group.add_mutually_exclusive_group()
    # default None: "not given", so that a TOML file's whitened = false is kept unless overridden
    inputs.add_argument("--whitened", dest="whitened", action="store_true", default=None, help="Sigma_x = I (default)")
    inputs.add_argument("--general", dest="whitened", action="store_false", help="carry a general Sigma_x")
    parser.set_defaults(_default_depths=default_depths)


def architecture_from_args(args):
    """The :class:`Architecture` (or, for a TOML file with a ``[graph]`` table, the
    :class:`~pathdyn.theory.graph.GraphArchitecture`) named by :func:`add_architecture_arguments`'s arguments."""
    return architecture_from_options(args.depths, args.architecture, args.n_in, args.n_out, args.whitened,
                                     args._default_depths)


def architecture_from_options(depths: str | None, architecture: str | None, n_in: int | None, n_out: int | None,
                              whitened: bool | None, default_depths: str = "2,2"
                              ) -> Architecture | GraphArchitecture:
    """The architecture of ``--depths`` or ``--architecture FILE.toml``, with ``--n-in``, ``--n-out``, ``--whitened``.

    Parameters
    ----------
    depths : str or None
        ``--depths``, e.g. ``"2,3"``.
    architecture : str or None
        ``--architecture``: a TOML file (a ``[graph]`` table gives a graph).
    n_in, n_out : int or None
        Dimensions overriding the file's (``None``: the file's, or symbolic).
    whitened : bool or None
        ``--whitened`` / ``--general``; ``None``: the file's (whitened without a file).
    default_depths : str
        The command's depths when neither ``depths`` nor ``architecture`` is given.

    Returns
    -------
    Architecture or GraphArchitecture

    Raises
    ------
    ArchitectureError
        Both ``depths`` and ``architecture``, or an invalid architecture.
    """
    if architecture and depths:
        raise ArchitectureError("give either --depths or --architecture, not both")
    given = (("n_in", n_in), ("n_out", n_out), ("whitened", whitened))
    overrides = {k: v for k, v in given if v is not None}
    if architecture:
        arch = load_architecture_toml(architecture)  # a [graph] table selects the graph form
        if not overrides:
            return arch
        source = f"--architecture {architecture} with the command-line options"
        if isinstance(arch, GraphArchitecture):
            return GraphArchitecture.from_dict(arch.to_dict() | overrides, source=source)
        return Architecture.from_dict(arch.to_dict() | overrides, source=source)
    parsed = parse_depths(depths or default_depths, argument="--depths")
    return Architecture(depths=parsed, n_in=n_in, n_out=n_out, whitened=True if whitened is None else whitened)


def parse_floats(text: str, argument: str) -> list:
    """``"3,1.5,0.7"`` -> ``[3.0, 1.5, 0.7]``; a ConfigError naming ``argument`` otherwise."""
    try:
        values = [float(v) for v in str(text).split(",") if v.strip()]
    except ValueError:
        raise ConfigError(f"{argument}: expected comma-separated numbers, got {text!r}") from None
    if not values:
        raise ConfigError(f"{argument}: no values given")
    return values


BUILTIN_DATASETS = ("hierarchical", "hierarchical-raw", "random")


def dataset_file(spec: str | None) -> str | None:
    """The file a ``--dataset`` value names, or ``None`` for a built-in (``hierarchical``, ``random:S,...``)."""
    if spec is None or spec in BUILTIN_DATASETS or spec.startswith("random:"):
        return None
    return spec


def check_json_output(path: str | None) -> None:
    """``-o`` must name a .json file, or be ``-``/absent (standard output)."""
    if path not in (None, "-") and not str(path).endswith(".json"):
        raise ConfigError(f"-o/--output: {path!r} should be a .json file (or '-')")


def file_plan(command: str, inputs: dict, outputs: dict) -> FilePlan:
    """Declare and check every file of a run before any work (:class:`pathdyn.cli.outputs.FilePlan`).

    Parameters
    ----------
    command : str
    inputs : dict
        Flag -> path given (or ``None``).
    outputs : dict
        Flag -> ``(path or None, kind, stdout_ok)``; kind ``"plot"`` checks the suffix.
    """
    plan = FilePlan(command)
    for flag, value in inputs.items():
        plan.add_input(flag, value)
    for flag, (value, kind, stdout_ok) in outputs.items():
        plan.add_output(flag, value, kind=kind, stdout_ok=stdout_ok)
    plan.check()
    return plan


def repeated_inputs(flag: str, paths) -> dict:
    """The inputs of a repeatable ``flag`` for :func:`file_plan`, numbered from the second on (``--architecture (#2)``)."""
    return {(flag if i == 1 else f"{flag} (#{i})"): path for i, path in enumerate(paths or (), start=1)}


#: Default limit on the gradient-descent steps ``t_max / learning_rate`` of one network
#: (``--max-steps`` raises it): the defaults use a few thousand, and 1e7 steps of the
#: smallest network already take minutes, so more is almost surely a typo.
DEFAULT_MAX_STEPS = 10_000_000


def add_max_steps_argument(parser) -> None:
    """``--max-steps N``: the limit :func:`check_step_count` enforces."""
    parser.add_argument("--max-steps", type=int, default=DEFAULT_MAX_STEPS,
                        help=f"refuse runs of more gradient-descent steps per network than this (default {DEFAULT_MAX_STEPS:,})")


def check_step_count(t_max: float, learning_rate: float, max_steps: int, factor: int = 1) -> int:
    """The number of steps ``factor * t_max / learning_rate``; refused beyond ``max_steps`` with the fix.

    ``factor`` counts a run's longest network in units of ``t_max / learning_rate``
    (``validate``'s learning-rate floor trains at half the learning rate: 2).
    """
    for flag, value in (("--t-max", t_max), ("--learning-rate", learning_rate)):
        if not value > 0:
            raise ConfigError(f"{flag}: {value} is not positive; give a number > 0")
    return TrainingTime(learning_rate, t_max).checked_steps(max_steps, factor)


def use_file_backend() -> None:
    """Draw figures with matplotlib's non-interactive Agg backend (the command line only writes files).

    The library never chooses a backend, so that notebooks and scripts keep theirs;
    the command line has no window to draw into and must not need a display.
    """
    import matplotlib

    matplotlib.use("Agg")


def add_cluster_arguments(parser) -> None:
    """``--workers N`` (a local Dask cluster) and ``--scheduler ADDRESS`` (an existing one)."""
    group = parser.add_argument_group("cluster (optional extra 'distributed': pip install 'pathdyn[distributed]')")
    where = group.add_mutually_exclusive_group()
    where.add_argument("--workers", type=int, default=None, metavar="N",
                       help="train the networks on a local Dask cluster of N processes (same results, bit for bit)")
    where.add_argument("--scheduler", default=None, metavar="ADDRESS",
                       help="train them on an existing Dask cluster, e.g. tcp://10.0.0.5:8786")


def add_device_argument(parser) -> None:
    """``--device``: where the networks train (the numpy engine, or the PyTorch engine on a device)."""
    parser.add_argument("--device", default="numpy",
                        help="numpy (default: the numpy engine), or cpu or cuda[:N]: the PyTorch engine on that device "
                             "(pip install 'pathdyn[gpu]')")


def modes_from_options(singular_values: str | None, input_variances: str | None, dataset: str | None,
                       allow_misaligned: bool = False, whitened: bool | None = None) -> tuple:
    """``(S, lambda, note)`` from ``--singular-values`` [``--input-variances``] or ``--dataset``.

    ``lambda`` is None for whitened inputs (the equations without an input variance).

    Parameters
    ----------
    singular_values, input_variances : str or None
        ``--singular-values`` and ``--input-variances``, comma-separated numbers.
    dataset : str or None
        ``--dataset`` (``hierarchical`` when neither it nor ``singular_values`` is given).
    allow_misaligned : bool
        ``--allow-misaligned``.
    whitened : bool or None
        ``--whitened`` (``True``), ``--general`` (``False``) or neither.

    Returns
    -------
    S : ndarray, shape (modes,)
        The singular values, one mode each (``hierarchical`` when neither option is given).
    lambda : ndarray, shape (modes,), or None
        Each mode's input variance; ``None`` for whitened inputs.
    note : dict
        Where the values came from, for the output's provenance.

    Raises
    ------
    ConfigError
        If a value is not a positive finite number, ``--input-variances`` has not one value
        per singular value or comes without ``--singular-values``, or ``--general`` is given
        with ``--singular-values`` but without ``--input-variances``.
    DatasetError
        If the dataset cannot be read, has no modes, or its inputs are misaligned with its
        modes without ``--allow-misaligned``.
    """
    if singular_values is not None:
        S = _positive_values(singular_values, "--singular-values")
        if input_variances is None:
            if whitened is False:
                raise ConfigError("--general: the reduced equations need each mode's input variance; "
                                  "give --input-variances L1,L2,... (one per singular value) or a --dataset")
            return S, None, {"singular_values": "given"}
        lam = _positive_values(input_variances, "--input-variances")
        if lam.size != S.size:
            raise ConfigError(f"--input-variances: {lam.size} values for {S.size} singular values; give one per mode")
        return S, lam, {"singular_values": "given", "input_variances_from": "--input-variances"}
    if input_variances is not None:
        raise ConfigError("--input-variances: goes with --singular-values; a --dataset gives its own input variances")

    data = dataset_option(dataset, "hierarchical")
    return dataset_modes(data, allow_misaligned, whitened=whitened, argument="--dataset")


def _positive_values(text: str, option: str):
    import numpy as np

    values = np.array(parse_floats(text, option))
    if not np.all(np.isfinite(values)) or np.any(values <= 0):
        raise ConfigError(f"{option}: must be positive and finite, got {values.tolist()}")
    return values


def write_trajectory_outputs(args, plan: FilePlan, trajectory: Trajectory, payload: dict, S: np.ndarray,
                             depths: tuple | None = None) -> None:
    """Write a theory run's ``-o/--output`` (netCDF for ``.nc``, else ``payload`` as JSON) and ``--plot``, all or nothing.

    Parameters
    ----------
    args : argparse.Namespace
        With ``output`` and ``plot``.
    plan : FilePlan
        The command's checked outputs; committed here, then its summary line printed.
    trajectory : Trajectory
    payload : dict
        The JSON document.
    S : ndarray
        The singular values (the plot's labels).
    depths : tuple of int, optional
        The pathways' depths, for the plot's legend.
    """
    with plan:
        if str(args.output).endswith(".nc"):
            plan.stage("-o/--output", lambda tmp: trajectory.save_netcdf(tmp))
        else:
            plan.stage_text("-o/--output", json_text(payload))
        if args.plot:
            use_file_backend()
            plan.stage("--plot", lambda tmp: plot_mode_trajectories(trajectory, tmp, singular_values=S, depths=depths))
        plan.commit()
        print_summary(plan)
