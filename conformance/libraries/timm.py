"""timm's schedulers (`timm.scheduler`, pytorch-image-models) graded against torch: `Timm` (float64).

    pip install "torch==2.13.0" numpy && pip install --no-deps timm    # see "Loading" below
    lr-conformance run --adapter timm --expectations timm

Loading: `import timm` runs timm/__init__.py, which imports the model zoo and so torchvision; PyPI's torchvision
does not load beside a torch it was not built for (here the local 2.13.0 CPU wheel: "operator torchvision::nms
does not exist"). `timm.scheduler` itself needs only torch and numpy. So the adapter installs a stand-in parent
package `timm` (an empty module whose __path__ is the installed timm directory, found with
importlib.util.find_spec, which does not execute it) in sys.modules, imports `timm.scheduler` through it, and then
removes the stand-in (the loaded `timm.scheduler*` modules stay). If the real `timm` is already imported, it is
used as is. Install timm with `pip install --no-deps timm` plus numpy (its other dependencies - torchvision,
huggingface_hub, safetensors, pyyaml - are for the models, not the schedulers).

What is graded: timm's schedulers driving a real torch optimizer (SGD or Adam, one 1-element parameter per
param group) the way timm's train.py drives them: built on the optimizer (which sets each group's lr to its
value at epoch 0, or to warmup_lr_init), then after each epoch `scheduler.step(epoch + 1)` (PlateauLRScheduler:
`step(epoch + 1, metric)`). timm computes the lr from the absolute epoch passed in (closed forms, no recursion),
so torch's deprecated `step(epoch)` is timm's `step(epoch)`, and resuming at torch's last_epoch=k is timm
train.py's `scheduler.step(k)` after construction. `t_in_epochs=True` throughout (step_update with update
counts is the same closed form per update).

Mapping rules, per torch scheduler: PORTING below (docs/porting/timm.md is generated from it). A linear
warm-up is an option of every timm scheduler (warmup_t, warmup_lr_init, warmup_prefix), not a scheduler: torch's
LinearLR (end_factor=1) and SequentialLR([LinearLR, X], milestones=[total_iters]) map to it. TanhLRScheduler and
WSDLRScheduler have no torch counterpart and are not graded. Features: plateau, state_dict (timm's
`state_dict()` / `load_state_dict()`), step_epoch, fractional_epoch, last_epoch, scheduler_first, and the
interventions of INTERVENTIONS below (the loop's own code around a torch optimizer: skipped or wrapped optimizer
steps, groups set or added by hand, a second timm scheduler, a partial resume). Not graded: momentum (no
one-cycle or cyclic schedule), tensor lrs, errors and warnings, get_lr() / get_last_lr() (timm has neither).
"""

from __future__ import annotations

import copy
import importlib
import importlib.util
import sys
import types

from conformance.adapters.base import StatefulAdapter
from conformance.adapters.torch_reference import torch_group, torch_optimizer, wrapped_step
from conformance.libraries.common import (
    Port,
    Session,
    Unsupported,
    expressed,
    kwargs_of,
    only_kwargs,
    ported,
    uniform,
)
from conformance.model import STATE_DICTS, AdapterInfo, Case, SchedulerSpec, Tolerance

LIBRARY = "timm"
INSTALL = "pip install numpy && pip install --no-deps timm"  # `lr-conformance adapters` says it when the library does not import (tox -e timm)

S = "timm.scheduler."
WARMUP = (" A LinearLR warm-up before it (SequentialLR([LinearLR(start_factor, total_iters=W), ...], "
          "milestones=[W])) is warmup_t=W, warmup_lr_init=lr * start_factor, warmup_prefix=True.")
