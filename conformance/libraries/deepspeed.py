"""DeepSpeed's learning-rate schedules (`deepspeed.runtime.lr_schedules`: WarmupLR, WarmupDecayLR, WarmupCosineLR,
OneCycle, LRRangeTest) graded against torch: `DeepSpeed` (float64, Python floats on a torch optimizer).

    pip install "deepspeed==0.19.8" "torch==2.13.0"
    lr-conformance run --adapter deepspeed --expectations deepspeed

What is graded: each schedule on a real torch optimizer (one 1-element parameter per param group, the case's
optimizer), used as DeepSpeed's engine uses it (runtime/engine.py: _take_model_step calls `lr_scheduler.step()`
after each optimizer step) and as each class's docstring example shows: construct, then `scheduler.step()` after
every batch. The lr of loop iteration t is each group's `lr`, what the optimizer applies. The schedules are not torch
LRSchedulers: the constructor writes the value of `last_batch_iteration = -1` (get_lr's "before it has started"
value: min_lrs for WarmupLR/WarmupDecayLR, 0.0 for WarmupCosineLR) and the first step() moves to iteration 0,
the warm-up's start - so iteration t runs at the schedule's value at t - 1, one batch behind torch's, whose
constructor already applies epoch 0 (see the expectations).

Mapping rules, per torch scheduler: PORTING below (docs/porting/deepspeed.md is generated from it). Only warm-up
shapes have counterparts: LinearLR (WarmupLR, warmup_type='linear'), a LinearLR warm-up then a LinearLR decay to 0
(WarmupDecayLR) or a CosineAnnealingLR (WarmupCosineLR) in a SequentialLR. DeepSpeed's OneCycle (a linear
triangle, then an inverse-time decay) and LRRangeTest (an unbounded linear or staircase increase) have no torch
counterpart and are not graded; nor are the log warm-ups (warmup_type='log', the default), momentum, resume,
step(epoch), tensor lrs.

Interventions (spec 4.5): none is expressed. The schedules set every group's lr at each step() from their counter
alone (update_lr): an lr set by hand is overwritten at the next step, an added group is not scheduled (zip over the
groups known at construction), and a skipped optimizer step is the caller's: DeepSpeed's engine skips
lr_scheduler.step() together with an overflowing fp16 step (engine.py: `if overflow: ... else: lr_scheduler.step`),
which only an engine can show.
"""

from __future__ import annotations

