"""Datasets: the paper's hierarchical data, random data with prescribed modes, user files.

Conventions (docs/theory.md, *Notation and loss*): ``X`` is ``(n_in, P)``, ``Y`` is ``(n_out, P)``,
``Sigma_x = X X^T / P`` and ``Sigma_yx = Y X^T / P``.
"""

from __future__ import annotations

from typing import Any, overload
import csv
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike

from pathdyn._base.checks import check_magnitude, real_array, seed_value, whole_number
from pathdyn.errors import DatasetError
from pathdyn.io.npz import read_npz

__all__ = ["Dataset", "hierarchical_dataset", "random_dataset", "load_dataset", "resolve_dataset",
           "random_spec_singular_values", "dataset_from_spec", "dataset_option", "as_dataset", "mode_rank"]


def mode_rank(singular_values: ArrayLike) -> int:
    """Number of modes with ``S_alpha > 1e-12 S_1`` (the modes a simulation records and compares).

    Parameters
    ----------
    singular_values : array_like
        ``S_alpha`` in decreasing order.

    Returns
    -------
    int
        The number of modes counted.
    """
    S = np.asarray(singular_values, dtype=float)
    return int(np.sum(S > 1e-12 * S[0])) if S.size and S[0] > 0 else 0


@dataclass(frozen=True)
class Dataset:
    """Inputs ``X`` (n_in x P) and targets ``Y`` (n_out x P).

    Raises
    ------
    DatasetError
        If the arrays are not 2-D, the sample counts differ, or they hold NaN/inf.
    """

    X: np.ndarray
    Y: np.ndarray
    name: str = "data"
    notes: str = ""
    _svd: tuple = field(init=False, repr=False, compare=False, default=())

    def __post_init__(self) -> None:
        problems = []
        X = real_array(f"dataset {self.name!r}: X", self.X, error=DatasetError)
        Y = real_array(f"dataset {self.name!r}: Y", self.Y, error=DatasetError)
        if X.ndim != 2:
            problems.append(f"X must be 2-D (n_in, P), got shape {X.shape}")
        if Y.ndim != 2:
            problems.append(f"Y must be 2-D (n_out, P), got shape {Y.shape}")
        if X.ndim == 2 and Y.ndim == 2 and X.shape[1] != Y.shape[1]:
            problems.append(
                f"X has {X.shape[1]} samples (columns) but Y has {Y.shape[1]}; both are (dimension, samples)"
            )
        if X.size and not np.all(np.isfinite(X)):
            problems.append("X contains NaN or infinite values; clean the data first")
        if Y.size and not np.all(np.isfinite(Y)):
            problems.append("Y contains NaN or infinite values; clean the data first")
        if X.ndim == 2 and X.shape[1] == 0:
            problems.append("the dataset has no samples")
        if problems:
            raise DatasetError(f"dataset {self.name!r}: " + "; ".join(problems))
        check_magnitude(f"dataset {self.name!r}: X", X)
        check_magnitude(f"dataset {self.name!r}: Y", Y)
        X.setflags(write=False)
        Y.setflags(write=False)
        object.__setattr__(self, "X", X)
        object.__setattr__(self, "Y", Y)

    @property
    def n_in(self) -> int:
        return self.X.shape[0]

    @property
    def n_out(self) -> int:
        return self.Y.shape[0]

    @property
    def num_samples(self) -> int:
        return self.X.shape[1]

    @property
    def sigma_x(self) -> np.ndarray:
        """Input correlation ``X X^T / P``."""
        return self.X @ self.X.T / self.num_samples

    @property
    def sigma_yx(self) -> np.ndarray:
        """Input-output correlation ``Y X^T / P``."""
        return self.Y @ self.X.T / self.num_samples

    @property
    def is_whitened(self) -> bool:
        """Whether ``Sigma_x`` is the identity (to 1e-10)."""
        return bool(np.allclose(self.sigma_x, np.eye(self.n_in), atol=1e-10, rtol=0))

    def modes(self) -> tuple:
        """``(U, S, Vt)``: the thin SVD of ``Sigma_yx`` (singular values descending).

        Returns
        -------
        tuple of ndarray
            ``U`` (n_out, r), ``S`` (r,), ``Vt`` (r, n_in), ``r = min(n_in, n_out)``.

        Raises
        ------
        DatasetError
            When the SVD does not converge.
        """
        if not self._svd:
            try:
                U, S, Vt = np.linalg.svd(self.sigma_yx, full_matrices=False)
            except np.linalg.LinAlgError as error:
                raise DatasetError(f"dataset {self.name!r}: the SVD of Sigma_yx = Y X^T / P failed ({error}); "
                                   "rescale or clean the data") from None
            object.__setattr__(self, "_svd", (U, S, Vt))
        return self._svd

    @property
    def singular_values(self) -> np.ndarray:
        """Singular values ``S_alpha`` of ``Sigma_yx``, descending."""
        return self.modes()[1]

    @cached_property
    def rank(self) -> int:
        """The number of modes, :func:`mode_rank` of the singular values (computed once per dataset).

        Raises
        ------
        DatasetError
            When the SVD does not converge.
        """
        return mode_rank(self.singular_values)

    def degenerate_blocks(self, rtol: float = 1e-8) -> list:
        """Groups of mode indices with equal singular values (each a list, in order).

        Parameters
        ----------
        rtol : float
            Singular values within ``rtol S_1`` of a block's first count as equal.

        Returns
        -------
        list of list of int
            Consecutive mode indices, one list per block (singletons included).
        """
        S = self.singular_values
        blocks, current = [], [0]
        for i in range(1, len(S)):
            if abs(S[i] - S[current[0]]) <= rtol * max(abs(S[0]), 1e-300):
                current.append(i)
            else:
                blocks.append(current)
                current = [i]
        blocks.append(current)
        return blocks


