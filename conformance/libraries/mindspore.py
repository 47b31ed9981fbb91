"""MindSpore's torch-like schedulers (`mindspore.experimental.optim.lr_scheduler`) graded against torch: `MindSpore`.

    pip install mindspore "numpy<2" "torch==2.13.0"    # MindSpore's CPU wheel; its extensions need NumPy 1.x
    lr-conformance run --adapter mindspore --expectations mindspore

What is graded: `mindspore.experimental.optim.lr_scheduler` (a port of torch 1.13's lr_scheduler: StepLR,
MultiStepLR, ConstantLR, LinearLR, ExponentialLR, PolynomialLR, CosineAnnealingLR, CosineAnnealingWarmRestarts,
CyclicLR, LambdaLR, MultiplicativeLR, SequentialLR, ReduceLROnPlateau - no OneCycleLR, no ChainedScheduler)
driving a `mindspore.experimental.optim` optimizer (SGD or Adam, PyNative mode, CPU): one 1-element zero
float32 Parameter per param group carrying the group's keys (lr, initial_lr, momentum, betas), the case's
optimizer kwargs, its default lr the first group's lr. Each loop iteration calls the optimizer with zero
gradients (`optimizer(grads)`, MindSpore's optimizer step) and then `scheduler.step()` (`step(metric)` for
ReduceLROnPlateau, `step(epoch)` for the step-epoch protocol). The lr observed is the optimizer's lr Parameter
of each group (`optimizer.param_groups[g]["lr"]`, float32), read as a float.

MindSpore keeps every lr in float32: the optimizer turns each group's lr into a float32 Parameter
(Optimizer._build_single_lr), and the schedulers multiply it in place (ops.assign) by factors that MindSpore
also computes in float32 (a Python float times a float32 Tensor is a float32 Tensor; the cosines are ops.Cos
on float32; `last_epoch` is a float32 Parameter). The tolerance below follows from that arithmetic.

ChainedScheduler has no MindSpore class, but its semantics are a list: torch's ChainedScheduler.step() calls
each child's step() in order, each applying its chainable form to the current lr. MindSpore's schedulers are
chainable in the same way (each multiplies the optimizer's lr Parameter in place), so the port is a list of
MindSpore schedulers on one optimizer, stepped in order each iteration.

Mapping rules, per torch scheduler: PORTING below (docs/porting/mindspore.md is generated from it). Features:
plateau, last_epoch (MindSpore's constructors take last_epoch with the groups' initial_lr, as torch's), step_epoch
and fractional_epoch (MindSpore's step(epoch) uses the closed form where a scheduler has one, as torch's;
CosineAnnealingWarmRestarts takes fractional epochs), scheduler_first (MindSpore does not look at the order),
tensor_lr (MindSpore's optimizers take 0-dim Tensor lrs; they are float32 Parameters either way), errors
(MindSpore validates its arguments and raises as torch does in most places; where it raises another type or not
at all it is a recorded difference); observable: last_lr (get_last_lr(), of the last scheduler for a
ChainedScheduler list). Not graded: state_dict (MindSpore's schedulers have no state_dict()/load_state_dict();
only Parameters are checkpointed, and the schedulers' Python state - milestones, cooldown, lambdas - is not a
Parameter), momentum (MindSpore's CyclicLR has no cycle_momentum, there is no OneCycleLR), warnings (MindSpore
emits none of torch's UserWarnings: order check, step(epoch) deprecation). Interventions: INTERVENTIONS below.
"""

from __future__ import annotations

import os

from conformance import vocabulary
from conformance.adapters.base import StatefulAdapter
from conformance.adapters.torch_reference import wrapped_step
from conformance.libraries.common import Port, Session, Unsupported, expressed, kwargs_of, only_kwargs, ported
from conformance.model import AdapterInfo, Case, SchedulerSpec, Tolerance

LIBRARY = "mindspore"
INSTALL = "pip install 'lr-conformance[mindspore]'"  # `lr-conformance adapters` says it when the library does not import (tox -e mindspore)

