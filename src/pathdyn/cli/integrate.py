"""``pathdyn integrate``: integrate the reduced per-mode equations of an architecture."""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import numpy as np

from pathdyn.cli.outputs import print_summary
from pathdyn.errors import ConfigError
from pathdyn.io.jsonio import json_text
from pathdyn.cli._common import (
    add_architecture_arguments,
    architecture_from_options,
    dataset_file,
    file_plan,
    modes_from_options,
    use_file_backend,
)
from pathdyn.cli._graph import (check_graph_model, draw_edge_strengths, graph_paths_note, load_edge_strengths,
                                refuse_graph, total_only)
from pathdyn.cli.dmft_graph import check_graph_dmft_options
from pathdyn.cli.integrate_dmft import check_dmft_options, run_dmft
from pathdyn.cli.outputs import FilePlan
from pathdyn.io.labelled import require
from pathdyn.numerics.horizon import AUTO_HORIZON, choose_t_max
from pathdyn.numerics.initial import draw_initial_state, load_initial_state
from pathdyn.numerics.integrate import integrate
from pathdyn.numerics.mode_inputs import architecture_for_inputs
from pathdyn.numerics.plotting import plain_text, plot_mode_trajectories
from pathdyn.theory.architecture import Architecture
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


#: IntegrateSettings' field -> the parsed command line's attribute of the same option.
_ARG_NAMES = {"architecture_file": "architecture", "default_depths": "_default_depths"}


