"""``pathdyn derive``: derive and export the learning equations of an architecture."""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field, fields

from pathdyn.cli.outputs import print_summary
from pathdyn.cli._common import add_architecture_arguments, architecture_from_options, file_plan
from pathdyn.cli._graph import check_graph_model
from pathdyn.errors import ArchitectureError, ConfigError
from pathdyn.theory.architecture import Architecture
from pathdyn.theory.export import DerivedEquations, export_equations
from pathdyn.theory.gradient_flow import derive_gradient_flow
from pathdyn.theory.graph import MAX_LISTED_PATHS, GraphArchitecture
from pathdyn.theory.models import MODELS, get_model
from pathdyn.theory.writers import WRITERS

COMMAND = "derive"
HELP = "derive the gradient-flow and reduced equations of an architecture (pathways or a [graph])"
ORDER = 10
DESCRIPTION = """\
Derive, with sympy, the matrix gradient flow tau dW_a^d/dt = -dL/dW_a^d of every layer
and the paper's reduced q/p equations of one mode, and print or write them. A TOML file
with a [graph] table gives the equations of any DAG in node form: each node's forward and
backward map (and per mode its strengths) defined once, so the export grows with the
number of edges (--path-sums writes every map out as a sum over paths, small graphs only).
In LaTeX the gradient flow and the reduced equations of the edges are one equation for
every edge u -> v, checked against each edge's derived equation (edges it does not give are
listed), and the conserved balances one for every hidden node v, checked node by node;
--per-edge lists every edge's equation and every conserved quantity.

examples:
  pathdyn derive --depths 2,3
  pathdyn derive --depths 2,3 --n-in 8 --n-out 15 --general --format latex -o eqs.tex
  pathdyn derive --architecture arch.toml --format json -o eqs.json
  pathdyn derive --depths 13,2,5 --format latex --fragment
  pathdyn derive --depths 13,2 --format latex --prod --label-prefix deep -o deep.tex
  pathdyn derive --model dmft --depths 3,4 --format latex -o dmft.tex   (DMFT site equations, Gaussian hidden layers)
  pathdyn derive --architecture examples/mouse_visual_cortex.toml --format latex -o cortex.tex
  pathdyn derive --architecture examples/mouse_visual_cortex.toml --format latex --per-edge -o cortex-edges.tex
  pathdyn derive --architecture examples/visual_cortex.toml --path-sums
"""


#: Largest ``M * sum_a D_a^2`` derive accepts. The exported equations hold about
#: ``sum_a D_a^2`` weight factors and the symbolic work grows with the number of pathways
#: M as well; at this bound every format finishes in well under a minute even on a busy
#: machine (docs/reliability.md has the measurements), while 8 pathways of depth 200
#: (2.6e6) already take minutes.
MAX_DERIVE_SIZE = 400_000
#: Most pathways derive accepts: the text form of the reduced equations sorts sums over all
#: pathways in every equation, so its cost grows faster than the number of pathways
#: (docs/reliability.md has the measurements).
MAX_DERIVE_PATHWAYS = 100
#: Most edges of a graph derive accepts in node form (its default): the derivation and the
#: exports are linear in the edges, and a graph this large derives and exports in about a
#: minute (benchmarks/bench_graph.py measures the scaling).
MAX_DERIVE_EDGES = 3000


def check_derive_size(architecture: Architecture | GraphArchitecture, path_sums: bool = False) -> None:
    """Refuse an architecture whose derivation would run for minutes.

    Pathways (and graphs written as sums over paths, ``path_sums``) are bounded by the
    number of pathways (paths) and :data:`MAX_DERIVE_SIZE`; graphs in node form by their
    number of edges, :data:`MAX_DERIVE_EDGES`, whatever their number of paths.

    Parameters
    ----------
    architecture : Architecture or GraphArchitecture
        The architecture to derive.
    path_sums : bool
        A graph is to be written as sums over paths.

    Raises
    ------
    ArchitectureError
        Above the bound that applies.
    """
    if isinstance(architecture, GraphArchitecture) and not path_sums:
        if len(architecture.edges) > MAX_DERIVE_EDGES:
            raise ArchitectureError(
                f"--architecture: {len(architecture.edges):,} edges, above the {MAX_DERIVE_EDGES:,} that derive finishes "
                "in about a minute; split the graph or use fewer edges")
        return
    if isinstance(architecture, GraphArchitecture):
        if not architecture.paths_listed:
            raise ArchitectureError(
                f"--path-sums: the graph has {architecture.num_paths:,} paths from x to y, above the {MAX_LISTED_PATHS:,} "
                "that are written out one by one; drop --path-sums (the node form defines each node's map once)")
        _check_pathway_size(architecture.path_lengths, "--path-sums", "paths", "drop --path-sums (the node form's size "
                            "grows with the edges, not the paths)")
        return
    _check_pathway_size(architecture.depths, "--depths", "pathways", "use fewer or shallower pathways (pathdyn integrate "
                        "takes any depth up to 1000)")


