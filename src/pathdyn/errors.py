"""Domain exceptions shared by every layer of pathdyn.

Each subclasses a built-in (``ValueError`` for bad input, ``RuntimeError`` for
failures while computing) and :class:`PathdynError`, which the command-line tool
turns into one clear line and a non-zero exit.
"""


class PathdynError(Exception):
    """Base class of every error pathdyn raises on purpose."""


class ArchitectureError(PathdynError, ValueError):
    """An architecture specification is invalid; the message lists every problem."""


class DatasetError(PathdynError, ValueError):
    """A dataset (X, Y, singular values, file) is malformed."""


class DerivationError(PathdynError, RuntimeError):
    """A symbolic derivation failed a consistency check."""


class IntegrationError(PathdynError, RuntimeError):
    """Integration of the reduced equations failed (blow-up, overflow, stiffness)."""


class SimulationError(PathdynError, RuntimeError):
    """Gradient descent on a finite network failed (divergence, overflow)."""


class ConfigError(PathdynError, ValueError):
    """An option or configuration value is invalid."""
