"""The fastai adapter (conformance/libraries/fastai.py) on a handful of synthetic cases: single-piece ports hold
(ExponentialLR as SchedExp, a cosine within T_max as SchedCos), fit_one_cycle's schedule and combine_scheds' float32
boundaries stay findings, what has no equivalent is unsupported, and the lr reported is what fastai's own
TrainEvalCallback + ParamScheduler write into the torch optimizer."""

from __future__ import annotations

import pytest

pytest.importorskip("fastai.callback.schedule")

from thirdparty_helpers import (  # noqa: E402
    assert_pass,
    assert_porting_consistent,
    assert_unsupported,
    case,
    grade,
    plateau,
)

from conformance.libraries import fastai as fastai_adapter  # noqa: E402
from conformance.model import Status  # noqa: E402

CASES = [
    case("exponentiallr/t", "ExponentialLR", {"gamma": 0.9}, steps=20),
    case("cosineannealinglr/t-within", "CosineAnnealingLR", {"T_max": 12, "eta_min": 0.001}, steps=12),
    case("linearlr/t-whole-run", "LinearLR", {"start_factor": 0.5, "total_iters": 12}, steps=12),
    case("steplr/t-quarters", "StepLR", {"step_size": 3, "gamma": 0.5}, steps=12),
    case("multisteplr/t-late", "MultiStepLR", {"milestones": [2, 5, 8], "gamma": 0.5}, steps=12),
    case("onecyclelr/t", "OneCycleLR", {"max_lr": 1.0, "total_steps": 20, "pct_start": 0.25}, steps=20),
    case("exponentiallr/t-two-groups", "ExponentialLR", {"gamma": 0.5}, groups=[{"lr": 0.1}, {"lr": 0.02}]),
    case("polynomiallr/t-square", "PolynomialLR", {"total_iters": 6, "power": 2.0}),
    plateau("reducelronplateau/t", {"patience": 2}),
]


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    adapter = fastai_adapter.FastAI()
    return adapter, grade(adapter, CASES, tmp_path_factory.mktemp("fastai"))


def test_porting_table_matches_declared_schedulers(graded):
    assert_porting_consistent(fastai_adapter, graded[0])


def test_single_schedule_ports_reproduce_torch(graded):
    assert_pass(graded[1], ("exponentiallr/t", "cosineannealinglr/t-within", "linearlr/t-whole-run",
                            "exponentiallr/t-two-groups", "steplr/t-quarters"))


def test_findings_stay_findings(graded):
    # 5/12 as a float32 boundary lies above pct_train at batch 5: the second value is kept one batch more
    status, detail = graded[1]["multisteplr/t-late"]
    assert status is Status.FAIL and detail.startswith("step 5 group 0 lr"), detail
    # fit_one_cycle's warm-up ends a step later than torch's OneCycleLR
    status, detail = graded[1]["onecyclelr/t"]
    assert status is Status.FAIL and detail.startswith("step 1 group 0"), detail


def test_no_equivalent_is_unsupported(graded):
    assert_unsupported(graded[1], (("polynomiallr/t-square", "SchedPoly"),
                                   ("reducelronplateau/t", "ReduceLROnPlateau")))


def test_reported_lr_is_what_param_scheduler_writes_into_the_optimizer():
    from fastai.callback.schedule import SchedExp

    session = fastai_adapter.FastAI().build(case("exponentiallr/t", "ExponentialLR", {"gamma": 0.5}, steps=4,
                                                 groups=[{"lr": 0.1}]))
    sched, pct = SchedExp(0.1, 0.1 * 0.5 ** 4), 0.0
    for _ in range(4):
        assert session.lrs() == [float(sched(pct))]
        session.optimizer_step()
        session.scheduler_step()
        pct += 1.0 / 4  # TrainEvalCallback.after_batch


def test_onecycle_stage_nested_in_a_skipped_stage_is_unsupported():
    # a fuzz finding (docs/fuzzing.md): the OneCycleLR sits two SequentialLRs down in a stage of length 0, so the
    # skipped stage was never ported; torch's OneCycleLR constructor still drives the momentum it reports
    nested = case("sequentiallr/t-nested-onecycle", "SequentialLR", {"milestones": [0]}, steps=1,
                  groups=[{"lr": 0.1}],
                  children=[{"scheduler": "SequentialLR", "kwargs": {"milestones": []},
                             "children": [{"scheduler": "OneCycleLR", "kwargs": {"max_lr": 0.1, "total_steps": 1}}]},
                            {"scheduler": "StepLR", "kwargs": {"step_size": 1}}])
    with pytest.raises(fastai_adapter.Unsupported, match="OneCycleLR stage"):
        fastai_adapter.FastAI().build(nested)
