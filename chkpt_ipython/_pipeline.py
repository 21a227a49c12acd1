"""The notebook's stage cells as real ``chkpt.Stage``s, wired into one ``chkpt.Pipeline``.

A cell's stage has the cell's normalised source as its code (``version``), the values of the
names it reads that no stage cell produced as its bound parameters (so the core keys them by
value and explains "parameters changed: WINDOW 7 -> 14"), and the stage cells whose values it
reads as its inputs (graph edges, keyed by their digests). So the core's ``plan()``, ``to_dot()``
and reports apply to a notebook as to a script, and staleness propagates downstream.

When a cell reads a value produced by a cell that (transitively) reads its own outputs (cells
run out of order), that edge would close a cycle: the value is then a parameter, by value.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import chkpt

from . import _execute
from ._inputs import ABSENT, CellInputs, classify, fingerprint_input, source_fingerprint
from ._payload import collect
from ._record import Producer, StageRecord

__all__ = ["CellStage", "NotebookPipeline", "ROOT", "build"]

ROOT = "(notebook)"  # the stage joining several final stage cells into one pipeline output

Fingerprinter = Callable[[str, Any], "str | None"]


class _RunCell:
    """A stage cell's function: runs the cell's code in the notebook's namespace and returns its
    payload (used when the core runs the notebook pipeline; ``%%chkpt_stage`` cells themselves
    run through the cell runner, which also records and replays their displays)."""

    def __init__(self, shell: Any, record: StageRecord) -> None:
        self.shell, self.record = shell, record
        self.__name__ = self.__qualname__ = record.name

    def __call__(self, *upstream: Any, **params: Any) -> dict[str, Any]:
        value = _execute.run_source(self.shell, self.record.source, self.record.raw)
        return collect(self.shell, self.record, {"records": [], "before_value": 0}, value)


class CellStage(chkpt.Stage):
    """One ``%%chkpt_stage`` cell as a stage: code = its source, parameters = the values it reads."""

    def __init__(
        self,
        shell: Any,
        record: StageRecord,
        params: dict[str, Any],
        fingerprint: Fingerprinter | None = None,
    ) -> None:
        super().__init__(
            _RunCell(shell, record),
            name=record.name,
            version=source_fingerprint(record.source),
            serializer=record.serializer,
            params=params,
        )
        self.record = record
        self._fingerprint = fingerprint or (lambda _var, value: fingerprint_input(value))

    def check_inputs(self, count: int, where: str) -> None:
        """A cell takes its upstream values from the namespace: any number of inputs fits."""

    def param_fingerprints(self) -> dict[str, str]:
        """Each parameter's fingerprint; a value that cannot be hashed makes the cell uncacheable."""
        digests = {}
        for var in sorted(self.params):
            value = self.params[var]
            digest = ABSENT if value is ABSENT else self._fingerprint(var, value)
            if digest is None:
                raise TypeError(
                    f"input {var!r} ({type(value).__qualname__}) cannot be fingerprinted"
                )
            digests[var] = digest
        return digests


def _join(*payloads: Any) -> list[Any]:
    """The output of a notebook with several final stage cells: their payloads."""
    return list(payloads)


@dataclasses.dataclass
class NotebookPipeline:
    """The pipeline of the notebook's stage cells, and what each cell reads from where."""

    pipeline: chkpt.Pipeline[Any] | None
    stages: dict[str, CellStage]
    inputs: dict[str, CellInputs]
    upstream: dict[str, list[str]]  # stage -> the stage cells it reads from, in input order

    def identify(
        self, policy: chkpt.Checkpoints, name: str, digests: Mapping[str, str]
    ) -> chkpt.Identity:
        """A cell's identity given the digests of the values its upstream cells produced."""
        names = tuple(self.upstream[name])
        return policy.identify(self.stages[name], names, tuple(digests[n] for n in names))


def build(
    shell: Any,
    records: Sequence[StageRecord],
    producers: Mapping[str, Producer],
    fingerprint: Fingerprinter | None = None,
) -> NotebookPipeline:
    """The notebook pipeline for the current namespace (edges follow what names hold now)."""
    ns = shell.user_ns
    hidden = getattr(shell, "user_ns_hidden", None)
    names = [r.name for r in records]
    by_name = {r.name: r for r in records}
    inputs = {r.name: classify(r.reads, ns, producers, hidden, names) for r in records}
    stages: dict[str, CellStage] = {}
    pipes: dict[str, chkpt.Pipeline[Any]] = {}
    upstream: dict[str, list[str]] = {}
    state: dict[str, int] = {}  # 1: being built, 2: built

    def make(name: str) -> None:
        state[name] = 1
        cell = inputs[name]
        params = dict(cell.params)
        ups: list[str] = []
        for var, up in cell.edges.items():
            if up != name and state.get(up) != 1:
                if up not in state:
                    make(up)
                if up not in ups:
                    ups.append(up)
            else:  # its own earlier output, or a cycle: keyed by value
                params[var] = ns[var]
        stages[name] = CellStage(shell, by_name[name], params, fingerprint)
        upstream[name] = ups
        pipes[name] = chkpt.Pipeline(stages[name], [pipes[u] for u in ups])
        state[name] = 2

    for name in names:
        if name not in state:
            make(name)
    used = {u for ups in upstream.values() for u in ups}
    sinks = [pipes[n] for n in names if n not in used]
    if not sinks:
        root = None
    elif len(sinks) == 1:
        root = sinks[0]
    else:
        joined = chkpt.Stage(_join, name=ROOT, version=1)
        root = chkpt.Pipeline(joined, sinks)
    return NotebookPipeline(root, stages, inputs, upstream)
