"""The mlx adapter (conformance/libraries/mlx.py) on a handful of synthetic cases: the mapping rules hold
(repeated milestones joined, warm restarts and one-cycle phases as joins of cosine_decay), findings stay findings,
configurations without an equivalent are unsupported, and the lr reported is the float32 value mlx's SGD applies."""

from __future__ import annotations

import pytest

pytest.importorskip("mlx.optimizers")

from thirdparty_helpers import assert_porting_consistent, case, grade, plateau  # noqa: E402

from conformance.libraries import mlx as mlx_adapter  # noqa: E402
from conformance.model import Status  # noqa: E402

CASES = [
    case("steplr/t", "StepLR", {"step_size": 3, "gamma": 0.5}),
    case("multisteplr/t-repeated", "MultiStepLR", {"milestones": [7, 2, 5, 5], "gamma": 0.5}),
    case("multisteplr/t-no-milestones", "MultiStepLR", {"milestones": []}),
    case("constantlr/t", "ConstantLR", {"factor": 0.5, "total_iters": 3}),
    case("constantlr/t-total-iters-0", "ConstantLR", {"factor": 0.5, "total_iters": 0}),
    case("exponentiallr/t", "ExponentialLR", {"gamma": 0.9}, steps=30),
    case("linearlr/t", "LinearLR", {"start_factor": 0.1, "total_iters": 4}),
    case("linearlr/t-total-iters-0", "LinearLR", {"start_factor": 0.1, "total_iters": 0}),
    case("polynomiallr/t-linear", "PolynomialLR", {"total_iters": 6, "power": 1.0}, steps=9),
    case("polynomiallr/t-square", "PolynomialLR", {"total_iters": 6, "power": 2.0}),
    case("cosineannealinglr/t-within", "CosineAnnealingLR", {"T_max": 12, "eta_min": 0.001}, steps=13),
    case("cosineannealinglr/t-beyond", "CosineAnnealingLR", {"T_max": 4}, steps=8),
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
    case("steplr/t-two-groups", "StepLR", {"step_size": 2, "gamma": 0.5}, groups=[{"lr": 0.1}, {"lr": 0.02}]),
    case("lambdalr/t", "LambdaLR", {"lr_lambda": {"fn": "exponential", "gamma": 0.9}}),
    plateau("reducelronplateau/t", {"patience": 2}),
]


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    adapter = mlx_adapter.MLX()
    return adapter, grade(adapter, CASES, tmp_path_factory.mktemp("mlx"))


def test_porting_table_matches_declared_schedulers(graded):
    assert_porting_consistent(mlx_adapter, graded[0])


def test_mapping_rules_reproduce_torch(graded):
    results = graded[1]
    for case_id in ("steplr/t", "multisteplr/t-repeated", "multisteplr/t-no-milestones", "constantlr/t",
                    "exponentiallr/t", "linearlr/t", "polynomiallr/t-linear", "cosineannealinglr/t-within",
                    "cosineannealingwarmrestarts/t", "onecyclelr/t-cos", "onecyclelr/t-linear-three-phase",
                    "sequentiallr/t-warmup-cosine", "steplr/t-two-groups"):
        assert results[case_id][0] is Status.PASS, (case_id, results[case_id])


def test_findings_stay_findings(graded):
    results = graded[1]
    # cosine_decay clamps the step at decay_steps: torch's cosine climbs back after T_max
    assert results["cosineannealinglr/t-beyond"][0] is Status.FAIL
    assert results["cosineannealinglr/t-beyond"][1].startswith("step 5 group 0 lr")
    # join_schedules at boundary 0 gives the second piece from step 0; torch keeps lr * factor for ever
    assert results["constantlr/t-total-iters-0"][0] is Status.FAIL
    assert results["constantlr/t-total-iters-0"][1].startswith("step 0 group 0 lr")


def test_no_equivalent_is_unsupported(graded):
    results = graded[1]
    for case_id, why in (("linearlr/t-total-iters-0", "steps must be greater than 0"),
                         ("polynomiallr/t-square", "no polynomial schedule"),
                         ("onecyclelr/t-momentum", "momentum"),
                         ("lambdalr/t", "LambdaLR"),
                         ("reducelronplateau/t", "ReduceLROnPlateau")):
        assert results[case_id][0] is Status.UNSUPPORTED, (case_id, results[case_id])
        assert why in results[case_id][1], (case_id, results[case_id])


def test_reported_lr_is_what_mlx_sgd_applies():
    import mlx.core as mx

    session = mlx_adapter.MLX().build(case("exponentiallr/t", "ExponentialLR", {"gamma": 0.9}, steps=5,
                                           groups=[{"lr": 0.1}]))
    assert session.lrs() == [0.10000000149011612]  # float32(0.1): mlx schedules compute in float32
    for _ in range(4):
        before = session.params[0]["w"].item()
        lr = session.lrs()[0]
        session.optimizer_step()  # SGD without momentum, gradient 1: w <- w - lr
        applied = before - session.params[0]["w"].item()
        assert applied == pytest.approx(lr, rel=1e-6)
        assert session.optimizers[0].learning_rate.item() == lr  # the value apply_gradients stored and used
        assert session.optimizers[0].learning_rate.dtype == mx.float32