def hierarchical_dataset(whitened: bool = True) -> Dataset:
    """The paper's hierarchical dataset: 8 items, 15 features, a binary tree.

    Features: one shared by all items, two for each half, four for each quarter and
    eight for single items. ``Y`` is 15 x 8.

    Parameters
    ----------
    whitened : bool
        ``True`` (default): ``X = sqrt(8) I_8`` so ``Sigma_x = I`` and
        ``Sigma_yx = Y / sqrt(8)`` (singular values ``sqrt(15/8), sqrt(7/8), ...``).
        ``False``: the paper's ``X = I_8`` with ``Sigma_x = I / 8``; the flow is the
        whitened one for target ``Y`` slowed by ``P = 8`` (docs/theory.md, *Modes*).

    Returns
    -------
    Dataset
        ``X`` (8, 8), ``Y`` (15, 8).

    Notes
    -----
    The singular values of ``Y`` are ``[sqrt 15, sqrt 7, sqrt 3, sqrt 3, 1, 1, 1, 1]``:
    degenerate, so per-mode comparisons must use subspace-invariant quantities.
    """
    items = 8
    rows = [np.ones(items)]
    for level in (2, 4, 8):
        size = items // level
        for block in range(level):
            row = np.zeros(items)
            row[block * size:(block + 1) * size] = 1.0
            rows.append(row)
    Y = np.array(rows)
    X = np.sqrt(items) * np.eye(items) if whitened else np.eye(items)
    note = "X = sqrt(8) I (whitened)" if whitened else "X = I_8 (Sigma_x = I/8, the paper's)"
    return Dataset(X=X, Y=Y, name="hierarchical", notes=note)