from conformance.adapters.base import StatefulAdapter
from conformance.adapters.torch_reference import torch_optimizer
from conformance.libraries.common import (
    FLOAT64_CLOSED_FORMS,
    Difference,
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

LIBRARY = "deepspeed"
INSTALL = "pip install 'lr-conformance[deepspeed]'"  # `lr-conformance adapters` says it when the library does not import (tox -e deepspeed)

D = "deepspeed.runtime.lr_schedules."
LIFECYCLE = (" Construct, then scheduler.step() after each optimizer step (DeepSpeed's engine): the constructor sets "
             "iteration -1's value, so the schedule runs one batch behind torch's (see the expectations). warmup_num_steps "
             "is raised to at least 2 (`max(2, warmup_num_steps)`), and 0 is rejected (ValueError).")


def _none(why: str) -> Port:
    return Port(None, why)


PORTING = {
    "LambdaLR": _none("no user-function schedule."),
    "MultiplicativeLR": _none("no multiplicative schedule."),
    "StepLR": _none("no step decay (LRRangeTest's staircase increases the lr)."),
    "MultiStepLR": _none("no milestone decay."),
    "ConstantLR": _none("no constant-factor phase (a WarmupLR with warmup_min_lr == warmup_max_lr is constant, but "
                        "cannot switch back to lr at total_iters)."),
    "LinearLR": Port(D + "WarmupLR(optimizer, warmup_min_lr=[lr * start_factor, ...], warmup_max_lr=[lr * end_factor, "
                         "...], warmup_num_steps=total_iters, warmup_type='linear')",
                     "min_lr + (max_lr - min_lr) * t / warmup_num_steps up to warmup_num_steps, then max_lr (torch "
                     "clamps too)." + LIFECYCLE),
    "ExponentialLR": _none("no exponential decay."),
    "PolynomialLR": _none("WarmupDecayLR's decay is linear to 0 over total_num_steps - warmup_num_steps, but always "
                          "after a warm-up of at least 2 steps: no PolynomialLR on its own."),
    "CosineAnnealingLR": Port(D + "WarmupCosineLR(...)  # only as the stage after a LinearLR warm-up: see "
                                  "SequentialLR",
                              "WarmupCosineLR's cosine always follows a warm-up of at least 2 steps: a "
                              "CosineAnnealingLR on its own has no equivalent (unsupported); after a LinearLR "
                              "warm-up in a SequentialLR it is WarmupCosineLR's second phase."),
    "ChainedScheduler": _none("no combinator."),
    "SequentialLR": Port(
        D + "WarmupDecayLR(optimizer, total_num_steps=W + D, warmup_min_lr=lr * start_factor, warmup_max_lr=lr, "
            "warmup_num_steps=W, warmup_type='linear') | " + D + "WarmupCosineLR(optimizer, total_num_steps=W + "
            "T_max, warmup_min_ratio=start_factor, warmup_num_steps=W, cos_min_ratio=eta_min / lr, "
            "warmup_type='linear')",
        "only SequentialLR([LinearLR(start_factor, end_factor=1.0, total_iters=W), LinearLR(start_factor=1.0, "
        "end_factor=0.0, total_iters=D)], milestones=[W]) (WarmupDecayLR) or SequentialLR([LinearLR(start_factor, "
        "end_factor=1.0, total_iters=W), CosineAnnealingLR(T_max, eta_min)], milestones=[W]) (WarmupCosineLR: one "
        "warmup_min_ratio and cos_min_ratio for all groups, ratios of each group's lr). WarmupCosineLR's cosine "
        "counts `real_last_step = last_batch_iteration - warmup_num_steps + 1`, one step ahead of torch's cosine "
        "stage, and clamps at its end (torch's continues)." + LIFECYCLE),
    "ReduceLROnPlateau": _none("no plateau schedule."),
    "CyclicLR": _none("OneCycle is one linear triangle (cycle_min_lr -> cycle_max_lr -> cycle_min_lr) followed by an "
                      "inverse-time decay (lr = cycle_min_lr / (1 + decay_lr_rate * decay steps / decay_step_size)), "
                      "not a repeating cycle."),
    "CosineAnnealingWarmRestarts": _none("no restarts."),
    "OneCycleLR": _none("DeepSpeed's OneCycle is linear up and down and then decays by inverse time; torch's "
                        "OneCycleLR anneals (cos or linear) to max_lr / div_factor / final_div_factor: no shared "
                        "configuration beyond the first two phases of a run."),
    "SWALR": _none("no SWA schedule."),
}


# How a DeepSpeed loop does each intervention of spec 4.5 (docs/porting/deepspeed.md prints this table): none is
# expressed - every step() writes each group's lr from the counter alone (update_lr).
INTERVENTIONS = {
    "skip-optimizer-step": Port(None, "DeepSpeed's engine skips lr_scheduler.step() together with an overflowing fp16 "
                                      "step (runtime/engine.py, _take_model_step): an engine's decision, with no "
                                      "scheduler code to grade."),
    "scheduler-steps": Port(None, "stepping by hand works (step() advances last_batch_iteration), but the engine "
                                  "steps it: not graded."),
    "wrap-optimizer-step": Port(None, "nothing watches the optimizer's step method."),
    "set": Port(None, "an lr set by hand is overwritten at the next step() (update_lr)."),
    "add-param-group": Port(None, "min_lrs / max_lrs / org_lrs are per group at construction: a later group is not "
                                  "scheduled (zip stops at the shorter list)."),
    "add-scheduler": Port(None, "two schedules overwrite each other's lr at every step."),
    "call": Port(None, "get_lr() and get_last_lr() exist, but get_last_lr asserts a step() happened first: not "
                       "graded yet."),
    "read-scheduler": Port(None, "no torch-named attributes: the schedulers keep last_batch_iteration (torch's last_epoch + 1 at "
                                 "most), not read-graded yet."),
    "set-scheduler": Port(None, "last_batch_iteration could be written by hand, but not as torch's last_epoch / T_cur / min_lrs: "
                                "not ported."),
    "change-argument": Port(None, "its schedulers take float arguments (warmup_min_lr, warmup_max_lr, ...) and keep "
                                  "no handle on a tensor of the user's: not ported."),
    "resume": Port(None, "state_dict holds only last_batch_iteration; resuming is not graded yet."),
    "on": Port(None, "not ported: every schedule is built on the case's torch optimizer; what DeepSpeed's "
                   "schedules do with None, or a schedule on another optimizer, is not graded yet."),
    "load-twice": Port(None, "state_dict holds only last_batch_iteration; resuming (once or twice) is not graded yet."),
}

# Each difference the port notes and expectations describe, and the suite's cases that show it.
DIFFERENCES = (
    Difference("LinearLR", "the warm-up runs one batch behind torch's (iterations -1 and 0 both give min_lrs)",
               ("linearlr/defaults", "linearlr/warmup-from-tenth", "linearlr/decay-to-zero", "linearlr/two-groups",
                "linearlr/total-iters-one", "linearlr/ramp-to-end-factor-below-one")),
    Difference("LinearLR", "warmup_num_steps is raised to at least 2", ("linearlr/total-iters-one",)),
    Difference("SequentialLR", "WarmupCosineLR starts at lr 0 and never runs its peak lr",
               ("sequentiallr/warmup-then-cosine",)),
)

# Upstream-ready reports (docs/porting/deepspeed.md renders them after the mapping).
REPORTS = """
### WarmupCosineLR runs its first batch at lr 0 and never runs at the peak lr

**Promise.** The docstring: "Increase the learning rate of each parameter group from min lr ratio to max lr ratio
over warmup_num_steps steps, and then decay at cosine rate over the remaining training steps to min cosine ratio";
`warmup_min_ratio`: "warmup start learning rate ratio". So the first batch should run at `warmup_min_ratio * lr`,
and the warm-up should reach `lr` (ratio 1.0) before the cosine decays from it.

**What happens.** `__init__` (last_batch_iteration = -1) writes `get_lr()`, which for iteration -1 returns `[0.0 for
_ in self.org_lrs]`: the first batch runs at lr 0 whatever warmup_min_ratio is. Used as the docstring example and
DeepSpeed's engine use it (`scheduler.step()` after each batch), iteration t then runs at batch t + 1, so the
warm-up's ratios 0.1, 0.325, ... arrive one batch late; and `get_lr_ratio` starts the cosine at `real_last_step =
last_batch_iteration - warmup_num_steps + 1`, i.e. one step into the cosine at the first batch after the warm-up.
The ratio 1.0 is never produced: the last warm-up value is `warmup_min_ratio + (W - 1) / W * (1 - warmup_min_ratio)`
and the next is already `cos(pi / (T - W))`-decayed. (WarmupLR and WarmupDecayLR have the one-batch lag too, but
their first value is `warmup_min_lr` and they do reach `warmup_max_lr`.) Suite case: `sequentiallr/warmup-then-cosine`
(expectations/deepspeed.toml).

**Minimal case** (DeepSpeed 0.19.8, torch 2.13.0):

```python
import torch
from deepspeed.runtime.lr_schedules import WarmupCosineLR

optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
scheduler = WarmupCosineLR(optimizer, total_num_steps=12, warmup_min_ratio=0.1, warmup_num_steps=4,
                           cos_min_ratio=0.01, warmup_type="linear")
for batch in range(8):
    print(batch, optimizer.param_groups[0]["lr"])
    optimizer.step()
    scheduler.step()
```

The torch schedule it stands for:

```python
import torch
from torch.optim import lr_scheduler

optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
scheduler = lr_scheduler.SequentialLR(optimizer, [lr_scheduler.LinearLR(optimizer, start_factor=0.1, total_iters=4),
                                                  lr_scheduler.CosineAnnealingLR(optimizer, T_max=8, eta_min=0.001)],
                                      milestones=[4])
for batch in range(8):
    print(batch, optimizer.param_groups[0]["lr"])
    optimizer.step()
    scheduler.step()
```

| batch | torch SequentialLR(LinearLR, CosineAnnealingLR) | DeepSpeed WarmupCosineLR |
| --- | --- | --- |
| 0 | 0.010000000000000002 | **0.0** |
| 1 | 0.03250000000000001 | 0.010000000000000002 |
| 2 | 0.055000000000000014 | 0.0325 |
| 3 | 0.07750000000000003 | 0.05500000000000001 |
| 4 | 0.1 | **0.07750000000000001** |
| 5 | 0.0962320368593087 | 0.0962320368593087 |
| 6 | 0.0855017856687341 | 0.0855017856687341 |
| 7 | 0.06944282990207196 | 0.06944282990207194 |

**Suggested fix**: return `warmup_min_ratio * org_lr` (the iteration-0 value) from `get_lr` before the start, and
count the cosine from 0 (`real_last_step = last_batch_iteration - warmup_num_steps`), so that iteration
`warmup_num_steps` is the peak; or, to match torch's LRScheduler convention, have `__init__` take the first step
(iteration 0) itself.
"""

class DeepSpeed(StatefulAdapter):
    """deepspeed.runtime.lr_schedules on a torch optimizer, stepped as DeepSpeed's engine steps them; float64."""

    variant = "deepspeed"

    def __init__(self) -> None:
        from deepspeed.runtime import lr_schedules

        self._lib = lr_schedules
        self.info = library_info("deepspeed", "deepspeed", PORTING, FLOAT64_CLOSED_FORMS)

    def build(self, case: Case) -> Session:
        if case.tensor_lr:
            raise Unsupported("tensor lrs")
        lrs = group_lrs(case)
        optimizer = torch_optimizer(case)
        try:
            scheduler = self._build(case.scheduler, optimizer, lrs)
        except ValueError as exc:  # warmup_num_steps <= 0
            raise Unsupported(f"deepspeed rejects this configuration: {exc}") from exc
        return TorchOptimizerSession(optimizer, scheduler)

    def _build(self, spec: SchedulerSpec, optimizer, lrs: list[float]):
        lib = self._lib
        if spec.name == "LinearLR":
            k = only_kwargs(spec, {"start_factor", "end_factor", "total_iters"})
            return lib.WarmupLR(optimizer, warmup_min_lr=[lr * k["start_factor"] for lr in lrs],
                                warmup_max_lr=[lr * k["end_factor"] for lr in lrs],
                                warmup_num_steps=k["total_iters"], warmup_type="linear")
        if spec.name == "SequentialLR":
            return self._warmup_then(spec, optimizer, lrs)
        if spec.name == "CosineAnnealingLR":
            raise Unsupported("CosineAnnealingLR on its own: WarmupCosineLR's cosine follows a warm-up of >= 2 steps")
        raise Unsupported(f"{spec.name} has no DeepSpeed equivalent")

    def _warmup_then(self, spec: SchedulerSpec, optimizer, lrs: list[float]):
        milestones = list(only_kwargs(spec, {"milestones"})["milestones"])
        names = [child.name for child in spec.children]
        if len(names) != 2 or names[0] != "LinearLR" or names[1] not in ("LinearLR", "CosineAnnealingLR"):
            raise Unsupported(f"SequentialLR of {names}: only a LinearLR warm-up before a LinearLR decay to 0 or a "
                              "CosineAnnealingLR")
        warmup = only_kwargs(spec.children[0], {"start_factor", "end_factor", "total_iters"})
        w = warmup["total_iters"]
        if warmup["end_factor"] != 1.0 or milestones != [w]:
            raise Unsupported("SequentialLR: the warm-up must end at lr (end_factor=1.0) at the milestone")
        lib = self._lib
        if names[1] == "LinearLR":
            decay = only_kwargs(spec.children[1], {"start_factor", "end_factor", "total_iters"})
            if decay["start_factor"] != 1.0 or decay["end_factor"] != 0.0:
                raise Unsupported("SequentialLR: WarmupDecayLR decays from lr to 0 (LinearLR(1.0, 0.0))")
            return lib.WarmupDecayLR(optimizer, total_num_steps=w + decay["total_iters"],
                                     warmup_min_lr=[lr * warmup["start_factor"] for lr in lrs], warmup_max_lr=lrs,
                                     warmup_num_steps=w, warmup_type="linear")
        cosine = only_kwargs(spec.children[1], {"T_max", "eta_min"})
        if any(lr == 0 for lr in lrs):
            raise Unsupported("cos_min_ratio = eta_min / lr is undefined for lr = 0")
        ratio = uniform([cosine["eta_min"] / lr for lr in lrs], len(lrs), "cos_min_ratio (eta_min / lr)")
        return lib.WarmupCosineLR(optimizer, total_num_steps=w + cosine["T_max"],
                                  warmup_min_ratio=warmup["start_factor"], warmup_num_steps=w, cos_min_ratio=ratio,
                                  warmup_type="linear")
