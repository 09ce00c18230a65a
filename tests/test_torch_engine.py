"""The PyTorch engine of simulate_gd (pathdyn.validation.network.torch_engine) against the numpy engine.

Every test runs the engine on PyTorch's CPU backend, and on the GPU too where
``torch.cuda.is_available()``. Without PyTorch they are skipped, except the test of the
error a missing PyTorch gives, which runs everywhere.
"""

import sys

import numpy as np
import pytest

from pathdyn.cli.main import main as cli_main
from pathdyn.errors import ConfigError, SimulationError
from pathdyn.numerics.datasets import Dataset, hierarchical_dataset, random_dataset
from pathdyn.validation.network import torch_engine
from pathdyn.validation.network import initialize_weights, simulate_gd

try:
    import torch
except ImportError:
    torch = None

needs_torch = pytest.mark.skipif(torch is None, reason="the PyTorch engine needs torch (pip install 'pathdyn[gpu]')")
#: Empty without PyTorch: every test parametrized over it is then skipped.
DEVICES = [] if torch is None else ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
#: Largest difference from the numpy engine, relative to S_1 (records of U^T Omega_a V)
#: or to the initial loss, over 200 steps. Measured on the CPU backend over ARCHITECTURES:
#: at most 2.5e-16 (float64) and 1.3e-7 (float32); the products sum in another order on a GPU.
MATCH_RTOL = {np.float64: 1e-11, np.float32: 1e-5}

ARCHITECTURES = [
    # depths, activation, loss, activate_last
    ((2, 3), "linear", "mean", False),
    ((1, 4), "linear", "paper", False),
    ((3, 3), "relu", "mean", False),
    ((2, 2, 3), "tanh", "paper", True),
    ((4,), "tanh", "mean", False),
    ((2, 5), "relu", "paper", True),
]


def run_both(depths, data, width, device, **options):
    numpy_run = simulate_gd(depths, data, width, **options)
    torch_run = simulate_gd(depths, data, width, device=device, **options)
    return numpy_run, torch_run


def mismatch(numpy_run, torch_run) -> tuple:
    """(records of U^T Omega_a V relative to S_1, loss relative to the initial loss)."""
    S1 = numpy_run.extras["singular_values"][0]
    proj = np.max(np.abs(numpy_run.extras["UtOmegaV"] - torch_run.extras["UtOmegaV"])) / S1
    loss = np.max(np.abs(numpy_run.loss - torch_run.loss)) / np.max(numpy_run.loss[0])
    return float(proj), float(loss)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("depths, activation, loss, activate_last", ARCHITECTURES)
def test_device_engine_matches_numpy_engine(depths, activation, loss, activate_last, dtype, device):
    """Same initial weights, data and record steps: same records and final weights to rounding."""
    data = random_dataset([2.0, 1.4, 0.9, 0.5], seed=1)
    eta = 0.01 if loss == "mean" else 0.01 / (2 * data.num_samples)
    numpy_run, torch_run = run_both(depths, data, 40, device, learning_rate=eta, steps=200, record_every=9,
                                    activation=activation, loss=loss, activate_last=activate_last, dtype=dtype,
                                    init_scale=0.6, seed=3)
    assert np.array_equal(numpy_run.step, torch_run.step) and np.array_equal(numpy_run.t, torch_run.t)
    assert numpy_run.step[-1] == 200
    proj, loss_diff = mismatch(numpy_run, torch_run)
    assert proj <= MATCH_RTOL[dtype] and loss_diff <= MATCH_RTOL[dtype], (proj, loss_diff)
    # The network moved: a comparison of two untrained networks would prove nothing.
    records = numpy_run.extras["UtOmegaV"]
    assert np.max(np.abs(records[-1] - records[0])) > 0.01 * numpy_run.extras["singular_values"][0]
    assert numpy_run.loss[-1] < numpy_run.loss[0]
    for path_n, path_t in zip(numpy_run.extras["final_weights"], torch_run.extras["final_weights"]):
        for w_n, w_t in zip(path_n, path_t):
            assert w_t.dtype == w_n.dtype and w_t.flags.f_contiguous
            assert np.max(np.abs(w_n - w_t)) <= MATCH_RTOL[dtype] * max(1.0, np.max(np.abs(w_n)))
    assert torch_run.stats["engine"].startswith("torch:") and torch_run.provenance["device"] != "numpy"


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_deferred_updates_and_seed_stack_match(dtype, device):
    """Deferred rank-r updates (folded every 2 steps) and several seeds stepped as one stack."""
    data = hierarchical_dataset()
    options = dict(learning_rate=0.01, steps=101, record_every=10, seeds=[0, 4, 7], deferred_rank=16, dtype=dtype,
                   init_scale=0.5)
    numpy_run, torch_run = run_both((3, 4), data, 80, device, **options)
    assert numpy_run.stats["deferred_layers"] == torch_run.stats["deferred_layers"] == 3
    assert torch_run.K.shape == numpy_run.K.shape == (12, 3, 2, 8)
    proj, loss_diff = mismatch(numpy_run, torch_run)
    assert proj <= MATCH_RTOL[dtype] and loss_diff <= MATCH_RTOL[dtype], (proj, loss_diff)
    # Member s of the stack is the network of seed s run alone.
    alone = simulate_gd((3, 4), data, 80, device=device, seed=4, **{k: v for k, v in options.items() if k != "seeds"})
    assert np.max(np.abs(alone.K - torch_run.K[:, 1])) <= MATCH_RTOL[dtype]


