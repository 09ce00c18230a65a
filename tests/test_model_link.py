"""The matrix gradient flow contains every registered reduced model (shown, not assumed).

For one mode (``n_in = n_out = 1``, ``Sigma_yx = S``, ``Sigma_x = lambda`` or the
identity) each model's state is placed into the network's weights the way the model
claims it sits there (its *aligned weights*): per-layer strengths as 1 x 1 layers, q/p as
``s_1 = .. = s_{D-1} = q`` and ``s_D = p``, the race form as q/p with
``q = sqrt(p^2 + c)``, the two-channel chain as 2-wide layers ``A``, ``M_d``, ``B``.
Substituting them into :func:`derive_gradient_flow`'s right-hand sides ``-dL/dW`` must
give the model's own right-hand side for every state variable, symbolically.
The roles are read from each model's typed layout.
"""

from __future__ import annotations

import pytest
import sympy as sp

from pathdyn.theory.architecture import Architecture
from pathdyn.theory.gradient_flow import derive_gradient_flow
from pathdyn.theory.models import MODELS, models_of_kind
from pathdyn.theory.modes import input_variance_symbol, mode_symbols

CASES = [(depths, whitened) for depths in ((1, 2), (2, 3)) for whitened in (True, False)]


def _layer_shape(role_width: int, layer: int, depth: int) -> tuple:
    rows = 1 if layer == depth else role_width
    cols = 1 if layer == 1 else role_width
    return rows, cols


def aligned_weights(equations) -> tuple:
    """Per pathway, per layer, the explicit weight matrix holding the model's state, and
    the race form's substitution of ``q``."""
    depths = equations.depths
    wide = any(record.role in ("A", "M", "B") for record in equations.layout)
    width = 2 if wide else 1
    layers = {(a, d): sp.zeros(*_layer_shape(width if depths[a - 1] > 1 else 1, d, depths[a - 1]))
              for a, depth in enumerate(depths, start=1) for d in range(1, depth + 1)}
    constants = {record.pathway: record.symbol for record in equations.parameter_layout if record.role == "c"}
    has_q = {record.pathway for record in equations.layout if record.role == "q"}
    for record in equations.layout:
        a, depth = record.pathway, depths[record.pathway - 1]
        if record.role in ("s", "w"):
            layers[(a, record.layer)][0, 0] = record.symbol
        elif record.role == "q":
            for d in range(1, depth):
                layers[(a, d)][0, 0] = record.symbol
        elif record.role == "p":
            layers[(a, depth)][0, 0] = record.symbol
            if a in constants and a not in has_q:  # race form: q_a = sqrt(p_a^2 + c_a)
                q = sp.sqrt(record.symbol**2 + constants[a])
                for d in range(1, depth):
                    layers[(a, d)][0, 0] = q
        elif record.role in ("A", "B"):
            i = record.entry[0] - 1
            layers[(a, record.layer)][(i, 0) if record.role == "A" else (0, i)] = record.symbol
        elif record.role == "M":
            layers[(a, record.layer)][record.entry[0] - 1, record.entry[1] - 1] = record.symbol
        else:
            raise AssertionError(f"no aligned weights known for role {record.role!r}")
    return layers


def flow_value(record, flow_rhs, depths):
    """The entry of ``-dL/dW`` that is the model's ``d(record)/dt``."""
    a, depth = record.pathway, depths[record.pathway - 1]
    if record.role in ("s", "w"):
        return flow_rhs[(a, record.layer)][0, 0]
    if record.role == "q":
        return flow_rhs[(a, 1)][0, 0]
    if record.role == "p":
        return flow_rhs[(a, depth)][0, 0]
    if record.role == "A":
        return flow_rhs[(a, 1)][record.entry[0] - 1, 0]
    if record.role == "B":
        return flow_rhs[(a, record.layer)][0, record.entry[0] - 1]
    return flow_rhs[(a, record.layer)][record.entry[0] - 1, record.entry[1] - 1]