M = "mindspore.experimental.optim.lr_scheduler."
SAME = "the same constructor as torch's (MindSpore's file is a port of torch 1.13's lr_scheduler.py)"
RESUME = (" As torch 1.13, the constructor steps also when resuming with last_epoch=k: it applies the chainable "
          "factor of epoch k + 1 to the resumed lr (torch >= 2.8 keeps the resumed lr).")
PORTING = {
    "LambdaLR": Port(M + "LambdaLR(optimizer, lr_lambda=lr_lambda)",
                     SAME + ". The function is called with MindSpore's `last_epoch`, a float32 Parameter, "
                     "not an int: a lambda doing integer arithmetic on it (x // n, min, max) works, in float32."),
    "MultiplicativeLR": Port(M + "MultiplicativeLR(optimizer, lr_lambda=lr_lambda)",
                             SAME + "; the function gets a float32 Parameter as for LambdaLR. step(0) does not "
                             "multiply (`if self.last_epoch > 0`, torch 1.13's test; torch's multiplies)." + RESUME),
    "StepLR": Port(M + "StepLR(optimizer, step_size=step_size, gamma=float(gamma))",
                   SAME + "; gamma must be a Python float (MindSpore checks isinstance(gamma, float)). "
                   "step_size=0 raises nothing (a float32 Tensor modulo: nan) where torch raises "
                   "ZeroDivisionError." + RESUME),
    "MultiStepLR": Port(M + "MultiStepLR(optimizer, milestones=list(milestones), gamma=gamma)",
                        SAME + "; milestones must be a list. Repeated milestones multiply by gamma ** count, as "
                        "torch. step(epoch) is broken: MultiStepLR._get_closed_form_lr reads self.step_size, which "
                        "MultiStepLR does not have (AttributeError)." + RESUME),
    "ConstantLR": Port(M + "ConstantLR(optimizer, factor=factor, total_iters=total_iters)",
                       SAME + ". factor=0 raises nothing (the lr Tensor divided by 0: nan) where torch raises "
                       "ZeroDivisionError." + RESUME),
    "LinearLR": Port(M + "LinearLR(optimizer, start_factor=start_factor, end_factor=end_factor, "
                         "total_iters=total_iters)", SAME + "." + RESUME),
    "ExponentialLR": Port(M + "ExponentialLR(optimizer, gamma=float(gamma))",
                          SAME + "; gamma must be a Python float." + RESUME),
    "PolynomialLR": Port(M + "PolynomialLR(optimizer, total_iters=total_iters, power=float(power))",
                         SAME + "; power must be a Python float." + RESUME),
    "CosineAnnealingLR": Port(M + "CosineAnnealingLR(optimizer, T_max=T_max, eta_min=eta_min)",
                              SAME + " (torch 1.13's chainable form, also past T_max); the cosines are float32. "
                              "T_max=0 gives nan where torch raises ZeroDivisionError." + RESUME),
    "ChainedScheduler": Port("[MindSpore scheduler for each child, built in order on the same optimizer], each "
                             "one's step() called in order every iteration",
                             "MindSpore has no ChainedScheduler. torch's ChainedScheduler.step() steps its "
                             "children in order, each applying its chainable form to the current lr; MindSpore's "
                             "schedulers multiply the optimizer's lr Parameters in place the same way, so a list "
                             "stepped in order is the port. torch's own checks on the list (at least one "
                             "scheduler, no ReduceLROnPlateau, one optimizer) and its step(epoch) TypeError "
                             "belong to the ChainedScheduler class: no counterpart. A list cannot be a stage of "
                             "a MindSpore SequentialLR."),
    "SequentialLR": Port(M + "SequentialLR(optimizer, schedulers=[...], milestones=list(milestones))",
                         SAME + ": at a milestone the next scheduler is stepped with step(0) (its closed form "
                         "from the base lr where it has one), as torch's. The first scheduler always makes the "
                         "initial step, also with a milestone at 0 (torch 2.13 starts the one in force at epoch 0). "
                         "MindSpore does not reject ReduceLROnPlateau as a stage (torch raises)."),
    "ReduceLROnPlateau": Port(M + "ReduceLROnPlateau(optimizer, mode=mode, factor=factor, patience=patience, "
                                  "threshold=threshold, threshold_mode=threshold_mode, cooldown=cooldown, "
                                  "min_lr=min_lr, eps=eps)",
                              SAME + "; step(metric) only (no epoch argument). The metric, `best` and the "
                              "comparisons are float32 (ops.Cast), torch's are Python floats."),
    "CyclicLR": Port(M + "CyclicLR(optimizer, base_lr=base_lr, max_lr=max_lr, step_size_up=step_size_up, "
                         "step_size_down=step_size_down, mode=mode, gamma=gamma, scale_fn=scale_fn, "
                         "scale_mode=scale_mode)",
                     "torch 1.13's lr cycle, without momentum: MindSpore's CyclicLR has no cycle_momentum / "
                     "base_momentum / max_momentum, so only cycle_momentum=False has an equivalent (torch's "
                     "default cycles SGD momentum or Adam's beta1)."),
    "CosineAnnealingWarmRestarts": Port(M + "CosineAnnealingWarmRestarts(optimizer, T_0=T_0, T_mult=T_mult, "
                                            "eta_min=eta_min)",
                                        SAME + "; T_cur, T_i and the cosine are float32 Parameters / ops. "
                                        "step(epoch) with T_mult > 1 past T_0 raises TypeError (it calls the "
                                        "one-argument ops.Log with a base); a non-number eta_min is a TypeError "
                                        "(torch: ValueError)."),
    "OneCycleLR": Port(None, "MindSpore's experimental lr_scheduler has no OneCycleLR (and no momentum cycling)."),
    "SWALR": Port(None, "MindSpore's experimental lr_scheduler has no SWALR (no SWA learning-rate schedule)."),
}