@pytest.mark.parametrize("device", DEVICES)
def test_rank_deficient_inputs_record_through_the_weights(device, rng):
    """n_in > P: linear pathways record U^T Omega_a V through the weight product, as the numpy engine."""
    data = Dataset(X=rng.standard_normal((6, 4)), Y=rng.standard_normal((3, 4)), name="wide inputs")
    for seeds in (None, [0, 2]):  # one network; a stack (the numpy engine stacks too at this width)
        numpy_run, torch_run = run_both((2, 3), data, 20, device, learning_rate=0.02, steps=60, record_every=6,
                                        seeds=seeds)
        assert max(mismatch(numpy_run, torch_run)) <= MATCH_RTOL[np.float64]


@pytest.mark.parametrize("device", DEVICES)
def test_a_wrong_update_order_is_caught(device, monkeypatch):
    """The comparison can fail: an engine that updates each layer before taking the next
    layer's backward product (the gradient then mixes steps k and k + 1) is caught in both dtypes."""

    def update_first(self, eta):
        for a, pw in enumerate(self.W):
            G = self.G[a][len(pw) - 1]
            self.torch.mul(self.E, self.scale, out=G)
            for d in range(len(pw) - 1, -1, -1):
                h_in = self.X_stack if d == 0 else self.h[a][d - 1]
                self._update(a, d, G, h_in, eta)
                if d > 0:
                    G = self._apply(a, d, G, self.G[a][d - 1], transpose=True)

    data = random_dataset([2.0, 1.4, 0.9, 0.5], seed=1)
    monkeypatch.setattr(torch_engine.TorchEngine, "backward_update", update_first)
    for dtype in (np.float64, np.float32):
        numpy_run, torch_run = run_both((2, 3), data, 40, device, learning_rate=0.01, steps=200, record_every=9,
                                        dtype=dtype, init_scale=0.6, seed=3)
        assert mismatch(numpy_run, torch_run)[0] > 10 * MATCH_RTOL[dtype]


@pytest.mark.parametrize("device", DEVICES)
def test_divergence_gives_the_numpy_engines_error(device):
    """A deterministic blow-up (a too-large step from a large initial network): the same message."""
    data = random_dataset([2.0, 1.4, 0.9, 0.5], seed=1)
    messages = []
    for engine in ("numpy", device):
        with pytest.raises(SimulationError, match="diverged at step") as caught:
            simulate_gd((2, 2), data, 30, learning_rate=0.6, steps=400, seeds=[5, 6], init_scale=1.0, device=engine)
        messages.append(str(caught.value))
    assert messages[0] == messages[1]