def substituted_flow(equations, whitened: bool, layers=None) -> dict:
    """``(pathway, layer) -> -dL/dW`` with the aligned weights substituted, as explicit matrices."""
    layers = aligned_weights(equations) if layers is None else layers
    wide = max(m.rows for m in layers.values()) if layers else 1
    arch = Architecture(depths=equations.depths, n_in=1, n_out=1, hidden_widths=wide, whitened=whitened)
    flow = derive_gradient_flow(arch)
    rule = {flow.sigma_yx: sp.Matrix([[mode_symbols()]])}
    if not whitened:
        rule[flow.sigma_x] = sp.Matrix([[input_variance_symbol()]])
    for a, d, w, _ in flow.equations():
        rule[w] = layers[(a, d)]
    return {(a, d): sp.Matrix(flow.rhs_of(a, d, expand=True).xreplace(rule).doit())
            for a, d, _, _ in flow.equations()}


def _same(x, y) -> bool:
    return sp.simplify(sp.expand(x - y)) == 0


@pytest.mark.parametrize("name", models_of_kind("ode"))  # the DMFT is not a per-mode ODE (tests/test_dmft*.py)
@pytest.mark.parametrize("depths, whitened", CASES)
def test_matrix_flow_at_the_aligned_weights_is_the_model(name, depths, whitened):
    equations = MODELS[name].derive(Architecture(depths=depths, whitened=whitened))
    flow_rhs = substituted_flow(equations, whitened)
    for record, rhs in zip(equations.layout, equations.rhs):
        assert _same(flow_value(record, flow_rhs, depths), rhs), f"{name}: d{record.symbol}/dt differs"
    for record in equations.layout:  # q/p: every layer below the last carries the same q-flow
        if record.role == "q":
            first = flow_rhs[(record.pathway, 1)][0, 0]
            assert all(_same(flow_rhs[(record.pathway, d)][0, 0], first) for d in range(2, depths[record.pathway - 1]))


def test_a_wrong_embedding_is_caught():
    """Swapping the first and last layer of a depth-3 q/p pathway (q on top, p at the bottom)
    changes the flow: the comparison above would fail."""
    equations = MODELS["qp"].derive(Architecture(depths=(3,)))
    q, p = equations.state
    wrong = {(1, 1): sp.Matrix([[p]]), (1, 2): sp.Matrix([[q]]), (1, 3): sp.Matrix([[q]])}
    flow_rhs = substituted_flow(equations, True, wrong)
    assert not _same(flow_rhs[(1, 3)][0, 0], equations.rhs_of(p))


def test_every_model_with_mappings_has_a_mapper():
    from pathdyn.validation import mapping

    assert set(mapping.MAPPERS) == {name for name, model in MODELS.items() if model.mappings}


def _imported_modules(path) -> set:
    """The modules ``path`` imports when it runs (imports under ``if TYPE_CHECKING:`` are types only, never run)."""
    import ast

    tree = ast.parse(path.read_text())
    types_only = {id(inner) for node in ast.walk(tree) if isinstance(node, ast.If) and getattr(node.test, "id", "") == "TYPE_CHECKING"
                  for statement in node.body for inner in ast.walk(statement)}
    found = set()
    for node in ast.walk(tree):
        if id(node) in types_only:
            continue
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
        elif isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
    return found


def test_no_import_circle_between_the_models():
    """reduced.py never imports two_channel.py (which imports it); the registry imports no model."""
    from pathlib import Path

    theory = Path(__file__).resolve().parent.parent / "src" / "pathdyn" / "theory"
    assert not {m for m in _imported_modules(theory / "reduced.py") if "two_channel" in m}
    assert not {m for m in _imported_modules(theory / "models.py") if m.startswith("pathdyn.theory.")}


def test_registry_metadata():
    assert list(MODELS) == ["layer", "qp", "race", "two-channel", "dmft"]
    assert MODELS["qp"].default_mapping((2, 2)) == "exact" and MODELS["qp"].default_mapping((2, 3)) == "growth-matched"
    assert MODELS["two-channel"].is_exact((3, 3), "orthogonal", "projection")
    assert not MODELS["two-channel"].is_exact((3, 3), "gaussian", "projection")
    assert not MODELS["qp"].is_exact((2, 2), "gaussian", "naive")
    eqs = MODELS["two-channel"].derive((2, 3))
    names = [MODELS["two-channel"].latex_name(record) for record in eqs.layout]
    assert names[:2] == ["A_{1,1}", "A_{1,2}"] and "M_{2,2}^{(12)}" in names
