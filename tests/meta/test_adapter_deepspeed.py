"""The DeepSpeed adapter (conformance/libraries/deepspeed.py) on a handful of synthetic cases: WarmupLR,
WarmupDecayLR and WarmupCosineLR are built for their torch shapes and stepped as DeepSpeed's engine steps them,
their one-batch lag and WarmupCosineLR's start at 0 stay findings, and what has no equivalent is unsupported."""

from __future__ import annotations

import pytest

pytest.importorskip("deepspeed.runtime.lr_schedules")

from thirdparty_helpers import (  # noqa: E402
    assert_porting_consistent,
    assert_unsupported,
    case,
    grade,
    plateau,
)

from conformance.libraries import deepspeed as deepspeed_adapter  # noqa: E402
from conformance.model import Status  # noqa: E402

WARMUP = {"scheduler": "LinearLR", "kwargs": {"start_factor": 0.1, "total_iters": 4}}
CASES = [
    case("linearlr/t", "LinearLR", {"start_factor": 0.25, "total_iters": 4}),
    case("linearlr/t-constant", "LinearLR", {"start_factor": 1.0, "total_iters": 4}),
    case("sequentiallr/t-warmup-decay", "SequentialLR", {"milestones": [4]}, steps=12,
         children=[WARMUP, {"scheduler": "LinearLR", "kwargs": {"start_factor": 1.0, "end_factor": 0.0,
                                                                 "total_iters": 8}}]),
    case("sequentiallr/t-warmup-cosine", "SequentialLR", {"milestones": [4]}, steps=12,
         children=[WARMUP, {"scheduler": "CosineAnnealingLR", "kwargs": {"T_max": 8, "eta_min": 0.001}}],
         groups=[{"lr": 0.1}]),
    case("linearlr/t-zero-iters", "LinearLR", {"start_factor": 0.5, "total_iters": 0}),
    case("cosineannealinglr/t", "CosineAnnealingLR", {"T_max": 8}),
    case("steplr/t", "StepLR", {"step_size": 2}),
    plateau("reducelronplateau/t", {"patience": 2}),
]


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    adapter = deepspeed_adapter.DeepSpeed()
    return adapter, grade(adapter, CASES, tmp_path_factory.mktemp("deepspeed"))


def test_porting_table_matches_declared_schedulers(graded):
    assert_porting_consistent(deepspeed_adapter, graded[0])


def test_a_constant_warm_up_matches_and_the_others_lag_one_batch(graded):
    results = graded[1]
    assert results["linearlr/t-constant"][0] is Status.PASS, results["linearlr/t-constant"]
    for case_id in ("linearlr/t", "sequentiallr/t-warmup-decay"):
        status, detail = results[case_id]
        assert status is Status.FAIL and detail.startswith("step 1 group 0 lr"), (case_id, detail)


def test_warmup_cosine_starts_at_zero(graded):
    status, detail = graded[1]["sequentiallr/t-warmup-cosine"]
    assert status is Status.FAIL and detail.startswith("step 0 group 0 lr") and "got 0.0" in detail, detail


def test_no_equivalent_is_unsupported(graded):
    assert_unsupported(graded[1], (("linearlr/t-zero-iters", "warmup_num_steps must be a positive integer"),
                                   ("cosineannealinglr/t", "on its own"),
                                   ("steplr/t", "StepLR"),
                                   ("reducelronplateau/t", "ReduceLROnPlateau")))


def test_reported_lr_is_the_optimizers_after_each_engine_step():
    import torch
    from deepspeed.runtime.lr_schedules import WarmupLR

    session = deepspeed_adapter.DeepSpeed().build(case("linearlr/t", "LinearLR",
                                                       {"start_factor": 0.5, "total_iters": 3}, steps=5,
                                                       groups=[{"lr": 0.1}]))
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    reference = WarmupLR(optimizer, warmup_min_lr=0.05, warmup_max_lr=0.1, warmup_num_steps=3, warmup_type="linear")
    for _ in range(5):
        assert session.lrs() == [optimizer.param_groups[0]["lr"]]
        session.optimizer_step()
        session.scheduler_step()
        reference.step()
