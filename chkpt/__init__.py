"""chkpt: a tiny pipeline builder with never-stale on-disk checkpoints.

>>> import chkpt
>>> @chkpt.Stage.wrap()
... def one():
...     return 1
>>> (one >> chkpt.Stage(lambda x: x + 1, name="plus_one"))(chkpt.Config(store=False))
2
"""

from . import _events as events
from ._config import Config, default_dir
from ._errors import (
    ChkptError,
    CorruptCheckpointError,
    InputCountError,
    SerializationError,
    StoreWarning,
    UnsafeStoreError,
)
from ._events import Event
from ._fingerprint import fingerprint_code, fingerprint_source, fingerprint_value, make_key
from ._pipeline import Pipeline
from ._report import Plan, PlanStep, Result, StageReport
from ._serializers import Serializer, get_serializer, register_serializer
from ._stage import Stage
from ._store import Entry, Store, open_store
from ._version import __version__

__all__ = [
    "ChkptError",
    "Config",
    "CorruptCheckpointError",
    "Entry",
    "Event",
    "InputCountError",
    "Pipeline",
    "Plan",
    "PlanStep",
    "Result",
    "SerializationError",
    "Serializer",
    "Stage",
    "StageReport",
    "Store",
    "StoreWarning",
    "UnsafeStoreError",
    "__version__",
    "default_dir",
    "events",
    "fingerprint_code",
    "fingerprint_source",
    "fingerprint_value",
    "get_serializer",
    "make_key",
    "open_store",
    "register_serializer",
]