def random_dataset(singular_values: ArrayLike, n_in: int | None = None, n_out: int | None = None, seed: int = 0,
                   input_variances: Any | None = None) -> Dataset:
    """Random data whose ``Sigma_yx`` has exactly the given singular values; whitened by default.

    ``P = n_in`` samples and ``Sigma_yx = U diag(S) V^T`` with Haar-random orthonormal
    ``U``, ``V``. Without ``input_variances``, ``X = sqrt(n_in) I`` (``Sigma_x = I``).

    Parameters
    ----------
    singular_values : array_like
        Positive ``S_alpha`` (sorted descending in the data).
    n_in, n_out : int, optional
        Dimensions (default: the number of singular values).
    seed : int
    input_variances : array_like, optional
        Positive ``lambda_alpha``, one per singular value in the order given: aligned,
        non-whitened inputs with ``Sigma_x = V diag(lambda) V^T + (I - V V^T)``, sharing ``V``
        with ``Sigma_yx`` (``X = sqrt(n_in) Sigma_x^{1/2}``, ``Y = sqrt(n_in) U S Lambda^{-1/2} V^T``).
        The network then learns ``sum_a K_a = S_alpha / lambda_alpha``.

    Returns
    -------
    Dataset
        ``X`` (n_in, n_in), ``Y`` (n_out, n_in).

    Raises
    ------
    DatasetError
        When a singular value or input variance is not positive and finite, or
        ``n_in``, ``n_out`` are below the number of singular values.
    """
    S = real_array("singular_values", singular_values, error=DatasetError).ravel()
    if S.size == 0 or not np.all(np.isfinite(S)) or np.any(S <= 0):
        raise DatasetError(f"singular_values: expected positive finite numbers, got {S.tolist()}")
    check_magnitude("singular_values", S)
    seed = seed_value("seed", seed)
    rank = S.size
    if input_variances is None:
        lam = np.ones(rank)
    else:
        lam = real_array("input_variances", input_variances, error=DatasetError).ravel()
    if lam.shape != S.shape or not np.all(np.isfinite(lam)) or np.any(lam <= 0):
        raise DatasetError(
            f"input_variances: expected {rank} positive finite numbers (one per singular value), got {lam.tolist()}"
        )
    check_magnitude("input_variances", lam)
    n_in = rank if n_in is None else whole_number("n_in", n_in, minimum=1)
    n_out = rank if n_out is None else whole_number("n_out", n_out, minimum=1)
    if n_in < rank or n_out < rank:
        raise DatasetError(f"n_in={n_in}, n_out={n_out}: both must be >= the number of singular values ({rank})")
    rng = np.random.default_rng(seed)
    U = np.linalg.qr(rng.standard_normal((n_out, rank)))[0]
    V = np.linalg.qr(rng.standard_normal((n_in, rank)))[0]
    order = np.argsort(-S)
    S, lam = S[order], lam[order]
    name = f"random(S={S.round(6).tolist()}, seed={seed})"
    if input_variances is None:
        return Dataset(X=np.sqrt(n_in) * np.eye(n_in), Y=(U * S) @ V.T * np.sqrt(n_in), name=name)
    root = (V * np.sqrt(lam)) @ V.T + (np.eye(n_in) - V @ V.T)  # Sigma_x^{1/2}, symmetric
    X = np.sqrt(n_in) * root
    Y = np.sqrt(n_in) * (U * (S / np.sqrt(lam))) @ V.T
    name = f"random(S={S.round(6).tolist()}, lambda={lam.round(6).tolist()}, seed={seed})"
    return Dataset(X=X, Y=Y, name=name, notes="aligned non-whitened inputs: Sigma_x = V diag(lambda) V^T + (I - V V^T)")


