"""pytorch-optimizer's own schedulers (`pytorch_optimizer.lr_scheduler`, kozistr) graded against torch:
`PytorchOptimizer` (float64).

    pip install "pytorch-optimizer==4.1.0" "torch==2.13.0"
    lr-conformance run --adapter pytorch-optimizer --expectations pytorch-optimizer

What is graded: only the schedulers pytorch-optimizer implements itself. Its lr_scheduler/__init__.py re-exports
eight of torch's classes (`from torch.optim.lr_scheduler import ConstantLR, CosineAnnealingLR,
CosineAnnealingWarmRestarts, CyclicLR, MultiplicativeLR, MultiStepLR, OneCycleLR, StepLR`): they are torch's
objects, so grading them would grade torch against itself and pass trivially. Those torch schedulers map to the
library's own classes where it has one (CosineAnnealingLR -> CosineScheduler, CosineAnnealingWarmRestarts ->
CosineAnnealingWarmupRestarts) and are unsupported otherwise, with that reason.

The library's schedulers drive a real torch optimizer (one 1-element parameter per param group, the case's
optimizer): the lr of loop iteration t is each group's `lr` after the scheduler's steps, what the optimizer
applies. Two kinds, with two lifecycles, both in the library's source:
- BaseLinearWarmupScheduler (LinearScheduler, CosineScheduler, PolyScheduler; base/scheduler.py) is not a torch
  LRScheduler: its constructor sets every group's lr to min_lr ("initial rate before the first step") and each
  step() sets the value of its counter step_t, then increments it. Torch's constructor already applies the
  schedule at epoch 0; the port does the same with one step() right after construction (documented: init_lr is
  the "learning rate at the first warmup step"), so iteration t runs at the value of step_t = t. One value for
  all param groups (`for param_group in self.optimizer.param_groups: param_group['lr'] = value`): cases whose
  groups start from different lrs are unsupported.
- CosineAnnealingWarmupRestarts (lr_scheduler/cosine_anealing.py) subclasses torch's LRScheduler (whose
  constructor takes the initial step) and is used as torch's: construct, then step() after each optimizer step.
  One max_lr and min_lr for all groups.

Mapping rules, per torch scheduler: PORTING below (docs/porting/pytorch-optimizer.md is generated from it). Not
graded: PolyScheduler (no torch counterpart, see PORTING), REXScheduler, ProportionScheduler, the Chebyshev and
warmup-stable-decay schedules (no torch counterparts; get_wsd_schedule returns a torch LambdaLR), momentum,
resume, step(epoch), tensor lrs.

Interventions (spec 4.5): none is expressed, so every case with one is unsupported. BaseLinearWarmupScheduler
writes one value into every group at each step (an lr set by hand is overwritten at the next step, an added
group gets the value too, get_lr/get_last_lr are missing: it keeps `last_lr`); CosineAnnealingWarmupRestarts
inherits torch's LRScheduler, so a skipped or wrapped optimizer step would exercise torch's warning code, not
the library's. None of these are graded yet.

Upstream: CosineAnnealingWarmupRestarts starts its first cycle at min_lr (docs/porting/pytorch-optimizer.md,
"Upstream reports").
"""

from __future__ import annotations

from conformance.adapters.base import StatefulAdapter
from conformance.adapters.torch_reference import torch_optimizer
from conformance.libraries.common import (
    FLOAT64_CLOSED_FORMS,
    Port,
    Session,
    TorchOptimizerSession,
    Unsupported,
    group_lrs,
    library_info,
    only_kwargs,
    uniform,
)
from conformance.model import Case, SchedulerSpec

LIBRARY = "pytorch-optimizer"

L = "pytorch_optimizer.lr_scheduler."
ONE_LR = " One lr for all param groups: every group must start from the same lr."
FIRST_STEP = (" Call scheduler.step() once after construction (torch's constructor applies epoch 0; this one leaves "
              "min_lr)." + ONE_LR)


def _reexport(name: str) -> Port:
    return Port(None, f"pytorch_optimizer.lr_scheduler.{name} is torch.optim.lr_scheduler.{name} re-exported "
                      "(`from torch.optim.lr_scheduler import ...` in lr_scheduler/__init__.py): grading it would "
                      "grade torch against itself. The library has no implementation of its own.")


