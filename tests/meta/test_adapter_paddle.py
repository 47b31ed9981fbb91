"""The paddle adapters (conformance/libraries/paddle.py) on a handful of synthetic cases: the mapping rules hold
(sorted milestones, PiecewiseDecay for ConstantLR, LinearWarmup for warmup-then-X, OneCycleLR's end lr, resume
through state_dict), findings stay findings, and configurations without an equivalent are unsupported."""

from __future__ import annotations

import pytest

pytest.importorskip("paddle")

from thirdparty_helpers import assert_porting_consistent, case, grade, plateau  # noqa: E402

from conformance.libraries import paddle as paddle_adapter  # noqa: E402
from conformance.model import Status  # noqa: E402

CASES = [
    case("steplr/t", "StepLR", {"step_size": 3, "gamma": 0.5}),
    case("multisteplr/t-unsorted", "MultiStepLR", {"milestones": [7, 2, 4], "gamma": 0.5}),
    case("multisteplr/t-repeated", "MultiStepLR", {"milestones": [2, 5, 5], "gamma": 0.5}),
    case("constantlr/t", "ConstantLR", {"factor": 0.5, "total_iters": 3}),
    case("exponentiallr/t-gamma-one", "ExponentialLR", {"gamma": 1.0}),
    case("cosineannealinglr/t-beyond", "CosineAnnealingLR", {"T_max": 4}, steps=12),
    case("lambdalr/t-per-group", "LambdaLR", {"lr_lambda": [{"fn": "exponential", "gamma": 0.9},
                                                            {"fn": "linear_warmup", "warmup": 3}]},
         groups=[{"lr": 0.1}, {"lr": 0.02}]),
    # one callable object with state for both groups: torch shares it ([lr_lambda] * 2), so must the port
    case("lambdalr/t-shared-object", "LambdaLR", {"lr_lambda": {"fn": "call_count_decay", "gamma": 0.5}},
         steps=5, groups=[{"lr": 0.1}, {"lr": 0.04}]),
    case("cycliclr/t-shared-scale-fn", "CyclicLR", {"base_lr": 0.001, "max_lr": 0.01, "step_size_up": 2,
                                                    "scale_fn": {"fn": "call_count_decay", "gamma": 0.9},
                                                    "cycle_momentum": False},
         steps=8, groups=[{"lr": 0.1}, {"lr": 0.04}]),
    # a leftover initial_lr is torch's base lr (LRScheduler keeps it): the closed forms start from it
    case("lambdalr/t-leftover-initial-lr", "LambdaLR", {"lr_lambda": {"fn": "exponential", "gamma": 0.5}},
         groups=[{"lr": 0.1, "initial_lr": 0.05}]),
    case("cosineannealingwarmrestarts/t-leftover-initial-lr", "CosineAnnealingWarmRestarts",
         {"T_0": 3, "eta_min": 0.001}, steps=7, groups=[{"lr": 0.1, "initial_lr": 0.05}]),
    case("sequentiallr/t-warmup-cosine", "SequentialLR", {"milestones": [3]}, steps=12,
         children=[{"scheduler": "LinearLR", "kwargs": {"start_factor": 0.1, "total_iters": 3}},
                   {"scheduler": "CosineAnnealingLR", "kwargs": {"T_max": 9, "eta_min": 0.001}}]),
    case("sequentiallr/t-constant-first", "SequentialLR", {"milestones": [3]}, steps=8,
         children=[{"scheduler": "ConstantLR", "kwargs": {"factor": 0.5, "total_iters": 3}},
                   {"scheduler": "ExponentialLR", "kwargs": {"gamma": 0.9}}]),
    case("onecyclelr/t-fractional", "OneCycleLR", {"max_lr": 1.0, "total_steps": 25, "cycle_momentum": False},
         steps=25),
    case("onecyclelr/t-momentum", "OneCycleLR", {"max_lr": 1.0, "total_steps": 20}, steps=20),
    case("cycliclr/t-triangular2", "CyclicLR", {"base_lr": 0.001, "max_lr": 0.01, "step_size_up": 3,
                                                "mode": "triangular2", "cycle_momentum": False}, steps=20),
    case("steplr/t-resume", "StepLR", {"step_size": 3, "gamma": 0.5}, protocol="resume-state-dict", resume_at=4),
    case("cosineannealingwarmrestarts/t-resume", "CosineAnnealingWarmRestarts", {"T_0": 5}, steps=8,
         protocol="resume-state-dict", resume_at=4),
    case("linearlr/t-step-epoch", "LinearLR", {"start_factor": 0.2, "total_iters": 4}, steps=6,
         protocol="step-epoch", epochs=[1, 3, 8, 2, 0, 4]),
    plateau("reducelronplateau/t-rel", {"patience": 2}),
    plateau("reducelronplateau/t-nan-first", {"patience": 1, "factor": 0.5},
            metrics=[float("nan"), float("nan"), 1.0, 1.0, 1.0, 1.0]),
    # torch still records a better metric as the best during cooldown; paddle skips the comparison, so 0.8
    # (worse than 0.5, better than 1.0) is a bad epoch in torch and an improvement in paddle
    plateau("reducelronplateau/t-cooldown-best", {"patience": 0, "factor": 0.5, "cooldown": 1,
                                                  "threshold_mode": "abs", "threshold": 0.0},
            metrics=[1.0, 1.0, 0.5, 0.8, 0.8, 0.8]),
    case("chainedscheduler/t", "ChainedScheduler", {}, children=[
        {"scheduler": "ExponentialLR", "kwargs": {"gamma": 0.9}},
        {"scheduler": "StepLR", "kwargs": {"step_size": 2}}]),
]


