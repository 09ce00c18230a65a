"""The graph architecture spec: validation (every problem at once), TOML, conversion from pathways."""

from pathlib import Path

import numpy as np
import pytest

from pathdyn.errors import ArchitectureError
from pathdyn.theory.architecture import Architecture
from pathdyn.theory.architecture import load_architecture_toml
from pathdyn.theory.graph import GraphArchitecture

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
EXAMPLE_GRAPHS = ("two_pathways", "shared_trunk", "two_stream", "two_stream_cross", "visual_cortex")


def example(name: str) -> GraphArchitecture:
    return GraphArchitecture.from_toml(EXAMPLES / f"{name}.toml")


def test_issue_example_from_toml(tmp_path):
    path = tmp_path / "g.toml"
    path.write_text(
        '[graph]\nedges = [["x", "h1"], ["h1", "h2"], ["h2", "y"], ["h1", "h3"], ["h3", "y"], ["x", "y"]]\n'
        "widths = { h1 = 64, h2 = 64, h3 = 32 }\n"
    )
    graph = load_architecture_toml(path)
    assert isinstance(graph, GraphArchitecture)
    assert graph.hidden_nodes == ("h1", "h2", "h3")
    assert graph.width("h3") == 32
    assert graph.path_lengths == (3, 3, 1)
    assert GraphArchitecture.from_dict(graph.to_dict()) == graph


def test_depths_toml_stays_a_pathway_architecture(tmp_path):
    path = tmp_path / "a.toml"
    path.write_text("depths = [2, 3]\n")
    assert load_architecture_toml(path) == Architecture(depths=(2, 3))


@pytest.mark.parametrize("name", EXAMPLE_GRAPHS)
def test_examples_load(name):
    graph = example(name)
    assert graph.nodes[0] == "x" and graph.nodes[-1] == "y"
    assert graph.num_paths >= 2


def test_every_problem_reported_at_once():
    edges = [("x", "h1"), ("h1", "h2"), ("h2", "h1"), ("h2", "y"), ("x", "y"), ("x", "y"),
             ("z", "q"), ("h1", "dead"), ("y", "h1"), ("h1", "h1"), ("x", "bad_name")]
    with pytest.raises(ArchitectureError) as info:
        GraphArchitecture(edges=edges, widths={"h1": 0, "foo": 3, "x": 4}, activations={"h2": "sigmoid"}, n_in=-1)
    message = str(info.value)
    for fragment in ("duplicate edge x -> y", "cycle h1 -> h2 -> h1", "not reachable from 'x'", "z, q",
                     "do not reach 'y'", "dead", "leaves the output node", "self-loop", "'bad_name'",
                     "widths[h1]: 0", "unknown node 'foo'", "'x' is the input node", "activations[h2]",
                     "n_in: -1"):
        assert fragment in message, fragment
    assert "\n" not in message


@pytest.mark.parametrize("edges, fragment", [
    ([("h1", "y")], "no edge touches the input node 'x'"),
    ([], "no edges"),
    ("x->y", "expected a list of [from, to] pairs"),
    ([("x", "y", "z")], "is not a [from, to] pair"),
])
def test_malformed_edges(edges, fragment):
    with pytest.raises(ArchitectureError, match=fragment.replace("[", r"\[").replace("]", r"\]")):
        GraphArchitecture(edges=edges)


def test_toml_errors(tmp_path):
    path = tmp_path / "g.toml"
    path.write_text('[graph]\nedge = [["x", "y"]]\n')
    with pytest.raises(ArchitectureError, match="unknown key.*edge.*missing key 'edges'"):
        GraphArchitecture.from_toml(path)
    path.write_text('[graph]\nedges = [["x", "y"]]\n[other]\na = 1\n')
    with pytest.raises(ArchitectureError, match="unknown top-level key"):
        GraphArchitecture.from_toml(path)
    with pytest.raises(ArchitectureError, match="not found"):
        GraphArchitecture.from_toml(tmp_path / "missing.toml")


def test_an_architecture_is_the_graph_of_its_pathways():
    graph = Architecture(depths=(2, 3, 1), hidden_widths=[[4], [5, 6], []]).graph
    assert graph.pathway_depths() == (2, 3, 1)
    assert graph.path_lengths == (2, 3, 1)
    assert graph.width("p2h2") == 6
    assert example("two_pathways").pathway_depths() == (2, 3)
    assert example("shared_trunk").pathway_depths() is None
    with pytest.raises(ArchitectureError, match="two depth-1 pathways"):
        Architecture(depths=(1, 1)).graph
    assert Architecture(depths=(2, 3)).layer_edges == ((("x", "p1h1"), ("p1h1", "y")),
                                                       (("x", "p2h1"), ("p2h1", "p2h2"), ("p2h2", "y")))


def test_chain_segments():
    assert example("visual_cortex").chain_segments() == (
        (("x", "V1"),), (("V1", "LM"), ("LM", "y")), (("V1", "AL"), ("AL", "y")), (("V1", "y"),))
    assert example("shared_trunk").chain_segments()[0] == (("x", "t1"), ("t1", "t2"))


def test_pathway_only_loader_points_graph_files_elsewhere():
    with pytest.raises(ArchitectureError, match=r"holds a \[graph\].*load_architecture_toml"):
        Architecture.from_toml(EXAMPLES / "shared_trunk.toml")


def test_pathways_become_their_graph_once_checked():
    from pathdyn.theory.architecture import as_graph

    arch = Architecture(depths=(2, 3), hidden_widths=4)
    assert GraphArchitecture.from_pathways(arch) == arch.graph == as_graph(arch)
    assert as_graph((2, 3)).edges == as_graph("2,3").edges == arch.graph.edges
    assert as_graph(arch.graph) is not None and as_graph(example("shared_trunk")) == example("shared_trunk")
    for bad in ((1, 1), (0, 2), "2,x", 5):
        with pytest.raises(ArchitectureError):
            as_graph(bad)
    with pytest.raises(ArchitectureError, match="expected an Architecture"):
        GraphArchitecture.from_pathways((2, 3))


def test_every_graph_function_takes_pathways():
    """Pathways are the special case: each graph entry point given an ``Architecture`` (or its
    depths) works on the graph of its chains and answers as if given that graph."""
    from pathdyn.numerics.dmft_graph import solve_dmft_graph
    from pathdyn.theory.graph_export import derive_graph_equations, export_graph_equations
    from pathdyn.theory.graph_flow import derive_graph_flow
    from pathdyn.theory.graph_reduced import derive_graph_mode_equations
    from pathdyn.validation.network.graph import simulate_graph_gd

    arch = Architecture(depths=(2, 3))
    graph = arch.graph
    assert derive_graph_flow(arch).rhs_of(("x", "p1h1")) == derive_graph_flow(graph).rhs_of(("x", "p1h1"))
    assert derive_graph_mode_equations((2, 3)).rhs == derive_graph_mode_equations(graph).rhs
    assert export_graph_equations(derive_graph_equations(arch), "json") == export_graph_equations(graph, "json")
    dmft = dict(learning_rate=0.05, steps=20, init_scale=0.5)
    assert np.array_equal(solve_dmft_graph(arch, [2.0, 1.0], **dmft).K, solve_dmft_graph(graph, [2.0, 1.0], **dmft).K)
    run = dict(learning_rate=0.01, steps=3, seed=1, engine="graph")
    assert np.array_equal(simulate_graph_gd(arch, "random:2,1", 6, **run).K, simulate_graph_gd(graph, "random:2,1", 6, **run).K)
    with pytest.raises(ArchitectureError, match="graph"):
        derive_graph_flow("shared_trunk")