# The porting guide, as data (see conformance/libraries/common.py). `lr` is the param groups' (one) lr.
PORTING = {
    "LambdaLR": Port(None, "no user-function scheduler of its own (get_wsd_schedule builds a torch LambdaLR)."),
    "MultiplicativeLR": _reexport("MultiplicativeLR"),
    "StepLR": _reexport("StepLR"),
    "MultiStepLR": _reexport("MultiStepLR"),
    "ConstantLR": _reexport("ConstantLR"),
    "LinearLR": Port(L + "LinearScheduler(optimizer, t_max=total_iters + 1, max_lr=lr * end_factor, "
                         "min_lr=lr * end_factor, init_lr=lr * start_factor, warmup_steps=total_iters)",
                     "the linear warm-up of BaseLinearWarmupScheduler (init_lr + (max_lr - init_lr) * t / "
                     "warmup_steps for t < warmup_steps, max_lr at t == warmup_steps) is torch's ramp; the decay "
                     "after it runs from max_lr to min_lr, both lr * end_factor, so it stays there (torch's clamp)."
                     + FIRST_STEP),
    "ExponentialLR": Port(None, "no exponential schedule of its own."),
    "PolynomialLR": Port(None, "PolyScheduler is not a polynomial decay: after warm-up it returns min_lr + (max_lr - "
                               "min_lr) * (t - warmup_steps) ** poly_order, an unnormalised power of the step count "
                               "that grows past max_lr from the second step on (its docstring says so); torch's "
                               "PolynomialLR decays lr * (1 - t / total_iters) ** power to 0."),
    "CosineAnnealingLR": Port(L + "CosineScheduler(optimizer, t_max=T_max, max_lr=lr, min_lr=eta_min, init_lr=lr, "
                                  "warmup_steps=0)",
                              "min_lr + (max_lr - min_lr) * (np.cos(t / t_max * pi) + 1) / 2, not clamped at "
                              "t_max: past T_max it climbs back towards lr, as torch's does." + FIRST_STEP),
    "ChainedScheduler": Port(None, "no combinator of its own."),
    "SequentialLR": Port(L + "CosineScheduler(optimizer, t_max=W + T_max, max_lr=lr, min_lr=eta_min, "
                             "init_lr=lr * start_factor, warmup_steps=W)",
                         "only a LinearLR warm-up (end_factor=1.0, total_iters=W) followed by CosineAnnealingLR, "
                         "milestones=[W]: the warm-up then the cosine, which restarts its count at W as torch's "
                         "SequentialLR restarts the second scheduler at the milestone." + FIRST_STEP),
    "ReduceLROnPlateau": Port(None, "no plateau scheduler (not even a re-export)."),
    "CyclicLR": _reexport("CyclicLR"),
    "CosineAnnealingWarmRestarts": Port(
        L + "CosineAnnealingWarmupRestarts(optimizer, first_cycle_steps=T_0, cycle_mult=T_mult, max_lr=lr, "
            "min_lr=eta_min, warmup_steps=0, gamma=1.0)",
        "cycle i lasts int(T_0 * T_mult ** i) steps and runs min_lr + (max_lr - min_lr) * (1 + cos(pi * s / "
        "cycle)) / 2, gamma=1.0 keeping max_lr for every cycle. Its constructor ends by setting every group's lr "
        "to min_lr (init_lr()), after torch's initial step: the first iteration runs at min_lr instead of max_lr "
        "(see the report below)." + ONE_LR),
    "OneCycleLR": _reexport("OneCycleLR"),
    "SWALR": Port(None, "no SWA learning-rate scheduler in pytorch_optimizer.lr_scheduler (its modules: chebyshev, cosine_anealing, linear_warmup, proportion, rex, wsd, and torch's re-exported classes, SWALR not among them)."),
}

