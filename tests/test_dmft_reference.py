"""The DMFT solver against a straightforward reference march (the solver as first written).

The reference keeps every kernel as a full matrix and forms ``P``, ``Q``, ``Cf``, ``Cg``
directly from their definitions (``P[t] = (A[t] B) P``, ``Rf = P A``, the source
covariances as full products); the solver uses push-through identities, row sums,
running sums at the end sites, a row's forward and backward passes meeting at one site,
packed triangles with BLAS products and a batch axis over modes, and solves identical
pathways once. They must agree to rounding (``TOLERANCE``, relative to the largest ``K``).
"""

import numpy as np
import pytest

from pathdyn.errors import IntegrationError
from pathdyn.numerics.dmft import (
    BLOCK_FROM,
    BLOWUP_FACTOR,
    DMFTInitialOverlaps,
    causal_matvec,
    _packed_length,
    _symmetric_matvecs,
    _triangular_matvec,
    _triangular_vecmat,
    solve_dmft,
)

TOLERANCE = 1e-12


class _ReferencePathway:
    """Causal kernels of one pathway (one mode) on ``T + 1`` time points.

    Site ``k`` (0-based, ``D - 1`` sites) holds ``A`` (kernel of ``f`` on ``g``),
    ``B`` (kernel of ``g`` on ``f``), ``P = (I - AB)^{-1}``, ``Q = (I - BA)^{-1}``,
    the responses ``Rf = P A`` and ``Rg = Q B`` and the correlations ``Cf``, ``Cg``.
    The sources' covariances are ``sigma^2 Cf`` of the site before (``|a|^2`` at site 0)
    and ``sigma^2 Cg`` of the site after (``|b|^2`` at the last site).
    """

    def __init__(self, depth, size, sigma2, input_norm2, output_norm2, overlap, eta, responses, gains=None):
        self.depth = depth
        self.sites = max(depth - 1, 0)
        self.sigma2 = sigma2 if responses else 0.0
        self.source2 = sigma2
        # per hidden matrix k = 1 .. sites-1: forward and backward source gains (sigma^2 in the ensemble)
        forward, backward = gains if gains is not None else ([sigma2] * self.sites, [sigma2] * self.sites)
        self.forward_gain2, self.backward_gain2 = list(forward), list(backward)
        self.input_norm2 = input_norm2
        self.output_norm2 = output_norm2
        self.overlap = overlap
        self.eta = eta
        self.K0 = overlap
        self.sum_e = 0.0  # depth 1: K(t) = K0 + eta sum_{s<t} e_s
        L = self.sites
        shape = (size, size)
        self.A = [np.zeros(shape) for _ in range(L)]
        self.B = [np.zeros(shape) for _ in range(L)]
        self.P = [np.zeros(shape) for _ in range(L)]
        self.Q = [np.zeros(shape) for _ in range(L)]
        self.Rf = [np.zeros(shape) for _ in range(L)]
        self.Rg = [np.zeros(shape) for _ in range(L)]
        self.Cf = [np.zeros(shape) for _ in range(L)]
        self.Cg = [np.zeros(shape) for _ in range(L)]

    # Source covariances Sigma_alpha, Sigma_beta of site k, block [:n, :n].
    def _sigma_alpha_times(self, k, row, n):
        """``row @ Sigma_alpha[:n, :n]`` for site ``k`` (``row`` of length ``n``)."""
        if k == 0:
            return np.full(n, self.input_norm2 * row.sum())
        return self.forward_gain2[k] * (row @ self.Cf[k - 1][:n, :n])

    def _sigma_beta_times(self, k, row, n):
        if k == self.sites - 1:
            return np.full(n, self.output_norm2 * row.sum())
        return self.backward_gain2[k + 1] * (row @ self.Cg[k + 1][:n, :n])

    def _cross(self, k):
        """``Sigma_alpha beta`` (times all-ones) at the last site: ``a.b`` at depth 2, else a network's own ``K(0)``.

        At depth 2 the site's sources are ``a`` and ``b`` themselves, so this is exact. Deeper,
        the last site's forward source is ``W f`` with ``W`` random; a constant cross
        covariance ``K(0)`` matches the network's initial ``K`` but is an approximation
        afterwards. It is zero in the ensemble.
        """
        return self.overlap if k == self.sites - 1 else 0.0

    def forward_row(self, t, e):
        """Rows ``t`` of ``A``, ``P``, ``Rf``, ``Cf`` at every site, first to last."""
        eta, s2 = self.eta, self.sigma2
        for k in range(self.sites):
            A, B, P, Rf, Cf = self.A[k], self.B[k], self.P[k], self.Rf[k], self.Cf[k]
            if k == 0:
                A[t, :t] = eta * e[:t]
            else:
                A[t, :t] = s2 * self.Rf[k - 1][t, :t] + eta * e[:t] * self.Cf[k - 1][:t, t]
            P[t, :t] = (A[t, :t] @ B[:t, :t]) @ P[:t, :t]
            P[t, t] = 1.0
            Rf[t, :t] = P[t, : t + 1] @ A[: t + 1, :t]
            x_alpha = self._sigma_alpha_times(k, P[t, : t + 1], t + 1)
            row = P[: t + 1, : t + 1] @ x_alpha
            if t:
                x_beta = self._sigma_beta_times(k, Rf[t, :t], t)
                row += Rf[: t + 1, :t] @ x_beta
            cross = self._cross(k)
            if cross:
                # P Sigma_ab (Rf)^T + Rf Sigma_ba P^T with Sigma_ab = c * ones
                row += cross * (P[t, : t + 1].sum() * Rf[: t + 1, :t].sum(axis=1) + Rf[t, :t].sum() * P[: t + 1, : t + 1].sum(axis=1))
            Cf[t, : t + 1] = row
            Cf[:t, t] = row[:t]

    def backward_row(self, t, e):
        """Rows ``t`` of ``B``, ``Q``, ``Rg``, ``Cg`` at every site, last to first."""
        eta, s2 = self.eta, self.sigma2
        last = self.sites - 1
        for k in range(last, -1, -1):
            A, B, Q, Rg, Cg = self.A[k], self.B[k], self.Q[k], self.Rg[k], self.Cg[k]
            if k == last:
                B[t, :t] = eta * e[:t]
            else:
                B[t, :t] = s2 * self.Rg[k + 1][t, :t] + eta * e[:t] * self.Cg[k + 1][:t, t]
            Q[t, :t] = (B[t, :t] @ A[:t, :t]) @ Q[:t, :t]
            Q[t, t] = 1.0
            Rg[t, :t] = Q[t, : t + 1] @ B[: t + 1, :t]
            x_beta = self._sigma_beta_times(k, Q[t, : t + 1], t + 1)
            row = Q[: t + 1, : t + 1] @ x_beta
            if t:
                x_alpha = self._sigma_alpha_times(k, Rg[t, :t], t)
                row += Rg[: t + 1, :t] @ x_alpha
            cross = self._cross(k)
            if cross:
                row += cross * (Q[t, : t + 1].sum() * Rg[: t + 1, :t].sum(axis=1) + Rg[t, :t].sum() * Q[: t + 1, : t + 1].sum(axis=1))
            Cg[t, : t + 1] = row
            Cg[:t, t] = row[:t]

    def strength(self, t):
        """``K(t) = E[f(t) g(t)]`` at the last site (``f = P alpha + Rf beta``, ``g = Q beta + Rg alpha``)."""
        if self.depth == 1:
            return self.K0 + self.eta * self.sum_e
        return self._site_strength(self.sites - 1, t)

    def step(self, t, e):
        if self.depth == 1:
            if t:
                self.sum_e += e[t - 1]
            return
        self.forward_row(t, e)
        self.backward_row(t, e)

    def site_strengths(self, t):
        """``K(t)`` measured at every site (equal in exact arithmetic: a consistency check)."""
        return [self._site_strength(k, t) for k in range(self.sites)]

    def _site_strength(self, k, t):
        """``E[f(t) g(t)] = P Sa Rg^T + Rf Sb Q^T + P Sab Q^T + Rf Sba Rg^T`` at row ``t`` of site ``k``."""
        P, Q = self.P[k][t, : t + 1], self.Q[k][t, : t + 1]
        Rf = np.append(self.Rf[k][t, :t], 0.0)  # the response is strictly causal
        Rg = np.append(self.Rg[k][t, :t], 0.0)
        value = self._sigma_alpha_times(k, P, t + 1) @ Rg + self._sigma_beta_times(k, Rf, t + 1) @ Q
        cross = self._cross(k)
        if cross:
            value += cross * (P.sum() * Q.sum() + Rf.sum() * Rg.sum())
        return float(value)



