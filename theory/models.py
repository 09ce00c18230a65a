"""One registry of the reduced models: :data:`MODELS`, name -> :class:`ReducedModel`.

Each entry says how to derive the model's equations, which initial-state mappings
from a network's weights exist for it (implemented in :mod:`pathdyn.validation.mapping`
under the same names) and which is the default, when the model is the exact
infinite-width limit, and how its state variables are written in LaTeX. Everything that
dispatches on a model name reads this registry: :func:`reduce_to_modes`, the width sweep
(:func:`pathdyn.validation.sweep.reduced_equations`), the mapping module and the command
line's ``--theory`` choices.

Adding a model (the DMFT model, graph architectures)
----------------------------------------------------
1. Write the derivation in its own module under ``theory/``: a function
   ``derive(architecture) -> ModeEquations`` whose equations carry a typed ``layout``
   (:class:`pathdyn.theory.modes.StateVariable` with the model's own roles).
2. At the bottom of that module call :func:`register` with a :class:`ReducedModel`.
3. Import the module in ``theory/__init__.py`` (the registry is complete once the
   package is imported; nothing else imports the module by name).
4. If networks can be compared with it, implement its mappings in
   :mod:`pathdyn.validation.mapping` (one function per model, keyed by the model's name)
   and list their names in ``mappings``; the sweep and the CLI pick it up from here.

This module imports no derivation code, so derivation modules may import it freely
(no import circle).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from pathdyn.errors import ConfigError

__all__ = ["MODELS", "ReducedModel", "get_model", "models_with_mappings", "reduce_to_modes", "register"]


def _never_exact(depths, init, mapping) -> bool:
    return False


def _no_default(depths):
    return None


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
    """

    name: str
    derive: Callable
    description: str
    mappings: tuple = ()
    default_mapping: Callable = _no_default
    is_exact: Callable = _never_exact
    exact_when: str = "never (a reduction, not a limit)"
    latex: dict = field(default_factory=dict)

    def latex_name(self, record) -> str:
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


def models_with_mappings() -> tuple:
    """Names of the models a network's weights can be mapped to (the width sweep's choices).

    Returns
    -------
    tuple of str
        In registration order (``("qp", "two-channel")`` today).
    """
    return tuple(name for name, model in MODELS.items() if model.mappings)


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


def reduce_to_modes(architecture, model: str = "qp"):
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
        For an unknown model.
    """
    return get_model(model).derive(architecture)
