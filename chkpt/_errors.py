"""One exception hierarchy for chkpt; every error names the stage it is about."""

from __future__ import annotations

__all__ = [
    "ChkptError",
    "CorruptCheckpointError",
    "InputCountError",
    "SerializationError",
    "StoreWarning",
    "UnsafeStoreError",
]


class ChkptError(Exception):
    """Base class of every error chkpt raises itself."""


class InputCountError(ChkptError, TypeError):
    """A stage is wired to a number of inputs its function cannot take."""


class SerializationError(ChkptError, TypeError):
    """A value cannot be written by any serializer (or by the one the stage asked for)."""


class CorruptCheckpointError(ChkptError):
    """A stored checkpoint failed its integrity check; it is never loaded."""


class UnsafeStoreError(ChkptError, PermissionError):
    """Refusing to unpickle from a directory or file that other users can write."""


class StoreWarning(UserWarning):
    """A checkpoint could not be written or read; the run goes on with the computed value."""
