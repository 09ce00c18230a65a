"""``pathdyn integrate``: integrate the reduced per-mode equations of an architecture."""

from __future__ import annotations

import json
from pathlib import Path

from pathdyn.cli._common import add_architecture_arguments, architecture_from_args, dataset_file, file_plan, parse_floats
from pathdyn.errors import ConfigError

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
init.json holds {"q0": [[...]], "p0": [[...]]}, arrays of shape (pathways, modes).
"""


def add_arguments(parser) -> None:
    add_architecture_arguments(parser, default_depths="2,2")
    data = parser.add_argument_group("singular values (one mode each)")
    source = data.add_mutually_exclusive_group()
    source.add_argument("--singular-values", metavar="S1,S2,...", help="comma-separated positive singular values")
    source.add_argument(
        "--dataset", metavar="NAME|FILE",
        help="'hierarchical' (the paper's, whitened), or a .npz (X, Y) / .csv file; default hierarchical",
    )
    init = parser.add_argument_group("initial conditions")
    init.add_argument("--init", metavar="FILE.json", help='{"q0": [[...]], "p0": [[...]]}, shape (pathways, modes)')
    init.add_argument("--init-scale", type=float, default=0.1, help="std of the random p(0) (default 0.1)")
    init.add_argument("--c", type=float, default=1.0, help="conserved q^2 - p^2 of drawn initial states (default 1, the paper's)")
    init.add_argument("--seed", type=int, default=0, help="seed of the drawn initial state (default 0)")
    run_group = parser.add_argument_group("integration")
    run_group.add_argument("--t-max", type=float, default=40.0, help="final time, tau = 1 units (default 40)")
    run_group.add_argument("--num-points", type=int, default=201, help="output times (default 201)")
    run_group.add_argument("--method", default="LSODA", help="LSODA (default), BDF, Radau, RK45, RK23, DOP853, rosenbrock (per-member steps; large ensembles)")
    run_group.add_argument("--rtol", type=float, default=1e-8, help="relative tolerance (default 1e-8)")
    run_group.add_argument("--atol", type=float, default=1e-10, help="absolute tolerance (default 1e-10)")
    run_group.add_argument("--loss-tol", type=float, default=None, help="stop once the loss is below this")
    parser.add_argument("-o", "--output", default="-", help="output JSON file; '-' (default) prints to standard output")
    parser.add_argument("--plot", metavar="FILE.png", help="also plot K(t) of every mode per pathway")


def singular_values_from_args(args):
    """Singular values and a provenance note from ``--singular-values`` / ``--dataset``."""
    import numpy as np

    if args.singular_values is not None:
        S = np.array(parse_floats(args.singular_values, "--singular-values"))
        if not np.all(np.isfinite(S)) or np.any(S <= 0):
            raise ConfigError(f"--singular-values: must be positive and finite, got {S.tolist()}")
        return S, {"singular_values": "given"}
    from pathdyn.numerics.datasets import resolve_dataset

    dataset = resolve_dataset(args.dataset or "hierarchical")
    if not dataset.is_whitened:
        raise ConfigError(
            f"--dataset: {dataset.name!r} is not whitened (X X^T / P != I); the reduced equations assume Sigma_x = I: "
            "whiten X or pass --singular-values"
        )
    S = dataset.singular_values
    keep = S > 1e-12 * S[0]
    return S[keep], {"dataset": dataset.name, "dataset_notes": dataset.notes}


def initial_state_from_args(args, equations, num_modes: int):
    import numpy as np

    from pathdyn.numerics.initial import draw_initial_state, qp_initial_state

    if args.init:
        path = Path(args.init)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except UnicodeDecodeError as error:
            raise ConfigError(f"--init: {str(path)!r} is not UTF-8 text (byte {error.start}); save it as UTF-8 JSON") from None
        except json.JSONDecodeError as error:
            raise ConfigError(f"--init: {str(path)!r} is not valid JSON ({error.msg} at line {error.lineno})") from None
        if not isinstance(data, dict) or "q0" not in data or "p0" not in data:
            raise ConfigError(f'--init: {str(path)!r} must hold an object {{"q0": [[...]], "p0": [[...]]}}')
        from pathdyn.checks import real_array

        try:
            q0 = real_array("--init: q0", data["q0"])
            p0 = real_array("--init: p0", data["p0"])
        except ConfigError:
            raise ConfigError("--init: q0 and p0 must be rectangular arrays of real numbers, shape (pathways, modes)") from None
        expected = (equations.num_pathways, num_modes)
        for name, value in (("q0", q0), ("p0", p0)):
            if value.shape != expected:
                raise ConfigError(
                    f"--init: {name} has shape {value.shape}, expected (pathways, modes) = {expected}"
                )
        return qp_initial_state(equations, q0, p0), {"init": str(path)}
    y0 = draw_initial_state(equations, num_modes, args.init_scale, seed=args.seed, c=args.c)
    return y0, {"init_scale": args.init_scale, "c": args.c, "seed": args.seed}


def run(args) -> int:
    from pathdyn.numerics.integrate import integrate
    from pathdyn.theory.reduced import reduce_to_modes

    if not args.t_max > 0:
        raise ConfigError(f"--t-max: must be a positive time, got {args.t_max}")
    plan = file_plan(
        "integrate",
        {"--architecture": args.architecture, "--dataset": dataset_file(args.dataset), "--init": args.init},
        {"-o/--output": (args.output, "json", True), "--plot": (args.plot, "plot", False)},
    )
    architecture = architecture_from_args(args)
    equations = reduce_to_modes(architecture, model="qp")
    S, data_note = singular_values_from_args(args)
    for flag, dimension in (("--n-in", architecture.n_in), ("--n-out", architecture.n_out)):
        if dimension is not None and dimension < len(S):
            raise ConfigError(f"{flag}: {dimension} dimensions cannot carry {len(S)} modes; give {flag} >= {len(S)} or fewer singular values")
    y0, init_note = initial_state_from_args(args, equations, len(S))
    provenance = {"architecture": architecture.to_dict(), **data_note, **init_note}
    trajectory = integrate(
        equations, y0, S, args.t_max, num_points=args.num_points, method=args.method, rtol=args.rtol,
        atol=args.atol, loss_tol=args.loss_tol, provenance=provenance,
    )
    payload = trajectory.to_json_dict()
    payload["singular_values"] = S.tolist()
    payload["depths"] = list(architecture.depths)
    with plan:
        plan.stage_text("-o/--output", json.dumps(payload))
        if args.plot:
            from pathdyn.numerics.plotting import plot_mode_trajectories

            plan.stage("--plot", lambda tmp: plot_mode_trajectories(trajectory, tmp, singular_values=S, depths=architecture.depths))
        plan.commit()
    return 0 if trajectory.success else 1
