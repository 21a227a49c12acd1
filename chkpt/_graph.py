"""The graph of a pipeline: unique nodes in topological order, their inputs and consumers.

Needs only ``.stage`` and ``.inputs`` of each pipeline node, so the runner, the planner and
exports walk it without knowing how pipelines are built.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ._pipeline import Pipeline

__all__ = ["Graph"]


class Graph:
    """A pipeline flattened to unique nodes in topological order (inputs before consumers).

    Two occurrences of the same stage over the same inputs are one node, so it runs once.
    Built iteratively: deep chains (10,000+ stages) need no recursion.
    """

    def __init__(self, root: Pipeline) -> None:
        self.nodes: list[Pipeline] = []
        self.inputs: list[tuple[int, ...]] = []
        canon: dict[tuple[int, tuple[int, ...]], int] = {}
        index: dict[int, int] = {}  # id(pipeline object) -> node index
        stack: list[tuple[Pipeline, bool]] = [(root, False)]
        keep_alive = []
        while stack:
            p, expanded = stack.pop()
            if id(p) in index:
                continue
            if not expanded:
                stack.append((p, True))
                stack.extend((q, False) for q in reversed(p.inputs) if id(q) not in index)
                continue
            ins = tuple(index[id(q)] for q in p.inputs)
            sig = (id(p.stage), ins)
            if sig not in canon:
                canon[sig] = len(self.nodes)
                self.nodes.append(p)
                self.inputs.append(ins)
            index[id(p)] = canon[sig]
            keep_alive.append(p)
        self.consumers: list[list[int]] = [[] for _ in self.nodes]
        for i, ins in enumerate(self.inputs):
            for j in dict.fromkeys(ins):
                self.consumers[j].append(i)

    def where(self, i: int) -> str:
        """Human position of node ``i``, for error messages."""
        return f"step {i + 1} of {len(self.nodes)}"
