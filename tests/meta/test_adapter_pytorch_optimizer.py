"""The pytorch-optimizer adapter (conformance/libraries/pytorch_optimizer.py) on a handful of synthetic cases: only
the library's own schedulers are graded (torch's re-exported classes are unsupported, with that reason), the ports
hold (the warm-up of LinearScheduler, CosineScheduler past T_max, a warm-up then cosine), the first-cycle bug of
CosineAnnealingWarmupRestarts stays a finding, and the lr reported is the torch optimizer's own."""

from __future__ import annotations

import pytest

pytest.importorskip("pytorch_optimizer.lr_scheduler")

from thirdparty_helpers import (  # noqa: E402
    assert_pass,
    assert_porting_consistent,
    assert_unsupported,
    case,
    grade,
    plateau,
)

from conformance.libraries import pytorch_optimizer as po_adapter  # noqa: E402
from conformance.model import Status  # noqa: E402

ONE = [{"lr": 0.1}]  # the library sets one lr for all groups (the helpers' default is two groups)

CASES = [
    case("linearlr/t", "LinearLR", {"start_factor": 0.1, "total_iters": 4}, groups=ONE),
    case("linearlr/t-decay", "LinearLR", {"start_factor": 1.0, "end_factor": 0.25, "total_iters": 6}, groups=ONE),
    case("cosineannealinglr/t-beyond", "CosineAnnealingLR", {"T_max": 4, "eta_min": 0.001}, steps=14, groups=ONE),
    case("cosineannealinglr/t-two-groups", "CosineAnnealingLR", {"T_max": 4},
         groups=[{"lr": 0.1}, {"lr": 0.01}]),
    case("sequentiallr/t-warmup-cosine", "SequentialLR", {"milestones": [3]}, steps=12,
         children=[{"scheduler": "LinearLR", "kwargs": {"start_factor": 0.1, "total_iters": 3}},
                   {"scheduler": "CosineAnnealingLR", "kwargs": {"T_max": 9, "eta_min": 0.001}}], groups=ONE),
    case("cosineannealingwarmrestarts/t", "CosineAnnealingWarmRestarts", {"T_0": 3, "T_mult": 2, "eta_min": 0.001},
         steps=25, groups=ONE),
    case("steplr/t", "StepLR", {"step_size": 3, "gamma": 0.5}, groups=ONE),
    case("polynomiallr/t", "PolynomialLR", {"total_iters": 6, "power": 2.0}, groups=ONE),
    plateau("reducelronplateau/t", {"patience": 2}, groups=ONE),
]


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    adapter = po_adapter.PytorchOptimizer()
    return adapter, grade(adapter, CASES, tmp_path_factory.mktemp("pytorch-optimizer"))


def test_porting_table_matches_declared_schedulers(graded):
    assert_porting_consistent(po_adapter, graded[0])


def test_torchs_reexported_classes_are_not_graded():
    import torch.optim.lr_scheduler as torch_schedulers
    from pytorch_optimizer import lr_scheduler

    for name in ("StepLR", "MultiStepLR", "ConstantLR", "CyclicLR", "MultiplicativeLR", "OneCycleLR"):
        assert getattr(lr_scheduler, name) is getattr(torch_schedulers, name)  # what makes a pass meaningless
        assert po_adapter.PORTING[name].call is None and "re-exported" in po_adapter.PORTING[name].notes
    declared = po_adapter.PytorchOptimizer().info.schedulers
    assert not {"StepLR", "MultiStepLR", "ConstantLR", "CyclicLR", "OneCycleLR", "MultiplicativeLR"} & declared


def test_ports_reproduce_torch(graded):
    assert_pass(graded[1], ("linearlr/t", "linearlr/t-decay", "cosineannealinglr/t-beyond",
                            "sequentiallr/t-warmup-cosine"))


def test_first_cycle_starting_at_min_lr_stays_a_finding(graded):
    # CosineAnnealingWarmupRestarts.__init__ sets the lr to min_lr after torch's initial step
    status, detail = graded[1]["cosineannealingwarmrestarts/t"]
    assert status is Status.FAIL and detail.startswith("step 0 group 0 lr: expected 0.1, got 0.001"), detail


def test_no_equivalent_is_unsupported(graded):
    assert_unsupported(graded[1], (
        ("cosineannealinglr/t-two-groups", "differs between param groups"),
        ("steplr/t", "StepLR"),
        ("polynomiallr/t", "PolynomialLR"),
        ("reducelronplateau/t", "ReduceLROnPlateau")))


def test_reported_lr_is_what_the_torch_optimizer_applies():
    session = po_adapter.PytorchOptimizer().build(case("cosineannealinglr/t", "CosineAnnealingLR", {"T_max": 4},
                                                       steps=6, groups=[{"lr": 0.1}]))
    assert session.lrs() == [0.1]  # after the one step() that gives step_t = 0 (the constructor leaves min_lr)
    param = session.optimizer.param_groups[0]["params"][0]
    for _ in range(5):
        lr = session.lrs()[0]
        assert session.scheduler.last_lr == [lr]  # the value the library's step() set
        param.grad = param.new_ones(1)
        before = param.item()
        session.optimizer_step()  # SGD without momentum, gradient 1: w <- w - lr
        assert before - param.item() == pytest.approx(lr, rel=1e-6)
        session.scheduler_step()
