"""The MindSpore adapter (conformance/libraries/mindspore.py) on a handful of synthetic cases: the mapping rules hold
(torch's constructors, a list stepped in order for ChainedScheduler, step(metric) for plateau, step(epoch), Adam),
float32 lrs stay within the declared tolerance, findings stay findings, and configurations without an equivalent
are unsupported."""

from __future__ import annotations

import pytest

pytest.importorskip("mindspore.experimental.optim.lr_scheduler")

from thirdparty_helpers import assert_porting_consistent, case, grade, plateau  # noqa: E402

from conformance.libraries import mindspore as mindspore_adapter  # noqa: E402
from conformance.model import Status  # noqa: E402

CASES = [
    case("steplr/t", "StepLR", {"step_size": 3, "gamma": 0.5}, groups=[{"lr": 0.1}, {"lr": 0.003}]),
    case("steplr/t-adam", "StepLR", {"step_size": 2, "gamma": 0.5}, optimizer={"name": "Adam"}),
    case("multisteplr/t-repeated", "MultiStepLR", {"milestones": [2, 5, 5], "gamma": 0.5}),
    case("constantlr/t", "ConstantLR", {"factor": 0.5, "total_iters": 3}),
    case("polynomiallr/t", "PolynomialLR", {"total_iters": 6, "power": 2.0}, steps=9),
    case("cosineannealinglr/t-beyond", "CosineAnnealingLR", {"T_max": 4, "eta_min": 0.01}, steps=20),
    case("cosineannealingwarmrestarts/t", "CosineAnnealingWarmRestarts", {"T_0": 3, "T_mult": 2}, steps=20),
    case("lambdalr/t-per-group", "LambdaLR", {"lr_lambda": [{"fn": "exponential", "gamma": 0.9},
                                                            {"fn": "linear_warmup", "warmup": 3}]},
         groups=[{"lr": 0.1}, {"lr": 0.02}]),
    case("cycliclr/t-no-momentum", "CyclicLR", {"base_lr": 0.001, "max_lr": 0.01, "step_size_up": 3,
                                                "mode": "triangular2", "cycle_momentum": False}, steps=20),
    # torch's default cycle_momentum=True cycles the SGD momentum: MindSpore's CyclicLR has no momentum cycle
    case("cycliclr/t-momentum", "CyclicLR", {"base_lr": 0.001, "max_lr": 0.01, "step_size_up": 3}, steps=8,
         optimizer={"name": "SGD", "momentum": 0.9}),
    case("chainedscheduler/t", "ChainedScheduler", {}, steps=10,
         children=[{"scheduler": "LinearLR", "kwargs": {"start_factor": 0.25, "total_iters": 4}},
                   {"scheduler": "StepLR", "kwargs": {"step_size": 3, "gamma": 0.5}}]),
    case("sequentiallr/t-warmup-cosine", "SequentialLR", {"milestones": [3]}, steps=12,
         children=[{"scheduler": "LinearLR", "kwargs": {"start_factor": 0.1, "total_iters": 3}},
                   {"scheduler": "CosineAnnealingLR", "kwargs": {"T_max": 9, "eta_min": 0.001}}]),
    case("steplr/t-step-epoch", "StepLR", {"step_size": 2, "gamma": 0.5}, steps=6,
         protocol="step-epoch", epochs=[1, 3, 8, 2, 0, 4]),
    case("multisteplr/t-step-epoch", "MultiStepLR", {"milestones": [2, 4], "gamma": 0.5}, steps=6,
         protocol="step-epoch", epochs=[1, 3, 8, 2, 0, 4]),
    case("exponentiallr/t-last-epoch", "ExponentialLR", {"gamma": 0.5, "last_epoch": 3}, steps=5,
         groups=[{"lr": 0.0125, "initial_lr": 0.1}]),
    case("steplr/t-step-size-zero", "StepLR", {"step_size": 0}, steps=4),
    case("linearlr/t-start-factor-zero", "LinearLR", {"start_factor": 0.0}),
    case("steplr/t-resume", "StepLR", {"step_size": 3, "gamma": 0.5}, protocol="resume-state-dict", resume_at=4),
    case("onecyclelr/t", "OneCycleLR", {"max_lr": 1.0, "total_steps": 20, "cycle_momentum": False}, steps=20),
    plateau("reducelronplateau/t-rel-cooldown", {"patience": 1, "cooldown": 2, "factor": 0.5}),
    plateau("reducelronplateau/t-max-abs", {"mode": "max", "patience": 0, "threshold_mode": "abs",
                                            "threshold": 0.0},
            metrics=[0.1, 0.2, 0.2, 0.3, 0.3, 0.3, 0.25, 0.4]),
]


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    adapter = mindspore_adapter.MindSpore()
    return adapter, grade(adapter, CASES, tmp_path_factory.mktemp("mindspore"))


def test_porting_table_matches_declared_schedulers(graded):
    assert_porting_consistent(mindspore_adapter, graded[0])


def test_mapping_rules_reproduce_torch(graded):
    results = graded[1]
    for case_id in ("steplr/t", "steplr/t-adam", "multisteplr/t-repeated", "constantlr/t", "polynomiallr/t",
                    "cosineannealinglr/t-beyond", "cosineannealingwarmrestarts/t", "lambdalr/t-per-group",
                    "cycliclr/t-no-momentum", "chainedscheduler/t", "sequentiallr/t-warmup-cosine",
                    "steplr/t-step-epoch", "linearlr/t-start-factor-zero", "reducelronplateau/t-rel-cooldown",
                    "reducelronplateau/t-max-abs"):
        assert results[case_id][0] is Status.PASS, (case_id, results[case_id])


def test_findings_stay_findings(graded):
    results = graded[1]
    # the constructor's step() applies one more factor when resuming with last_epoch (torch >= 2.8 does not)
    status, detail = results["exponentiallr/t-last-epoch"]
    assert status is Status.FAIL and detail.startswith("step 0 group 0 lr"), detail
    # MultiStepLR._get_closed_form_lr reads self.step_size, which MultiStepLR does not have
    status, detail = results["multisteplr/t-step-epoch"]
    assert status is Status.ERROR and "AttributeError" in detail, detail
    # last_epoch % step_size on a float32 Tensor: nan, no ZeroDivisionError
    status, detail = results["steplr/t-step-size-zero"]
    assert status is Status.FAIL and "ZeroDivisionError" in detail, detail


def test_no_equivalent_is_unsupported(graded):
    results = graded[1]
    assert results["cycliclr/t-momentum"][0] is Status.UNSUPPORTED  # no momentum cycle in MindSpore's CyclicLR
    assert results["onecyclelr/t"][0] is Status.UNSUPPORTED  # no OneCycleLR
    assert "OneCycleLR" in results["onecyclelr/t"][1]
    assert results["steplr/t-resume"][0] is Status.UNSUPPORTED  # no state_dict
    assert "state_dict" in results["steplr/t-resume"][1]


def test_lrs_are_float32(graded):
    adapter = graded[0]
    session = adapter.build(case("steplr/t", "StepLR", {"step_size": 3, "gamma": 0.5}, groups=[{"lr": 0.1}]))
    assert session.lrs() == [0.10000000149011612]  # float32(0.1): MindSpore's lr Parameter
    assert session.last_lrs() == [0.10000000149011612]