PORTING = {
    "LambdaLR": Port(None, "timm schedulers are classes with closed forms; a user function of the epoch is "
                           "the user's own Scheduler subclass, with no library code to grade."),
    "MultiplicativeLR": Port(None, "no multiplicative (recursive) schedule."),
    "StepLR": Port(S + "StepLRScheduler(optimizer, decay_t=step_size, decay_rate=gamma)",
                   "lr * decay_rate ** (t // decay_t), torch's closed form. decay_rate defaults to 1.0 in timm "
                   "(torch's gamma to 0.1): pass it." + WARMUP),
    "MultiStepLR": Port(S + "MultiStepLRScheduler(optimizer, decay_t=sorted(m + 1 for m in milestones), "
                            "decay_rate=gamma)",
                        "timm applies milestone m at t == m - 1 (it counts decay_t entries <= t + 1, a convention "
                        "its source keeps on purpose, timm #2745/#2753/#2806); torch at t == m: pass the "
                        "milestones plus one, sorted (timm bisects). A repeated milestone counts twice, as "
                        "torch." + WARMUP),
    "ConstantLR": Port(None, "no constant-then-restore schedule: timm's warm-up is linear."),
    "LinearLR": Port(S + "StepLRScheduler(optimizer, decay_t=1, decay_rate=1.0, warmup_t=total_iters, "
                         "warmup_lr_init=lr * start_factor, warmup_prefix=True)",
                     "a linear warm-up in front of a constant schedule: warmup_lr_init + t * (lr - "
                     "warmup_lr_init) / warmup_t for t < warmup_t, then lr. Only end_factor=1.0 (a warm-up ends "
                     "at the base lr), and one warmup_lr_init for all groups: start_factor * lr must be the same "
                     "for every group."),
    "ExponentialLR": Port(S + "StepLRScheduler(optimizer, decay_t=1, decay_rate=gamma)",
                          "lr * gamma ** t." + WARMUP),
    "PolynomialLR": Port(S + "PolyLRScheduler(optimizer, t_initial=total_iters, power=power, lr_min=0.0, "
                             "cycle_limit=1)",
                         "lr * (1 - t / total_iters) ** power, then lr_min (0) from t = total_iters on, as torch. "
                         "timm's power defaults to 0.5 (torch's to 1.0): pass it. t_initial must be > 0." + WARMUP),
    "CosineAnnealingLR": Port(S + "CosineLRScheduler(optimizer, t_initial=T_max, lr_min=eta_min, cycle_limit=1)",
                              "identical for t < T_max. After one cycle timm stays at lr_min; torch's "
                              "CosineAnnealingLR keeps following the cosine (back up towards lr, period "
                              "2 * T_max)." + WARMUP),
    "ChainedScheduler": Port(None, "timm schedulers set the lr from a closed form; they do not compose."),
    "SequentialLR": Port("the second scheduler's timm class with warmup_t=W, warmup_lr_init=lr * start_factor, "
                         "warmup_prefix=True",
                         "only a LinearLR warm-up (end_factor=1.0, total_iters=W) followed by one scheduler that "
                         "has a timm equivalent, milestones=[W]: warmup_prefix=True starts the schedule at t - W, "
                         "as torch's SequentialLR restarts the second scheduler at the milestone."),
    "ReduceLROnPlateau": Port(S + "PlateauLRScheduler(optimizer, decay_rate=factor, patience_t=patience, "
                              "threshold=threshold, cooldown_t=cooldown, lr_min=min_lr, mode=mode)",
                              "step(epoch + 1, metric). timm wraps torch's own ReduceLROnPlateau (same counting) "
                              "but passes neither threshold_mode nor eps: threshold_mode='rel' and eps=1e-8 only. "
                              "timm's mode defaults to 'max' (torch's to 'min'): pass it. Deprecated in timm; its "
                              "state_dict keeps only `best` and `last_epoch`."),
    "CyclicLR": Port(None, "timm has no cyclic schedule."),
    "CosineAnnealingWarmRestarts": Port(
        S + "CosineLRScheduler(optimizer, t_initial=T_0, lr_min=eta_min, cycle_mul=T_mult, cycle_decay=1.0, "
            "cycle_limit=cycles)",
        "cycle_limit at least the number of cycles the run reaches (after them timm stays at lr_min). With "
        "cycle_mul != 1 timm finds the cycle of t with a logarithm, floor(log(1 - t / T_0 * (1 - T_mult), T_mult))." +
        WARMUP),
    "OneCycleLR": Port(None, "timm has no one-cycle schedule."),
    "SWALR": Port(None, "timm has no SWA learning-rate scheduler."),
}