_TOLERANCE = Tolerance(
    rel=1e-5,
    abs=2e-9,
    reason="float32: MindSpore stores every lr as a float32 Parameter (one rounding, <= 2 ** -24 = 6e-8 "
           "relative, already at step 0) and updates it in place each step by a factor it also computes in float32 "
           "(gamma rounded, the polynomial ratio, lambdas called with a float32 last_epoch), so a chainable "
           "schedule gains ~2 roundings a step: <= 2n * 6e-8 after n steps, 7.2e-6 over the suite's longest run "
           "(60 steps). The chainable cosine divides two float32 (1 + cos) terms, whose cancellation near cos = -1 "
           "enlarges each step's error: measured 5.4e-6 at step 34 of cosineannealinglr/far-past-tmax, the "
           "largest over the suite. rel 1e-5. abs 2e-9 for the closed-form cosines near their minimum, "
           "eta_min + (lr - eta_min) * (1 + cos) / 2: float32 cos near -1 is off by up to half an ulp (3e-8), times "
           "(lr - eta_min) / 2 <= 0.05 for the suite's cosine lrs, 1.5e-9 (measured 7e-10)",
)


# How a MindSpore training loop does each intervention of spec 4.5 (docs/porting/mindspore.md prints this table).
# The schedulers are torch 1.13's, chainable on the optimizer's float32 lr Parameters.
INTERVENTIONS = {
    "skip-optimizer-step": Port("skip optimizer(grads) (an overflowing step under loss scaling); scheduler.step() "
                                "as usual", "MindSpore's schedulers do not watch the optimizer: no warning."),
    "scheduler-steps": Port("call scheduler.step() n times (or not at all) in one iteration", ""),
    "wrap-optimizer-step": Port("a wrapper function calling optimizer(grads) in the loop's place",
                                "The schedulers never patch or check the optimizer's call."),
    "set": Port("ops.assign(optimizer.param_groups[g]['lr'], value) (the lr is a float32 Parameter); "
                "param_groups[g]['initial_lr'] = value",
                "The chainable forms continue from the value written. momentum has no settable form here: "
                "unsupported."),
    "add-param-group": Port("optimizer.add_param_group({'params': [p], **options})",
                            "MindSpore's Optimizer.add_param_group builds the new group's lr Parameter; the loop "
                            "passes one more gradient from then on. A bug: it does not extend the optimizer's "
                            "per-parameter state (SGD's accum / stat, cloned once in SGD.__init__), so the next "
                            "optimizer call raises RuntimeError in HyperMap (every add-param-group case)."),
    "add-scheduler": Port("a second scheduler built on the same optimizer, stepped after (or before) the first",
                          "`from` and `replace` (features add_scheduler_from, replace_scheduler) are not declared: "
                          "not graded yet (MindSpore was not installed when they were added)."),
    "call": Port("scheduler.get_lr() / scheduler.get_last_lr()",
                 "torch 1.13's get_lr() (the chainable formula at last_epoch), without torch's warning."),
    "read-scheduler": Port(None, "the schedulers have last_epoch, but reading it (and T_cur, min_lrs, ...) is not ported or "
                                 "tested yet."),
    "set-scheduler": Port(None, "the schedulers have last_epoch, but writing it by hand is not ported or tested yet."),
    "change-argument": Port(None, "the schedulers take Python floats (and mindspore tensors, not torch's): an "
                                  "in-place change of an argument is not ported or tested yet."),
    "resume": Port(None, "the schedulers have no state_dict() / load_state_dict() (see above): nothing to restore "
                         "in part."),
    "on": Port(None, "not ported or tested yet: what the schedulers do with None for their optimizer, or a "
                   "member on another optimizer, is not graded."),
    "load-twice": Port(None, "the schedulers have no state_dict() / load_state_dict() (see resume): nothing to load "
                           "twice."),
}


