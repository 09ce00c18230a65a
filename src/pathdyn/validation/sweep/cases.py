"""One validation case and the suites of ``pathdyn validate``.

A :class:`ValidationCase` is everything that decides *what* a width sweep measures (the
architecture, widths, seeds, initialisation, reduced model, mapping, learning rate,
training time, data, targets); it is validated once, when it is built.
:func:`pathdyn.validation.sweep.width.validate_width` and
:func:`pathdyn.validation.sweep.dmft.validate_dmft_width` run one; :data:`DEFAULT_SUITE` and
:data:`QUICK_SUITE` are tuples of them; ``pathdyn validate`` builds one from its options
(:func:`command_case`). *Where* a case runs (device, Dask workers, progress bar) is given
to the functions that run it, not to the case.

:func:`pathdyn.validation.sweep.suite.run_suite` runs several cases.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from pathdyn._base.settings import TrainingTime
from pathdyn._base.checks import distinct_seeds, real_number, whole_number
from pathdyn.errors import ConfigError
from pathdyn.numerics.datasets import Dataset, random_dataset
from pathdyn.theory.architecture import Architecture
from pathdyn.theory.models import MODELS, get_model, validation_theories
from pathdyn.validation.mapping import default_method
from pathdyn.validation.network import DEFAULT_INIT_SCALE, INITS

__all__ = [
    "COMMAND_DEFAULTS",
    "DEFAULT_SINGULAR_VALUES",
    "DEFAULT_SUITE",
    "DMFT_DEFAULTS",
    "QUICK_PREFIX",
    "QUICK_SUITE",
    "SUITE_DURATION",
    "ValidationCase",
    "command_case",
    "suite_cases",
    "suite_note",
    "default_dataset",
]

#: Singular values of the default (non-degenerate, whitened) random data.
DEFAULT_SINGULAR_VALUES = (2.0, 1.4, 0.9, 0.5)
#: The keys a case's ``targets`` may hold.
TARGET_KEYS = ("max_slope", "max_error")
#: What :func:`pathdyn.validation.sweep.dmft.validate_dmft_width` changes in the defaults of a case
#: built from keyword arguments (the DMFT predicts a seed mean: more seeds, shorter runs).
DMFT_DEFAULTS = {"seeds": tuple(range(8)), "learning_rate": 0.02, "t_max": 8.0, "record_points": 200}
#: The case ``pathdyn validate`` runs for options it is not given.
COMMAND_DEFAULTS: dict[str, Any] = {"depths": (2, 2), "widths": (64, 256, 1024), "seeds": (0, 1), "dmft_seeds": tuple(range(8)),
                    "init_scale": 0.3}
#: Prefix of every verdict of the quick suite (smaller widths, fewer seeds than the default suite).
QUICK_PREFIX = "indicative only (--quick: smaller widths and fewer seeds than the default suite): "


def default_dataset(seed: int = 0) -> Dataset:
    """Whitened random data with singular values :data:`DEFAULT_SINGULAR_VALUES` (n_in = n_out = 4).

    Parameters
    ----------
    seed : int
        Seed of the random singular vectors.

    Returns
    -------
    Dataset
    """
    return random_dataset(DEFAULT_SINGULAR_VALUES, seed=seed)


def _whole_numbers(name: str, values: Any, minimum: int) -> tuple[int, ...]:
    """``values`` as a non-empty tuple of ``int`` >= ``minimum`` (bools and fractions refused)."""
    try:
        values = tuple(values)
    except TypeError:
        raise ConfigError(f"{name}: expected a list of whole numbers, got {values!r}") from None
    bad = [v for v in values if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < minimum]
    if not values or bad:
        raise ConfigError(f"{name}: expected a non-empty list of whole numbers >= {minimum}, got {list(values)}")
    return tuple(int(v) for v in values)


@dataclass(frozen=True)
class ValidationCase:
    """One width sweep: what is trained and what it is compared with; validated when built.

    Parameters
    ----------
    depths : Architecture or sequence of int
        Depths of the pathways (stored as a tuple of int).
    widths : sequence of int
        Hidden widths ``N`` (>= 1; at least two distinct for a slope).
    seeds : sequence of int
        Initial-weight seeds (>= 0); each (width, seed) is one network. At least two for
        ``theory="dmft"`` (it predicts a seed mean).
    name : str
        A label for summaries and suite reports.
    init : {"gaussian", "orthogonal", "paper"}
        Weight initialisation; ``"gaussian"`` only for ``theory="dmft"``.
    init_scale : float, optional
        ``sigma`` (> 0); None: the initialisation's default (:attr:`sigma`).
    theory : {"qp", "two-channel", "dmft"}
        The reduced model (:func:`pathdyn.theory.models.validation_theories`).
    mapping : str, optional
        Initial-state mapping of ``theory`` (None: its default for these depths, :attr:`method`);
        the DMFT takes none.
    dataset : Dataset, optional
        None: :func:`default_dataset`. The DMFT needs whitened, non-degenerate data.
    learning_rate : float
        ``eta`` (> 0); the time mapping is ``t = eta * step``.
    t_max : float
        Training time (> 0); :attr:`steps` ``= round(t_max / eta)``.
    record_points : int
        About how many times are recorded and compared (>= 2).
    measure_lr_floor : bool
        Measure the ``O(eta)`` floor by re-running the largest width with ``eta / 2``.
    targets : dict
        ``{"max_slope": s, "max_error": e}`` (either may be absent): the verdict checks
        ``slope <= s`` and the error at the largest width ``<= e``.
    confidence : float
        Level of the slope's confidence interval, in (0, 1).
    rtol, atol : float
        Tolerances of the reduced integration (> 0).
    allow_misaligned : bool
        Compare per mode even when the data's inputs are misaligned with its modes.
    compare_qp : bool
        DMFT only: also report how far the q/p model, started from every network, misses
        the same seed mean.

    Raises
    ------
    ConfigError
        Every problem at once, one ``"argument: value; fix"`` per problem, joined by ``"; "``.
    ArchitectureError
        Bad depths.
    """

    depths: tuple
    widths: tuple
    seeds: tuple = (0, 1, 2)
    name: str = "custom"
    init: str = "gaussian"
    init_scale: float | None = None
    theory: str = "qp"
    mapping: str | None = None
    dataset: Dataset | None = field(default=None, repr=False)
    learning_rate: float = 0.005
    t_max: float = 12.0
    record_points: int = 120
    measure_lr_floor: bool = True
    targets: dict = field(default_factory=dict)
    confidence: float = 0.95
    rtol: float = 1e-9
    atol: float = 1e-11
    allow_misaligned: bool = False
    compare_qp: bool = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "depths", Architecture.coerce(self.depths, argument="depths").depths)
        problems = []
        for check in self._checks():
            try:
                check()
            except ConfigError as problem:
                problems.append(str(problem))
        if problems:
            raise ConfigError("; ".join(problems))

    def _checks(self) -> list:
        """One check per field (or pair of fields that depend on each other), in field order."""
        numbers = [lambda name=name, example=example: self._set(
                       name, real_number(name, getattr(self, name), positive=True, example=example))
                   for name, example in (("learning_rate", "0.005"), ("t_max", "12"), ("rtol", "1e-9"), ("atol", "1e-11"))]
        return [
            lambda: self._set("widths", _whole_numbers("widths", self.widths, 1)),
            self._check_seeds,
            self._check_model,
            lambda: self._set("init_scale", real_number("init_scale", self.init_scale, positive=True, allow_none=True,
                                                        example="0.3")),
            *numbers,
            self._check_training_time,
            lambda: self._set("record_points", whole_number("record_points", self.record_points, minimum=2)),
            lambda: self._set("confidence", real_number("confidence", self.confidence, positive=True, below=1.0,
                                                        example="0.95")),
            self._check_flags,
            self._check_targets,
            self._check_dataset,
        ]

    def _check_training_time(self) -> None:
        if isinstance(self.t_max, float) and isinstance(self.learning_rate, float):
            TrainingTime(self.learning_rate, self.t_max)  # refuses a t_max shorter than one step

    def _set(self, name: str, value: object) -> None:
        object.__setattr__(self, name, value)

    def _check_seeds(self) -> None:
        self._set("seeds", distinct_seeds("seeds", _whole_numbers("seeds", self.seeds, 0)))
        model = MODELS.get(self.theory)
        if model is not None and len(self.seeds) < model.min_seeds:
            raise ConfigError(f"seeds: the {self.theory} model predicts a mean over seeds; give at least {model.min_seeds} "
                              f"seeds >= 0, got {list(self.seeds)}")

    def _check_model(self) -> None:
        if not isinstance(self.name, str):
            raise ConfigError(f"name: expected a string, got {self.name!r}")
        if self.init not in INITS:
            raise ConfigError(f"init: unknown initialisation {self.init!r}; choose {', '.join(INITS)}")
        theories = validation_theories()
        if self.theory not in theories:
            raise ConfigError(f"theory: unknown reduced model {self.theory!r}; choose {' or '.join(theories)}")
        model = MODELS[self.theory]
        if model.inits is not None and self.init not in model.inits:
            raise ConfigError(f"init: the {self.theory} model assumes {' or '.join(model.inits)} hidden layers, got {self.init!r}; "
                              f"use init={model.inits[0]!r}")
        if model.predicts_seed_mean:
            if self.mapping not in (None, "none"):
                raise ConfigError(f"mapping: the {self.theory} model predicts the ensemble mean and takes no initial-state "
                                  f"mapping, got {self.mapping!r}")
        elif self.method not in model.mappings:
            raise ConfigError(f"mapping: {self.method!r} is not a {self.theory} mapping; "
                              f"choose one of {', '.join(model.mappings)}")

    def _check_flags(self) -> None:
        for name in ("measure_lr_floor", "allow_misaligned", "compare_qp"):
            if not isinstance(getattr(self, name), bool):
                raise ConfigError(f"{name}: expected True or False, got {getattr(self, name)!r}")

    def _check_targets(self) -> None:
        targets = {} if self.targets is None else self.targets
        if not hasattr(targets, "items") or set(targets) - set(TARGET_KEYS):
            raise ConfigError(f"targets: expected a dict with keys among {', '.join(TARGET_KEYS)}, got {targets!r}")
        for key, value in targets.items():
            real_number(f"targets[{key!r}]", value, allow_none=True)
        self._set("targets", dict(targets))

    def _check_dataset(self) -> None:
        if self.dataset is not None and not isinstance(self.dataset, Dataset):
            raise ConfigError(f"dataset: expected a Dataset, got {type(self.dataset).__name__}")
        if not MODELS[self.theory].predicts_seed_mean:
            return
        dataset = self.resolved_dataset()
        if not dataset.is_whitened:
            raise ConfigError(f"dataset: {dataset.name!r} is not whitened; the {self.theory} model assumes Sigma_x = I")
        if any(len(block) > 1 for block in dataset.degenerate_blocks()):
            raise ConfigError(f"dataset: {dataset.name!r} has degenerate singular values; per-mode K is undefined there, "
                              "use non-degenerate data (e.g. random:2,1.4,0.9,0.5)")

    @classmethod
    def from_options(cls, case: ValidationCase | Architecture | Sequence[int], widths: Sequence[int] | None = None, seeds: Sequence[int] | None = None,
                     defaults: dict | None = None, **options: Any) -> ValidationCase:
        """``case`` itself, or a case built from an architecture and keyword arguments.

        Parameters
        ----------
        case : ValidationCase, Architecture or sequence of int
            A case (then nothing else may be given) or the depths of a new one.
        widths, seeds : sequence of int, optional
            Of a new case (``seeds`` None: the default).
        defaults : dict, optional
            Field values used where ``options`` do not give one (e.g. :data:`DMFT_DEFAULTS`).
        **options
            Any other field of :class:`ValidationCase`.

        Returns
        -------
        ValidationCase

        Raises
        ------
        ConfigError
            A case together with other arguments, an unknown option, or a bad value.
        """
        if isinstance(case, cls):
            given = [name for name, value in (("widths", widths), ("seeds", seeds)) if value is not None] + sorted(options)
            if given:
                raise ConfigError(f"{', '.join(given)}: a ValidationCase is given, so these belong in it; "
                                  f"use case.replace({given[0]}=...)")
            return case
        known = {f.name for f in dataclasses.fields(cls)} - {"depths", "widths", "seeds"}
        unknown = sorted(set(options) - known)
        if unknown:
            raise ConfigError(f"{', '.join(unknown)}: not an option of a validation case; choose from {', '.join(sorted(known))}")
        if widths is None:
            raise ConfigError("widths: no widths given; give the hidden widths, e.g. widths=(64, 256, 1024)")
        values = dict(defaults or {}, **options)
        if seeds is not None:
            values["seeds"] = seeds
        return cls(depths=case, widths=widths, **values)  # type: ignore[arg-type]  # __post_init__ makes them tuples

    def replace(self, **changes: Any) -> "ValidationCase":
        """A copy with some fields changed, validated again.

        Parameters
        ----------
        **changes
            New field values, e.g. ``case.replace(widths=(64, 128, 256))``.

        Returns
        -------
        ValidationCase

        Raises
        ------
        ConfigError
            A bad new value (as when a case is built).
        TypeError
            A name that is not a field.
        """
        return dataclasses.replace(self, **changes)

    def resolved_dataset(self) -> Dataset:
        """The data the case trains on.

        Returns
        -------
        Dataset
            :attr:`dataset`, or :func:`default_dataset` when it is None.
        """
        return default_dataset() if self.dataset is None else self.dataset

    @property
    def method(self) -> str:
        """The initial-state mapping used: :attr:`mapping`, or the theory's default for these depths."""
        if MODELS[self.theory].predicts_seed_mean:
            return "none (ensemble mean)"
        return default_method(self.theory, self.depths) if self.mapping is None else self.mapping

    @property
    def sigma(self) -> float:
        """The initial scale used: :attr:`init_scale`, or the initialisation's default."""
        return float(DEFAULT_INIT_SCALE[self.init] if self.init_scale is None else self.init_scale)

    @property
    def steps(self) -> int:
        """Gradient steps per network, ``max(1, round(t_max / learning_rate))`` (:class:`TrainingTime`)."""
        return self.training_time.steps

    @property
    def record_every(self) -> int:
        """Steps between recorded times, ``max(1, steps // record_points)`` (:class:`TrainingTime`)."""
        return self.training_time.record_every

    @property
    def training_time(self) -> TrainingTime:
        """The case's learning rate, time and recording, with the steps they imply."""
        return TrainingTime(self.learning_rate, self.t_max, record_points=self.record_points)

    @property
    def num_networks(self) -> int:
        """Networks of the sweep, the ``O(eta)`` floor's half-step run included."""
        return len(self.widths) * len(self.seeds) + 1