# Upstream-ready reports (docs/porting/pytorch-optimizer.md renders them after the mapping).
REPORTS = """
### CosineAnnealingWarmupRestarts: the first cycle starts at min_lr, never at max_lr (warmup_steps=0)

**Promise.** The class docstring: "Cosine learning rate decay with linear warmup and restarts", `max_lr`:
"Maximum learning rate". With `warmup_steps=0` each cycle should start at its maximum and decay by a cosine, as
every later cycle does (`get_lr`: `base_lr + (max_lr - base_lr) * (1 + cos(pi * step_in_cycle / cycle)) / 2`,
`max_lr` at `step_in_cycle == 0`).

**What happens.** `__init__` calls `super().__init__(optimizer, last_epoch)` - torch's `LRScheduler`, whose
initial step sets `step_in_cycle = 0` and the lr to `max_lr` - and then `self.init_lr()`, which sets every
group's lr (and `base_lrs`) to `min_lr`. The first `step()` moves `step_in_cycle` to 1. So the first iteration
runs at `min_lr` and the first cycle never runs at `max_lr`; from step 1 on the values are the cosine's. (With
`warmup_steps > 0` the warm-up starts from `min_lr`, which is what the warm-up formula gives at step 0, so only
`warmup_steps=0` shows it.) Suite cases: `cosineannealingwarmrestarts/t0-5`, `tmult-2`, `t0-one`, `many-short-cycles`,
`eta-min-above-lr` (expectations/pytorch-optimizer.toml).

**Minimal case** (pytorch-optimizer 4.1.0, torch 2.13.0):

```python
import torch
from pytorch_optimizer.lr_scheduler import CosineAnnealingWarmupRestarts

optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
scheduler = CosineAnnealingWarmupRestarts(optimizer, first_cycle_steps=4, max_lr=0.1, min_lr=0.001,
                                          warmup_steps=0, gamma=1.0)
for step in range(6):
    print(step, optimizer.param_groups[0]["lr"])
    optimizer.step()
    scheduler.step()
```

The torch schedule it stands for:

```python
import torch

optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
scheduler = torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(optimizer, T_0=4, eta_min=0.001)
for step in range(6):
    print(step, optimizer.param_groups[0]["lr"])
    optimizer.step()
    scheduler.step()
```

| step | torch CosineAnnealingWarmRestarts | pytorch-optimizer CosineAnnealingWarmupRestarts |
| --- | --- | --- |
| 0 | 0.1 | **0.001** |
| 1 | 0.0855017856687341 | 0.0855017856687341 |
| 2 | 0.0505 | 0.0505 |
| 3 | 0.0154982143312659 | 0.0154982143312659 |
| 4 | 0.1 | 0.1 |
| 5 | 0.0855017856687341 | 0.0855017856687341 |

**Suggested fix** (checked with a subclass on the case above, and with `warmup_steps=2`, whose values do not
change): set every group's lr to `min_lr` *before* `super().__init__` and drop the `init_lr()` call after it.
torch's `LRScheduler.__init__` then takes `base_lrs = [min_lr, ...]` from the groups and its initial step
computes step 0 (`max_lr`, or `min_lr` at the start of a warm-up), which nothing overwrites: 0.1, 0.0855...,
0.0505, ... as torch.
"""



INSTALL = "pip install 'lr-conformance[pytorch-optimizer]'"  # `lr-conformance adapters` says it when the library does not import (tox -e pytorch_optimizer)


# Spec 4.5's interventions, as the module docstring says: none is ported yet.
INTERVENTIONS = {
    "skip-optimizer-step": Port(None, "CosineAnnealingWarmupRestarts inherits torch's LRScheduler: a skipped "
                                      "optimizer step would exercise torch's warning code, not the library's; not "
                                      "ported."),
    "scheduler-steps": Port(None, "not ported: BaseLinearWarmupScheduler writes one value per step, so stepping "
                                  "twice is two values of its closed form."),
    "wrap-optimizer-step": Port(None, "CosineAnnealingWarmupRestarts inherits torch's LRScheduler: a wrapped "
                                      "optimizer.step would exercise torch's code, not the library's; not ported."),
    "set": Port(None, "BaseLinearWarmupScheduler writes one value into every group at each step: an lr set by "
                      "hand is overwritten at the next step; not ported."),
    "add-param-group": Port(None, "BaseLinearWarmupScheduler writes its value into every group, an added one "
                                  "included; not ported."),
    "add-scheduler": Port(None, "not ported: a second scheduler on the optimizer writes its own value over the "
                                "first one's."),
    "call": Port(None, "BaseLinearWarmupScheduler has no get_lr() / get_last_lr() (it keeps `last_lr`)."),
    "read-scheduler": Port(None, "not ported: the library's schedulers are graded from a fresh start, on their lrs only."),
    "set-scheduler": Port(None, "not ported: the library's schedulers are graded from a fresh start, on their lrs only."),
    "change-argument": Port(None, "not ported: the library's schedulers are graded from a fresh start with float "
                                  "arguments, on their lrs only."),
    "resume": Port(None, "not ported: the library's schedulers are graded from a fresh start only."),
    "on": Port(None, "not ported: the library's schedulers are graded on the case's optimizer only."),
    "load-twice": Port(None, "not ported: the library's schedulers are graded from a fresh start only."),
}


