"""The keras adapters (conformance/libraries/keras.py, torch backend) on a handful of synthetic cases: the
mapping rules hold (boundaries minus one, patience and cooldown plus one, warmup-cosine), findings stay
findings, and configurations without an equivalent are unsupported."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")
pytest.importorskip("keras")

from thirdparty_helpers import assert_porting_consistent, case, grade, plateau  # noqa: E402

from conformance.libraries import keras as keras_adapter  # noqa: E402
from conformance.model import Status  # noqa: E402

CASES = [
    case("multisteplr/t-repeated", "MultiStepLR", {"milestones": [2, 5, 5], "gamma": 0.5}),
    case("multisteplr/t-no-milestones", "MultiStepLR", {"milestones": []}),
    case("constantlr/t-total-iters-0", "ConstantLR", {"factor": 0.5, "total_iters": 0}),
    case("constantlr/t", "ConstantLR", {"factor": 0.5, "total_iters": 3}),
    case("steplr/t", "StepLR", {"step_size": 3, "gamma": 0.5}),
    case("cosineannealinglr/t-beyond", "CosineAnnealingLR", {"T_max": 4}, steps=8),
    case("cosineannealingwarmrestarts/t", "CosineAnnealingWarmRestarts", {"T_0": 3, "T_mult": 2}, steps=20),
    case("sequentiallr/t-warmup-cosine", "SequentialLR", {"milestones": [3]}, steps=12,
         children=[{"scheduler": "LinearLR", "kwargs": {"start_factor": 0.1, "total_iters": 3}},
                   {"scheduler": "CosineAnnealingLR", "kwargs": {"T_max": 9}}]),
    plateau("reducelronplateau/t-abs-cooldown", {"patience": 1, "cooldown": 2, "threshold_mode": "abs",
                                                 "factor": 0.5}),
    plateau("reducelronplateau/t-max", {"mode": "max", "patience": 0, "threshold_mode": "abs", "threshold": 0.0},
            metrics=[0.1, 0.2, 0.2, 0.3, 0.3, 0.3, 0.25, 0.4]),
    plateau("reducelronplateau/t-nan-first", {"patience": 1, "threshold_mode": "abs"},
            metrics=[float("nan"), 1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.5]),
    plateau("reducelronplateau/t-rel", {"patience": 2}),
    case("onecyclelr/t", "OneCycleLR", {"max_lr": 1.0, "total_steps": 20, "cycle_momentum": False}, steps=20),
]


@pytest.fixture(scope="module", params=["Keras64", "Keras32"])
def graded(request, tmp_path_factory):
    adapter = getattr(keras_adapter, request.param)()
    return request.param, adapter, grade(adapter, CASES, tmp_path_factory.mktemp(request.param))


def test_porting_table_matches_declared_schedulers(graded):
    assert_porting_consistent(keras_adapter, graded[1])


def test_mapping_rules_reproduce_torch(graded):
    results = graded[2]
    for case_id in ("multisteplr/t-repeated", "multisteplr/t-no-milestones", "constantlr/t", "steplr/t",
                    "cosineannealingwarmrestarts/t", "sequentiallr/t-warmup-cosine", "reducelronplateau/t-abs-cooldown",
                    "reducelronplateau/t-max"):
        assert results[case_id][0] is Status.PASS, (case_id, results[case_id])


def test_findings_stay_findings(graded):
    results = graded[2]
    assert results["cosineannealinglr/t-beyond"][0] is Status.FAIL
    # torch keeps lr * factor forever for total_iters=0; boundary -1 gives lr from step 0
    assert results["constantlr/t-total-iters-0"][0] is Status.FAIL
    # keras takes the first metric as the best even when it is nan; torch counts it as a bad epoch
    assert results["reducelronplateau/t-nan-first"][0] is Status.FAIL


def test_no_equivalent_is_unsupported(graded):
    results = graded[2]
    assert results["reducelronplateau/t-rel"][0] is Status.UNSUPPORTED
    assert results["onecyclelr/t"][0] is Status.UNSUPPORTED
