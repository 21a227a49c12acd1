"""chkpt: a tiny pipeline builder with never-stale on-disk checkpoints.

>>> import chkpt
>>> @chkpt.Stage.wrap()
... def one():
...     return 1
>>> (one >> chkpt.Stage(lambda x: x + 1, name="plus_one"))(chkpt.Config(store=False))
2
"""

# Names are imported on first use (PEP 562), so `import chkpt` costs about a millisecond and
# never imports numpy, pandas or any other optional library. Static tools see the imports below.
from ._version import __version__

TYPE_CHECKING = False  # not `typing.TYPE_CHECKING`: importing typing costs more than chkpt

if TYPE_CHECKING:
    from . import _events as events
    from ._checkpoint import MISSING, Checkpoints, Identity, Persisted
    from ._config import Config, default_dir
    from ._digest import hash_bytes, new_hasher
    from ._errors import (
        ChkptError,
        ChkptWarning,
        ConfigWarning,
        CorruptCheckpointError,
        InputCountError,
        KeyWarning,
        PluginWarning,
        RemoteStageError,
        SerializationError,
        StaleWorkerError,
        StoreWarning,
        UnsafeStoreError,
    )
    from ._events import Event
    from ._fingerprint import fingerprint_code, fingerprint_source, fingerprint_value, make_key
    from ._pipeline import Pipeline
    from ._present import cell_line, format_seconds, format_size, human_reason, stage_line, table
    from ._reads import record_reads
    from ._report import Plan, PlanStep, Result, StageReport
    from ._serializers import Serializer, get_serializer, register_serializer
    from ._stage import Stage
    from ._store import Entry, Store, open_store
    from ._value_types import register_fingerprint
    from ._vocab import Action, EventKind, PlanAction, ReasonKind, State, reason_kind
    from ._warn import warn

_WHERE = {
    "MISSING": "_checkpoint", "Checkpoints": "_checkpoint", "Identity": "_checkpoint",
    "Persisted": "_checkpoint",
    "cell_line": "_present", "format_seconds": "_present", "format_size": "_present",
    "human_reason": "_present", "stage_line": "_present", "table": "_present",
    "Action": "_vocab", "EventKind": "_vocab", "PlanAction": "_vocab", "ReasonKind": "_vocab",
    "State": "_vocab", "reason_kind": "_vocab",
    "Config": "_config", "default_dir": "_config",
    "hash_bytes": "_digest", "new_hasher": "_digest",
    "ChkptError": "_errors", "ChkptWarning": "_errors", "ConfigWarning": "_errors",
    "CorruptCheckpointError": "_errors", "InputCountError": "_errors", "KeyWarning": "_errors",
    "PluginWarning": "_errors", "RemoteStageError": "_errors", "StaleWorkerError": "_errors", "SerializationError": "_errors", "StoreWarning": "_errors", "UnsafeStoreError": "_errors",
    "Event": "_events",
    "fingerprint_code": "_fingerprint", "fingerprint_source": "_fingerprint",
    "fingerprint_value": "_fingerprint", "make_key": "_fingerprint",
    "Pipeline": "_pipeline",
    "Plan": "_report", "PlanStep": "_report", "Result": "_report", "StageReport": "_report",
    "Serializer": "_serializers", "get_serializer": "_serializers", "register_serializer": "_serializers",
    "Stage": "_stage",
    "Entry": "_store", "Store": "_store", "open_store": "_store",
    "record_reads": "_reads",
    "register_fingerprint": "_value_types",
    "warn": "_warn",
}  # fmt: skip

__all__ = [
    "Action", "Checkpoints", "EventKind", "Identity", "MISSING", "Persisted", "PlanAction",
    "ReasonKind", "State", "cell_line", "format_seconds", "format_size", "human_reason",
    "reason_kind", "stage_line", "table", "hash_bytes", "new_hasher",
    "ChkptError", "ChkptWarning", "Config", "ConfigWarning", "CorruptCheckpointError", "Entry", "Event", "InputCountError", "KeyWarning",
    "Pipeline", "PluginWarning", "Plan", "PlanStep", "RemoteStageError", "Result", "SerializationError", "Serializer", "Stage", "StaleWorkerError",
    "StageReport", "Store", "StoreWarning", "UnsafeStoreError", "__version__", "default_dir",
    "events", "fingerprint_code", "fingerprint_source", "fingerprint_value", "get_serializer",
    "make_key", "open_store", "record_reads", "register_fingerprint", "register_serializer",
    "warn",
]  # fmt: skip


def __getattr__(name: str) -> object:
    import importlib

    if name == "events":
        value: object = importlib.import_module("chkpt._events")
    elif name in _WHERE:
        value = getattr(importlib.import_module(f"chkpt.{_WHERE[name]}"), name)
    else:
        raise AttributeError(f"module 'chkpt' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
