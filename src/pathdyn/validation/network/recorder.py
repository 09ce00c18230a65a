"""The recorder of a finite-width network: its mode coordinates ``U^T Omega_a V``.

Part of :mod:`pathdyn.validation.network`.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import DTypeLike

from pathdyn.errors import DatasetError
from pathdyn.numerics.datasets import Dataset
from pathdyn.validation.network.engine import Engine, StackEngine


class Recorder:
    """Computes ``U^T Omega_a V`` of an engine's current network."""

    def __init__(self, dataset: Dataset, activation: str, dtype: DTypeLike) -> None:
        U, S, Vt = dataset.modes()
        # Modes with a zero singular value have no defined direction: keep the rank of Sigma_yx.
        rank = dataset.rank
        if rank == 0:
            raise DatasetError(f"dataset {dataset.name!r}: Sigma_yx = Y X^T / P is zero; there is nothing to learn")
        U, S, Vt = U[:, :rank], S[:rank], Vt[:rank]
        self.singular_values = S
        self.Ut = np.ascontiguousarray(U.T)
        self.V = np.asfortranarray(Vt.T)
        X = dataset.X
        self.full_row_rank = np.linalg.matrix_rank(X) == X.shape[0]
        self.XpV = np.linalg.pinv(X) @ self.V  # (P, modes)
        self.activation = activation
        self.num_modes = S.size

    def project(self, engine: Engine | StackEngine) -> np.ndarray:
        """``U^T Omega_a V`` at the weights of the last forward pass.

        Parameters
        ----------
        engine : Engine or StackEngine
            The network(s) after a forward pass.

        Returns
        -------
        ndarray, shape ([B,] M, modes, modes)
        """
        lead = (engine.B,) if isinstance(engine, StackEngine) else ()
        out = np.empty(lead + (len(engine.W), self.num_modes, self.num_modes))
        if lead:
            out = out.swapaxes(0, 1)  # (M, B, modes, modes) view; returned as (B, M, ...)
        if self.activation != "linear" or self.full_row_rank:
            for a, F in enumerate(engine.pathway_outputs()):
                out[a] = (self.Ut @ F.astype(np.float64, copy=False)) @ self.XpV
        else:
            # Linear pathways with rank-deficient X: Omega_a V through the weights.
            for a in range(len(engine.W)):
                out[a] = self.Ut @ engine.omega_times(a, self.V).astype(np.float64, copy=False)
        return out.swapaxes(0, 1) if lead else out
