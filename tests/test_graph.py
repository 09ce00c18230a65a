"""The graph architecture spec: validation (every problem at once), TOML, conversion from pathways."""

from pathlib import Path

import pytest

from pathdyn.errors import ArchitectureError
from pathdyn.theory.architecture import Architecture
from pathdyn.theory.graph import GraphArchitecture, load_architecture_toml

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


def test_from_pathways_is_the_parallel_special_case():
    graph = GraphArchitecture.from_pathways(Architecture(depths=(2, 3, 1), hidden_widths=[[4], [5, 6], []]))
    assert graph.pathway_depths() == (2, 3, 1)
    assert graph.path_lengths == (2, 3, 1)
    assert graph.width("p2h2") == 6
    assert example("two_pathways").pathway_depths() == (2, 3)
    assert example("shared_trunk").pathway_depths() is None
    with pytest.raises(ArchitectureError, match="two depth-1 pathways"):
        GraphArchitecture.from_pathways((1, 1))


def test_chain_segments():
    assert example("visual_cortex").chain_segments() == (
        (("x", "V1"),), (("V1", "LM"), ("LM", "y")), (("V1", "AL"), ("AL", "y")), (("V1", "y"),))
    assert example("shared_trunk").chain_segments()[0] == (("x", "t1"), ("t1", "t2"))


def test_pathway_only_loader_points_graph_files_elsewhere():
    with pytest.raises(ArchitectureError, match=r"holds a \[graph\].*load_architecture_toml"):
        Architecture.from_toml(EXAMPLES / "shared_trunk.toml")
