"""Whether a dataset's inputs are aligned with its modes, and each mode's input variance.

The per-mode reduced equations hold for general (non-whitened) inputs only when the input
correlation ``Sigma_x`` has the right singular vectors ``v_alpha`` of ``Sigma_yx`` as
eigenvectors (the aligned case): each mode then sees its own input variance
``lambda_alpha = v_alpha^T Sigma_x v_alpha``, its error is ``S_alpha - lambda_alpha sum_a K_a``
and learning ends at ``sum_a K_a = S_alpha / lambda_alpha``. :func:`input_alignment` measures
how far a dataset is from that case; :func:`check_alignment` refuses a per-mode comparison
above :data:`MISALIGNMENT_THRESHOLD`.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np

from pathdyn.errors import DatasetError
from pathdyn.numerics.datasets import Dataset

__all__ = ["InputAlignment", "MISALIGNMENT_THRESHOLD", "check_alignment", "input_alignment"]

#: Largest misalignment (a correlation coefficient, see :func:`input_alignment`) at which a
#: per-mode comparison is still made. The learned diagonal ``K_alpha`` moves by a relative
#: ``O(misalignment^2)`` (0.25% at 0.05), below the 1-2% accuracy the validation targets;
#: the off-diagonal entries it creates (first order) are not part of the per-mode theory.
MISALIGNMENT_THRESHOLD = 0.05


@dataclass(frozen=True)
class InputAlignment:
    """How the inputs of a dataset relate to its modes.

    Attributes
    ----------
    input_variances : ndarray, shape (modes,)
        ``lambda_alpha = v_alpha^T Sigma_x v_alpha`` of every compared mode (1 for whitened data).
    misalignment : float
        The largest correlation coefficient between a mode's input component and any other
        input direction (see :func:`input_alignment`); 0 for whitened or aligned data.
    worst : str
        Where the largest value occurs (``"modes 1 and 3"`` or ``"mode 2 and the inputs outside the modes"``).
    threshold : float
        :data:`MISALIGNMENT_THRESHOLD`.
    """

    input_variances: np.ndarray = field(repr=False)
    misalignment: float
    worst: str = ""
    threshold: float = MISALIGNMENT_THRESHOLD

    @property
    def aligned(self) -> bool:
        """Whether the misalignment is at most the threshold (the per-mode theory applies)."""
        return bool(self.misalignment <= self.threshold)

    @property
    def unit_variances(self) -> bool:
        """Whether every ``lambda_alpha`` is 1 (to 1e-10): the whitened equations apply."""
        return bool(np.allclose(self.input_variances, 1.0, rtol=0.0, atol=1e-10))

    def describe(self) -> str:
        """One line: the measured misalignment, where, and the threshold.

        Returns
        -------
        str
            The line.
        """
        where = f" ({self.worst})" if self.worst else ""
        return f"misalignment {self.misalignment:.3g}{where}, threshold {self.threshold:g}"


def input_alignment(dataset: Dataset, threshold: float = MISALIGNMENT_THRESHOLD) -> InputAlignment:
    """Input variances of the modes of ``dataset`` and how misaligned its inputs are.

    Parameters
    ----------
    dataset : Dataset
        Inputs ``X`` and targets ``Y``; the modes are those of ``Sigma_yx`` with
        ``S_alpha > 1e-12 S_1``.
    threshold : float
        Recorded on the result (default :data:`MISALIGNMENT_THRESHOLD`).

    Returns
    -------
    InputAlignment

    Raises
    ------
    DatasetError
        If ``Sigma_yx`` is zero (no modes).

    Notes
    -----
    With ``V`` the compared right singular vectors (``n_in x m``), ``G = V^T Sigma_x V`` and
    ``lambda_alpha = G_{alpha alpha}``, the misalignment is

    ``max( max_{alpha != beta} |G_{alpha beta}| / sqrt(lambda_alpha lambda_beta),
    max_alpha R_alpha )``,

    where ``R_alpha = sqrt(b_alpha^T Sigma_perp^+ b_alpha / lambda_alpha)`` with
    ``Q = I - V V^T``, ``b_alpha = Q Sigma_x v_alpha`` and ``Sigma_perp = Q Sigma_x Q``. The
    first term is the correlation coefficient between the inputs' components along two
    modes; ``R_alpha`` is the multiple correlation between the component along mode
    ``alpha`` and the input directions outside the modes (the largest correlation with any
    one of them). Both lie in ``[0, 1]`` and vanish exactly when every ``v_alpha`` is an
    eigenvector of ``Sigma_x`` (aligned data; whitened data in particular). A coupling
    ``G_{alpha beta} = c`` makes the learned map ``Sigma_yx Sigma_x^{-1}`` off-diagonal in
    mode coordinates at first order in ``c`` and moves its diagonal only at second order.
    """
    rank = dataset.rank
    if rank == 0:
        raise DatasetError(f"dataset {dataset.name!r}: Sigma_yx = Y X^T / P is zero; there are no modes to compare")
    V = dataset.modes()[2][:rank].T
    sigma = dataset.sigma_x
    G = V.T @ sigma @ V
    lam = np.diag(G).copy()
    scale = np.sqrt(np.outer(lam, lam))
    pair = np.abs(G - np.diag(lam)) / np.where(scale > 0, scale, np.inf)
    worst_value, worst = 0.0, ""
    if rank > 1:
        i, j = np.unravel_index(int(np.argmax(pair)), pair.shape)
        worst_value, worst = float(pair[i, j]), f"modes {min(i, j) + 1} and {max(i, j) + 1}"
    Q = np.eye(dataset.n_in) - V @ V.T
    outside = Q @ sigma @ Q
    if np.linalg.norm(outside) > 1e-12 * np.linalg.norm(sigma):
        b = Q @ sigma @ V
        inverse = np.linalg.pinv(outside, rcond=1e-10, hermitian=True)
        multiple = np.sqrt(np.maximum(np.einsum("im,ij,jm->m", b, inverse, b), 0.0) / lam)
        alpha = int(np.argmax(multiple))
        if multiple[alpha] > worst_value:
            worst_value, worst = float(multiple[alpha]), f"mode {alpha + 1} and the inputs outside the modes"
    if worst_value <= 1e-12:
        worst = ""
    return InputAlignment(input_variances=lam, misalignment=float(worst_value), worst=worst, threshold=float(threshold))


def check_alignment(dataset: Dataset, allow_misaligned: bool = False, argument: str = "dataset") -> InputAlignment:
    """:func:`input_alignment`, refusing misaligned data unless ``allow_misaligned``.

    Parameters
    ----------
    dataset : Dataset
    allow_misaligned : bool
        Go on above the threshold with a :class:`UserWarning` (the caller records it).
    argument : str
        The argument named in the message (e.g. ``"--dataset"``).

    Returns
    -------
    InputAlignment

    Raises
    ------
    DatasetError
        Above :data:`MISALIGNMENT_THRESHOLD` without ``allow_misaligned``.
    """
    alignment = input_alignment(dataset)
    if alignment.aligned:
        return alignment
    message = (
        f"{argument}: {dataset.name!r} has inputs misaligned with its modes ({alignment.describe()}): "
        "no per-mode theory is exact there"
    )
    if not allow_misaligned:
        raise DatasetError(f"{message}; align or whiten the inputs, or allow it explicitly (--allow-misaligned)")
    warnings.warn(message + "; compared anyway (allow_misaligned)", UserWarning, stacklevel=3)
    return alignment
