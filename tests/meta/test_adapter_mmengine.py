"""The mmengine adapter (conformance/libraries/mmengine.py) on a handful of synthetic cases: the mapping rules hold
(end = total_iters + 1, schedulers lists for the composites, the metrics dict for plateau, state_dict resume),
findings stay findings, and configurations without an equivalent are unsupported."""

from __future__ import annotations

import pytest

pytest.importorskip("mmengine.optim.scheduler")

from thirdparty_helpers import assert_porting_consistent, case, grade, plateau  # noqa: E402

from conformance.libraries import mmengine as mmengine_adapter  # noqa: E402
from conformance.model import Status  # noqa: E402

CASES = [
    case("multisteplr/t-repeated", "MultiStepLR", {"milestones": [2, 5, 5], "gamma": 0.5}),
    case("constantlr/t", "ConstantLR", {"factor": 0.5, "total_iters": 3}),
    case("linearlr/t", "LinearLR", {"start_factor": 0.25, "total_iters": 4}, groups=[{"lr": 0.1}, {"lr": 0.02}]),
    case("polynomiallr/t", "PolynomialLR", {"total_iters": 6, "power": 2.0}, steps=9),
    case("cosineannealinglr/t-beyond", "CosineAnnealingLR", {"T_max": 4, "eta_min": 0.01}, steps=12),
    case("cosineannealingwarmrestarts/t", "CosineAnnealingWarmRestarts", {"T_0": 3, "T_mult": 2}, steps=20),
    case("steplr/t-resume", "StepLR", {"step_size": 3, "gamma": 0.5}, protocol="resume-state-dict", resume_at=4),
    case("chainedscheduler/t", "ChainedScheduler", {}, steps=10,
         children=[{"scheduler": "LinearLR", "kwargs": {"start_factor": 0.25, "total_iters": 4}},
                   {"scheduler": "StepLR", "kwargs": {"step_size": 3, "gamma": 0.5}}]),
    case("sequentiallr/t-warmup-cosine", "SequentialLR", {"milestones": [3]}, steps=12,
         children=[{"scheduler": "LinearLR", "kwargs": {"start_factor": 0.1, "total_iters": 3}},
                   {"scheduler": "CosineAnnealingLR", "kwargs": {"T_max": 9}}]),
    case("sequentiallr/t-restart", "SequentialLR", {"milestones": [3]}, steps=8,
         children=[{"scheduler": "ExponentialLR", "kwargs": {"gamma": 0.5}},
                   {"scheduler": "StepLR", "kwargs": {"step_size": 2, "gamma": 0.5}}]),
    case("sequentiallr/t-cut", "SequentialLR", {"milestones": [2]}, steps=8,
         children=[{"scheduler": "ConstantLR", "kwargs": {"factor": 0.5, "total_iters": 4}},
                   {"scheduler": "ExponentialLR", "kwargs": {"gamma": 0.5}}]),
    case("exponentiallr/t-last-epoch", "ExponentialLR", {"gamma": 0.5, "last_epoch": 3}, steps=5,
         groups=[{"lr": 0.0125, "initial_lr": 0.1}]),
    case("onecyclelr/t", "OneCycleLR", {"max_lr": 1.0, "total_steps": 20, "cycle_momentum": False}, steps=20),
    case("onecyclelr/t-momentum", "OneCycleLR", {"max_lr": 1.0, "total_steps": 20}, steps=20,
         optimizer={"name": "SGD", "momentum": 0.9}),
    plateau("reducelronplateau/t-rel-cooldown", {"patience": 1, "cooldown": 2, "factor": 0.5}),
    plateau("reducelronplateau/t-max-abs", {"mode": "max", "patience": 0, "threshold_mode": "abs",
                                            "threshold": 0.0},
            metrics=[0.1, 0.2, 0.2, 0.3, 0.3, 0.3, 0.25, 0.4]),
    case("lambdalr/t", "LambdaLR", {"lr_lambda": {"fn": "exponential", "gamma": 0.9}}),
    # get_lr() at iteration 2 of a two-group last_epoch resume, whose construction raises KeyError in mmengine
    # (its OptimWrapper's base_param_settings group has no initial_lr): unsupported before it is built
    case("cosineannealinglr/t-get-lr-resume", "CosineAnnealingLR", {"T_max": 10, "last_epoch": 0}, steps=3,
         groups=[{"lr": 0.08, "initial_lr": 0.1}, {"lr": 0.5, "initial_lr": 0.4}],
         interventions=[{"at": 2, "do": "call", "method": "get_lr"}]),
]


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    adapter = mmengine_adapter.MMEngine()
    return adapter, grade(adapter, CASES, tmp_path_factory.mktemp("mmengine"))


def test_porting_table_matches_declared_schedulers(graded):
    assert_porting_consistent(mmengine_adapter, graded[0])


def test_mapping_rules_reproduce_torch(graded):
    results = graded[1]
    for case_id in ("multisteplr/t-repeated", "constantlr/t", "linearlr/t", "polynomiallr/t",
                    "cosineannealinglr/t-beyond", "cosineannealingwarmrestarts/t", "steplr/t-resume",
                    "chainedscheduler/t", "sequentiallr/t-warmup-cosine", "onecyclelr/t",
                    "reducelronplateau/t-rel-cooldown", "reducelronplateau/t-max-abs"):
        assert results[case_id][0] is Status.PASS, (case_id, results[case_id])


def test_findings_stay_findings(graded):
    results = graded[1]
    # the constructor's step() applies one more factor when resuming with last_step (torch >= 2.8 does not)
    status, detail = results["exponentiallr/t-last-epoch"]
    assert status is Status.FAIL and detail.startswith("step 0 group 0 lr")
    # the next stage of the list continues from the current lr; torch restarts it from the base lr
    status, detail = results["sequentiallr/t-restart"]
    assert status is Status.FAIL and detail.startswith("step 3 group 0 lr")


def test_no_equivalent_is_unsupported(graded):
    results = graded[1]
    assert results["sequentiallr/t-cut"][0] is Status.UNSUPPORTED
    assert "cut by the next milestone" in results["sequentiallr/t-cut"][1]
    assert results["onecyclelr/t-momentum"][0] is Status.UNSUPPORTED
    assert results["lambdalr/t"][0] is Status.UNSUPPORTED
    status, detail = results["cosineannealinglr/t-get-lr-resume"]
    assert status is Status.UNSUPPORTED and "no public get_lr()" in detail, (status, detail)
