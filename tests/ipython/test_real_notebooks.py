"""Real-world-style notebooks give the same results with ``%%chkpt_stage`` as without it.

Each notebook in ``notebooks_real/`` (pandas prep with in-place idioms, a scikit-learn fit, a
statsmodels logit, seeded global generators, a progress loop, a control) is run in fresh kernels
as written and with its ``%%chkpt_stage`` lines removed, through the same edits (see
``real_harness``); the values of the names it designates and what every cell shows must match
after every step. And an unchanged rerun after a restart recomputes nothing.
"""

from __future__ import annotations

import pytest

pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

from real_harness import Scenario, StepResult  # noqa: E402

pytestmark = pytest.mark.timeout(1800)

NOTEBOOKS = [
    "control",
    "pandas_prep",
    "sklearn_digits",
    "statsmodels_affairs",
    "rng_simulation",
    "training_progress",
]


@pytest.fixture(scope="module", params=NOTEBOOKS)
def scenario(request, tmp_path_factory) -> tuple[Scenario, list[StepResult]]:
    """The notebook's whole scenario, run once per test module."""
    scn = Scenario(request.param, tmp_path_factory.mktemp(request.param))
    results = []
    entries_after: list[set[str]] = []
    for step in scn.steps():
        results.append(scn.run_step(step))
        entries_after.append(scn.entries())
    scn.entries_after = entries_after  # type: ignore[attr-defined]
    return scn, results


def test_same_values_and_outputs_as_without_chkpt(scenario):
    _, results = scenario
    mismatches = [line for result in results for line in result.mismatches()]
    assert not mismatches, "\n".join(mismatches)


def test_unchanged_rerun_after_restart_recomputes_nothing(scenario):
    scn, results = scenario
    first, rerun = results[0].chkpt.run, results[1].chkpt.run
    assert first.outcomes() and set(first.outcomes().values()) == {"computed"}
    assert rerun.outcomes() == dict.fromkeys(first.outcomes(), "loaded"), rerun.stages
    assert scn.entries_after[1] == scn.entries_after[0]  # nothing new stored


def test_each_edit_recomputes_something(scenario):
    _, results = scenario
    for result in results[2:]:
        if any("delete" in e for e in _edits(scenario, result.name)):
            continue  # deleting an output file changes no input
        assert result.chkpt.run.computed(), f"{result.name}: nothing recomputed"


def _edits(scenario, name: str) -> list[dict]:
    scn, _ = scenario
    return next(s.get("edits", []) for s in scn.steps() if s["name"] == name)


def test_recomputes_say_why(scenario):
    """The run report gives the reason a notebook's metadata expects after an edit."""
    scn, results = scenario
    for step, result in zip(scn.steps(), results):
        for stage, expected in step.get("reasons", {}).items():
            reasons = [s["reason"] for s in result.chkpt.run.stages if s["stage"] == stage]
            assert any(expected in r for r in reasons), (step["name"], stage, reasons)
