"""Running pipelines: each node once, hits from metadata, early cutoff, reasons, errors."""

from __future__ import annotations

import logging
import random
import warnings

import pytest

import chkpt
from chkpt import Config, Stage


def chain(calls, value=1):
    @Stage.wrap()
    def source():
        calls("source")
        return value

    @Stage.wrap()
    def middle(x):
        calls("middle")
        return x + 1

    @Stage.wrap()
    def sink(x):
        calls("sink")
        return x * 10

    return source, middle, sink


LOAD_ALL = Config(load=True)


def test_each_node_runs_once_however_many_consumers(calls):
    @Stage.wrap()
    def shared():
        calls("shared")
        return 2

    @Stage.wrap()
    def left(x):
        calls("left")
        return x + 1

    @Stage.wrap()
    def right(x):
        calls("right")
        return x + 2

    @Stage.wrap()
    def join(a, b, c):
        return a + b + c

    pipeline = (shared >> left, shared >> right, shared) >> join
    assert pipeline() == 9
    assert calls.counts == {"shared": 1, "left": 1, "right": 1}


def test_default_config_computes_and_stores_then_load_true_hits(calls):
    source, middle, sink = chain(calls)
    pipeline = source >> middle >> sink
    assert pipeline() == 20
    assert pipeline() == 20  # load=False by default: recomputed
    assert calls["source"] == 2
    run = pipeline.run(LOAD_ALL)
    assert run.value == 20
    assert calls["source"] == 2 and calls["sink"] == 2
    assert run.actions() == {"source": "skipped", "middle": "skipped", "sink": "loaded"}


def test_a_hit_never_loads_or_recomputes_its_cached_inputs(calls):
    source, middle, sink = chain(calls)
    pipeline = source >> middle >> sink
    pipeline()
    loaded = []
    unsubscribe = chkpt.events.subscribe(
        lambda e: loaded.append(e.stage) if e.kind == "loaded" else None
    )
    try:
        pipeline(LOAD_ALL)
    finally:
        unsubscribe()
    assert loaded == ["sink"]


def test_code_edit_invalidates_that_stage_and_consumers_only_if_output_changes(calls):
    source, middle, sink = chain(calls)
    (source >> middle >> sink)()
    calls.reset()

    @Stage.wrap(name="middle")
    def middle_refactored(x):
        calls("middle")
        return 1 + x  # same output: consumers still hit (early cutoff)

    run = (source >> middle_refactored >> sink).run(LOAD_ALL)
    assert run["middle"].action == "computed" and run["middle"].reason == "code changed"
    assert run["sink"].action == "loaded"
    assert calls.counts == {"middle": 1}

    @Stage.wrap(name="middle")
    def middle_changed(x):
        calls("middle")
        return x + 2

    run = (source >> middle_changed >> sink).run(LOAD_ALL)
    assert run.value == 30
    assert run["sink"].action == "computed" and run["sink"].reason == "input changed: middle"


def test_recomputed_upstream_with_new_data_invalidates_consumers(calls):
    @Stage.wrap()
    def sample():
        return random.random()

    @Stage.wrap()
    def use(x):
        calls("use")
        return x

    pipeline = sample >> use
    first = pipeline(Config(load=["use"]))
    second = pipeline(Config(load=["use"]))  # sample is recomputed with new data
    assert first != second
    assert calls["use"] == 2


def test_recomputed_upstream_with_same_data_lets_consumers_hit(calls):
    source, middle, sink = chain(calls)
    pipeline = source >> middle >> sink
    pipeline()
    calls.reset()
    assert pipeline.run(Config(load=["sink"])).actions()["sink"] == "loaded"
    assert calls.counts == {"source": 1, "middle": 1}


def test_an_upstream_recomputed_without_storing_still_lets_consumers_hit(calls):
    source, middle, sink = chain(calls)
    pipeline = source >> middle >> sink
    pipeline()
    calls.reset()
    run = pipeline.run(
        Config(load=["sink"], store=["sink"])
    )  # source, middle: computed, not stored
    assert run.actions() == {"source": "computed", "middle": "computed", "sink": "loaded"}
    assert calls.counts == {"source": 1, "middle": 1}


