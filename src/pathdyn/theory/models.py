"""One registry of the reduced models: :data:`MODELS`, name -> :class:`ReducedModel`.

Each entry says how to derive the model's equations, which initial-state mappings
from a network's weights exist for it (implemented in :mod:`pathdyn.validation.mapping`
under the same names) and which is the default, when the model is the exact
infinite-width limit, and how its state variables are written in LaTeX. Everything that
dispatches on a model name reads this registry: :func:`reduce_to_modes`, the width sweep
(:func:`pathdyn.validation.models.reduced_equations`), the mapping module and the command
line's ``--theory`` choices.

Adding a model
--------------
One file and one registry line (docs/models.md shows the diff of a toy model):

1. The file derives the model: a function ``derive(architecture) -> ModeEquations`` whose
   equations carry a typed ``layout`` (:class:`pathdyn.theory.modes.StateVariable` with the
   model's own roles, and ``start`` where its state is drawn from ``q``, ``p``).
2. It calls :func:`register` with a :class:`ReducedModel`: the derivation, the LaTeX of its
   variables, when it is exact, the sentence of its limit, its initialisations, its mappings.
3. If networks can start it, it registers its mapping function with
   :func:`pathdyn.validation.mapping.register_mapper`.
4. The registry line imports the file (``theory/__init__.py`` for the package's models).

Nothing else names the model: the sweeps, the cases, the summary lines and the command
line read its entry (``tests/test_model_registry.py`` refuses a comparison with a model's
name outside this module).

A model that is not a set of per-mode ODEs registers with its ``kind``: the DMFT
(``kind="dmft"``, :mod:`pathdyn.theory.dmft`) derives site equations that
:mod:`pathdyn.numerics.dmft` solves, predicts the seed mean of networks and exports itself.

This module imports no derivation code, so derivation modules may import it freely
(no import circle).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable

from pathdyn.errors import ConfigError

if TYPE_CHECKING:  # types only: this module imports no derivation code
    from pathdyn.theory.architecture import Architecture
    from pathdyn.theory.modes import ModeEquations, StateVariable

__all__ = ["MODELS", "MODEL_KINDS", "ReducedModel", "get_model", "integrable_models", "models_of_kind", "models_with_mappings",
           "reduce_to_modes", "register", "validation_theories"]


def _never_exact(depths: Sequence[int], init: str, mapping: str) -> bool:
    return False


def _no_default(depths: Sequence[int]) -> str | None:
    return None


def _reduction_limit(model: ReducedModel, method: str, init: str, depths: Sequence[int]) -> str:
    exact = model.is_exact(tuple(depths), init, method)
    if exact:
        return f"infinite-width limit: the {model.name} model is exact here ({model.exact_when})"
    return (f"the {model.name} model from the {method} mapping ({init} init, depths {', '.join(map(str, depths))}): "
            f"a reduction, exact only when {model.exact_when}; an error floor is expected")


@dataclass(frozen=True)
class ReducedModel:
    """One reduced model of the per-mode dynamics.

    Attributes
    ----------
    name : str
        Registry key and ``--theory`` choice (e.g. ``"qp"``).
    derive : callable
        ``derive(architecture) -> ModeEquations``.
    description : str
        One line for humans.
    mappings : tuple of str
        Names of the initial-state mappings from a network's weights (empty: the model
        cannot start from a network).
    default_mapping : callable
        ``default_mapping(depths) -> str or None``: the recommended mapping.
    is_exact : callable
        ``is_exact(depths, init, mapping) -> bool``: whether theory says the model, started
        with ``mapping`` from networks initialised with ``init``, is the infinite-width
        limit (the width sweep then expects convergence).
    exact_when : str
        The same condition in words.
    latex : dict
        State role -> LaTeX template of one variable, formatted with its ``pathway``,
        ``layer`` and ``entry`` (``"q_{{{pathway}}}"``).
    kind : {"ode", "dmft"}
        ``"ode"`` (default): ``derive`` gives per-mode ODEs (:class:`ModeEquations`) that
        :func:`pathdyn.numerics.integrate` solves from one network's mapped initial state.
        ``"dmft"``: ``derive`` gives the site equations of a causal Volterra system in time,
        solved by :mod:`pathdyn.numerics.dmft`; it predicts the mean over initial weights
        (the seed mean), not one network, so it has no initial-state mapping.
    limit : callable, optional
        ``limit(model, method, init, depths) -> str``: the sentence a width sweep's report
        gives for the limit it compares against (default: exact or a reduction, from
        :attr:`is_exact` and :attr:`exact_when`).
    inits : tuple of str or None
        The initialisations of the hidden layers the model describes (None: any).
    drawn_from_qp : bool
        Whether a random initial state is drawn from per-pathway ``q``, ``p`` (each state
        variable's ``start`` in the layout says which): ``pathdyn integrate`` can then
        solve it without a network.
    equations_name : str
        What the exports call the model's equations in their headings (default "reduced
        equations"; the q/p model's are "reduced q/p equations").
    export : callable or None
        ``export(architecture, format, fragment) -> str`` for a model whose equations are
        not per-mode ODEs (the DMFT's site equations); None: the per-mode equations are
        exported with the gradient flow (:func:`pathdyn.theory.export.export_equations`).
    """

    name: str
    derive: Callable
    description: str
    mappings: tuple = ()
    default_mapping: Callable = _no_default
    is_exact: Callable = _never_exact
    exact_when: str = "never (a reduction, not a limit)"
    latex: dict = field(default_factory=dict)
    kind: str = "ode"
    limit: Callable = _reduction_limit
    inits: tuple | None = None
    export: Callable | None = None
    equations_name: str = "reduced equations"
    drawn_from_qp: bool = False

    def __post_init__(self) -> None:
        if self.kind not in MODEL_KINDS:
            raise ConfigError(f"kind: {self.kind!r} is not a kind of model; choose one of {', '.join(MODEL_KINDS)}")
        if self.kind != "ode" and self.mappings:
            raise ConfigError(f"mappings: a {self.kind!r} model predicts the seed mean and takes no initial-state mapping")

    @property
    def predicts_seed_mean(self) -> bool:
        """Whether the model predicts the mean over initial weights (the DMFT), not each network."""
        return self.kind == "dmft"

    @property
    def min_seeds(self) -> int:
        """Seeds a validation needs at least: 2 for a seed mean, else 1."""
        return 2 if self.predicts_seed_mean else 1

    @property
    def error_label(self) -> str:
        """The figure a width sweep reports per width: the seed-mean error, or the median over networks."""
        return "seed-mean error by width" if self.predicts_seed_mean else "median error by width"

    def limit_compared(self, method: str, init: str, depths: Sequence[int]) -> str:
        """The sentence naming the limit a width sweep compares against, and whether theory says it is exact.

        Parameters
        ----------
        method : str
            The initial-state mapping.
        init : str
            The hidden layers' initialisation.
        depths : sequence of int

        Returns
        -------
        str
        """
        return self.limit(self, method, init, tuple(depths))

    def latex_name(self, record: StateVariable) -> str:
        """LaTeX of one state variable of this model.

        Parameters
        ----------
        record : StateVariable
            A record of this model's ``layout``.

        Returns
        -------
        str
            E.g. ``"q_{1}"`` or ``"M_{2,3}^{(12)}"``.

        Raises
        ------
        ConfigError
            For a role the model has no LaTeX name for.
        """
        template = self.latex.get(record.role)
        if template is None:
            raise ConfigError(f"record: the {self.name} model has no LaTeX name for role {record.role!r}")
        entry = "".join(str(i) for i in record.entry)
        return template.format(pathway=record.pathway, layer=record.layer, entry=entry)


#: Kinds of model: per-mode ODEs, or a dynamical mean-field (Volterra) system of the seed mean.
MODEL_KINDS = ("ode", "dmft")

#: Registered models in registration order.
MODELS: dict = {}


def register(model: ReducedModel) -> ReducedModel:
    """Add ``model`` to :data:`MODELS` (once per name).

    Parameters
    ----------
    model : ReducedModel

    Returns
    -------
    ReducedModel
        ``model`` itself.

    Raises
    ------
    ConfigError
        If another model of the same name is registered already.
    """
    if model.name in MODELS and MODELS[model.name] is not model:
        raise ConfigError(f"model: {model.name!r} is already registered")
    MODELS[model.name] = model
    return model


def integrable_models() -> tuple:
    """Names of the models ``pathdyn integrate`` solves: per-mode ODEs whose state is drawn from ``q``, ``p``, and the DMFT.

    Returns
    -------
    tuple of str
    """
    return tuple(name for name, model in MODELS.items() if model.kind != "ode" or model.drawn_from_qp)


def models_with_mappings() -> tuple:
    """Names of the models a network's weights can be mapped to (the width sweep's choices).

    Returns
    -------
    tuple of str
        In registration order (``("qp", "two-channel")`` today).
    """
    return tuple(name for name, model in MODELS.items() if model.mappings)


def validation_theories() -> tuple:
    """Names of the models finite networks can be compared with (``pathdyn validate --theory``).

    Returns
    -------
    tuple of str
        The models with an initial-state mapping (compared network by network), then the
        ``"dmft"``-kind models (compared with the seed mean): ``("qp", "two-channel", "dmft")``
        today.
    """
    return models_with_mappings() + models_of_kind("dmft")


def models_of_kind(kind: str) -> tuple:
    """Names of the registered models of one kind, in registration order.

    Parameters
    ----------
    kind : {"ode", "dmft"}

    Returns
    -------
    tuple of str

    Raises
    ------
    ConfigError
        For an unknown kind.
    """
    if kind not in MODEL_KINDS:
        raise ConfigError(f"kind: {kind!r} is not a kind of model; choose one of {', '.join(MODEL_KINDS)}")
    return tuple(name for name, model in MODELS.items() if model.kind == kind)


def get_model(name: str) -> ReducedModel:
    """The registered model ``name``.

    Parameters
    ----------
    name : str
        A key of :data:`MODELS`.

    Returns
    -------
    ReducedModel

    Raises
    ------
    ConfigError
        For an unknown name.
    """
    try:
        return MODELS[name]
    except (KeyError, TypeError):
        raise ConfigError(f"model: unknown reduced model {name!r}; choose one of {', '.join(MODELS)}") from None


def reduce_to_modes(architecture: Architecture | Sequence[int], model: str = "qp") -> ModeEquations:
    """Reduced per-mode equations of ``architecture`` for a registered model.

    Parameters
    ----------
    architecture : Architecture or sequence of int
    model : str
        A key of :data:`MODELS`: ``"qp"`` (the paper's model, default), ``"layer"``,
        ``"race"`` or ``"two-channel"`` (the width-2 chain, exact for orthogonal hidden
        layers), and any model registered later.

    Returns
    -------
    ModeEquations

    Raises
    ------
    ConfigError
        For an unknown model, or one that is not a per-mode ODE model (the DMFT).
    """
    entry = get_model(model)
    if entry.kind != "ode":
        raise ConfigError(f"model: {model!r} is a {entry.kind} model, not per-mode ODEs; derive its equations with "
                          f"get_model({model!r}).derive(architecture) and solve them with pathdyn.numerics.{entry.kind}")
    return entry.derive(architecture)
