"""The fvcore adapter (conformance/libraries/fvcore.py) on a handful of synthetic cases: the ports hold (a StepLR
horizon rounded up to whole steps, repeated milestones, cosine halves alternating past T_max, warm restarts,
one-cycle phases and SequentialLR stretches as CompositeParamScheduler pieces), findings stay findings,
configurations without an equivalent are unsupported, and the lr reported is fvcore's value at where = t / N."""

from __future__ import annotations

import pytest

pytest.importorskip("fvcore.common.param_scheduler")

from thirdparty_helpers import (  # noqa: E402
    assert_pass,
    assert_porting_consistent,
    assert_unsupported,
    case,
    grade,
    plateau,
)

from conformance.libraries import fvcore as fvcore_adapter  # noqa: E402
from conformance.model import Status  # noqa: E402

CASES = [
    case("steplr/t", "StepLR", {"step_size": 3, "gamma": 0.5}),
    case("steplr/t-uneven", "StepLR", {"step_size": 5, "gamma": 0.5}, steps=12),
    case("multisteplr/t-repeated", "MultiStepLR", {"milestones": [7, 2, 5, 5, 40], "gamma": 0.5}),
    case("multisteplr/t-milestone-zero", "MultiStepLR", {"milestones": [0, 3]}),
    case("constantlr/t", "ConstantLR", {"factor": 0.5, "total_iters": 3}),
    case("constantlr/t-total-iters-0", "ConstantLR", {"factor": 0.5, "total_iters": 0}),
    case("exponentiallr/t", "ExponentialLR", {"gamma": 0.9}, steps=30),
    case("linearlr/t", "LinearLR", {"start_factor": 0.1, "total_iters": 4}),
    case("linearlr/t-beyond-run", "LinearLR", {"start_factor": 0.1, "total_iters": 20}),
    case("polynomiallr/t-square", "PolynomialLR", {"total_iters": 6, "power": 2.0}, steps=9),
    case("cosineannealinglr/t-within", "CosineAnnealingLR", {"T_max": 12, "eta_min": 0.001}, steps=12),
    case("cosineannealinglr/t-beyond", "CosineAnnealingLR", {"T_max": 4, "eta_min": 0.001}, steps=14),
    case("cosineannealingwarmrestarts/t", "CosineAnnealingWarmRestarts", {"T_0": 3, "T_mult": 2}, steps=25),
    case("onecyclelr/t-cos", "OneCycleLR", {"max_lr": 1.0, "total_steps": 20, "pct_start": 0.25,
                                            "cycle_momentum": False}, steps=20),
    case("onecyclelr/t-linear-three-phase", "OneCycleLR",
         {"max_lr": 0.5, "total_steps": 20, "pct_start": 0.25, "anneal_strategy": "linear", "three_phase": True,
          "cycle_momentum": False}, steps=20),
    case("onecyclelr/t-momentum", "OneCycleLR", {"max_lr": 1.0, "total_steps": 20, "pct_start": 0.25}, steps=20),
    case("sequentiallr/t-warmup-cosine", "SequentialLR", {"milestones": [3]}, steps=12,
         children=[{"scheduler": "LinearLR", "kwargs": {"start_factor": 0.1, "total_iters": 3}},
                   {"scheduler": "CosineAnnealingLR", "kwargs": {"T_max": 9, "eta_min": 0.001}}]),
    case("sequentiallr/t-cut-step", "SequentialLR", {"milestones": [4]}, steps=12,
         children=[{"scheduler": "StepLR", "kwargs": {"step_size": 3}},
                   {"scheduler": "ExponentialLR", "kwargs": {"gamma": 0.9}}]),
    case("steplr/t-two-groups", "StepLR", {"step_size": 2, "gamma": 0.5}, groups=[{"lr": 0.1}, {"lr": 0.02}]),
    case("lambdalr/t", "LambdaLR", {"lr_lambda": {"fn": "exponential", "gamma": 0.9}}),
    plateau("reducelronplateau/t", {"patience": 2}),
]


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    adapter = fvcore_adapter.FVCore()
    return adapter, grade(adapter, CASES, tmp_path_factory.mktemp("fvcore"))


def test_porting_table_matches_declared_schedulers(graded):
    assert_porting_consistent(fvcore_adapter, graded[0])


def test_ports_reproduce_torch(graded):
    assert_pass(graded[1], (
        "steplr/t", "steplr/t-uneven", "multisteplr/t-repeated", "constantlr/t", "exponentiallr/t", "linearlr/t",
        "linearlr/t-beyond-run", "polynomiallr/t-square", "cosineannealinglr/t-within", "cosineannealinglr/t-beyond",
        "cosineannealingwarmrestarts/t", "onecyclelr/t-cos", "onecyclelr/t-linear-three-phase",
        "sequentiallr/t-warmup-cosine", "steplr/t-two-groups"))


def test_findings_stay_findings(graded):
    # a piece of length 0 is never evaluated: the port gives lr from step 0, torch keeps lr * factor for ever
    status, detail = graded[1]["constantlr/t-total-iters-0"]
    assert status is Status.FAIL and detail.startswith("step 0 group 0 lr"), detail


def test_no_equivalent_is_unsupported(graded):
    assert_unsupported(graded[1], (
        ("multisteplr/t-milestone-zero", "Milestone must be smaller than start epoch"),
        ("sequentiallr/t-cut-step", "port needs 6 steps, its stretch has 4"),
        ("onecyclelr/t-momentum", "momentum"),
        ("lambdalr/t", "LambdaLR"),
        ("reducelronplateau/t", "ReduceLROnPlateau")))


def test_reported_lr_is_fvcores_value_at_where_t_over_n():
    from fvcore.common.param_scheduler import StepWithFixedGammaParamScheduler

    session = fvcore_adapter.FVCore().build(case("steplr/t", "StepLR", {"step_size": 5, "gamma": 0.5}, steps=12,
                                                 groups=[{"lr": 0.1}]))
    # the horizon is rounded up to whole steps of 5: N = 15, values 0.1, 0.05, 0.025
    reference = StepWithFixedGammaParamScheduler(base_value=0.1, num_decays=2, gamma=0.5, num_updates=15)
    seen = []
    for t in range(12):
        seen.append(session.lrs()[0])
        assert seen[-1] == reference(t / 15)
        session.optimizer_step()
        session.scheduler_step()
    assert seen[4:6] == [0.1, 0.05] and seen[10] == 0.025