def _case(**values: Any) -> ValidationCase:
    return ValidationCase(**values)


#: The default suite of ``pathdyn validate`` (the validation issue's target cases).
DEFAULT_SUITE = (
    _case(name="depth 2, Gaussian, q/p exact mapping", depths=(2, 2), init="gaussian", init_scale=0.3, theory="qp",
          widths=(64, 128, 256, 512, 1024, 2048, 4096), seeds=(0, 1, 2), learning_rate=0.002, t_max=10.0,
          targets={"max_slope": -0.35, "max_error": 0.01}),
    _case(name="depth 3, orthogonal, two-channel", depths=(3, 3), init="orthogonal", init_scale=0.5, theory="two-channel",
          widths=(64, 128, 256, 512, 1024), seeds=(0, 1), learning_rate=0.005, t_max=10.0,
          targets={"max_slope": -0.3, "max_error": 0.02}),
    _case(name="depth 4, orthogonal, two-channel", depths=(4, 4), init="orthogonal", init_scale=0.5, theory="two-channel",
          widths=(64, 128, 256, 512, 1024), seeds=(0, 1), learning_rate=0.005, t_max=10.0,
          targets={"max_slope": -0.3, "max_error": 0.02}),
    _case(name="depth 3, Gaussian, q/p growth-matched (known limit)", depths=(3, 3), init="gaussian", init_scale=0.5,
          theory="qp", widths=(64, 128, 256, 512, 1024), seeds=(0, 1), learning_rate=0.005, t_max=10.0),
    _case(name="depth 3, Gaussian, DMFT (seed mean)", depths=(3, 3), init="gaussian", init_scale=0.5, theory="dmft",
          widths=(128, 256, 512, 1024, 2048), seeds=tuple(range(16)), learning_rate=0.02, t_max=8.0,
          targets={"max_slope": -0.3, "max_error": 0.005}),
    _case(name="depth 4, Gaussian, DMFT (seed mean)", depths=(4, 4), init="gaussian", init_scale=0.5, theory="dmft",
          widths=(128, 256, 512, 1024, 2048), seeds=tuple(range(16)), learning_rate=0.02, t_max=8.0,
          targets={"max_slope": -0.3, "max_error": 0.005}),
)