class MindSpore(StatefulAdapter):
    """mindspore.experimental.optim.lr_scheduler on a mindspore.experimental.optim optimizer (float32)."""

    variant = "mindspore"

    def __init__(self) -> None:
        os.environ.setdefault("GLOG_v", "3")  # MindSpore's C++ log: errors only (its info/warnings go to stderr)
        import mindspore
        import numpy
        from mindspore.experimental import optim
        from mindspore.experimental.optim import lr_scheduler

        self._ms = mindspore
        self._np = numpy
        self._optim = optim
        self._lr_scheduler = lr_scheduler
        self.info = AdapterInfo(
            name=self.variant,
            version=mindspore.__version__,
            schedulers=ported(PORTING),
            features=frozenset({"plateau", "last_epoch", "step_epoch", "fractional_epoch", "scheduler_first",
                                "tensor_lr", "errors"}) | expressed(INTERVENTIONS),
            observables=frozenset({"last_lr"}),
            tolerance=_TOLERANCE,
        )

    # --- sessions ---------------------------------------------------------------------------------

    def build(self, case: Case) -> Session:
        optimizer, grads = self._optimizer(case)
        spec = case.scheduler
        if spec.name == "ChainedScheduler":
            schedulers = self._chained(spec, optimizer)
        else:
            schedulers = [self._scheduler(spec, optimizer)]
        return _Session(optimizer, grads, schedulers, chained=spec.name == "ChainedScheduler",
                        plateau=spec.name == "ReduceLROnPlateau", adapter=self)

    def _optimizer(self, case: Case):
        ms, np = self._ms, self._np
        if case.optimizer.name not in ("SGD", "Adam"):
            raise Unsupported(f"optimizer {case.optimizer.name}: graded on SGD and Adam")

        def lr(value):
            return ms.Tensor(value, ms.float32) if case.tensor_lr else value

        groups, params = [], []
        for index, spec in enumerate(case.groups):
            param = ms.Parameter(ms.Tensor(np.zeros(1, np.float32)), name=f"param_{index}")
            params.append(param)
            group = {key: tuple(v) if isinstance(v, list) else v for key, v in spec.items()}
            group["params"] = [param]
            for key in ("lr", "initial_lr"):
                if key in spec:
                    group[key] = lr(spec[key])
            groups.append(group)
        kwargs = {key: tuple(v) if isinstance(v, list) else v for key, v in case.optimizer.kwargs.items()}
        optimizer = getattr(self._optim, case.optimizer.name)(groups, **{"lr": groups[0]["lr"], **kwargs})
        grads = tuple(ms.ops.zeros_like(p) for p in params)
        return optimizer, grads

    # --- schedulers -------------------------------------------------------------------------------

    def _chained(self, spec: SchedulerSpec, optimizer) -> list:
        kwargs = dict(spec.kwargs)
        kwargs.pop("optimizer", None)
        if kwargs:
            raise Unsupported(f"ChainedScheduler({', '.join(kwargs)}) has no equivalent")
        if not spec.children:
            raise Unsupported("ChainedScheduler of no schedulers: torch's ValueError is the class's own check; an "
                              "empty MindSpore list has nothing to compare")
        if any(child.name == "ReduceLROnPlateau" for child in spec.children):
            raise Unsupported("ReduceLROnPlateau in a ChainedScheduler: torch rejects it (ValueError, the class's "
                              "own check); a list stepping it with the metric and the others without has nothing "
                              "to compare")
        return [self._scheduler(child, optimizer) for child in spec.children]

    def _scheduler(self, spec: SchedulerSpec, optimizer):
        L = self._lr_scheduler
        name = spec.name
        last = {"last_epoch": spec.kwargs["last_epoch"]} if "last_epoch" in spec.kwargs else {}
        if name == "StepLR":
            k = only_kwargs(spec, {"step_size", "gamma", "last_epoch"})
            return L.StepLR(optimizer, step_size=k["step_size"], gamma=_float(k["gamma"]), **last)
        if name == "MultiStepLR":
            k = only_kwargs(spec, {"milestones", "gamma", "last_epoch"})
            return L.MultiStepLR(optimizer, milestones=list(k["milestones"]), gamma=k["gamma"], **last)
        if name == "ConstantLR":
            k = only_kwargs(spec, {"factor", "total_iters", "last_epoch"})
            return L.ConstantLR(optimizer, factor=k["factor"], total_iters=k["total_iters"], **last)
        if name == "LinearLR":
            k = only_kwargs(spec, {"start_factor", "end_factor", "total_iters", "last_epoch"})
            return L.LinearLR(optimizer, start_factor=k["start_factor"], end_factor=k["end_factor"],
                              total_iters=k["total_iters"], **last)
        if name == "ExponentialLR":
            k = only_kwargs(spec, {"gamma", "last_epoch"})
            return L.ExponentialLR(optimizer, gamma=_float(k["gamma"]), **last)
        if name == "PolynomialLR":
            k = only_kwargs(spec, {"total_iters", "power", "last_epoch"})
            return L.PolynomialLR(optimizer, total_iters=k["total_iters"], power=_float(k["power"]), **last)
        if name == "CosineAnnealingLR":
            k = only_kwargs(spec, {"T_max", "eta_min", "last_epoch"})
            return L.CosineAnnealingLR(optimizer, T_max=k["T_max"], eta_min=k["eta_min"], **last)
        if name == "CosineAnnealingWarmRestarts":
            k = only_kwargs(spec, {"T_0", "T_mult", "eta_min", "last_epoch"})
            return L.CosineAnnealingWarmRestarts(optimizer, T_0=k["T_0"], T_mult=k["T_mult"], eta_min=k["eta_min"],
                                                 **last)
        if name == "LambdaLR":
            k = only_kwargs(spec, {"lr_lambda", "last_epoch"})
            return L.LambdaLR(optimizer, lr_lambda=vocabulary.build(k["lr_lambda"]), **last)
        if name == "MultiplicativeLR":
            k = only_kwargs(spec, {"lr_lambda", "last_epoch"})
            return L.MultiplicativeLR(optimizer, lr_lambda=vocabulary.build(k["lr_lambda"]), **last)
        if name == "CyclicLR":
            k = kwargs_of(spec)
            if k["cycle_momentum"]:
                raise Unsupported("CyclicLR(cycle_momentum=True): MindSpore's CyclicLR has no momentum cycle")
            k = only_kwargs(spec, {"base_lr", "max_lr", "step_size_up", "step_size_down", "mode", "gamma",
                                   "scale_fn", "scale_mode", "cycle_momentum", "base_momentum", "max_momentum",
                                   "last_epoch"})
            scale_fn = None if k["scale_fn"] is None else vocabulary.build(k["scale_fn"])
            return L.CyclicLR(optimizer, base_lr=k["base_lr"], max_lr=k["max_lr"], step_size_up=k["step_size_up"],
                              step_size_down=k["step_size_down"], mode=k["mode"], gamma=k["gamma"],
                              scale_fn=scale_fn, scale_mode=k["scale_mode"], **last)
        if name == "ReduceLROnPlateau":
            k = only_kwargs(spec, {"mode", "factor", "patience", "threshold", "threshold_mode", "cooldown",
                                   "min_lr", "eps"})
            return L.ReduceLROnPlateau(optimizer, mode=k["mode"], factor=k["factor"], patience=k["patience"],
                                       threshold=k["threshold"], threshold_mode=k["threshold_mode"],
                                       cooldown=k["cooldown"], min_lr=k["min_lr"], eps=k["eps"])
        if name == "SequentialLR":
            k = only_kwargs(spec, {"milestones", "last_epoch"})
            if any(child.name == "ChainedScheduler" for child in spec.children):
                raise Unsupported("a ChainedScheduler stage: MindSpore's port of ChainedScheduler is a list of "
                                  "schedulers, which SequentialLR cannot take")
            children = [self._scheduler(child, optimizer) for child in spec.children]
            return L.SequentialLR(optimizer, schedulers=children, milestones=list(k["milestones"]), **last)
        raise Unsupported(f"{name} has no MindSpore equivalent")