@pytest.mark.parametrize("device", DEVICES)
def test_divergence_watch_names_the_first_failing_step_between_checks(device):
    """The device keeps the verdict of every step; a check CHECK_EVERY steps later still names the
    first step that failed (NaN or above the limit), the seed, and that step's loss."""
    every = torch_engine.CHECK_EVERY
    limit = np.array([10.0, 10.0, 10.0])
    watch = torch_engine._DivergenceWatch(torch, np.ones(3), limit, torch.device(device))
    first = {0: every + 30, 2: every + 20}  # member 2 fails first, with NaN; member 0 later, above the limit
    for step in range(1, 2 * every + 1):
        values = [1.0, 2.0, 3.0]
        if step >= first[0]:
            values[0] = 11.0 + step
        if step >= first[2]:
            values[2] = float("nan")
        watch.observe(step, torch.tensor(values, dtype=torch.float64, device=device))
        if step == every:
            watch.check([7, 8, 9], 0.1)  # nothing failed yet
    with pytest.raises(SimulationError, match=rf"at step {every + 20} \(seed 9\): loss nan is not finite"):
        watch.check([7, 8, 9], 0.1)
    watch = torch_engine._DivergenceWatch(torch, np.ones(3), limit, torch.device(device))
    for step in range(1, 2 * every + 1):
        values = [11.0 + step if step >= first[0] else 1.0, 2.0, 3.0]
        watch.observe(step, torch.tensor(values, dtype=torch.float64, device=device))
    with pytest.raises(SimulationError, match=rf"at step {every + 30} \(seed 7\): loss {11 + every + 30} exceeds 10"):
        watch.check([7, 8, 9], 0.1)


def _allocated_bytes_on_cpu(fn) -> int:
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        fn()
    return sum(max(event.self_cpu_memory_usage, 0) for event in prof.key_averages())


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("activation", ["linear", "relu", "tanh"])
def test_steps_allocate_nothing_on_the_device(activation, device):
    """After the first fold cycle a step (forward, divergence test, record, backward and update,
    deferred products and folds) allocates no device memory: every buffer is reused."""
    data = hierarchical_dataset()
    nets = [initialize_weights((3, 3), data.n_in, data.n_out, 80, seed=s) for s in (0, 1)]
    weights = [[torch.tensor(np.stack([n[a][d] for n in nets]), device=device) for d in range(len(nets[0][a]))]
               for a in range(2)]
    engine = torch_engine.TorchEngine(weights, data.X, data.Y, activation, True, "mean", deferred_rank=16)
    assert sum(x is not None for row in engine.deferred for x in row) == 2
    from pathdyn.validation.network.recorder import Recorder

    records = torch_engine._DeviceRecorder(Recorder(data, activation, np.float64), engine, 8)
    values = records.loss_values(engine.forward())
    watch = torch_engine._DivergenceWatch(torch, values.cpu().numpy(), np.full(2, 1e9), engine.device)

    def steps(count=6):
        for step in range(1, count + 1):
            watch.observe(step, records.loss_values(engine.forward()))
            records.record(step % 8)
            engine.backward_update(1e-3)

    with torch.no_grad():
        steps()  # the first fold cycle makes the buffers of the deferred products
        if device == "cuda":
            torch.cuda.synchronize()
            before = torch.cuda.memory_stats()["allocation.all.allocated"]
            steps()
            torch.cuda.synchronize()
            assert torch.cuda.memory_stats()["allocation.all.allocated"] == before
        else:
            assert _allocated_bytes_on_cpu(steps) == 0
            # ... and the measurement sees an allocation when there is one.
            assert _allocated_bytes_on_cpu(lambda: engine.E + 1) > 0


@needs_torch
def test_device_option_errors():
    with pytest.raises(ConfigError, match=r"device: 'tpu' is not a device; use numpy"):
        torch_engine.resolve_device("tpu")
    with pytest.raises(ConfigError, match=r"device: 3 is not a device"):
        torch_engine.resolve_device(3)
    assert torch_engine.resolve_device("numpy") == "numpy" and torch_engine.resolve_device("cpu") == "cpu"