def _quick(case: ValidationCase) -> ValidationCase:
    """The quick version of a default case: fewer seeds, widths up to a few hundred."""
    # the DMFT cases start at 128: up to 512 keeps the three widths a verdict needs
    seed_mean = MODELS[case.theory].predicts_seed_mean
    largest = 1024 if max(case.depths) <= 2 else 512 if seed_mean else 256
    return case.replace(name=case.name + " (quick)", seeds=(0, 1, 2, 3) if seed_mean else (0, 1),
                        widths=tuple(w for w in case.widths if w <= largest))


#: A few-minute version for ``make run`` and ``pathdyn validate --quick``.
QUICK_SUITE = tuple(_quick(case) for case in DEFAULT_SUITE)


#: How long each suite takes on 2 cores: the range of the runs docs/validation.md lists.
SUITE_DURATION = {"quick": "30-90 s", "default": "6-25 minutes"}


def suite_note(name: str) -> str:
    """What a suite runs and roughly how long it takes, said before it starts.

    Parameters
    ----------
    name : {"default", "quick"}

    Returns
    -------
    str
        E.g. ``"the quick suite: 6 cases, 58 networks"`` and the range of :data:`SUITE_DURATION`.
    """
    cases = suite_cases(name)
    networks = sum(case.num_networks for case in cases)
    return f"the {name} suite: {len(cases)} cases, {networks} networks; {SUITE_DURATION[name]} on 2 cores"


