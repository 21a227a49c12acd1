"""Every snippet of the seed README (../shared/seed/chkpt-README.md), verbatim, works."""

from __future__ import annotations

import os

import pytest

import chkpt


def test_defining_a_stage():
    @chkpt.Stage.wrap()
    def stage1():
        return "123"

    # stage1 is now a Stage instance
    assert isinstance(stage1, chkpt.Stage)

    # but the original function is still accessible
    assert stage1.func() == "123"


@pytest.fixture
def stages():
    @chkpt.Stage.wrap()
    def stage1():
        return "123"

    @chkpt.Stage.wrap()
    def stage2(stage1_input):
        return [stage1_input, "456"]

    return stage1, stage2


def test_five_spellings_build_the_same_graph_and_result(stages):
    stage1, stage2 = stages
    # Each defines a pipeline calculating `stage1` and passing its output to `stage2`.
    pipelines = []
    pipeline = stage1 >> stage2
    pipelines.append(pipeline)
    pipeline = stage2 << stage1
    pipelines.append(pipeline)
    pipeline = stage2 << (stage1,)
    pipelines.append(pipeline)
    pipeline = (stage1,) >> stage2
    pipelines.append(pipeline)
    pipeline = () >> stage1 >> stage2
    pipelines.append(pipeline)
    graphs = {str(p.to_json()) for p in pipelines}
    assert len(graphs) == 1
    for p in pipelines:
        assert p() == ["123", "456"]


def test_complex_pipelines_from_the_leaves_down(stages):
    stage1, stage2 = stages

    @chkpt.Stage.wrap()
    def stage3(a, b):
        return f"3({a},{b})"

    @chkpt.Stage.wrap()
    def stage4(a, b):
        return f"4({a},{b})"

    @chkpt.Stage.wrap()
    def stage5(a):
        return f"5({a})"

    result1 = (stage1, stage2) >> stage3
    result2 = (result1, stage1) >> stage4
    pipeline = result2 >> stage5
    # As written, stage2 (one parameter) is given no input: building works, running says so.
    with pytest.raises(chkpt.InputCountError, match="stage2"):
        pipeline()
    # Wired as intended, stage1 feeds stage2 and runs once although three consumers share it.
    result1 = (stage1, stage1 >> stage2) >> stage3
    result2 = (result1, stage1) >> stage4
    pipeline = result2 >> stage5
    run = pipeline.run()
    assert run.value == "5(4(3(123,['123', '456']),123))"
    assert [r.stage for r in run.stages].count("stage1") == 1


def test_executing_with_default_and_explicit_config(stages, tmp_path):
    stage1, stage2 = stages
    pipeline = stage1 >> stage2
    result = pipeline()
    assert result == ["123", "456"]
    assert os.path.isdir(".chkpt/stage1")  # default: store=True, load=False, dir=./.chkpt
    # Will store all stage results and attempt to load already-stored results, if present.
    result = pipeline(chkpt.Config(store=True, load=True, dir="/tmp"))
    assert result == ["123", "456"]
    assert pipeline.run(chkpt.Config(store=True, load=True, dir="/tmp")).actions() == {
        "stage1": "skipped",
        "stage2": "loaded",
    }


def test_brief_example():
    import chkpt

    @chkpt.Stage.wrap()
    def make_dataset1(): ...

    @chkpt.Stage.wrap()
    def big_download2(): ...

    @chkpt.Stage.wrap()
    def work_in_progress_analysis(dataset1, dataset2): ...

    pipeline = (make_dataset1, big_download2) >> work_in_progress_analysis
    # Work-intensive inputs only run once, caching on reruns.
    result = pipeline(chkpt.Config(load=[make_dataset1, big_download2]))
    assert result is None
    again = pipeline.run(chkpt.Config(load=[make_dataset1, "big_download2"]))
    assert again.actions() == {
        "make_dataset1": "loaded",
        "big_download2": "loaded",
        "work_in_progress_analysis": "computed",
    }