def _load_csv(path: Path) -> Dataset:
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.reader(handle)
            try:
                header = next(reader)
            except StopIteration:
                raise DatasetError(f"dataset file {str(path)!r} is empty") from None
            rows = [row for row in reader if row]
    except UnicodeDecodeError as error:
        raise DatasetError(f"dataset file {str(path)!r} is not UTF-8 text (byte {error.start}); save it as UTF-8 CSV") from None
    except csv.Error as error:
        raise DatasetError(f"dataset file {str(path)!r} is not valid CSV ({error})") from None
    header = [h.strip() for h in header]
    x_cols = [i for i, h in enumerate(header) if h.lower().startswith("x")]
    y_cols = [i for i, h in enumerate(header) if h.lower().startswith("y")]
    if not x_cols or not y_cols or len(x_cols) + len(y_cols) != len(header):
        raise DatasetError(
            f"dataset file {str(path)!r}: the header must name input columns x1, x2, ... and target columns y1, y2, ...; got {header}"
        )
    try:
        data = np.array([[float(v) for v in row] for row in rows])
    except ValueError as error:
        raise DatasetError(f"dataset file {str(path)!r}: non-numeric entry ({error})") from None
    if data.ndim != 2 or data.shape[1] != len(header):
        raise DatasetError(f"dataset file {str(path)!r}: every row must have {len(header)} values")
    return Dataset(X=data[:, x_cols].T, Y=data[:, y_cols].T, name=path.name)


def load_dataset(path: str | Path) -> Dataset:
    """Load ``X`` and ``Y`` from a file.

    ``.npz``: arrays ``X`` (n_in, P) and ``Y`` (n_out, P).
    ``.csv``: one row per sample, a header naming input columns ``x1, x2, ...`` and
    target columns ``y1, y2, ...``.

    Parameters
    ----------
    path : str or Path
        A ``.npz`` or ``.csv`` file.

    Returns
    -------
    Dataset
        Named after the file.

    Raises
    ------
    DatasetError
        When the file is missing, unreadable, of another type, or lacks ``X`` or ``Y``.
    """
    path = Path(path)
    if not path.exists():
        raise DatasetError(f"dataset file {str(path)!r} not found; check the path")
    if path.suffix == ".csv":
        return _load_csv(path)
    if path.suffix != ".npz":
        raise DatasetError(f"dataset file {str(path)!r}: unsupported type; use .npz (arrays X, Y) or .csv")
    what = f"dataset file {str(path)!r}"
    arrays = read_npz(path, what, check=lambda headers: _check_dataset_headers(what, headers), error=DatasetError)
    return Dataset(X=arrays["X"], Y=arrays["Y"], name=path.name)


def _check_dataset_headers(what: str, headers: dict) -> None:
    """X (n_in, P) and Y (n_out, P) of real numbers, judged from the headers before loading."""
    missing = [k for k in ("X", "Y") if k not in headers]
    if missing:
        raise DatasetError(f"{what} lacks array(s) {', '.join(missing)}; save X (n_in, P) and Y (n_out, P)")
    for name in ("X", "Y"):
        header = headers[name]
        if len(header.shape) != 2 or header.dtype.kind not in "fiu":
            raise DatasetError(f"{what}: {name} is {header.shape} of {header.dtype}; save a 2-D array of real numbers")
    if headers["X"].shape[1] != headers["Y"].shape[1]:
        raise DatasetError(f"{what}: X has {headers['X'].shape[1]} samples (columns) but Y has {headers['Y'].shape[1]}; "
                           "save X (n_in, P) and Y (n_out, P) with the same P")


def resolve_dataset(spec: str) -> Dataset:
    """A dataset from a command-line value: ``hierarchical``, ``hierarchical-raw`` or a file path.

    Parameters
    ----------
    spec : str
        ``hierarchical`` (whitened), ``hierarchical-raw`` (the paper's ``X = I_8``) or
        a path for :func:`load_dataset`.

    Returns
    -------
    Dataset
        The dataset.
    """
    if spec == "hierarchical":
        return hierarchical_dataset(whitened=True)
    if spec == "hierarchical-raw":
        return hierarchical_dataset(whitened=False)
    return load_dataset(spec)