def suite_cases(name: str) -> tuple:
    """The cases of a named suite, as this module holds them when called.

    Parameters
    ----------
    name : {"default", "quick"}

    Returns
    -------
    tuple of ValidationCase
        :data:`DEFAULT_SUITE` or :data:`QUICK_SUITE`.

    Raises
    ------
    ConfigError
        For another name.
    """
    suites = {"default": DEFAULT_SUITE, "quick": QUICK_SUITE}
    if name not in suites:
        raise ConfigError(f"suite: {name!r} is not a suite; choose default or quick")
    return suites[name]


def command_case(*, depths: tuple | None = None, widths: tuple | None = None, seeds: tuple | None = None,
                 init: str | None = None, init_scale: float | None = None, theory: str | None = None,
                 mapping: str | None = None,
                 learning_rate: float | None = None, t_max: float | None = None, dataset: Dataset | None = None, allow_misaligned: bool | None = None) -> ValidationCase:
    """The case ``pathdyn validate`` runs for its case options; None takes the command's default.

    The command's defaults are those of :class:`ValidationCase` except
    :data:`COMMAND_DEFAULTS` (depths 2,2, widths 64,256,1024, seeds 0,1 or 0..7 for the
    DMFT, ``init_scale`` 0.3 whatever the initialisation).

    Parameters
    ----------
    depths, widths, seeds : tuple of int, optional
    init, theory, mapping : str, optional
    init_scale, learning_rate, t_max : float, optional
    dataset : Dataset, optional
    allow_misaligned : bool, optional

    Returns
    -------
    ValidationCase
        Named ``"custom"``, without targets.

    Raises
    ------
    ConfigError
        As :class:`ValidationCase`.
    """
    theory = theory or "qp"
    given: dict[str, Any] = {"init": init, "init_scale": init_scale, "mapping": mapping, "learning_rate": learning_rate, "t_max": t_max,
             "dataset": dataset, "allow_misaligned": allow_misaligned}
    options = {name: value for name, value in given.items() if value is not None}
    options.setdefault("init_scale", COMMAND_DEFAULTS["init_scale"])
    default_seeds = COMMAND_DEFAULTS["dmft_seeds" if get_model(theory).predicts_seed_mean else "seeds"]
    return ValidationCase(depths=depths or COMMAND_DEFAULTS["depths"], widths=widths or COMMAND_DEFAULTS["widths"],
                          seeds=default_seeds if seeds is None else seeds, theory=theory, **options)


