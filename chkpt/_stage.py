"""Stages: plain functions that know their name, version, serializer and bound parameters."""

from __future__ import annotations

import functools
import threading
import types

from ._errors import InputCountError
from ._pipeline import Composable

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable
    from typing import Any, Generic, ParamSpec, TypeVar

    from ._fingerprint import CodeFingerprint
    from ._pipeline import Pipeline
    from ._serializers import Serializer

    P = ParamSpec("P")
    R = TypeVar("R")
    R2 = TypeVar("R2")
    WP = ParamSpec("WP")  # wrap() is generic on its own: the class's P, R are not bound there
    WR = TypeVar("WR")

    class _Generic(Generic[P, R]):
        """Type checkers see ``Stage[P, R]``: the wrapped function's parameters and result."""

else:  # at run time ``Stage[...]`` is ``Stage``, without importing `typing` (about 10 ms)
    P = R = None

    class _Generic:
        def __class_getitem__(cls, item: object) -> type:
            return cls

# Fingerprinting, serializers and `inspect` are imported on first use: defining stages at import
# time of a user's module stays cheap.

__all__ = ["Stage"]


def _signature(func: Callable[..., Any]) -> Any:
    import inspect

    return inspect.signature(func)


def _module_attribute(func: Any) -> Any:
    """What ``func``'s module-level qualified name refers to now (None if nothing)."""
    import sys

    obj: Any = sys.modules.get(getattr(func, "__module__", None) or "")
    for part in getattr(func, "__qualname__", "<none>").split("."):
        obj = getattr(obj, part, None)
    return obj


# Set while ``Stage.__reduce__`` runs cloudpickle itself: stages met inside are then being pickled
# by cloudpickle, which handles their functions (and recursion through its memo) on its own.
_in_cloudpickle = threading.local()


def _cloudpickle() -> Any:
    try:
        import cloudpickle
    except ImportError:
        return None
    return cloudpickle


def _rebuild(
    func: Any,
    name: str,
    version: Any,
    serializer: Any,
    params: dict[str, Any],
    env: tuple[str, ...] = (),
) -> Stage:
    stage = Stage(
        func.func if isinstance(func, Stage) else func,
        name=name,
        version=version,
        serializer=serializer,
        env=env,
    )
    stage.params = dict(params)
    return stage


def _rebuild_by_value(blob: bytes) -> Stage:
    import pickle

    return _rebuild(*pickle.loads(blob))


