"""The C kernels for the thin products (validation/network/_kernels.c, pathdyn.validation.network.kernels).

Training through them against training through BLAS: tests/test_simulate.py."""

import os
import platform
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

needs_kernels = pytest.mark.skipif(not kernels.available(),
                                   reason=f"no C kernel runs here (path {kernels.path()!r}, supported {kernels.supported()})")
# Every variant this CPU runs, whatever PATHDYN_KERNELS picks for the simulator.
VARIANTS = [pytest.param(v, id=v) for v in kernels.supported()[1:]] or [
    pytest.param(None, marks=pytest.mark.skip(reason=f"no C kernel variant runs here (supported {kernels.supported()})"))]
# Relative to the size of the product's entries: accumulation error over n terms.
TOL = {np.float64: 1e-13, np.float32: 2e-5}


def test_kernels_are_built_where_a_compiler_exists():
    """pip install builds them wherever a C compiler and Python's headers exist; the fallback
    must not hide a failed build."""
    headers = Path(sysconfig.get_paths()["include"], "Python.h").exists()
    if not headers or not (shutil.which("cc") or shutil.which("gcc")):
        pytest.skip("no C compiler or Python headers on this machine")
    assert kernels.built()
    if platform.machine() in ("x86_64", "AMD64") and "avx2" not in kernels.supported():
        print(f"this x86-64 CPU runs no kernel variant: {kernels.supported()}")


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("m,n", [(1, 1), (37, 29), (64, 128), (130, 77), (800, 1000)])
def test_products_match_numpy(variant, dtype, m, n, seed):
    """Shapes off every block size (6, 12 and 16 rows; 6 and 8 columns) included; references in float64."""
    rng = np.random.default_rng(seed)
    W = np.asfortranarray(rng.standard_normal((m, n)).astype(dtype))
    X = rng.standard_normal((n, kernels.LANES)).astype(dtype)
    G = rng.standard_normal((m, kernels.LANES)).astype(dtype)
    Y = kernels.nn(W, X, np.full((m, kernels.LANES), np.nan, dtype=dtype), variant)  # every entry written
    Z = kernels.tn(W, G, np.full((n, kernels.LANES), np.nan, dtype=dtype), variant)
    Wd = W.astype(np.float64)
    for got, want, terms in ((Y, Wd @ X.astype(np.float64), n), (Z, Wd.T @ G.astype(np.float64), m)):
        scale = np.sqrt(terms)  # entries of a sum of `terms` unit-variance products
        assert np.max(np.abs(got - want)) < TOL[dtype] * scale * 10
    # The check is not vacuous: a transposed weight is far off.
    if m == n and m > 1:
        assert np.max(np.abs(kernels.nn(np.asfortranarray(W.T), X, np.empty_like(Y), variant) - Y)) > 1.0


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


def in_subprocess(code, **env):
    """(exit status, last line printed or error line) of ``code`` in a fresh process whose
    environment is this one without PATHDYN_KERNELS, plus ``env`` (None removes a name)."""
    full = {k: v for k, v in os.environ.items() if k != "PATHDYN_KERNELS"}
    full.update(env)
    full = {k: v for k, v in full.items() if v is not None}
    out = subprocess.run([sys.executable, "-W", "ignore", "-c", "from pathdyn.validation.network import kernels; " + code],
                         env=full, capture_output=True, text=True)
    return out.returncode, out.stdout.strip() if out.returncode == 0 else out.stderr.strip().splitlines()[-1]


def kernel_path_in_subprocess(**env):
    return in_subprocess("print(kernels.path())", **env)


def variants_the_cpu_runs() -> list:
    """The variants this CPU runs, whatever NPY_DISABLE_CPU_FEATURES says."""
    return in_subprocess("print(*kernels.supported()[1:])", NPY_DISABLE_CPU_FEATURES=None)[1].split()


@pytest.mark.parametrize("word", ["0", "off", "blas", " BLAS "])
def test_environment_switch_turns_them_off(word):
    assert kernel_path_in_subprocess(PATHDYN_KERNELS=word) == (0, "blas")


@pytest.mark.parametrize("word", ["", "auto", "1"])
def test_default_path_is_the_widest_variant_the_cpu_runs(word):
    assert kernel_path_in_subprocess(PATHDYN_KERNELS=word) == (0, kernels.supported()[-1])


@pytest.mark.parametrize("variant", kernels.PATHS)
def test_each_path_can_be_forced_where_the_cpu_runs_it(variant):
    """CI forces every path in turn; one this CPU lacks is a clear error, never a silent fallback."""
    status, said = kernel_path_in_subprocess(PATHDYN_KERNELS=variant)
    if variant in kernels.supported():
        assert (status, said) == (0, variant)
    else:
        assert status != 0 and f"ConfigError: PATHDYN_KERNELS={variant}: " in said and "paths this machine supports" in said


def test_unknown_path_names_the_choices():
    status, said = kernel_path_in_subprocess(PATHDYN_KERNELS="avx3")
    assert status != 0 and "PATHDYN_KERNELS='avx3' is not a kernel path; use one of auto, blas, avx2, avx512" in said


@pytest.mark.parametrize("disabled,left", [("X86_V3", "blas"), ("AVX2 FMA3", "blas"), ("AVX512F", "avx2"), ("X86_V4", "avx2")])
def test_numpy_cpu_feature_switch_is_honoured(disabled, left):
    """NPY_DISABLE_CPU_FEATURES emulates a lesser CPU: the kernels follow (numpy's spellings
    before and since 2.4)."""
    cpu = variants_the_cpu_runs()
    expected = left if left in cpu else "blas"
    assert kernel_path_in_subprocess(NPY_DISABLE_CPU_FEATURES=disabled) == (0, expected)
    for variant in cpu:  # forcing what the switch rules out is refused (the check bites)
        status, said = kernel_path_in_subprocess(NPY_DISABLE_CPU_FEATURES=disabled, PATHDYN_KERNELS=variant)
        ruled_out = variant == "avx512" or left == "blas"
        assert (status, ruled_out) in ((0, False), (1, True)), said
        assert not ruled_out or "NPY_DISABLE_CPU_FEATURES" in said


@needs_kernels
def test_simulate_reports_kernel_layers_and_more_samples_fall_back(seed):
    data = hierarchical_dataset()
    kw = dict(learning_rate=0.01, steps=2, record_every=1, seed=seed)
    run = simulate_gd((3, 3), data, KERNEL_MIN_WIDTH, **kw)
    assert run.stats["kernel_layers"] == 2 and run.stats["kernel_path"] == kernels.path()
    rng = np.random.default_rng(seed)
    wide = Dataset(X=rng.standard_normal((8, 12)), Y=rng.standard_normal((3, 12)), name="P=12")
    fallback = simulate_gd((3, 3), wide, KERNEL_MIN_WIDTH, **kw).stats
    assert fallback["kernel_layers"] == 0 and fallback["kernel_path"] == "blas"
