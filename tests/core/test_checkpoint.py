"""The checkpoint policy (``chkpt.Checkpoints``): one recipe and one vocabulary for every runner."""

from __future__ import annotations

import os
import threading
import warnings

import pytest

import chkpt
from chkpt import Checkpoints, Config, Stage


def make(tmp_path, **config):
    return Checkpoints(Config(dir=str(tmp_path), load=True, **config))


def scaled(x=1, factor=1):
    return x * factor


def test_a_miss_says_why_in_one_vocabulary(tmp_path):
    policy = make(tmp_path)
    stage = Stage(scaled, name="scaled").bind(factor=2)
    ident = policy.identify(stage, ("raw",), ("d1",))
    assert policy.why(stage, ident) == "no checkpoint"
    policy.persist(stage, ident, 2)
    assert policy.find(stage, ident) is not None

    fresh = make(tmp_path)
    assert fresh.why(stage, fresh.identify(stage, ("raw",), ("d2",))) == "input changed: raw"
    rebound = stage.bind(factor=3)
    assert fresh.why(rebound, fresh.identify(rebound, ("raw",), ("d1",))) == (
        "parameters changed: factor 2 -> 3"
    )
    edited = Stage(lambda x=1, factor=1: x, name="scaled").bind(factor=2)
    assert fresh.why(edited, fresh.identify(edited, ("raw",), ("d1",))) == "code changed"
    forced = Checkpoints(Config(dir=str(tmp_path), load=True, force=["scaled"]))
    assert forced.why(stage, forced.identify(stage, ("raw",), ("d1",))) == "forced"
    off = Checkpoints(Config(dir=str(tmp_path)))
    assert off.why(stage, off.identify(stage, ("raw",), ("d1",))) == "not in Config.load"
    for reason in ("input changed: raw", "code changed", "forced"):
        assert chkpt.reason_kind(reason) in chkpt.ReasonKind.__args__


def test_a_parameter_that_cannot_be_hashed_makes_the_stage_uncacheable_not_an_error(tmp_path):
    policy = make(tmp_path)
    stage = Stage(scaled, name="scaled").bind(factor=threading.Lock())
    ident = policy.identify(stage)
    assert ident.key is None and "'factor'" in ident.why
    assert policy.why(stage, ident).startswith("not cacheable: ")
    assert policy.find(stage, ident) is None
    assert policy.persist(stage, ident, 1).entry is None  # never stored without a key
    tagged = Stage(lambda x, tag=None: x, name="tagged").bind(tag=threading.Lock())
    result = (Stage(lambda: 2, name="two") >> tagged).run(Config(dir=str(tmp_path), load=True))
    assert result.value == 2
    assert result["tagged"].action == "computed" and "not cacheable" in result["tagged"].reason


def test_a_damaged_checkpoint_warns_and_is_never_loaded(tmp_path):
    policy = make(tmp_path)
    stage = Stage(lambda: [1, 2], name="pair", version=1)
    ident = policy.identify(stage)
    entry = policy.persist(stage, ident, [1, 2]).entry
    with open(entry.path, "r+b") as fh:
        fh.write(b"[9")
    with pytest.warns(chkpt.StoreWarning, match="'pair'.*recomputing"):
        assert policy.load(entry) is chkpt.MISSING


def test_a_value_that_cannot_be_stored_is_kept_and_warned_about(tmp_path):
    policy = make(tmp_path)
    stage = Stage(lambda: lambda: 1, name="fn", version=1)
    ident = policy.identify(stage)
    with pytest.warns(chkpt.StoreWarning, match="strict=True"):
        done = policy.persist(stage, ident, lambda: 1)
    assert done.entry is None and done.digest
    strict = Checkpoints(Config(dir=str(tmp_path), strict=True))
    with pytest.raises(chkpt.SerializationError):
        strict.persist(stage, ident, lambda: 1)


def loop_metadata(store_dir, stage: str, key: str) -> None:
    """Replace a checkpoint's metadata file by a symlink to itself (reading it raises ELOOP)."""
    meta = os.path.join(store_dir, stage, key + ".meta.json")
    os.remove(meta)
    os.symlink(meta, meta)


def test_a_symlink_looped_metadata_path_warns_and_misses(tmp_path):
    policy = make(tmp_path)
    stage = Stage(lambda: 1, name="one", version=1)
    ident = policy.identify(stage)
    policy.persist(stage, ident, 1)
    loop_metadata(tmp_path, "one", ident.key)
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        assert make(tmp_path).find(stage, ident) is None
    assert [w.category for w in seen] == [chkpt.StoreWarning], [str(w.message) for w in seen]


def test_events_and_lines_come_from_the_policy(tmp_path, caplog):
    seen = []
    policy = Checkpoints(Config(dir=str(tmp_path), on_event=seen.append))
    with caplog.at_level("INFO", logger="chkpt"):
        policy.announce("computed", "feat", "k", 1.0, "code changed", 10)
    assert seen == [chkpt.Event("computed", "feat", "k", 1.0, "code changed", 10)]
    assert caplog.records[-1].getMessage() == chkpt.stage_line(
        "computed", "feat", "code changed", 1.0
    )


def test_objects_are_named_not_printed_in_reasons(tmp_path):
    """An object parameter is shown by its type (its repr may be huge or slow), and a change in
    it is reported by name."""
    import fractions

    policy = make(tmp_path)
    stage = Stage(scaled, name="scaled").bind(factor=fractions.Fraction(1, 3))
    policy.persist(stage, policy.identify(stage), 1)
    fresh = make(tmp_path)
    rebound = stage.bind(factor=fractions.Fraction(2, 3))
    assert fresh.why(rebound, fresh.identify(rebound)) == "parameters changed: factor changed"
    assert fresh.identify(rebound).param_values == {"factor": "<Fraction>"}
