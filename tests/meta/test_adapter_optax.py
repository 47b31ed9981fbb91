"""The optax adapters (conformance/libraries/optax.py) on a handful of synthetic cases: the mapping rules hold
(boundaries, repeated milestones, one-cycle phases, plateau patience), findings stay findings, and
configurations without an equivalent are unsupported."""

from __future__ import annotations

import pytest

pytest.importorskip("optax")

from thirdparty_helpers import assert_porting_consistent, case, grade, plateau  # noqa: E402

from conformance.libraries import optax as optax_adapter  # noqa: E402
from conformance.model import Status  # noqa: E402

CASES = [
    case("multisteplr/t-repeated", "MultiStepLR", {"milestones": [2, 5, 5], "gamma": 0.5}),
    case("constantlr/t", "ConstantLR", {"factor": 0.5, "total_iters": 3}),
    case("constantlr/t-total-iters-0", "ConstantLR", {"factor": 0.5, "total_iters": 0}),
    case("multisteplr/t-no-milestones", "MultiStepLR", {"milestones": []}),
    case("exponentiallr/t-gamma-0", "ExponentialLR", {"gamma": 0.0}, steps=4),
    case("cosineannealinglr/t-within", "CosineAnnealingLR", {"T_max": 12, "eta_min": 0.001}, steps=13),
    case("cosineannealinglr/t-beyond", "CosineAnnealingLR", {"T_max": 4}, steps=8),
    case("cosineannealingwarmrestarts/t", "CosineAnnealingWarmRestarts", {"T_0": 3, "T_mult": 2}, steps=20),
    case("steplr/t", "StepLR", {"step_size": 3, "gamma": 0.5}),
    case("onecyclelr/t-fractional", "OneCycleLR", {"max_lr": 1.0, "total_steps": 25}, steps=25),
    case("onecyclelr/t", "OneCycleLR", {"max_lr": 1.0, "total_steps": 20, "pct_start": 0.25}, steps=20),
    plateau("reducelronplateau/t-rel", {"patience": 2}),
    plateau("reducelronplateau/t-threshold-0", {"patience": 1, "threshold": 0.0}),
    plateau("reducelronplateau/t-eps", {"patience": 0}, metrics=[1.0, 1.0, 1.0, 1.0],
            groups=[{"lr": 1e-8}, {"lr": 0.1}]),
    case("lambdalr/t", "LambdaLR", {"lr_lambda": {"fn": "exponential", "gamma": 0.9}}),
    # a leftover initial_lr is torch's base lr: warm restarts start from it, SequentialLR sets the lr to it
    case("cosineannealingwarmrestarts/t-leftover-initial-lr", "CosineAnnealingWarmRestarts", {"T_0": 3}, steps=7,
         groups=[{"lr": 0.1, "initial_lr": 0.05}]),
    case("sequentiallr/t-leftover-initial-lr", "SequentialLR", {"milestones": [3]}, steps=7,
         children=[{"scheduler": "ConstantLR", "kwargs": {"factor": 0.5, "total_iters": 2}},
                   {"scheduler": "MultiStepLR", "kwargs": {"milestones": [2]}}],
         groups=[{"lr": 0.1, "initial_lr": 0.05}]),
    # torch climbs from lr 0 to eta_min; optax's cosine is peak_value * a ratio, identically 0 for a peak of 0
    case("cosineannealingwarmrestarts/t-lr-zero", "CosineAnnealingWarmRestarts", {"T_0": 2, "eta_min": 0.001},
         steps=3, groups=[{"lr": 0.0}]),
]


@pytest.fixture(scope="module", params=["Optax64", "Optax32"])
def graded(request, tmp_path_factory):
    adapter = getattr(optax_adapter, request.param)()
    return request.param, adapter, grade(adapter, CASES, tmp_path_factory.mktemp(request.param))


def test_porting_table_matches_declared_schedulers(graded):
    assert_porting_consistent(optax_adapter, graded[1])


def test_mapping_rules_reproduce_torch(graded):
    name, _, results = graded
    exact = ["multisteplr/t-repeated", "multisteplr/t-no-milestones", "constantlr/t", "cosineannealinglr/t-within",
             "cosineannealingwarmrestarts/t", "reducelronplateau/t-rel",
             "cosineannealingwarmrestarts/t-leftover-initial-lr", "sequentiallr/t-leftover-initial-lr"]
    if name == "Optax32":  # in float64 these carry float32 rounding: optax's int32 count (see expectations)
        exact += ["steplr/t", "onecyclelr/t"]
    for case_id in exact:
        assert results[case_id][0] is Status.PASS, (case_id, results[case_id])


def test_int32_count_makes_x64_schedules_float32(graded):
    name, _, results = graded
    if name == "Optax64":
        assert results["steplr/t"][0] is Status.FAIL


def test_cosine_after_t_max_is_a_finding(graded):
    status, detail = graded[2]["cosineannealinglr/t-beyond"]
    assert status is Status.FAIL and detail.startswith("step 5 group 0 lr")


def test_library_differences_stay_findings(graded):
    name, _, results = graded
    # torch keeps lr * factor forever for total_iters=0; join_schedules switches at count >= 0
    assert results["constantlr/t-total-iters-0"][0] is Status.FAIL
    # exponential_decay(decay_rate=0) is a constant schedule; torch's lr is 0 from step 1
    status, detail = results["exponentiallr/t-gamma-0"]
    assert status is Status.FAIL and detail.startswith("step 1 group 0 lr")
    if name == "Optax64":  # torch's eps skips the 1e-8 group's reduction; optax has no eps (in float32 the
        # 9e-9 difference is under the variant's abs tolerance of 1e-7)
        status, detail = results["reducelronplateau/t-eps"]
        assert status is Status.FAIL and detail.startswith("step 2 group 0 lr")


def test_no_equivalent_is_unsupported(graded):
    results = graded[2]
    assert results["onecyclelr/t-fractional"][0] is Status.UNSUPPORTED
    assert "between steps" in results["onecyclelr/t-fractional"][1]
    assert results["reducelronplateau/t-threshold-0"][0] is Status.UNSUPPORTED
    assert results["lambdalr/t"][0] is Status.UNSUPPORTED
    assert results["cosineannealingwarmrestarts/t-lr-zero"][0] is Status.UNSUPPORTED
