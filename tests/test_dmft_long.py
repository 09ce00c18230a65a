"""Long training: the DMFT march holds K once every mode is learned (``freeze_below``).

The bound (``solve_dmft``'s Notes): once every mode's ``|e_t| <= freeze_below`` (and gradient
descent does not overshoot), each ``K_a`` changes by at most ``|e_t|`` more. Storage grows
with the steps marched (``_Pathway.reserve``).
"""

import numpy as np
import pytest

import pathdyn.numerics.dmft as dmft
from pathdyn.errors import ConfigError
from pathdyn.numerics.dmft import solve_dmft, solve_dmft_flow

S = [2.0, 1.4, 0.9, 0.5]


@pytest.mark.parametrize("depths", [(3, 3), (4, 4)])
def test_held_march_is_the_full_march_within_its_threshold(depths):
    """Depths 3,3 and 4,4, sigma 0.5, four modes, eta 0.08 over t = 24 (300 steps; the modes are
    learned by t of about 10): the held march is within ``freeze_below`` of every step of the full
    march, stopped well before the end, and holds K from there.

    Not vacuous: K still moves after the hold (the gap is not zero), and a deliberately wrong
    rule, holding from the step where the first mode alone is learned (mode 4 still on its way),
    is far outside the bound.
    """
    eta, steps, threshold = 0.08, 300, 2e-4
    full = solve_dmft(depths, S, learning_rate=eta, steps=steps, init_scale=0.5)
    held = solve_dmft(depths, S, learning_rate=eta, steps=steps, init_scale=0.5, freeze_below=threshold)
    stop = held.stats["marched_steps"]
    assert stop < steps // 2
    gap = np.max(np.abs(held.K - full.K))
    assert 0 < gap <= threshold
    assert np.all(held.K[stop:] == held.K[stop])
    error = np.asarray(S) - full.K.sum(axis=1)
    first_learned = int(np.argmax(np.abs(error[:, 0]) <= threshold))
    wrong = np.max(np.abs(full.K[first_learned] - full.K[-1]))
    assert wrong > 100 * threshold


def test_growing_storage_equals_the_preallocated_march(monkeypatch):
    """Storage that starts at 7 rows and doubles (a threshold never reached) gives the preallocated
    march bit for bit: growing copies the packed triangles unchanged. Depths 4,3 (distinct pathways)."""
    monkeypatch.setattr(dmft, "INITIAL_ROWS", 7)
    full = solve_dmft((4, 3), [2.0, 0.7], learning_rate=0.05, steps=90, init_scale=0.5)
    grown = solve_dmft((4, 3), [2.0, 0.7], learning_rate=0.05, steps=90, init_scale=0.5, freeze_below=1e-300)
    assert grown.stats["marched_steps"] == 90
    assert np.array_equal(full.K, grown.K)


def test_long_march_memory_follows_the_steps_marched():
    """10,000 steps (t = 200) of depths 3,3: the full march would need 6 GiB per mode and is refused;
    the held one marches a few hundred steps. A march whose modes are not learned in time is refused
    as it grows, with the option to change."""
    with pytest.raises(ConfigError, match="GiB"):
        solve_dmft((3, 3), S, learning_rate=0.02, steps=10_000, init_scale=0.5)
    held = solve_dmft((3, 3), S, learning_rate=0.1, steps=2_000, init_scale=0.5, freeze_below=1e-4)
    assert held.stats["marched_steps"] < 300 and np.allclose(held.K[-1].sum(axis=0), S, atol=1e-4)
    with pytest.raises(ConfigError, match="freeze_below"):
        solve_dmft((3,), [2.0], learning_rate=0.1, steps=20, init_scale=0.5, freeze_below=-1.0)


def test_flow_reaches_t_40_and_200_with_the_same_answer():
    """The continuous-time DMFT at t_max = 40 and 200 (it stopped short at 40 before): both succeed,
    and they agree with each other and with a short run on their common times, within tol."""
    runs = {t_max: solve_dmft_flow((3, 3), [2.0, 0.5], t_max=t_max, num_points=int(t_max) + 1, init_scale=0.5)
            for t_max in (8.0, 40.0, 200.0)}
    assert all(run.success for run in runs.values())
    scale = 2.0 * 1e-3 * 2  # two solutions, each within tol * max S (1e-3 * 2)
    assert np.max(np.abs(runs[40.0].K[:9] - runs[8.0].K)) <= scale
    assert np.max(np.abs(runs[200.0].K[:41] - runs[40.0].K)) <= scale
    assert runs[200.0].stats["marched_steps"] < runs[200.0].stats["steps"] // 4