# How a training loop around timm does each intervention of spec 4.5 (docs/porting/timm.md prints this table).
# timm's schedulers write the lr into the torch optimizer's groups from a closed form of the epoch passed to
# step(); what the loop does to that optimizer is the loop's own torch code.
INTERVENTIONS = {
    "skip-optimizer-step": Port("skip optimizer.step() (GradScaler on overflow); scheduler.step(epoch + 1) as "
                                "usual", "The schedule does not watch the optimizer: no warning, it goes on."),
    "scheduler-steps": Port("call scheduler.step(epoch + 1) n times (or not at all) in one iteration",
                            "Each call sets the lr of the epoch it is given; the loop's epoch counter advances "
                            "per call."),
    "wrap-optimizer-step": Port("optimizer.step = wrapper(optimizer.step)",
                                "timm's schedulers never patch or check optimizer.step."),
    "set": Port("optimizer.param_groups[g][key] = value",
                "A timm scheduler reads initial_lr only when it is built (its base values), and overwrites lr "
                "at the next step() from its closed form."),
    "add-param-group": Port("optimizer.add_param_group({'params': [p], **options})",
                            "Scheduler.update_groups zips its base values with the groups: a group added later "
                            "is never scheduled."),
    "add-scheduler": Port("a second timm scheduler built on the same optimizer, stepped with its own epoch "
                          "count from 1", "Its base values are each group's initial_lr, which the first one "
                          "already set (group.setdefault), not the current lr. `from` and `replace` (features "
                          "add_scheduler_from, replace_scheduler) are which scheduler the loop steps: declared; "
                          "a scheduler first stepped after a decay writes its closed form from those base values "
                          "over the decayed lr (multisteplr/replaced-at-a-milestone)."),
    "call": Port(None, "The schedulers have no get_lr() / get_last_lr(): a loop reads the lr from "
                       "optimizer.param_groups (timm's train.py logs param_groups[0]['lr'])."),
    "read-scheduler": Port(None, "the schedulers are stateless between calls (step(epoch) recomputes): no last_epoch / T_cur to "
                            "read."),
    "set-scheduler": Port(None, "the schedulers are stateless between calls (step(epoch) recomputes): no last_epoch / T_cur "
                           "to write."),
    "change-argument": Port(None, "the schedulers copy the groups' lrs into base_values (floats) at construction and "
                                  "take float arguments: not ported."),
    "resume": Port("optimizer.load_state_dict(state['optimizer']) and/or scheduler.load_state_dict("
                   "state['scheduler']) on fresh objects, in the loop's order",
                   "A timm state_dict holds no epoch: the epoch goes with the scheduler's state here (what the "
                   "loop passes to step()); a fresh scheduler counts from 0."),
    "on": Port(None, "not ported yet: the adapter builds every scheduler on the case's torch optimizer; what "
                   "timm's schedulers do with None, or a member on another optimizer, is not graded."),
    "load-twice": Port(None, "not ported yet: the resume port loads each state dict once; one dict object loaded twice "
                           "is not graded."),
}

_TOLERANCE = Tolerance(
    rel=4e-15,
    abs=0.0,
    reason="float64: timm's closed forms (decay_rate ** k, cos, (1 - t / T) ** power, the warm-up's init + t * "
           "step) against torch's recursive products (chainable forms), whose rounding walks ~1 ulp per step: "
           "measured <= 3 ulp (rel 6.9e-16, exponentiallr/long-run's 60 steps) over the suite; rel 4e-15 is ~18 ulp. "
           "No abs term: both sides reach exact zeros (cos(pi) = -1, lr_min = 0)",
)

_SCHEDULE = ("StepLR", "MultiStepLR", "ExponentialLR", "PolynomialLR", "CosineAnnealingLR",
             "CosineAnnealingWarmRestarts")


def load_timm_scheduler():
    """`timm.scheduler` without running timm/__init__.py (which needs torchvision): see the module docstring."""
    if "timm.scheduler" in sys.modules:
        return sys.modules["timm.scheduler"]
    if "timm" in sys.modules:  # the real package is already imported: use it
        return importlib.import_module("timm.scheduler")
    spec = importlib.util.find_spec("timm")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("timm is not installed (pip install --no-deps timm)")
    stand_in = types.ModuleType("timm")
    stand_in.__path__ = list(spec.submodule_search_locations)
    sys.modules["timm"] = stand_in
    try:
        return importlib.import_module("timm.scheduler")
    finally:
        if sys.modules.get("timm") is stand_in:
            del sys.modules["timm"]