def test_old_entries_are_kept_so_switching_back_hits(calls):
    source, middle, sink = chain(calls, value=1)
    (source >> sink)()
    source2, _, _ = chain(calls, value=5)
    other = Stage(lambda: 5, name="source")
    (other >> sink)()
    calls.reset()
    assert (source >> sink).run(LOAD_ALL).actions() == {"source": "skipped", "sink": "loaded"}
    assert calls.counts == {}


def test_bound_parameters_are_part_of_the_key(calls):
    @Stage.wrap()
    def scaled(factor=1):
        calls("scaled")
        return 10 * factor

    assert Pipeline_of(scaled.bind(factor=2))(LOAD_ALL) == 20
    assert Pipeline_of(scaled.bind(factor=2))(LOAD_ALL) == 20
    assert calls["scaled"] == 1
    run = Pipeline_of(scaled.bind(factor=3)).run(LOAD_ALL)
    assert run.value == 30 and run["scaled"].reason == "parameters changed: factor 2 -> 3"


def Pipeline_of(stage):
    return () >> stage


def test_version_overrides_code_fingerprint(calls):
    def make(body_value):
        @Stage.wrap(name="versioned", version=1)
        def versioned():
            calls("versioned")
            return body_value

        return versioned

    assert Pipeline_of(make(1))(LOAD_ALL) == 1
    assert Pipeline_of(make(2))(LOAD_ALL) == 1  # same version: the user vouches it is the same
    assert calls["versioned"] == 1


def test_force_recomputes_with_reason(calls, caplog):
    source, middle, sink = chain(calls)
    pipeline = source >> middle >> sink
    pipeline()
    with caplog.at_level(logging.INFO, logger="chkpt"):
        run = pipeline.run(Config(load=True, force=["sink"]))
    assert run["sink"].action == "computed" and run["sink"].reason == "forced"
    assert "forced" in caplog.text and "sink" in caplog.text


def test_reasons_are_logged_one_line_per_stage(calls, caplog):
    source, middle, sink = chain(calls)
    pipeline = source >> middle >> sink
    with caplog.at_level(logging.INFO, logger="chkpt"):
        pipeline(LOAD_ALL)
    lines = [r.getMessage() for r in caplog.records if r.name == "chkpt"]
    assert len(lines) == 3 and all("no checkpoint" in line for line in lines)


def test_plan_is_a_dry_run(calls):
    source, middle, sink = chain(calls)
    pipeline = source >> middle >> sink
    assert pipeline.plan(LOAD_ALL).actions() == {
        "source": "compute",
        "middle": "compute",
        "sink": "compute",
    }
    pipeline()
    calls.reset()
    assert pipeline.plan(LOAD_ALL).actions() == {"source": "skip", "middle": "skip", "sink": "load"}
    assert pipeline.plan(Config(load=["source"])).actions() == {
        "source": "load",
        "middle": "compute",
        "sink": "compute",
    }
    assert pipeline.plan(Config(load=["middle", "sink"])).actions()["source"] == "compute"
    assert calls.counts == {}


def test_wrong_input_count_fails_before_anything_runs(calls):
    source, middle, sink = chain(calls)

    @Stage.wrap()
    def two(a, b):
        return a + b

    with pytest.raises(chkpt.InputCountError) as info:
        (source >> middle >> two)()
    assert (
        "'two'" in str(info.value)
        and "step 3 of 3" in str(info.value)
        and "takes 2 inputs" in str(info.value)
    )
    assert calls.counts == {}


def test_stage_exception_names_the_stage_and_keeps_upstream_checkpoints(calls):
    source, middle, _ = chain(calls)

    @Stage.wrap()
    def broken(x):
        raise ValueError("bad data")

    with pytest.raises(ValueError, match="bad data") as info:
        (source >> middle >> broken)()
    assert any("broken" in note and "step 3 of 3" in note for note in info.value.__notes__)
    calls.reset()

    @Stage.wrap(name="broken")
    def fixed(x):
        return x

    assert (source >> middle >> fixed)(LOAD_ALL) == 2
    assert calls.counts == {}  # resumed from the stored upstream checkpoints