class Stage(Composable, _Generic[P, R]):
    """One unit of work: a function plus what identifies its results.

    ``Stage[P, R]`` keeps the wrapped function's signature for type checkers and IDEs: calling
    a stage is checked like calling its function, and returns what the function returns.

    >>> @Stage.wrap()
    ... def double(x):
    ...     return 2 * x
    >>> double(21), double.func(21), double.name
    (42, 42, 'double')
    """

    def __init__(
        self,
        func: Callable[P, R],
        *,
        name: str | None = None,
        version: str | int | None = None,
        serializer: str | Serializer | None = None,
        params: dict[str, Any] | None = None,
        env: Iterable[str] = (),
    ) -> None:
        if not callable(func):
            raise TypeError(f"Stage needs a callable, got {type(func).__qualname__}")
        self.func: Callable[P, R] = func
        self.name: str = (
            name if name is not None else getattr(func, "__name__", type(func).__name__)
        )
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"stage name must be a non-empty string, got {self.name!r}")
        self.version = version
        if serializer is not None:
            from ._serializers import get_serializer

            serializer = get_serializer(serializer)
        self.serializer = serializer
        self.params: dict[str, Any] = dict(params or {})
        if isinstance(env, str):
            env = (env,)
        self.env: tuple[str, ...] = tuple(env)  # environment variables that are inputs
        functools.update_wrapper(self, func, updated=())

    @classmethod
    def wrap(
        cls,
        name: str | None = None,
        *,
        version: str | int | None = None,
        serializer: str | Serializer | None = None,
        env: Iterable[str] = (),
    ) -> Callable[[Callable[WP, WR]], Stage[WP, WR]]:
        """Decorator: ``@Stage.wrap()`` turns a function into a Stage (``stage.func`` is the original).

        ``env=["NAME", ...]`` declares environment variables the stage reads: their values are
        part of its key.
        """
        if callable(name):
            raise TypeError("use @chkpt.Stage.wrap() with parentheses")

        def decorate(func: Callable[WP, WR]) -> Stage[WP, WR]:
            # `cls`, not Stage: a subclass's wrap() makes the subclass (mypy binds cls to P, R)
            return cls(func, name=name, version=version, serializer=serializer, env=env)  # type: ignore[arg-type, return-value]

        return decorate

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        """Call the function with the bound parameters (a ``Config`` is not an input: run a pipeline)."""
        for arg in args:
            if type(arg).__module__ == "chkpt._config":  # cheaper than importing Config here
                raise TypeError(
                    f"stage {self.name!r} was called with a chkpt.Config, but calling a stage calls "
                    f"its function on its inputs. Run a pipeline with the config instead: "
                    f"chkpt.Pipeline({self.name})(config) without inputs, (upstream >> "
                    f"{self.name})(config) with"
                )
        return self.func(*args, **{**self.params, **kwargs})

    def __reduce__(self) -> str | tuple[Any, ...]:
        """Pickle by reference when a fresh process can import the function, else by value.

        Process pools and Dask ship stages to other processes. A function of an importable module
        goes by reference (``@Stage.wrap()`` rebinds its module-level name to the stage, which
        then pickles as that name; a copy from ``bind``/``name=`` as the name plus its settings).
        Functions from ``__main__`` (scripts, notebooks), closures, lambdas, partials over them go
        by value through cloudpickle, as Dask ships plain functions; without cloudpickle a
        closure or lambda raises ``PicklingError`` naming the stage (``__main__`` module
        attributes still go by reference: fork and spawn workers see a script's top level).
        """
        func = self.func
        owner = _module_attribute(func)
        named = owner is self or owner is func or isinstance(owner, Stage) and owner.func is func
        main = getattr(func, "__module__", None) in (None, "__main__", "__mp_main__")
        settings = (self.name, self.version, self.serializer, self.params, self.env)
        if getattr(_in_cloudpickle, "active", False) and (main or not named):
            return (_rebuild, (func, *settings))  # cloudpickle is pickling: it ships func
        cloudpickle = None if named and not main and not self.params else _cloudpickle()
        if cloudpickle is None:
            if not named and isinstance(func, types.FunctionType):
                import pickle

                raise pickle.PicklingError(
                    f"stage {self.name!r}: its function {getattr(func, '__qualname__', func)!r} "
                    "cannot be found by name in another process (a closure, lambda or local "
                    "function) and cloudpickle is not installed to ship it by value: "
                    "pip install cloudpickle, or define it at the top level of a module"
                )
            if owner is self:
                return str(self.__qualname__)
            return (_rebuild, (owner, *settings))
        outer, _in_cloudpickle.active = getattr(_in_cloudpickle, "active", False), True
        try:  # importable functions inside still go by reference: cloudpickle looks them up
            blob = cloudpickle.dumps((func if main or not named else owner, *settings), protocol=5)
        finally:
            _in_cloudpickle.active = outer
        return (_rebuild_by_value, (blob,))

    def __repr__(self) -> str:
        bound = ", ".join(f"{k}={v!r}" for k, v in self.params.items())
        return f"<Stage {self.name}{f' ({bound})' if bound else ''}>"

    def bind(self, **params: Any) -> Stage[..., R]:
        """A copy with keyword parameters bound; they are part of its cache key.

        >>> @Stage.wrap()
        ... def scale(x, factor=1):
        ...     return x * factor
        >>> scale.bind(factor=3)(2)
        6
        """
        if not params:
            return self
        stage = Stage(
            self.func,
            name=self.name,
            version=self.version,
            serializer=self.serializer,
            env=self.env,
        )
        stage.params = {**self.params, **params}
        try:
            _signature(self.func).bind_partial(**stage.params)
        except TypeError as exc:
            raise TypeError(f"stage {self.name!r}: cannot bind {sorted(params)}: {exc}") from None
        return stage

    # -- identity ------------------------------------------------------------------------------

    def fingerprint(self) -> str:
        """What identifies this stage's code: its ``version`` if given, else its code fingerprint."""
        if self.version is not None:
            from ._fingerprint import make_key

            return make_key("version", self.name, repr(self.version))
        return self.code_fingerprint().digest

    def code_fingerprint(self) -> CodeFingerprint:
        """The fingerprint of the code that runs, with what it cannot describe (warned once)."""
        from ._fingerprint import code_fingerprint, warn_unkeyed

        fp = code_fingerprint(self.func)
        warn_unkeyed(self.name, fp._replace(env=() if self.env else fp.env))
        return fp

    def param_fingerprints(self) -> dict[str, str]:
        """One fingerprint per bound parameter; raises TypeError naming one that cannot be hashed."""
        from ._fingerprint import value_fingerprint, warn_environment

        digests, environment = {}, []
        for name in sorted(self.params):
            digest, env = value_fingerprint(self.params[name])
            environment += env
            if digest is None:
                raise TypeError(
                    f"stage {self.name!r}: bound parameter {name!r} "
                    f"({type(self.params[name]).__qualname__}) cannot be hashed for the cache key"
                )
            digests[name] = digest
        warn_environment(self.name, environment)
        return digests

    def params_fingerprint(self, digests: dict[str, str] | None = None) -> str:
        """Hash of the bound parameters (``param_fingerprints()``) and declared environment
        variables; raises TypeError if a parameter cannot be hashed reliably."""
        if not self.params and not self.env:
            return ""
        import os

        from ._fingerprint import make_key

        digests = self.param_fingerprints() if digests is None else digests
        parts = [f"{name}={fp}" for name, fp in sorted(digests.items())]
        parts += [f"${name}={os.environ.get(name)!r}" for name in sorted(self.env)]
        return make_key("params", *parts)

    def check_inputs(self, count: int, where: str) -> None:
        """Raise InputCountError unless the function accepts ``count`` positional inputs."""
        try:
            sig = _signature(self.func)
        except (TypeError, ValueError):
            return  # builtins without signatures: let the call decide
        try:
            sig.bind(*range(count), **self.params)
        except TypeError:
            takes = [
                p.name
                for p in sig.parameters.values()
                if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
                and p.name not in self.params
            ]
            raise InputCountError(
                f"stage {self.name!r} ({where}) takes {len(takes)} input{'s' * (len(takes) != 1)} "
                f"({', '.join(takes) or 'none'}) but the pipeline gives it {count}"
            ) from None

    if TYPE_CHECKING:  # the operators come from Composable; typed here for type checkers

        def __rshift__(self, other: Stage[..., R2]) -> Pipeline[R2]: ...

        def __rrshift__(self, other: Any) -> Pipeline[R]: ...

        def __lshift__(self, other: Any) -> Pipeline[R]: ...
