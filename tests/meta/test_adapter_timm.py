"""The timm adapter (conformance/libraries/timm.py) on a handful of synthetic cases: timm.scheduler loads without
timm/__init__.py, the mapping rules hold (milestones plus one, warm-up as LinearLR / SequentialLR, step(epoch)),
findings stay findings, and configurations without an equivalent are unsupported."""

from __future__ import annotations

import importlib.util
import sys

import pytest

if importlib.util.find_spec("timm") is None:
    pytest.skip("timm is not installed", allow_module_level=True)

from thirdparty_helpers import assert_porting_consistent, case, grade, plateau  # noqa: E402

from conformance.libraries import timm as timm_adapter  # noqa: E402
from conformance.model import Status  # noqa: E402

CASES = [
    case("multisteplr/t-repeated", "MultiStepLR", {"milestones": [5, 2, 5], "gamma": 0.5}),
    case("steplr/t", "StepLR", {"step_size": 3, "gamma": 0.5}),
    case("steplr/t-step-epoch", "StepLR", {"step_size": 3, "gamma": 0.5}, protocol="step-epoch", steps=6,
         epochs=[1, 2, 3, 7, 4, 0]),
    case("linearlr/t", "LinearLR", {"start_factor": 0.25, "total_iters": 4}, groups=[{"lr": 0.1}]),
    case("linearlr/t-groups", "LinearLR", {"start_factor": 0.25, "total_iters": 4}),
    case("polynomiallr/t", "PolynomialLR", {"total_iters": 6, "power": 2.0}, steps=9),
    case("cosineannealinglr/t-within", "CosineAnnealingLR", {"T_max": 12, "eta_min": 0.001}, steps=13),
    case("cosineannealinglr/t-beyond", "CosineAnnealingLR", {"T_max": 4}, steps=8),
    case("cosineannealingwarmrestarts/t", "CosineAnnealingWarmRestarts", {"T_0": 3, "T_mult": 2}, steps=20),
    case("sequentiallr/t-warmup-step", "SequentialLR", {"milestones": [3]}, steps=12, groups=[{"lr": 0.1}],
         children=[{"scheduler": "LinearLR", "kwargs": {"start_factor": 0.1, "total_iters": 3}},
                   {"scheduler": "StepLR", "kwargs": {"step_size": 2, "gamma": 0.5}}]),
    plateau("reducelronplateau/t-rel", {"patience": 2, "factor": 0.5}),
    plateau("reducelronplateau/t-abs", {"patience": 2, "threshold_mode": "abs"}),
    case("constantlr/t", "ConstantLR", {"factor": 0.5, "total_iters": 3}),
]


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    adapter = timm_adapter.Timm()
    return adapter, grade(adapter, CASES, tmp_path_factory.mktemp("timm"))


def test_scheduler_package_loads_without_timm_init(graded):
    assert "timm.scheduler" in sys.modules
    assert "timm.models" not in sys.modules  # timm/__init__.py (models, torchvision) was not run


def test_porting_table_matches_declared_schedulers(graded):
    assert_porting_consistent(timm_adapter, graded[0])


def test_mapping_rules_reproduce_torch(graded):
    results = graded[1]
    for case_id in ("multisteplr/t-repeated", "steplr/t", "steplr/t-step-epoch", "linearlr/t", "polynomiallr/t",
                    "cosineannealinglr/t-within", "cosineannealingwarmrestarts/t", "sequentiallr/t-warmup-step",
                    "reducelronplateau/t-rel"):
        assert results[case_id][0] is Status.PASS, (case_id, results[case_id])


def test_cosine_after_t_max_is_a_finding(graded):
    status, detail = graded[1]["cosineannealinglr/t-beyond"]
    assert status is Status.FAIL and detail.startswith("step 5 group 0 lr")


def test_no_equivalent_is_unsupported(graded):
    results = graded[1]
    assert results["linearlr/t-groups"][0] is Status.UNSUPPORTED  # one warmup_lr_init for all groups
    assert results["reducelronplateau/t-abs"][0] is Status.UNSUPPORTED
    assert results["constantlr/t"][0] is Status.UNSUPPORTED
