"""``pathdyn simulate``: train a finite-width multi-pathway network by gradient descent."""

from __future__ import annotations

import argparse
from pathdyn.cli.outputs import print_summary
from pathdyn.errors import ConfigError
from pathdyn.cli._common import add_device_argument, dataset_file, file_plan, use_file_backend
from pathdyn.cli._graph import simulate_graph
from pathdyn.io.simulation_files import run_config, save_run_file
from pathdyn.io.weight_files import hidden_widths_from_weights
from pathdyn.numerics.datasets import dataset_option
from pathdyn.numerics.plotting import plain_text
from pathdyn.theory.architecture import Architecture, parse_depths
from pathdyn.theory.architecture import load_architecture_toml
from pathdyn.theory.graph import GraphArchitecture
from pathdyn.validation.network import load_weights, save_weights, simulate_gd
from pathdyn.validation.reports.simulation_plots import plot_simulation

COMMAND = "simulate"
HELP = "train a finite-width network by full-batch gradient descent and record its mode strengths"
ORDER = 30
DESCRIPTION = """\
Train a finite-width multi-pathway network by full-batch gradient descent and record
K_{a alpha} = u_alpha^T Omega_a v_alpha (and the full U^T Omega_a V) every k steps.

Example:
  pathdyn simulate --depths 2,2 --width 1000 --init gaussian --init-scale 0.3 \\
      --activation linear --dataset hierarchical --learning-rate 0.005 --steps 6000 \\
      --record-every 10 --seed 0 -o run.npz --plot run.png

run.npz holds t (records,), step (records,), K (records, pathways, modes), loss (records,),
UtOmegaV (records, pathways, modes, modes), singular_values (modes,) and config (a JSON
string of every setting). Weight files (--save-weights, --init-from) hold arrays
W_<a>_<d> (pathway a, layer d, both 1-based), each of shape (outputs, inputs).
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add this subcommand's options to ``parser``.

    Parameters
    ----------
    parser : argparse.ArgumentParser
        The subcommand's parser, to which its options are added.
    """
    net = parser.add_argument_group("network")
    net.add_argument("--depths", default=None, help="comma-separated depth per pathway (default 2,2)")
    net.add_argument("--architecture", metavar="FILE.toml",
                     help="read depths (and hidden_widths) from a TOML file, or a [graph] (its widths and activations)")
    net.add_argument("--width", type=int, default=None, help="hidden width N of every hidden layer (required unless the TOML gives hidden_widths)")
    net.add_argument("--activation", default=None,
                     help="linear (default), relu or tanh on hidden layers (a [graph]: default its own activations)")
    net.add_argument("--activate-last", action="store_true", help="also apply the activation after each pathway's last layer (the paper's code)")
    init = parser.add_argument_group("initialisation")
    init.add_argument("--init", default=None, help="gaussian (variance sigma^2/N, default), orthogonal (hidden sigma*O) or paper (std sigma)")
    init.add_argument("--init-scale", type=float, default=None, help="sigma (default 0.3; 0.01 for --init paper)")
    init.add_argument("--seed", type=int, default=0, help="seed of the initial weights (default 0)")
    init.add_argument("--init-from", metavar="WEIGHTS.npz", default=None, help="start from these weights (arrays W_<a>_<d>) instead of --init")
    data = parser.add_argument_group("data")
    data.add_argument("--dataset", default="hierarchical",
                      help="hierarchical (X = sqrt(8) I, default), hierarchical-raw (the paper's X = I), "
                           "random:S1,S2,... (whitened, these singular values), or FILE.npz / FILE.csv")
    data.add_argument("--data-seed", type=int, default=0, help="seed of a random: dataset (default 0)")
    train = parser.add_argument_group("training")
    train.add_argument("--learning-rate", type=float, required=True, help="eta > 0")
    train.add_argument("--steps", type=int, required=True, help="number of gradient-descent steps")
    train.add_argument("--record-every", type=int, default=1, help="record every k steps (and the last step; default 1)")
    train.add_argument("--loss", default="mean", help="mean: 1/(2P) sum |y - f|^2, t = eta step (default); paper: sum |y - f|^2, t = 2 P eta step")
    train.add_argument("--float32", action="store_true", help="train in float32 (default float64)")
    train.add_argument("--threads", type=int, default=1,
                       help="cores to use (default 1): pathways run in parallel first, the rest goes to BLAS (a graph: BLAS threads)")
    add_device_argument(train)
    out = parser.add_argument_group("output")
    out.add_argument("-o", "--output", required=True, help="output .npz (t, step, K, loss, UtOmegaV, singular_values, config)")
    out.add_argument("--save-weights", metavar="FILE.npz", default=None, help="write the final weights (arrays W_<a>_<d>)")
    out.add_argument("--plot", metavar="FILE.png", default=None, help="draw K(t) per pathway and the final U^T Omega_a V heatmaps")
    out.add_argument("--no-progress", action="store_true", help="never draw the progress bar")