def _check_pathway_size(depths, option: str, what: str, fix: str) -> None:
    if len(depths) > MAX_DERIVE_PATHWAYS:
        raise ArchitectureError(
            f"{option}: {len(depths)} {what}, above the {MAX_DERIVE_PATHWAYS} that derive finishes in reasonable time; "
            + ("use fewer pathways (pathdyn integrate takes more)" if what == "pathways" else fix))
    size = len(depths) * sum(d * d for d in depths)
    if size > MAX_DERIVE_SIZE:
        raise ArchitectureError(
            f"{option}: {len(depths)} {what[:-1]}(s) of depth up to {max(depths)} give {what} x sum of squared depths = "
            f"{size:,}, above the {MAX_DERIVE_SIZE:,} that derive finishes in reasonable time; {fix}")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add this subcommand's options to ``parser``.

    Parameters
    ----------
    parser : argparse.ArgumentParser
        The subcommand's parser, to which its options are added.
    """
    add_architecture_arguments(parser)
    parser.add_argument(
        "--format", choices=tuple(WRITERS), default="text",
        help=", ".join(writer.help for writer in WRITERS.values()) + "; default text",
    )
    parser.add_argument("--model", choices=tuple(MODELS), default="qp",
                        help="the reduced model (default qp): " + ", ".join(MODELS)
                             + "; a per-mode model comes with the gradient flow, the DMFT as its site equations")
    parser.add_argument("--fragment", action="store_true", help="LaTeX only: print the equations without the document")
    parser.add_argument("--path-sums", action="store_true",
                        help=f"[graph] only: write every map as a sum over paths (graphs of at most {MAX_LISTED_PATHS} "
                             "paths; default: node form, each node's map defined once)")
    latex = parser.add_argument_group("LaTeX layout")
    latex.add_argument("--ungrouped", action="store_true",
                       help="one environment per equation (default: related equations share one align)")
    latex.add_argument("--prod", action="store_true",
                       help="write products of 3 or more consecutive layers as \\prod_{k=i}^{j} W_a^{(k)}")
    latex.add_argument("--label-prefix", metavar="WORD", default=None,
                       help="labels eq:WORD:W-1-1 instead of eq:W-1-1 (two architectures in one paper)")
    latex.add_argument("--per-edge", action="store_true",
                       help="[graph], node form: the equation of every edge, every conserved quantity and every "
                            "node definition on a line of its own (default: one equation for every edge u -> v and "
                            "one balance for every hidden node v, checked edge by edge and node by node, and the "
                            "node definitions side by side)")
    parser.add_argument("-o", "--output", default=None, help="output file; '-' or omitted prints to standard output")


@dataclass(frozen=True)
class DeriveSettings:
    """The inputs of one ``pathdyn derive`` run, checked once; the architecture and writer options computed once.

    Built at the command line's boundary (:meth:`from_args`) or from keywords
    (``architecture_file`` is ``--architecture``); :func:`derive_text` takes it.

    Parameters
    ----------
    depths, architecture_file, n_in, n_out, whitened, default_depths
        The architecture (:func:`pathdyn.cli._common.architecture_from_options`).
    model : str
        ``--model``: a per-mode model (with the gradient flow) or the DMFT.
    format : str
        ``--format``: one of :data:`pathdyn.theory.writers.WRITERS`.
    fragment, path_sums, per_edge, ungrouped, prod, label_prefix
        The layout options (LaTeX; ``path_sums`` and ``per_edge`` for a graph).
    output : str or None
        ``-o/--output``; ``None`` or ``-``: standard output.

    Raises
    ------
    ConfigError
        An unknown model or format, a model a graph does not have, or ``--path-sums`` or
        ``--per-edge`` for pathways.
    ArchitectureError
        An invalid architecture, or one whose derivation would run for minutes.
    """

    depths: str | None = None
    architecture_file: str | None = None
    n_in: int | None = None
    n_out: int | None = None
    whitened: bool | None = None
    default_depths: str = "2,2"
    model: str = "qp"
    format: str = "text"
    fragment: bool = False
    path_sums: bool = False
    per_edge: bool = False
    ungrouped: bool = False
    prod: bool = False
    label_prefix: str | None = None
    output: str | None = None
    #: Computed once by the constructor.
    architecture: Architecture | GraphArchitecture = field(init=False, repr=False)

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> DeriveSettings:
        """The settings of the parsed ``pathdyn derive`` command line.

        Parameters
        ----------
        args : argparse.Namespace
            The parsed command line.

        Returns
        -------
        DeriveSettings
        """
        renamed = {"architecture_file": "architecture", "default_depths": "_default_depths"}
        return cls(**{f.name: getattr(args, renamed.get(f.name, f.name)) for f in fields(cls) if f.init})

    def __post_init__(self) -> None:
        arch = architecture_from_options(self.depths, self.architecture_file, self.n_in, self.n_out, self.whitened,
                                         self.default_depths)
        model = get_model(self.model)
        if self.format not in WRITERS:
            raise ConfigError(f"--format: unknown format {self.format!r}; choose one of {', '.join(WRITERS)}")
        if isinstance(arch, GraphArchitecture) and model.export is None:
            # the per-mode export holds the per-edge model (and its q/p form); the DMFT exports graphs itself
            check_graph_model(self.model)
        if self.path_sums and not isinstance(arch, GraphArchitecture):
            raise ConfigError("--path-sums: applies to a [graph] architecture (pathways are written over their layers "
                              "already); drop --path-sums")
        if self.per_edge and not isinstance(arch, GraphArchitecture):
            raise ConfigError("--per-edge: applies to a [graph] architecture (pathways list every layer's equation "
                              "already); drop --per-edge")
        check_derive_size(arch, self.path_sums)
        object.__setattr__(self, "architecture", arch)

    @property
    def writer_options(self) -> dict:
        """The writer's layout options: LaTeX grouping, products and labels; a graph's form."""
        options: dict = ({"grouped": not self.ungrouped, "prod": self.prod, "label_prefix": self.label_prefix or ""}
                         if self.format == "latex" else {})
        if isinstance(self.architecture, GraphArchitecture):
            options["form"] = "path-sums" if self.path_sums else "node"
            if self.per_edge:
                options["per_edge"] = True
        return options


def derive_text(settings: DeriveSettings) -> str:
    """The derived equations of checked ``settings``, formatted (nothing is written).

    Parameters
    ----------
    settings : DeriveSettings
        The run's inputs, checked once when they were built.

    Returns
    -------
    str
        The export in ``settings.format``.
    """
    arch, model = settings.architecture, get_model(settings.model)
    if model.export is not None:  # equations of another form than per-mode ODEs export themselves
        return model.export(arch, format=settings.format, fragment=settings.fragment)
    if isinstance(arch, GraphArchitecture):
        return export_equations(arch, format=settings.format, fragment=settings.fragment, **settings.writer_options)
    # pathways: the gradient flow and the model's per-mode equations
    equations = DerivedEquations(arch, derive_gradient_flow(arch), model.derive(arch))
    return export_equations(equations, format=settings.format, fragment=settings.fragment, **settings.writer_options)


def run(args: argparse.Namespace) -> int:
    """Run the subcommand with the parsed ``args``.

    Parameters
    ----------
    args : argparse.Namespace
        The parsed command line.

    Returns
    -------
    int
        The exit status (0 on success).

    Raises
    ------
    ConfigError
        When ``--path-sums`` or ``--per-edge`` is given for pathways (see :class:`DeriveSettings`).
    """
    # LaTeX-only options with another format are refused by pathdyn.cli.options.APPLIES
    plan = file_plan("derive", {"--architecture": args.architecture}, {"-o/--output": (args.output or "-", "text", True)})
    settings = DeriveSettings.from_args(args)
    text = derive_text(settings)  # everything is derived and formatted before the output file is touched
    with plan:
        plan.stage_text("-o/--output", text)
        plan.commit()
        print_summary(plan)
    return 0