class PytorchOptimizer(StatefulAdapter):
    """pytorch_optimizer.lr_scheduler's own schedulers on a torch optimizer, float64 (Python floats)."""

    variant = "pytorch-optimizer"

    def __init__(self) -> None:
        from pytorch_optimizer import lr_scheduler

        self._lib = lr_scheduler
        self.info = library_info("pytorch-optimizer", "pytorch-optimizer", PORTING, FLOAT64_CLOSED_FORMS)

    def build(self, case: Case) -> Session:
        if case.tensor_lr:
            raise Unsupported("tensor lrs")
        lr = float(uniform(group_lrs(case), len(case.groups), "the param groups' lr"))
        optimizer = torch_optimizer(case)
        try:
            scheduler = self._build(case.scheduler, optimizer, lr)
        except ValueError as exc:  # warmup_steps >= first_cycle_steps, poly_order <= 0, negative lrs or steps
            raise Unsupported(f"pytorch-optimizer rejects this configuration: {exc}") from exc
        return TorchOptimizerSession(optimizer, scheduler)

    def _build(self, spec: SchedulerSpec, optimizer, lr: float):
        lib = self._lib
        name = spec.name
        if name == "CosineAnnealingWarmRestarts":
            k = only_kwargs(spec, {"T_0", "T_mult", "eta_min"})
            return lib.CosineAnnealingWarmupRestarts(optimizer, first_cycle_steps=k["T_0"], cycle_mult=k["T_mult"],
                                                     max_lr=lr, min_lr=k["eta_min"], warmup_steps=0, gamma=1.0)
        if name == "CosineAnnealingLR":
            k = only_kwargs(spec, {"T_max", "eta_min"})
            if k["T_max"] < 1:
                raise Unsupported(f"CosineAnnealingLR(T_max={k['T_max']}): CosineScheduler divides by t_max")
            return _first_step(lib.CosineScheduler(optimizer, t_max=k["T_max"], max_lr=lr, min_lr=k["eta_min"],
                                                   init_lr=lr, warmup_steps=0))
        if name == "LinearLR":
            k = only_kwargs(spec, {"start_factor", "end_factor", "total_iters"})
            end = lr * k["end_factor"]
            return _first_step(lib.LinearScheduler(optimizer, t_max=k["total_iters"] + 1, max_lr=end, min_lr=end,
                                                   init_lr=lr * k["start_factor"], warmup_steps=k["total_iters"]))
        if name == "SequentialLR":
            return self._warmup_cosine(spec, optimizer, lr)
        raise Unsupported(f"{name} has no implementation of pytorch-optimizer's own")

    def _warmup_cosine(self, spec: SchedulerSpec, optimizer, lr: float):
        milestones = list(only_kwargs(spec, {"milestones"})["milestones"])
        names = [child.name for child in spec.children]
        if names != ["LinearLR", "CosineAnnealingLR"]:
            raise Unsupported(f"SequentialLR of {names}: only a LinearLR warm-up before CosineAnnealingLR")
        warmup = only_kwargs(spec.children[0], {"start_factor", "end_factor", "total_iters"})
        cosine = only_kwargs(spec.children[1], {"T_max", "eta_min"})
        if warmup["end_factor"] != 1.0 or milestones != [warmup["total_iters"]] or cosine["T_max"] < 1:
            raise Unsupported("SequentialLR: the warm-up must end at lr (end_factor=1.0) at the milestone, "
                              "before a cosine with T_max >= 1")
        w = warmup["total_iters"]
        return _first_step(self._lib.CosineScheduler(optimizer, t_max=w + cosine["T_max"], max_lr=lr,
                                                     min_lr=cosine["eta_min"], init_lr=lr * warmup["start_factor"],
                                                     warmup_steps=w))


def _first_step(scheduler):
    """A BaseLinearWarmupScheduler after the one step() that gives its value at step_t = 0 (torch's constructor
    applies epoch 0; this constructor leaves every group at min_lr)."""
    scheduler.step()
    return scheduler