def _reference_solve_mode(depths, S, size, sigma2, overlaps, alpha, eta, responses):
    """March one mode's pathways forward in time; returns ``K`` of shape (size, M)."""
    pathways = [
        _ReferencePathway(
            depth, size, sigma2, float(overlaps.input_norm2[a, alpha]), float(overlaps.output_norm2[a, alpha]),
            float(overlaps.overlap[a, alpha]), eta, responses,
            None if overlaps.gains is None else tuple(g[:, alpha] for g in overlaps.gains[a]),
        )
        for a, depth in enumerate(depths)
    ]
    K = np.zeros((size, len(depths)))
    e = np.zeros(size)
    limit = BLOWUP_FACTOR * max(abs(S), 1.0)
    for t in range(size):
        for a, pathway in enumerate(pathways):
            pathway.step(t, e)
            K[t, a] = pathway.strength(t)
        e[t] = S - K[t].sum()
        if not abs(e[t]) < limit:
            raise IntegrationError(
                f"learning_rate: K blew up at step {t} (|S - sum K| = {abs(e[t]):.3g}); gradient descent diverges "
                f"at eta = {eta:g}; use a smaller learning rate"
            )
    return K


def _reference_K(depths, S, eta, steps, sigma, overlaps):
    sigma2 = sigma**2
    return np.stack([_reference_solve_mode(depths, float(s), steps + 1, sigma2, overlaps, alpha, eta, True)
                     for alpha, s in enumerate(S)], axis=-1)