class Timm(StatefulAdapter):
    """timm.scheduler on a torch optimizer, float64 (Python floats)."""

    variant = "timm"

    def __init__(self) -> None:
        from importlib.metadata import version


        self._scheduler = load_timm_scheduler()
        self.info = AdapterInfo(
            name=self.variant,
            version=version("timm"),
            schedulers=ported(PORTING),
            # add-scheduler's from / replace are the loop's choice of which scheduler it steps (INTERVENTIONS)
            features=frozenset({"plateau", "state_dict", "step_epoch", "fractional_epoch", "last_epoch",
                                "scheduler_first", "add_scheduler_from", "replace_scheduler"}) | expressed(INTERVENTIONS),
            tolerance=_TOLERANCE,
        )

    # --- sessions ---------------------------------------------------------------------------------

    def build(self, case: Case) -> Session:
        if case.tensor_lr:
            raise Unsupported("tensor lrs")
        optimizer = self._optimizer(case)
        spec = case.scheduler
        last_epoch = spec.kwargs.get("last_epoch", -1)
        try:
            scheduler = self._build(spec, optimizer, case)
        except (ValueError, AssertionError) as exc:  # timm asserts t_initial > 0, lr_min >= 0
            raise Unsupported(f"timm rejects this configuration: {exc!r}") from exc
        session = _Session(optimizer, scheduler, plateau=spec.name == "ReduceLROnPlateau",
                           added=lambda added_spec: self._added(added_spec, optimizer, case))
        if last_epoch != -1:
            # timm's train.py resumes with scheduler.step(start_epoch): the lr from the absolute epoch.
            session.count = last_epoch
            scheduler.step(last_epoch)
        return session

    def restore(self, case: Case, checkpoint, load=STATE_DICTS) -> Session:
        optimizer_state, scheduler_state, count = copy.deepcopy(checkpoint)
        session = self.build(case)
        for name in load:
            if name == "optimizer":
                session.optimizer.load_state_dict(optimizer_state)
            else:  # the epoch the loop passes to step() is the scheduler's position (timm's state holds none)
                session.scheduler.load_state_dict(scheduler_state)
                session.count = count
        return session

    def _added(self, spec: SchedulerSpec, optimizer, case: Case) -> Session:
        """add-scheduler: a second timm scheduler on the same optimizer, counting its own epochs from 0."""
        if spec.kwargs.get("last_epoch", -1) != -1:
            raise Unsupported("an added scheduler resuming at last_epoch")
        try:
            scheduler = self._build(spec, optimizer, case)
        except (ValueError, AssertionError) as exc:
            raise Unsupported(f"timm rejects this configuration: {exc!r}") from exc
        return _Session(optimizer, scheduler, plateau=False, added=None)

    def _optimizer(self, case: Case):
        return torch_optimizer(case)

    # --- schedulers -------------------------------------------------------------------------------

    def _build(self, spec: SchedulerSpec, optimizer, case: Case):
        name = spec.name
        if name == "SequentialLR":
            milestones = list(only_kwargs(spec, {"milestones"})["milestones"])
            names = [child.name for child in spec.children]
            if len(names) != 2 or names[0] != "LinearLR" or names[1] not in _SCHEDULE:
                raise Unsupported(f"SequentialLR of {names}: timm only has a linear warm-up before a schedule")
            warmup = self._warmup(spec.children[0], case)
            if milestones != [warmup["warmup_t"]]:
                raise Unsupported("SequentialLR: the milestone must be the warm-up's total_iters")
            return self._schedule(spec.children[1], optimizer, case, {**warmup, "warmup_prefix": True})
        if name == "LinearLR":
            warmup = self._warmup(spec, case)
            return self._scheduler.StepLRScheduler(optimizer, decay_t=1, decay_rate=1.0, warmup_prefix=True,
                                                   **warmup)
        if name == "ReduceLROnPlateau":
            k = only_kwargs(spec, {"mode", "factor", "patience", "threshold", "cooldown", "min_lr"})
            if k["mode"] not in ("min", "max"):
                raise Unsupported(f"mode={k['mode']!r}")
            min_lr = list(k["min_lr"]) if isinstance(k["min_lr"], (list, tuple)) else k["min_lr"]
            return self._scheduler.PlateauLRScheduler(optimizer, decay_rate=k["factor"], patience_t=k["patience"],
                                                      threshold=k["threshold"], cooldown_t=k["cooldown"],
                                                      lr_min=min_lr, mode=k["mode"])
        return self._schedule(spec, optimizer, case, {})

    def _warmup(self, spec: SchedulerSpec, case: Case) -> dict:
        k = only_kwargs(spec, {"start_factor", "end_factor", "total_iters", "last_epoch"})
        if k["end_factor"] != 1.0:
            raise Unsupported(f"LinearLR(end_factor={k['end_factor']}): a timm warm-up ends at the base lr")
        if k["total_iters"] <= 0:
            raise Unsupported(f"LinearLR(total_iters={k['total_iters']}): timm's warmup_t=0 means no warm-up "
                              "(torch holds lr * start_factor for good)")
        # timm's base values are the groups' initial_lr (set from lr unless resuming), as torch's base_lrs
        lrs = [float(group.get("initial_lr", group["lr"])) for group in case.groups]
        init = uniform([k["start_factor"] * lr for lr in lrs], len(lrs), "lr * start_factor (warmup_lr_init)")
        return {"warmup_t": k["total_iters"], "warmup_lr_init": init}

    def _schedule(self, spec: SchedulerSpec, optimizer, case: Case, warmup: dict):
        s = self._scheduler
        name = spec.name
        k = kwargs_of(spec)
        extra = {"last_epoch"} if not warmup else set()
        if name == "StepLR":
            k = only_kwargs(spec, {"step_size", "gamma"} | extra)
            return s.StepLRScheduler(optimizer, decay_t=k["step_size"], decay_rate=k["gamma"], **warmup)
        if name == "ExponentialLR":
            k = only_kwargs(spec, {"gamma"} | extra)
            return s.StepLRScheduler(optimizer, decay_t=1, decay_rate=k["gamma"], **warmup)
        if name == "MultiStepLR":
            k = only_kwargs(spec, {"milestones", "gamma"} | extra)
            return s.MultiStepLRScheduler(optimizer, decay_t=sorted(m + 1 for m in k["milestones"]),
                                          decay_rate=k["gamma"], **warmup)
        if name == "PolynomialLR":
            k = only_kwargs(spec, {"total_iters", "power"} | extra)
            return s.PolyLRScheduler(optimizer, t_initial=k["total_iters"], power=k["power"], lr_min=0.0,
                                     cycle_limit=1, **warmup)
        if name == "CosineAnnealingLR":
            k = only_kwargs(spec, {"T_max", "eta_min"} | extra)
            return s.CosineLRScheduler(optimizer, t_initial=k["T_max"], lr_min=k["eta_min"], cycle_limit=1,
                                       **warmup)
        if name == "CosineAnnealingWarmRestarts":
            k = only_kwargs(spec, {"T_0", "T_mult", "eta_min"} | extra)
            horizon = max(case.steps + max(k.get("last_epoch", -1), 0), max(case.epochs or (0,))) + 1
            cycles = _cycles(k["T_0"], k["T_mult"], horizon)
            return s.CosineLRScheduler(optimizer, t_initial=k["T_0"], lr_min=k["eta_min"], cycle_mul=k["T_mult"],
                                       cycle_decay=1.0, cycle_limit=cycles, **warmup)
        raise Unsupported(f"{name} has no timm equivalent")