def test_unstorable_result_is_returned_with_a_warning_naming_stage_and_type():
    @Stage.wrap()
    def make_gen():
        return (i for i in range(3))

    @Stage.wrap()
    def total(g):
        return sum(g)

    with pytest.warns(chkpt.StoreWarning, match=r"make_gen.*generator"):
        assert (make_gen >> total)() == 3
    with pytest.raises(chkpt.SerializationError, match="make_gen"), warnings.catch_warnings():
        (make_gen >> total)(Config(strict=True))


def test_store_false_writes_nothing(tmp_path):
    @Stage.wrap()
    def value():
        return 1

    (() >> value)(Config(store=False, dir=tmp_path / "c"))
    assert not (tmp_path / "c").exists()


def test_pipelines_as_inputs_of_pipelines(calls):
    source, middle, sink = chain(calls)

    @Stage.wrap()
    def pair(a, b):
        return (a, b)

    assert ((source >> middle, source >> sink) >> pair)() == (2, 10)
    assert calls["source"] == 1


def test_deep_chain_needs_no_recursion():
    inc = [Stage(lambda x: x + 1, name=f"s{i}") for i in range(5000)]
    pipeline = Stage(lambda: 0, name="start") >> inc[0]
    for stage in inc[1:]:
        pipeline = pipeline >> stage
    assert pipeline(Config(store=False)) == 5000


def test_events_reach_config_listener():
    seen = []

    @Stage.wrap()
    def one():
        return 1

    (() >> one)(Config(on_event=seen.append))
    assert [e.kind for e in seen] == ["start", "stored", "computed"]
    assert seen[-1].stage == "one" and seen[-1].key


def test_bad_operands_give_clear_errors():
    @Stage.wrap()
    def a():
        return 1

    with pytest.raises(TypeError, match="inputs must be stages or pipelines"):
        a << 3
    with pytest.raises(TypeError, match="right side of >> must be a stage"):
        (a >> a) >> 3
    with pytest.raises(TypeError, match="parenthesise"):
        (a << a) << a
    with pytest.raises(ValueError, match="non-empty"):
        Stage(lambda: 1, name="")


def test_stages_run_with_the_garbage_collector_as_the_user_left_it():
    import gc

    probe = Stage(lambda: gc.isenabled(), name="probe")

    @Stage.wrap()
    def boom(x):
        raise RuntimeError("boom")

    assert gc.isenabled()
    assert (() >> probe)(
        Config(store=False)
    ) is True  # bookkeeping pauses it; stages do not see that
    with pytest.raises(RuntimeError):
        (probe >> boom)(Config(store=False))
    assert gc.isenabled()
    gc.disable()
    try:
        assert (() >> probe)(Config(store=False)) is False
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_concurrent_runs_in_threads_leave_the_collector_enabled():
    """Overlapping runs share one pause; the last to finish restores the collector."""
    import gc
    import threading
    import time

    def slow_run(i):
        s = Stage(lambda: time.sleep(0.05 * (i % 3)) or gc.isenabled(), name=f"slow{i}")
        results.append((() >> s)(Config(store=False)))

    results: list[bool] = []
    threads = [threading.Thread(target=slow_run, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert gc.isenabled()
    assert results == [True] * 8  # each stage saw the collector on


def test_any_store_failure_warns_and_returns_the_computed_value(monkeypatch, tmp_path):
    """A remote store can fail with its own exception types, not only OSError."""
    from chkpt import _store

    class RemoteError(Exception):
        pass

    def failing_save(self, *args, **kwargs):
        raise RemoteError("bucket says no")

    monkeypatch.setattr(_store.Store, "save", failing_save)
    one = Stage(lambda: 1, name="one")
    with pytest.warns(chkpt.StoreWarning, match=r"'one'.*RemoteError: bucket says no"):
        assert (() >> one)(Config(dir=tmp_path)) == 1
    with pytest.raises(chkpt.ChkptError, match="'one'.*bucket says no"):
        (() >> one)(Config(dir=tmp_path, strict=True))


def test_a_config_naming_an_unknown_stage_warns(calls):
    source, middle, sink = chain(calls)
    with pytest.warns(
        UserWarning, match=r"Config.load names 'sinc', not a stage.*middle, sink, source"
    ):
        (source >> middle >> sink)(Config(load=["sinc", middle]))