@dataclass(frozen=True)
class IntegrateSettings:
    """The inputs of one ``pathdyn integrate`` run (reduced model or ``--model dmft``), checked once.

    Built once at the command line's boundary (:meth:`from_args`) or from keywords (the
    fields are the options, ``architecture_file`` being ``--architecture``); the run
    functions take this object and check nothing again. The constructor checks every
    input and computes, once, the architecture, the modes (singular values, input
    variances, their provenance and rank) and the initial-state drawing settings.

    Parameters
    ----------
    model : str
        ``--model`` (``qp`` default; ``dmft`` solves the DMFT).
    depths, architecture_file, n_in, n_out, whitened, default_depths
        The architecture (:func:`pathdyn.cli._common.architecture_from_options`).
    singular_values, input_variances, dataset, allow_misaligned
        The modes (:func:`pathdyn.cli._common.modes_from_options`).
    init, init_scale, c, seed
        The initial state: a file (a DMFT initialisation for ``--model dmft``), or drawn.
    t_max, num_points, method, rtol, atol, loss_tol
        The integration (``t_max`` ``None``: chosen where ``K`` has settled).
    learning_rate, steps, tol, hold_below, dmft_max_steps
        The DMFT's gradient descent (``learning_rate`` with ``steps``) or flow (``tol``,
        ``dmft_max_steps``).
    output, plot
        ``-o/--output`` and ``--plot``.

    Raises
    ------
    ConfigError
        A bad value, named by its option: ``--t-max`` not positive, ``--learning-rate``
        without ``--steps`` (DMFT), ``--n-in``/``--n-out`` narrower than the modes, and so on.
    ArchitectureError, DatasetError
        An invalid architecture, or data that cannot be read or are misaligned.
    """

    model: str = "qp"
    depths: str | None = None
    architecture_file: str | None = None
    n_in: int | None = None
    n_out: int | None = None
    whitened: bool | None = None
    default_depths: str = "2,2"
    singular_values: str | None = None
    input_variances: str | None = None
    dataset: str | None = None
    allow_misaligned: bool = False
    init: str | None = None
    init_scale: float | None = None
    c: float | None = None
    seed: int = 0
    t_max: float | None = None
    num_points: int = 201
    method: str = "LSODA"
    rtol: float = 1e-8
    atol: float = 1e-10
    loss_tol: float | None = None
    learning_rate: float | None = None
    steps: int | None = None
    tol: float = 1e-3
    hold_below: float | None = None
    dmft_max_steps: int | None = None
    output: str = "-"
    plot: str | None = None
    #: Computed once by the constructor.
    architecture: Architecture | GraphArchitecture = field(init=False, repr=False)
    S: np.ndarray = field(init=False, repr=False)
    lam: np.ndarray | None = field(init=False, repr=False)
    data_note: dict = field(init=False, repr=False)

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> IntegrateSettings:
        """The settings of the parsed command line (every option :func:`add_arguments` adds).

        Parameters
        ----------
        args : argparse.Namespace
            The parsed ``pathdyn integrate`` command line.

        Returns
        -------
        IntegrateSettings
        """
        names = [f.name for f in fields(cls) if f.init]
        return cls(**{name: getattr(args, _ARG_NAMES.get(name, name)) for name in names})

    def __post_init__(self) -> None:
        if self.dmft:
            self._check_dmft()
        else:
            self._check_reduced()

    @property
    def dmft(self) -> bool:
        """Whether the model is solved as the DMFT's site equations (a Volterra march, not an ODE)."""
        return get_model(self.model).kind != "ode"

    @property
    def rank(self) -> int:
        """The number of modes integrated (singular values above ``1e-12 S_1`` of a dataset)."""
        return int(self.S.size)

    @property
    def netcdf(self) -> bool:
        """Whether ``-o`` names a netCDF file."""
        return str(self.output).endswith(".nc")

    @property
    def sigma(self) -> float:
        """The drawn state's scale: ``--init-scale``, else 0.1 (``p(0)``) or 0.3 (the DMFT's sigma)."""
        default = 0.3 if self.dmft else 0.1
        return default if self.init_scale is None else self.init_scale

    def _set(self, **values: Any) -> None:
        for name, value in values.items():
            object.__setattr__(self, name, value)

    def _architecture(self, whitened: bool | None) -> Architecture | GraphArchitecture:
        return architecture_from_options(self.depths, self.architecture_file, self.n_in, self.n_out, whitened,
                                         self.default_depths)

    def _modes(self, whitened: bool | None) -> tuple:
        return modes_from_options(self.singular_values, self.input_variances, self.dataset, self.allow_misaligned,
                                  whitened)

    def _check_reduced(self) -> None:
        if self.t_max is not None and not self.t_max > 0:
            raise ConfigError(f"--t-max: must be a positive time, got {self.t_max}")
        if self.netcdf:
            require("xarray")  # before the work, not after it
        architecture = self._architecture(self.whitened)
        whitened = self._file_whitened(architecture)
        S, lam, note = self._modes(whitened)
        if isinstance(architecture, GraphArchitecture):
            check_graph_model(self.model)
            if self.c is not None:
                raise refuse_graph("--c", str(self.architecture_file),
                                   "its drawn edge strengths carry no q^2 - p^2; drop --c")
        architecture = architecture_for_inputs(architecture, lam, whitened, argument="--whitened",
                                               source="--input-variances")
        for flag, dimension in (("--n-in", architecture.n_in), ("--n-out", architecture.n_out)):
            if dimension is not None and dimension < len(S):
                raise ConfigError(f"{flag}: {dimension} dimensions cannot carry {len(S)} modes; give {flag} >= {len(S)} "
                                  "or fewer singular values")
        self._set(architecture=architecture, S=S, lam=lam, data_note=note)

    def _file_whitened(self, architecture: Architecture | GraphArchitecture) -> bool | None:
        """A file's ``whitened = false`` asks for the general equations, as ``--general`` does (unless overridden)."""
        if self.whitened is not None or not self.architecture_file or architecture.whitened:
            return self.whitened
        if self.singular_values is not None and self.input_variances is None:
            raise ConfigError(f"--architecture {self.architecture_file}: whitened = false, so the reduced equations "
                              "need each mode's input variance; give --input-variances L1,L2,... (one per singular "
                              "value), a --dataset, or --whitened")
        return False  # the dataset's input variances are used even where they are 1

    def _check_dmft(self) -> None:
        check_dmft_options(self)
        architecture = self._architecture(self.whitened)
        S, lam, note = self._modes(self.whitened)
        if lam is not None:
            raise ConfigError("--model dmft: the DMFT model assumes whitened inputs; drop --input-variances/--general "
                              "or whiten the dataset")
        if isinstance(architecture, GraphArchitecture):
            check_graph_dmft_options(self, architecture)
        self._set(architecture=architecture, S=S, lam=None, data_note=note)

    def initial_state(self, equations: ModeEquations) -> tuple[np.ndarray, dict[str, Any]]:
        """``(y0, note)``: the reduced model's initial state from ``--init FILE.json``, or drawn.

        Parameters
        ----------
        equations : ModeEquations
            The q/p (or a graph's per-edge) equations whose state is wanted.

        Returns
        -------
        y0 : ndarray, shape (n_state, modes)
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
        if self.init:
            y0 = (load_initial_state(self.init, equations, self.rank, argument="--init") if graph is None
                  else load_edge_strengths(self.init, graph, self.rank))
            return y0, {"init": str(Path(self.init))}
        scale = self.sigma
        if graph is not None:
            return (draw_edge_strengths(len(graph.edges), self.rank, scale, self.seed),
                    {"init_scale": scale, "seed": self.seed})
        c = 1.0 if self.c is None else self.c
        y0 = draw_initial_state(equations, self.rank, scale, seed=self.seed, c=c)
        return y0, {"init_scale": scale, "c": c, "seed": self.seed}


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
        or a value is bad (see :class:`IntegrateSettings`).
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
    settings = IntegrateSettings.from_args(args)
    if settings.dmft:  # the DMFT's site equations: a Volterra march, not an ODE integrator
        return run_dmft(settings, plan)
    return integrate_reduced(settings, plan)


def integrate_reduced(settings: IntegrateSettings, plan: FilePlan) -> int:
    """Integrate the reduced q/p (or a graph's per-edge) equations of checked ``settings`` and write the files.

    Parameters
    ----------
    settings : IntegrateSettings
        The run's inputs, checked once when they were built.
    plan : FilePlan
        Its checked files: ``-o/--output`` (JSON, or netCDF for ``.nc``) and ``--plot``.

    Returns
    -------
    int
        0, or 1 when the solver reported a failure (the output is written either way).

    Raises
    ------
    IntegrationError
        If the solution blows up or becomes non-finite.
    OSError
        If an output file cannot be written or moved into place.
    """
    architecture, S, lam, data_note = settings.architecture, settings.S, settings.lam, settings.data_note
    equations = (derive_graph_mode_equations(architecture) if isinstance(architecture, GraphArchitecture)
                 else reduce_to_modes(architecture, model=settings.model))
    y0, init_note = settings.initial_state(equations)
    provenance = {"architecture": architecture.to_dict(), **data_note, **init_note}
    options: dict[str, Any] = dict(parameters=None if lam is None else {"lambda": lam}, method=settings.method,
                                   rtol=settings.rtol, atol=settings.atol, loss_tol=settings.loss_tol,
                                   provenance=provenance)
    t_max = settings.t_max
    if t_max is None:
        automatic = choose_t_max(equations, y0, S, **options)
        t_max = automatic.t_max
        provenance["t_max"] = automatic.describe()
        if automatic.still_moving:
            print(f"pathdyn integrate: K still changes at t = {automatic.probe_end:g}; pass a larger --t-max", file=sys.stderr)
    trajectory = integrate(equations, y0, S, t_max, num_points=settings.num_points, **options)
    payload = trajectory.to_json_dict()
    payload["singular_values"] = S.tolist()
    if lam is not None:
        payload["input_variances"] = lam.tolist()
    payload["depths"] = list(equations.depths)
    if isinstance(architecture, GraphArchitecture):
        payload["graph"] = graph_paths_note(architecture)
    with plan:
        if settings.netcdf:
            labelled = replace(trajectory, extras={**trajectory.extras, "singular_values": S})
            plan.stage("-o/--output", lambda tmp: labelled.save_netcdf(tmp))
        else:
            plan.stage_text("-o/--output", json_text(payload))
        if settings.plot:
            use_file_backend()
            title = _plot_title(equations.depths, {**data_note, **init_note}, S, lam,
                                graph=isinstance(architecture, GraphArchitecture))
            drawn = total_only(trajectory)
            plan.stage("--plot", lambda tmp: plot_mode_trajectories(drawn, tmp, singular_values=S, title=title,
                                                                     depths=equations.depths if drawn is trajectory else None))
        plan.commit()
        print_summary(plan)
    return 0 if trajectory.success else 1