def _relative_gap(K, reference):
    return float(np.max(np.abs(K - reference)) / np.max(np.abs(reference)))


CASES = {
    # distinct depths, ensemble (identical pathways of equal depth solved once)
    "ensemble-depths-4-3-4": dict(depths=(4, 3, 4), S=[2.0, 0.7], eta=0.05, steps=80, sigma=0.5, overlaps=None),
    # one network's own overlaps and gains: every pathway distinct, cross terms on
    "conditioned-depths-2-5-1": dict(
        depths=(2, 5, 1), S=[1.5, 0.6], eta=0.04, steps=70, sigma=0.6,
        overlaps=DMFTInitialOverlaps(
            [[0.30, 0.20], [0.40, 0.35], [1.0, 0.9]], [[0.50, 0.10], [0.30, 0.45], [1.0, 1.1]],
            [[0.10, -0.05], [0.02, 0.04], [0.2, -0.1]],
            gains=(
                (np.zeros((1, 2)), np.zeros((1, 2))),
                (np.array([[0, 0], [0.3, 0.4], [0.35, 0.3], [0.38, 0.33]]), np.array([[0, 0], [0.31, 0.36], [0.4, 0.3], [0.34, 0.37]])),
                (np.zeros((0, 2)), np.zeros((0, 2))),
            ),
        ),
    ),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_solver_equals_the_reference_march(name):
    case = CASES[name]
    depths, S, eta, steps, sigma, overlaps = (case[k] for k in ("depths", "S", "eta", "steps", "sigma", "overlaps"))
    if overlaps is None:
        overlaps = DMFTInitialOverlaps.ensemble(len(depths), len(S), sigma, sigma)
    K = solve_dmft(depths, S, learning_rate=eta, steps=steps, init_scale=sigma, initial_overlaps=overlaps).K
    reference = _reference_K(depths, S, eta, steps, sigma, overlaps)
    assert np.max(np.abs(reference[-1])) > 0.3  # modes were learned: the comparison is not vacuous
    assert _relative_gap(K, reference) < TOLERANCE
    # A deliberately wrong variant (the response terms dropped) is far outside the tolerance.
    wrong = solve_dmft(depths, S, learning_rate=eta, steps=steps, init_scale=sigma, initial_overlaps=overlaps,
                       responses=False).K
    assert _relative_gap(wrong, reference) > 1e-4


def test_identical_pathways_are_solved_once_and_agree_bitwise():
    trajectory = solve_dmft((3, 4, 3), [2.0], learning_rate=0.05, steps=40, init_scale=0.5)
    assert np.array_equal(trajectory.K[:, 0], trajectory.K[:, 2])
    assert not np.array_equal(trajectory.K[:, 0], trajectory.K[:, 1])


def test_blow_up_is_an_integration_error_naming_the_learning_rate():
    with pytest.raises(IntegrationError, match="learning_rate"):
        solve_dmft((3, 3), [2.0], learning_rate=2.0, steps=60, init_scale=0.5)


@pytest.mark.parametrize("n", [50, 450, 801])
def test_causal_products_skip_only_zeros(n):
    """The blocked triangular product (of the orthogonal march) equals the full one (blocks start at ``BLOCK_FROM``)."""
    rng = np.random.default_rng(n)
    M = np.tril(rng.normal(size=(n + 1, n + 1)))
    x = rng.normal(size=n)
    full_matvec = M[: n + 1, :n] @ x
    assert np.max(np.abs(causal_matvec(M, x, n + 1) - full_matvec)) < 1e-12 * np.max(np.abs(full_matvec))
    # Not vacuous: a non-triangular matrix (the skipped block nonzero) gives a different answer.
    if n >= 2 * BLOCK_FROM:
        dense = rng.normal(size=(n + 1, n + 1))
        assert np.max(np.abs(causal_matvec(dense, x, n + 1) - dense[: n + 1, :n] @ x)) > 1e-3


def _packed(matrices):
    """Batched row-major packed lower triangles of square matrices."""
    rows, cols = np.tril_indices(matrices.shape[-1])
    return np.ascontiguousarray(matrices[:, rows, cols])


@pytest.mark.parametrize("n", [1, 7, 450])
def test_packed_products_equal_the_dense_ones(n):
    """The solver's products on packed lower triangles (BLAS tpmv, spmv) equal dense ones on
    a leading ``n x n`` block of a larger triangle (the march grows its matrices row by row)."""
    rng = np.random.default_rng(n)
    size, batch = n + 5, 3
    L = np.tril(rng.normal(size=(batch, size, size)))
    C = L + np.swapaxes(np.tril(L, -1), 1, 2)  # symmetric, lower triangle L
    packed = _packed(L)
    assert packed.shape == (batch, _packed_length(size))
    v, w = rng.normal(size=(batch, n)), rng.normal(size=(batch, n + 1))
    expected = [np.einsum("bs,bsu->bu", v, L[:, :n, :n]), np.einsum("bsu,bu->bs", L[:, :n, :n], v),
                np.einsum("bsu,bu->bs", C[:, :n, :n], v), np.einsum("bsu,bu->bs", C[:, : n + 1, : n + 1], w)]
    got = [_triangular_vecmat(v, packed), _triangular_matvec(packed, v), *_symmetric_matvecs(packed, [v, w])]
    for value, reference in zip(got, expected):
        assert np.max(np.abs(value - reference)) < 1e-12 * np.max(np.abs(reference))
    # Not vacuous: the transposed product (the wrong BLAS flag) differs.
    if n > 1:
        assert np.max(np.abs(_triangular_matvec(packed, v) - expected[0])) > 1e-3


def test_long_march_equals_the_reference():
    """Over a long march (210 steps) rounding accumulates in the running sums; it must still match."""
    depths, S, eta, steps, sigma = (3,), [1.0], 0.02, 210, 0.5
    overlaps = DMFTInitialOverlaps.ensemble(1, 1, sigma, sigma)
    K = solve_dmft(depths, S, learning_rate=eta, steps=steps, init_scale=sigma).K
    reference = _reference_K(depths, S, eta, steps, sigma, overlaps)
    assert np.max(np.abs(reference[-1])) > 0.3
    assert _relative_gap(K, reference) < TOLERANCE


def test_modes_in_one_batch_equal_modes_one_at_a_time(monkeypatch):
    import pathdyn.numerics.dmft as dmft

    S = [2.0, 1.4, 0.9, 0.5]
    together = solve_dmft((4, 3), S, learning_rate=0.05, steps=60, init_scale=0.5).K
    monkeypatch.setattr(dmft, "BATCH_MEMORY_BYTES", 1)  # one mode per batch
    alone = solve_dmft((4, 3), S, learning_rate=0.05, steps=60, init_scale=0.5).K
    assert _relative_gap(together, alone) < TOLERANCE
    assert np.ptp(together[-1], axis=-1).min() > 0.1  # the modes differ, so a mix-up would show


@pytest.mark.parametrize("meeting", [0, 1, 2, 3])
def test_any_meeting_site_equals_the_reference(monkeypatch, meeting):
    """A row's forward and backward passes are independent, so they may meet at any site.

    The solver runs the forward pass (first site to last) and the backward pass (last to
    first) of a row towards each other and shares the covariance reads at the site where
    they meet. If either pass read the other's row ``t``, the order would matter and some
    meeting site would read rows not yet written (zeros): every choice must equal the
    reference. Depth 5 (four sites) with the network's own overlaps: first, inner and last
    sites, cross terms on. A deliberately wrong variant, the last site's running sum of
    ``Q`` lagging one step (``e_{t-2}`` for ``e_{t-1}``), was measured 1.0e-2 off at every
    meeting site: ten orders outside the tolerance.
    """
    import pathdyn.numerics.dmft as dmft

    monkeypatch.setattr(dmft, "_meeting_site", lambda sites: meeting)
    depths, S, eta, steps, sigma = (5,), [1.5, 0.8], 0.05, 60, 0.5
    overlaps = DMFTInitialOverlaps([[0.3, 0.2]], [[0.2, 0.35]], [[0.05, -0.03]])
    K = solve_dmft(depths, S, learning_rate=eta, steps=steps, init_scale=sigma, initial_overlaps=overlaps).K
    reference = _reference_K(depths, S, eta, steps, sigma, overlaps)
    assert np.max(np.abs(reference[-1])) > 0.3
    assert _relative_gap(K, reference) < TOLERANCE


def test_long_deep_march_with_shared_reads_equals_the_reference():
    """Depth 4 over 210 steps: running sums and the shared reads at the inner site together,
    over a march long enough for rounding to accumulate."""
    depths, S, eta, steps, sigma = (4,), [1.0], 0.03, 210, 0.5
    overlaps = DMFTInitialOverlaps.ensemble(1, 1, sigma, sigma)
    K = solve_dmft(depths, S, learning_rate=eta, steps=steps, init_scale=sigma).K
    reference = _reference_K(depths, S, eta, steps, sigma, overlaps)
    assert np.max(np.abs(reference[-1])) > 0.3
    assert _relative_gap(K, reference) < TOLERANCE
