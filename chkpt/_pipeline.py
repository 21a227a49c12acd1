"""Pipelines: immutable expressions of stages and their inputs, walked without recursion."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from ._graph import Graph

if TYPE_CHECKING:
    from ._config import Config
    from ._report import Plan, Result
    from ._stage import Stage

__all__ = ["Composable", "Pipeline", "Graph", "as_inputs"]


class Composable:
    """The wiring operators of a stage: ``a >> b``, ``b << a``, ``(a, b) >> c``, ``() >> a``.

    ``Stage`` inherits them; defining them here keeps the module order one way
    (stage -> pipeline -> runner), with no import cycle.
    """

    __slots__ = ()

    def __rshift__(self, other: Any) -> Pipeline:
        result: Pipeline = Pipeline(self) >> other  # type: ignore[arg-type]
        return result

    def __rrshift__(self, other: Any) -> Pipeline:
        return Pipeline(self, as_inputs(other, self))  # type: ignore[arg-type]

    def __lshift__(self, other: Any) -> Pipeline:
        return Pipeline(self, as_inputs(other, self))  # type: ignore[arg-type]


R = TypeVar("R")  # what the pipeline's output stage returns
R2 = TypeVar("R2")


def as_inputs(other: Any, consumer: Stage[..., Any]) -> tuple[Pipeline[Any], ...]:
    """Normalise the left side of ``x >> stage`` / right side of ``stage << x`` to input pipelines."""
    items = other if isinstance(other, tuple) else (other,)
    inputs = []
    for item in items:
        if isinstance(item, Composable):
            item = Pipeline(item)  # type: ignore[arg-type]
        if not isinstance(item, Pipeline):
            raise TypeError(
                f"stage {consumer.name!r}: inputs must be stages or pipelines, got {type(item).__qualname__}"
            )
        inputs.append(item)
    return tuple(inputs)


class Pipeline(Generic[R]):
    """A stage applied to the outputs of input pipelines. Call it to run it.

    ``Pipeline[R]``: running it returns what its output stage returns (``R``).


    >>> from chkpt import Stage
    >>> a = Stage(lambda: 2, name="a")
    >>> b = Stage(lambda x: x + 1, name="b")
    >>> (a >> b).to_json()["nodes"]
    [{'id': 0, 'stage': 'a', 'inputs': []}, {'id': 1, 'stage': 'b', 'inputs': [0]}]
    """

    __slots__ = ("stage", "inputs")

    def __init__(self, stage: Stage[..., R], inputs: Iterable[Pipeline[Any]] = ()) -> None:
        if not isinstance(stage, Composable):
            raise TypeError(f"Pipeline needs a Stage, got {type(stage).__qualname__}")
        self.stage = stage
        self.inputs = tuple(inputs)

    def __repr__(self) -> str:
        g = Graph(self)
        return f"<Pipeline {self.stage.name}: {len(g.nodes)} stage{'s' * (len(g.nodes) != 1)}>"

    # -- building ------------------------------------------------------------------------------

    def __rshift__(self, other: Stage[..., R2]) -> Pipeline[R2]:
        if isinstance(other, Composable):
            return Pipeline(other, (self,))
        raise TypeError(
            f"cannot pipe into a {type(other).__qualname__}: the right side of >> must be a stage "
            f"(to combine pipelines, use (p1, p2) >> stage)"
        )

    def __rrshift__(self, other: Any) -> Pipeline[Any]:
        raise TypeError("the right side of >> must be a stage, not a pipeline")

    def __lshift__(self, other: Any) -> Pipeline[Any]:
        raise TypeError(
            f"{self.stage.name!r} is already a pipeline; parenthesise chains of <<, "
            f"e.g. c << (b << a)"
        )

    # -- running -------------------------------------------------------------------------------

    def __call__(self, config: Config | None = None) -> R:
        """Run the pipeline and return the final stage's value."""
        value: R = self.run(config).value
        return value

    def run(self, config: Config | None = None) -> Result:
        """Run the pipeline; the result holds the value and a per-stage report."""
        from ._runner import run

        return run(self, config)

    def plan(self, config: Config | None = None) -> Plan:
        """What a run would do, per stage, without running anything."""
        from ._runner import plan

        return plan(self, config)

    # -- export --------------------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        """The graph as plain data: nodes in execution order, inputs by node id."""
        g = Graph(self)
        nodes = [
            {"id": i, "stage": n.stage.name, "inputs": list(g.inputs[i])}
            for i, n in enumerate(g.nodes)
        ]
        return {"nodes": nodes, "output": len(nodes) - 1}

    def to_dot(self, states: dict[str, str] | None = None) -> str:
        """Graphviz DOT text (no dependency). ``states`` maps stage names to a fill colour name."""
        import json

        g = Graph(self)
        lines = [
            "digraph pipeline {",
            '  rankdir=LR; node [shape=box, style="rounded,filled", fillcolor=white, fontname=Helvetica];',
        ]
        for i, node in enumerate(g.nodes):
            label = json.dumps(node.stage.name)
            color = (states or {}).get(node.stage.name)
            fill = f", fillcolor={json.dumps(color)}" if color else ""
            lines.append(f"  n{i} [label={label}{fill}];")
        for i, ins in enumerate(g.inputs):
            lines.extend(f"  n{j} -> n{i};" for j in ins)
        lines.append("}")
        return "\n".join(lines)

    def _repr_svg_(self) -> str | None:
        """The graph as SVG, through the ``graphviz`` package and its ``dot`` program (else None)."""
        try:
            import graphviz

            svg: str = graphviz.Source(self.to_dot()).pipe(format="svg").decode()
            return svg
        except Exception:  # no package, or no `dot` program
            return None

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        """Notebook rendering: SVG when Graphviz is available, else a readable list."""
        bundle: dict[str, Any] = {"text/plain": repr(self)}
        svg = self._repr_svg_()
        if svg is not None:
            bundle["image/svg+xml"] = svg
        else:
            import html

            rows = "".join(
                f"<li>{html.escape(n['stage'])} ← {n['inputs']}</li>"
                for n in self.to_json()["nodes"]
            )
            bundle["text/html"] = f"<ol start=0>{rows}</ol>"
        return bundle