@needs_torch
@pytest.mark.skipif(torch is not None and torch.cuda.is_available(), reason="a GPU is present")
def test_cuda_without_a_gpu_is_one_line_and_exit_2(tmp_path, capsys):
    out = tmp_path / "run.npz"
    code = cli_main(["simulate", "--depths", "2,2", "--width", "8", "--learning-rate", "0.01", "--steps", "2",
                     "-o", str(out), "--device", "cuda"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "no CUDA GPU" in err and not out.exists()


@pytest.mark.parametrize("command", [
    ["simulate", "--depths", "2,2", "--width", "8", "--learning-rate", "0.01", "--steps", "2", "-o", "OUT"],
    ["validate", "--widths", "8,16", "--seeds", "0", "--t-max", "0.1"],
    ["concentration", "--depths", "2", "--seeds", "1", "--t-max", "0.1"],
])
def test_without_torch_the_device_option_names_the_extra(command, tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # import torch now raises ImportError
    command = [str(tmp_path / "run.npz") if c == "OUT" else c for c in command]
    code = cli_main(command + ["--device", "cuda", "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "pip install 'pathdyn[gpu]'" in err, err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("device", DEVICES)
def test_cli_simulate_on_the_device_writes_the_same_run(device, tmp_path):
    files = {}
    for engine in ("numpy", device):
        files[engine] = tmp_path / f"{engine}.npz"
        code = cli_main(["simulate", "--depths", "2,3", "--width", "32", "--dataset", "random:2,1,0.5",
                         "--learning-rate", "0.01", "--steps", "150", "--record-every", "25", "--float32",
                         "-o", str(files[engine]), "--device", engine, "--no-progress"])
        assert code == 0
    with np.load(files["numpy"]) as a, np.load(files[device]) as b:
        assert np.array_equal(a["step"], b["step"])
        assert np.max(np.abs(a["UtOmegaV"] - b["UtOmegaV"])) <= MATCH_RTOL[np.float32] * 2.0
        assert '"device": "numpy"' in str(a["config"]) and f'"device": "{device}' in str(b["config"])


@pytest.mark.filterwarnings("ignore:measure_concentration:UserWarning")  # short runs do not finish learning
@pytest.mark.parametrize("device", DEVICES)
def test_validate_and_concentration_pass_the_device_through(device):
    from pathdyn.validation.sweep.concentration import measure_concentration
    from pathdyn.validation.sweep.width import validate_width

    reports = [validate_width((2, 2), (16, 32), seeds=(0,), t_max=1.0, learning_rate=0.01, record_points=5,
                              measure_lr_floor=True, device=engine) for engine in ("numpy", device)]
    assert np.max(np.abs(reports[0].errors - reports[1].errors)) <= MATCH_RTOL[np.float64]
    assert abs(reports[0].lr_floor - reports[1].lr_floor) <= MATCH_RTOL[np.float64]
    results = [measure_concentration((2,), ("linear", "relu"), (0, 1), width=16, t_max=1.0, learning_rate=0.01,
                                     race=False, device=engine) for engine in ("numpy", device)]
    for activation in ("linear", "relu"):
        assert np.max(np.abs(results[0].fractions[activation] - results[1].fractions[activation])) <= 1e-9


@pytest.mark.parametrize("device", DEVICES)
def test_memory_estimate_matches_what_the_engine_holds(device):
    """``estimate_device_memory`` (which sizes the benchmark's largest width) against the bytes of
    every tensor the engine holds after a fold cycle: within 1% (the rest is X, Y and the loss buffers)."""
    from pathdyn.validation.network import network_widths

    data = hierarchical_dataset()
    sizes = network_widths((3, 4), data.n_in, data.n_out, 300)
    nets = [initialize_weights((3, 4), data.n_in, data.n_out, 300, seed=s, dtype=np.float32) for s in (0, 1)]
    weights = [[torch.tensor(np.stack([n[a][d] for n in nets]), device=device) for d in range(len(nets[0][a]))]
               for a in range(2)]
    engine = torch_engine.TorchEngine(weights, data.X, data.Y, "relu", False, "mean", deferred_rank=16)
    with torch.no_grad():
        for _ in range(3):
            engine.forward()
            engine.backward_update(1e-3)
    tensors = [value for value in vars(engine).values() if isinstance(value, torch.Tensor)]
    for group in (engine.W, engine.z, engine.h, engine.G, engine.deriv, engine.deferred):
        tensors += [t for row in group for item in row if item is not None
                    for t in (item[:2] if isinstance(item, list) else [item])]
    tensors += list(engine._small.values())
    held = sum(t.untyped_storage().nbytes() for t in {t.untyped_storage().data_ptr(): t for t in tensors}.values())
    estimate = torch_engine.estimate_device_memory(sizes, data.num_samples, np.float32, 16, batch=2)
    # Measured 0.1% apart; leaving out the thin buffers (13%) or the deferred factors (8%) fails.
    assert abs(held - estimate) <= 0.01 * estimate, (held, estimate)