def random_spec_singular_values(spec: str, argument: str = "--dataset") -> list:
    """The singular values of a ``random:S1,S2,...`` dataset specification.

    Parameters
    ----------
    spec : str
        ``"random:2,1.5,1"`` (the prefix is optional).
    argument : str
        The argument named in the message.

    Returns
    -------
    list of float

    Raises
    ------
    DatasetError
        If the values are missing or not numbers.
    """
    try:
        values = [float(v) for v in str(spec).removeprefix("random:").split(",") if v.strip()]
    except ValueError:
        values = []
    if not values:
        raise DatasetError(f"{argument}: {spec!r}: write random:S1,S2,... with numbers, e.g. random:2,1.5,1,0.5")
    return values


def dataset_from_spec(spec: str, seed: int = 0, distinct: bool = False, argument: str = "--dataset") -> Dataset:
    """A dataset from a specification: ``random:S1,S2,...``, or what :func:`resolve_dataset` takes.

    Parameters
    ----------
    spec : str
        ``random:S1,S2,...`` (:func:`random_dataset` with these singular values),
        ``hierarchical``, ``hierarchical-raw`` or a file path.
    seed : int
        Seed of a ``random:`` dataset.
    distinct : bool
        Refuse equal singular values in a ``random:`` specification (degenerate modes have
        no unique singular vectors, so per-mode records of them are arbitrary).
    argument : str
        The argument named in messages.

    Returns
    -------
    Dataset

    Raises
    ------
    DatasetError
        A malformed ``random:`` specification, equal values with ``distinct``, or a file
        that cannot be read.
    """
    if not spec.startswith("random:"):
        return resolve_dataset(spec)
    values = random_spec_singular_values(spec, argument)
    if distinct and len(set(values)) != len(values):
        raise DatasetError(f"{argument}: {spec!r} has equal singular values; give distinct ones (non-degenerate modes)")
    return random_dataset(values, seed=seed)


def as_dataset(dataset: Dataset | str | Path) -> Dataset:
    """``dataset`` itself, or the dataset a specification or path stands for (:func:`dataset_from_spec`).

    Parameters
    ----------
    dataset : Dataset, str or Path
        A dataset, or ``random:S1,...``, ``hierarchical``, ``hierarchical-raw`` or a file path.

    Returns
    -------
    Dataset

    Raises
    ------
    DatasetError
        Anything else, or a specification :func:`dataset_from_spec` refuses.
    """
    if isinstance(dataset, Dataset):
        return dataset
    if isinstance(dataset, (str, Path)):
        return dataset_from_spec(str(dataset))
    raise DatasetError(f"dataset: expected a Dataset or a name/path, got {type(dataset).__name__}")


@overload
def dataset_option(spec: str | None, default: str, *, default_names: tuple[str, ...] = (), seed: int = 0,
                   distinct: bool = False, argument: str = "--dataset") -> Dataset: ...


@overload
def dataset_option(spec: str | None, default: None, *, default_names: tuple[str, ...] = (), seed: int = 0,
                   distinct: bool = False, argument: str = "--dataset") -> Dataset | None: ...


def dataset_option(spec: str | None, default: str | None, *, default_names: tuple[str, ...] = (), seed: int = 0,
                   distinct: bool = False, argument: str = "--dataset") -> Dataset | None:
    """The dataset of a ``--dataset`` option: every command's one resolver, each with its own default.

    Parameters
    ----------
    spec : str or None
        The option's value; ``None`` (not given) or one of ``default_names`` means ``default``.
    default : str or None
        The command's default specification; ``None``: the command's own default data (none here).
    default_names : tuple of str
        Values that stand for the default (``"random"``: the command's default random data).
    seed : int
        Seed of a ``random:`` dataset.
    distinct : bool
        Refuse equal singular values in a ``random:`` specification.
    argument : str
        The option named in messages.

    Returns
    -------
    Dataset or None
        ``None`` only when the default is ``None``.

    Raises
    ------
    DatasetError
        What :func:`dataset_from_spec` refuses.
    """
    chosen = default if not spec or spec in default_names else spec
    if chosen is None:
        return None
    return dataset_from_spec(chosen, seed=seed, distinct=distinct, argument=argument)
