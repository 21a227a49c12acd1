"""Module-level stage functions (picklable by reference for process and Dask workers)."""

from __future__ import annotations

import os
import time

import numpy as np


def source(n: int = 1000) -> np.ndarray:
    return np.arange(n, dtype=np.float64)


def scale(x: np.ndarray, factor: float = 2.0) -> np.ndarray:
    return x * factor


def shift(x: np.ndarray) -> np.ndarray:
    return x + 1.0


def total(a: np.ndarray, b: np.ndarray) -> dict:
    return {"sum": float(a.sum() + b.sum()), "n": int(a.size + b.size)}


def where() -> int:
    return os.getpid()


def pids(*ps: int) -> list:
    return list(ps)


def nap() -> float:
    time.sleep(0.5)
    return 0.5


def add_all(*xs: float) -> float:
    return sum(xs)


def boom(x: np.ndarray) -> None:
    raise ValueError("bad input")


def big(n: int = 4_000_000) -> np.ndarray:
    return np.ones(n)


def pid_of(x: np.ndarray) -> list:
    return [os.getpid(), float(x.sum())]