def _cycles(t0, mult, horizon: float) -> int:
    if t0 <= 0 or mult < 1:
        raise Unsupported(f"T_0={t0}, T_mult={mult}")
    cycles, total = 0, 0
    while total <= horizon:
        total += t0 * mult ** cycles
        cycles += 1
    return cycles


class _Session(Session):
    def __init__(self, optimizer, scheduler, plateau: bool, added) -> None:
        self.optimizer = optimizer
        self.scheduler = scheduler
        self.plateau = plateau
        self.count = 0  # epochs done: timm's train.py calls step(epoch + 1) after epoch `epoch`
        self._added = added  # builds an add-scheduler's session on this optimizer

    def set_group(self, group, key, value) -> None:
        self.optimizer.param_groups[group][key] = value

    def add_param_group(self, options) -> None:
        self.optimizer.add_param_group(torch_group(options))

    def wrap_optimizer_step(self, keep_attributes) -> None:
        self.optimizer.step = wrapped_step(self.optimizer.step, keep_attributes)

    def add_scheduler(self, spec) -> Session:
        return self._added(spec)

    def lrs(self):
        return [float(group["lr"]) for group in self.optimizer.param_groups]

    def optimizer_step(self) -> None:
        self.optimizer.step()

    def scheduler_step(self, metric=None, epoch=None) -> None:
        self.count = self.count + 1 if epoch is None else epoch
        if self.plateau:
            self.scheduler.step(self.count, metric)
        else:
            self.scheduler.step(self.count)

    def save(self):
        return copy.deepcopy((self.optimizer.state_dict(), self.scheduler.state_dict(), self.count))