def run(args: argparse.Namespace) -> int:
    """Run the subcommand with the parsed ``args``: train one network and write its run file.

    Parameters
    ----------
    args : argparse.Namespace
        The parsed command line.

    Returns
    -------
    int
        The exit status: 0 (a failure raises instead).

    Raises
    ------
    ConfigError
        If both ``--depths`` and ``--architecture`` are given, ``--init`` or
        ``--init-scale`` is given with ``--init-from``, ``-o`` is ``-`` (run files are
        binary), an output file is refused by its checks, the ``--init-from`` file is missing or
        malformed, or a training setting is bad.
    ArchitectureError
        For bad ``--depths`` or a bad ``--architecture`` file.
    DatasetError
        For a malformed ``--dataset`` (or one that cannot be read).
    SimulationError
        If gradient descent diverges (see :func:`pathdyn.validation.network.simulate_gd`).
    OSError
        If an output file cannot be written or moved into place.
    """
    import numpy as np


    if args.architecture and args.depths:
        raise ConfigError("give either --depths or --architecture, not both")
    if args.init_from and (args.init is not None or args.init_scale is not None):
        given = " and ".join(f for f, v in (("--init", args.init), ("--init-scale", args.init_scale)) if v is not None)
        raise ConfigError(f"{given}: the initial weights come from --init-from {args.init_from!r}; drop {given} or --init-from")
    args.init = args.init or "gaussian"
    if args.output == "-":
        raise ConfigError("-o/--output: give a .npz file name; run files are binary")
    plan = file_plan(
        "simulate",
        {"--architecture": args.architecture, "--dataset": dataset_file(args.dataset), "--init-from": args.init_from},
        {"-o/--output": (args.output, "npz", False), "--save-weights": (args.save_weights, "npz", False),
         "--plot": (args.plot, "plot", False)},
    )
    architecture = load_architecture_toml(args.architecture) if args.architecture else Architecture(
        depths=parse_depths(args.depths or "2,2", argument="--depths"))
    dataset = dataset_option(args.dataset, "hierarchical", seed=args.data_seed, distinct=True)
    if isinstance(architecture, GraphArchitecture):
        return simulate_graph(args, plan, architecture, dataset)
    args.activation = args.activation or "linear"
    weights = load_weights(args.init_from) if args.init_from else None
    width = args.width
    if width is None and weights is not None and architecture.hidden_widths is None:
        width = hidden_widths_from_weights(weights)
    dtype = np.float32 if args.float32 else np.float64
    result = simulate_gd(
        architecture, dataset, width,
        init=args.init, init_scale=args.init_scale, activation=args.activation,
        learning_rate=args.learning_rate, steps=args.steps, record_every=args.record_every,
        seed=args.seed, weights=weights, dtype=dtype, loss=args.loss, activate_last=args.activate_last,
        progress=not args.no_progress, threads=args.threads, device=args.device,
    )
    config = run_config(result, {
        "command": "simulate",
        "dataset_spec": args.dataset,
        "data_seed": args.data_seed,
        "init_from": args.init_from,
        "float32": bool(args.float32),
        "output": args.output,
        "save_weights": args.save_weights,
        "plot": args.plot,
    })
    with plan:
        plan.stage("-o/--output", lambda tmp: save_run_file(tmp, result, config))
        if args.save_weights:
            plan.stage("--save-weights", lambda tmp: save_weights(tmp, result.extras["final_weights"]))
        if args.plot:
            use_file_backend()
            title = (f"depths ({', '.join(map(str, architecture.depths))}), "
                     f"{args.activation}, width {width}, {args.init} init $\\sigma = {config['init_scale']:g}$, "
                     f"$\\eta = {args.learning_rate:g}$, {args.steps} steps, data {plain_text(dataset.name)}")
            plan.stage("--plot", lambda tmp: plot_simulation(result, tmp, title=title))
        plan.commit()
        print_summary(plan)
    return 0

