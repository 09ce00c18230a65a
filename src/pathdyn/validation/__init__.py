"""Validation layer: finite-width gradient descent against the reduced theory."""