@pytest.fixture(scope="module", params=["Paddle64", "Paddle32"])
def graded(request, tmp_path_factory):
    adapter = getattr(paddle_adapter, request.param)()
    return request.param, adapter, grade(adapter, CASES, tmp_path_factory.mktemp(request.param))


def test_porting_table_matches_declared_schedulers(graded):
    assert_porting_consistent(paddle_adapter, graded[1])


def test_mapping_rules_reproduce_torch(graded):
    results = graded[2]
    for case_id in ("steplr/t", "multisteplr/t-unsorted", "constantlr/t", "cosineannealinglr/t-beyond",
                    "lambdalr/t-per-group", "lambdalr/t-shared-object", "cycliclr/t-shared-scale-fn",
                    "lambdalr/t-leftover-initial-lr", "cosineannealingwarmrestarts/t-leftover-initial-lr",
                    "sequentiallr/t-warmup-cosine", "onecyclelr/t-fractional",
                    "cycliclr/t-triangular2", "steplr/t-resume", "reducelronplateau/t-rel"):
        assert results[case_id][0] is Status.PASS, (case_id, results[case_id])


def test_findings_stay_findings(graded):
    results = graded[2]
    # CosineAnnealingWarmRestarts.state_dict() has no T_cur / T_i: the restart after the resume is missed
    assert results["cosineannealingwarmrestarts/t-resume"][0] is Status.FAIL
    assert results["cosineannealingwarmrestarts/t-resume"][1].startswith("step 5 group 0 lr")
    # LinearLR has no closed form: step(epoch) applies one step's ratio
    assert results["linearlr/t-step-epoch"][0] is Status.FAIL
    # ReduceOnPlateau takes the first metric (nan) as the best
    assert results["reducelronplateau/t-nan-first"][0] is Status.FAIL
    assert results["reducelronplateau/t-cooldown-best"][0] is Status.FAIL
    assert results["reducelronplateau/t-cooldown-best"][1].startswith("step 4 group 0 lr")


def test_no_equivalent_is_unsupported(graded):
    results = graded[2]
    assert results["multisteplr/t-repeated"][0] is Status.UNSUPPORTED
    assert "repeated milestone" in results["multisteplr/t-repeated"][1]
    assert results["exponentiallr/t-gamma-one"][0] is Status.UNSUPPORTED
    assert "paddle rejects" in results["exponentiallr/t-gamma-one"][1]
    assert results["sequentiallr/t-constant-first"][0] is Status.UNSUPPORTED
    assert results["onecyclelr/t-momentum"][0] is Status.UNSUPPORTED  # paddle does not cycle momentum
    assert results["chainedscheduler/t"][0] is Status.UNSUPPORTED


def test_float32_variant_rounds_to_float32(graded):
    name, adapter, _ = graded
    session = adapter.build(case("steplr/t", "StepLR", {"step_size": 3, "gamma": 0.5}, groups=[{"lr": 0.1}]))
    expected = 0.10000000149011612 if name == "Paddle32" else 0.1  # float32(0.1), as paddle's lr tensor holds it
    assert session.lrs() == [expected]
    assert session.last_lrs() == [0.1]
