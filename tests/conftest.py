"""Shared fixtures: one seed source for every test."""

import numpy as np
import pytest

BASE_SEED = 20221128


@pytest.fixture
def seed():
    """The base seed of the suite; derive others from it, never from the clock."""
    return BASE_SEED


@pytest.fixture
def rng(seed):
    return np.random.default_rng(seed)
