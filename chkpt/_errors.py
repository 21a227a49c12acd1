"""One exception hierarchy and one warning hierarchy for chkpt; each names the stage it is about.

Filter every chkpt warning at once with ``warnings.simplefilter("ignore", chkpt.ChkptWarning)``,
or turn them into errors in tests with ``-W error::chkpt.ChkptWarning``.
"""

from __future__ import annotations

__all__ = [
    "ChkptError",
    "ChkptWarning",
    "ConfigWarning",
    "CorruptCheckpointError",
    "InputCountError",
    "PluginWarning",
    "RemoteStageError",
    "StaleWorkerError",
    "KeyWarning",
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


class RemoteStageError(ChkptError):
    """A stage could not run on an executor's worker: it could not be sent there or loaded there,
    its result or exception could not come back, or the worker died. The cause is ``__cause__``."""


class StaleWorkerError(RemoteStageError):
    """A long-lived worker holds other code for a stage than this process: nothing was stored."""


class ChkptWarning(UserWarning):
    """Base class of every warning chkpt emits; each is attributed to the user's line."""


class StoreWarning(ChkptWarning):
    """A checkpoint could not be written or read; the run goes on with the computed value.

    The message always names the stage.
    """


class PluginWarning(ChkptWarning):
    """A ``chkpt.serializers`` entry point could not be loaded; it is skipped, the run goes on."""


class ConfigWarning(ChkptWarning):
    """A Config names something the pipeline does not have (a typo in ``load``/``store``/``force``)."""


class KeyWarning(ChkptWarning):
    """A stage reads something its key cannot describe (an unhashable global, the environment)."""