def _float(value):
    """A torch float kwarg given as an int: MindSpore checks isinstance(value, float) where torch takes any number
    (a porter writes 1.0 for 1). Other values pass as they are (MindSpore's validation is graded)."""
    return float(value) if isinstance(value, int) and not isinstance(value, bool) else value


class _Session(Session):
    def __init__(self, optimizer, grads, schedulers: list, chained: bool, plateau: bool, adapter) -> None:
        self.optimizer = optimizer
        self.grads = grads
        self.schedulers = schedulers
        self.chained = chained
        self.plateau = plateau
        self._adapter = adapter
        self._step = lambda: self.optimizer(self.grads)  # the loop's optimizer step (wrap-optimizer-step wraps it)

    def set_group(self, group, key, value) -> None:
        import mindspore as ms

        if key == "lr":
            ms.ops.assign(self.optimizer.param_groups[group]["lr"], ms.Tensor(value, ms.float32))
        elif key == "initial_lr":
            self.optimizer.param_groups[group]["initial_lr"] = value
        else:
            raise Unsupported(f"MindSpore's optimizer has no settable {key}")

    def add_param_group(self, options) -> None:
        import mindspore as ms
        import numpy as np

        param = ms.Parameter(ms.Tensor(np.zeros(1, np.float32)), name=f"param_{len(self.optimizer.param_groups)}")
        group = {key: tuple(v) if isinstance(v, list) else v for key, v in options.items()}
        self.optimizer.add_param_group({**group, "params": [param]})
        self.grads = (*self.grads, ms.ops.zeros_like(param))

    def wrap_optimizer_step(self, keep_attributes) -> None:
        self._step = wrapped_step(self._step, keep_attributes)

    def add_scheduler(self, spec) -> Session:
        adapter = self._adapter
        chained = spec.name == "ChainedScheduler"
        schedulers = adapter._chained(spec, self.optimizer) if chained else [adapter._scheduler(spec, self.optimizer)]
        return _Session(self.optimizer, self.grads, schedulers, chained=chained, plateau=False, adapter=adapter)

    def get_lr(self):
        return self.schedulers[-1].get_lr()

    def get_last_lr(self):
        return self.schedulers[-1].get_last_lr()

    def lrs(self):
        return [float(group["lr"].value()) for group in self.optimizer.param_groups]

    def last_lrs(self):
        return [float(lr) for lr in self.schedulers[-1].get_last_lr()]

    def optimizer_step(self) -> None:
        self._step()

    def scheduler_step(self, metric=None, epoch=None) -> None:
        if self.plateau:
            if epoch is not None:
                raise Unsupported("MindSpore's ReduceLROnPlateau.step(metrics) takes no epoch")
            self.schedulers[0].step(metric)
        elif self.chained:
            if epoch is not None:
                raise Unsupported("step(epoch) on a ChainedScheduler list: torch's TypeError is the class's own; "
                                  "stepping each member to the epoch is not what torch does")
            for scheduler in self.schedulers:
                scheduler.step()
        elif epoch is not None:
            self.schedulers[0].step(epoch)
        else:
            self.schedulers[0].step()
