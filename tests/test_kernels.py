"""The C kernels for the thin products (validation/network/_kernels.c, pathdyn.validation.network.kernels).

Training through them against training through BLAS: tests/test_simulate.py."""

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import numpy as np
import pytest

from pathdyn.numerics.datasets import Dataset, hierarchical_dataset
from pathdyn.validation.network import kernels
from pathdyn.validation.network import KERNEL_MIN_WIDTH, simulate_gd

needs_kernels = pytest.mark.skipif(not kernels.available(), reason="C kernels not built (no C compiler at install)")
# Relative to the size of the product's entries: accumulation error over n terms.
TOL = {np.float64: 1e-13, np.float32: 2e-5}


def test_kernels_are_built_where_a_compiler_exists():
    """pip install builds them wherever a C compiler and Python's headers exist; the fallback
    must not hide a failed build."""
    off = os.environ.get("PATHDYN_KERNELS", "1").strip().lower() in ("0", "no", "off", "false")
    headers = Path(sysconfig.get_paths()["include"], "Python.h").exists()
    if off or not headers or not (shutil.which("cc") or shutil.which("gcc")):
        pytest.skip("kernels switched off, or no C compiler or Python headers on this machine")
    assert kernels.available()


@needs_kernels
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("m,n", [(1, 1), (37, 29), (64, 128), (130, 77), (800, 1000)])
def test_products_match_numpy(dtype, m, n, seed):
    """Shapes off every block size (16 rows, 8 columns) included; references in float64."""
    rng = np.random.default_rng(seed)
    W = np.asfortranarray(rng.standard_normal((m, n)).astype(dtype))
    X = rng.standard_normal((n, kernels.LANES)).astype(dtype)
    G = rng.standard_normal((m, kernels.LANES)).astype(dtype)
    Y = kernels.nn(W, X, np.full((m, kernels.LANES), np.nan, dtype=dtype))  # every entry written
    Z = kernels.tn(W, G, np.full((n, kernels.LANES), np.nan, dtype=dtype))
    Wd = W.astype(np.float64)
    for got, want, terms in ((Y, Wd @ X.astype(np.float64), n), (Z, Wd.T @ G.astype(np.float64), m)):
        scale = np.sqrt(terms)  # entries of a sum of `terms` unit-variance products
        assert np.max(np.abs(got - want)) < TOL[dtype] * scale * 10
    # The check is not vacuous: a transposed weight is far off.
    if m == n and m > 1:
        assert np.max(np.abs(kernels.nn(np.asfortranarray(W.T), X, np.empty_like(Y)) - Y)) > 1.0


@needs_kernels
def test_bad_operands_are_refused():
    W = np.zeros((20, 30), order="F")
    with pytest.raises(ValueError, match="Fortran"):
        kernels.nn(np.zeros((20, 30)), np.zeros((30, 8)), np.zeros((20, 8)))
    with pytest.raises(ValueError, match=r"thin must be a C-ordered \(30, 8\)"):
        kernels.nn(W, np.zeros((20, 8)), np.zeros((20, 8)))
    with pytest.raises(ValueError, match=r"out must be a C-ordered \(30, 8\)"):
        kernels.tn(W, np.zeros((20, 8)), np.zeros((30, 8), dtype=np.float32))
    with pytest.raises(ValueError, match="Fortran-ordered float64 or float32"):
        kernels.nn(np.zeros((20, 30), dtype=np.int64, order="F"), np.zeros((30, 8)), np.zeros((20, 8)))


def test_environment_switch_turns_them_off():
    code = "from pathdyn.validation.network import kernels; print(kernels.available())"
    out = subprocess.run([sys.executable, "-c", code], env={**os.environ, "PATHDYN_KERNELS": "0"},
                         capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@needs_kernels
def test_simulate_reports_kernel_layers_and_more_samples_fall_back(seed):
    data = hierarchical_dataset()
    kw = dict(learning_rate=0.01, steps=2, record_every=1, seed=seed)
    run = simulate_gd((3, 3), data, KERNEL_MIN_WIDTH, **kw)
    assert run.stats["kernel_layers"] == 2
    rng = np.random.default_rng(seed)
    wide = Dataset(X=rng.standard_normal((8, 12)), Y=rng.standard_normal((3, 12)), name="P=12")
    assert simulate_gd((3, 3), wide, KERNEL_MIN_WIDTH, **kw).stats["kernel_layers"] == 0
