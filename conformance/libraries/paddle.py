"""PaddlePaddle's `paddle.optimizer.lr` schedulers graded against torch: `Paddle64` (float64 params) and
`Paddle32` (paddle's default float32 params).

    lr-conformance run --adapter paddle64 --expectations paddle-float64
    lr-conformance run --adapter paddle32 --expectations paddle-float32

What is graded: paddle's LRScheduler objects are standalone (no optimizer inside): `scheduler()` (its
`last_lr`, a Python float) is the lr, `scheduler.step()` advances it, `step(epoch)` jumps to an epoch (the
closed form `_get_closed_form_lr` where the class has one, else `get_lr`), `state_dict()` /
`set_state_dict()` resume it. paddle's optimizers take one scheduler for all their parameters, so each torch
param group gets its own scheduler built from the group's lr (a per-group kwarg list gives each its value),
and every scheduler is stepped together. A paddle optimizer given a scheduler copies `float(scheduler())` into
its learning-rate tensor, created in the parameters' dtype, before each update (Optimizer.
_create_global_learning_rate; checked on paddle 3.3: SGD with float32 params holds 0.10000000149011612 for
0.1): the lr at loop iteration i is `scheduler()` as a float64 (`Paddle64`, float64 params, e.g.
`paddle.set_default_dtype("float64")`) or rounded to float32 (`Paddle32`, the default dtype). The observed
`last_lr` is the scheduler's `last_lr` attribute (torch's get_last_lr()), unrounded.

The schedules themselves are Python float (float64) arithmetic in both variants. Most are closed forms
(`base_lr * gamma ** n`) where torch multiplies recursively, hence a float64 tolerance of a few dozen ulp;
CosineAnnealingDecay, LinearLR, MultiplicativeDecay, CyclicLR, OneCycleLR and CosineAnnealingWarmRestarts are
copies of torch's own formulas and agree bit for bit on the suite's cases.

ReduceLROnPlateau is `paddle.optimizer.lr.ReduceOnPlateau`, stepped with each step's metric
(`scheduler.step(metric)`). SequentialLR is only the linear-warmup-then-X pair, paddle's `LinearWarmup`
wrapping another scheduler. Configurations paddle rejects (ExponentialDecay asserts 0 < gamma < 1,
StepDecay / MultiStepDecay raise for gamma >= 1, decay_steps / total_steps / T_max must be positive ...) are
unsupported, with paddle's message. No momentum: paddle's OneCycleLR and CyclicLR do not cycle momentum or
beta1, so only their cycle_momentum=False cases are graded.

Mapping rules, per torch scheduler: PORTING below (docs/porting/paddle.md is generated from it).
Features: state_dict, last_epoch (`learning_rate=initial_lr, last_epoch=k`), scheduler_first, step_epoch,
fractional_epoch, plateau, and the interventions of INTERVENTIONS below (those a loop around a standalone
scheduler can write); observable last_lr.
"""

from __future__ import annotations

import copy
from collections import Counter
from contextlib import contextmanager

from conformance import vocabulary
from conformance.adapters.base import StatefulAdapter
from conformance.libraries.common import (
    BASE_LR_CLOSED_FORMS,
    Difference,
    Port,
    Session,
    Unsupported,
    expressed,
    kwargs_of,
    only_kwargs,
    per_group,
    ported,
    rejected_as_unsupported,
)
from conformance.model import STATE_DICTS, AdapterInfo, Case, SchedulerSpec, Tolerance

LIBRARY = "paddle"
INSTALL = "pip install 'lr-conformance[paddle]'"  # `lr-conformance adapters` says it when the library does not import (tox -e paddle)

P = "paddle.optimizer.lr."
GROUPS = " One scheduler per param group (a paddle optimizer takes one scheduler)."
RESUME = (" Resuming from torch's last_epoch=k: learning_rate=initial_lr, last_epoch=k (paddle's constructor "
          "steps once and computes epoch k + 1 from learning_rate).")
# torch (>= 2.8) keeps the optimizer's current lr when constructed with last_epoch=k and continues its recursion
# from it; paddle has no current-lr input. Where torch is recursive this lands one epoch apart (see the expectations).
RESUME_DIFFERS = (" Resuming from torch's last_epoch=k: learning_rate=initial_lr, last_epoch=k, but the result "
                  "differs: paddle's constructor steps once, computing epoch k + 1 from learning_rate alone, while "
                  "torch (>= 2.8) keeps the optimizer's current lr and continues its recursion from it.")

# The porting guide, as data (see conformance/libraries/common.py). `lr` is each param group's lr.
PORTING = {
    "LambdaLR": Port(P + "LambdaDecay(learning_rate=lr, lr_lambda=lr_lambda)",
                     "the same formula as torch, base_lr * lr_lambda(last_epoch); a list of lambdas gives one per "
                     "group." + GROUPS + RESUME),
    "MultiplicativeLR": Port(P + "MultiplicativeDecay(learning_rate=lr, lr_lambda=lr_lambda)",
                             "paddle recomputes base_lr * f(1) * ... * f(last_epoch) from scratch at every step "
                             "(O(n) calls of lr_lambda per step), the same products in the same order as torch's "
                             "recursion. step(epoch) therefore jumps to the product up to that epoch, where torch "
                             "multiplies the current lr by lr_lambda(epoch) once per call." + GROUPS + RESUME_DIFFERS),
    "StepLR": Port(P + "StepDecay(learning_rate=lr, step_size=step_size, gamma=gamma)",
                   "closed form base_lr * gamma ** (last_epoch // step_size), boundaries where torch's are. paddle "
                   "rejects gamma >= 1 (ValueError 'gamma should be < 1.0'): no equivalent for a constant or "
                   "growing StepLR." + GROUPS + RESUME),
    "MultiStepLR": Port(P + "MultiStepDecay(learning_rate=lr, milestones=sorted(milestones), gamma=gamma)",
                        "paddle requires strictly increasing milestones (ValueError otherwise): sort them. A "
                        "milestone repeated k times (torch multiplies by gamma ** k there) has no equivalent, nor "
                        "has gamma >= 1 (ValueError). An empty milestone list is fine." + GROUPS + RESUME),
    "ConstantLR": Port(P + "PiecewiseDecay(boundaries=[total_iters], values=[lr * factor, lr])",
                       "PiecewiseDecay gives values[0] while last_epoch < total_iters, then exactly lr (torch "
                       "multiplies back by 1 / factor: within an ulp). total_iters=0 has no equivalent: torch's "
                       "epoch-0 branch wins and it keeps lr * factor for ever." + GROUPS
                       + " Resuming from last_epoch=k: values from initial_lr, last_epoch=k."),
    "LinearLR": Port(P + "LinearLR(learning_rate=lr, total_steps=total_iters, start_factor=start_factor, "
                         "end_factor=end_factor)",
                     "a copy of torch's recursive formula (paddle >= 2.6), but without torch's closed form: "
                     "step(epoch) applies one step's ratio whatever the epoch. paddle rejects total_steps=0 "
                     "(ValueError). LinearWarmup(learning_rate=lr * end_factor, warmup_steps=total_iters, "
                     "start_lr=lr * start_factor, end_lr=lr * end_factor) is the closed-form alternative for a "
                     "warmup (start_factor < end_factor)." + GROUPS + RESUME_DIFFERS),
    "ExponentialLR": Port(P + "ExponentialDecay(learning_rate=lr, gamma=gamma)",
                          "closed form base_lr * gamma ** last_epoch. paddle asserts 0 < gamma < 1: gamma=0 and "
                          "gamma >= 1 have no equivalent." + GROUPS + RESUME_DIFFERS),
    "PolynomialLR": Port(P + "PolynomialDecay(learning_rate=lr, decay_steps=total_iters, end_lr=0.0, power=power, "
                             "cycle=False)",
                         "paddle's end_lr defaults to 0.0001: pass 0.0. cycle=False clamps at end_lr after "
                         "decay_steps, as torch (cycle=True restarts with a doubled horizon: no torch counterpart). "
                         "paddle asserts decay_steps > 0 and power > 0: total_iters=0 and power=0 have no "
                         "equivalent." + GROUPS + RESUME_DIFFERS),
    "CosineAnnealingLR": Port(P + "CosineAnnealingDecay(learning_rate=lr, T_max=T_max, eta_min=eta_min)",
                              "a copy of torch's recursive formula, after T_max too (back up towards lr); "
                              "step(epoch) uses the same closed form as torch." + GROUPS + RESUME_DIFFERS),
    "ChainedScheduler": Port(None, "paddle schedulers do not compose: LinearWarmup wrapping a scheduler is the "
                                   "only combinator, a sequence (SequentialLR), not a product."),
    "SequentialLR": Port(P + "LinearWarmup(learning_rate=<the second child's paddle scheduler>, "
                             "warmup_steps=total_iters, start_lr=lr * start_factor, end_lr=lr * end_factor)",
                         "only SequentialLR([LinearLR(start_factor, end_factor, total_iters=W), X], "
                         "milestones=[W]) with start_factor < end_factor (paddle asserts end_lr > start_lr): "
                         "LinearWarmup interpolates lr * start_factor -> lr * end_factor in closed form for W "
                         "steps, then steps the wrapped scheduler with step(last_epoch - W), restarting it at 0 "
                         "at the milestone as torch does; X is any scheduler with a paddle equivalent. Its "
                         "state_dict carries the wrapped scheduler's." + GROUPS),
    "ReduceLROnPlateau": Port(P + "ReduceOnPlateau(learning_rate=lr, mode=mode, factor=factor, patience=patience, "
                                  "threshold=threshold, threshold_mode=threshold_mode, cooldown=cooldown, "
                                  "min_lr=min_lr, epsilon=eps)",
                              "same arguments, one scheduler per group (min_lr per group), each stepped with the "
                              "epoch's metric: scheduler.step(metric). Same patience counting as torch (reduce "
                              "when the bad epochs exceed patience), same relative threshold up to rounding "
                              "(best - best * threshold against torch's best * (1 - threshold)). Differences: paddle "
                              "takes the first metric as the best whatever it is (torch starts from +-inf, so a "
                              "nan or inf first metric is a bad epoch there; see the expectations), and during "
                              "cooldown paddle skips the comparison entirely, while torch still records a better "
                              "metric as the best (a later metric between the two bests is then an improvement in "
                              "paddle only)."),
    "CyclicLR": Port(P + "CyclicLR(base_learning_rate=base_lr, max_learning_rate=max_lr, step_size_up=step_size_up, "
                         "step_size_down=step_size_down, mode=mode, exp_gamma=gamma, scale_fn=scale_fn, "
                         "scale_mode=scale_mode)",
                     "torch's formula. paddle does not cycle momentum: only cycle_momentum=False has an "
                     "equivalent (drive the momentum yourself otherwise). exp_gamma must be a float." + GROUPS
                     + " Resuming from last_epoch=k: last_epoch=k (torch takes base_lr from the kwarg too)."),
    "CosineAnnealingWarmRestarts": Port(P + "CosineAnnealingWarmRestarts(learning_rate=lr, T_0=T_0, T_mult=T_mult, "
                                            "eta_min=eta_min)",
                                        "a copy of torch's (paddle >= 2.6), step(epoch) with fractional epochs "
                                        "included. Its state_dict holds only last_epoch and last_lr, not T_cur "
                                        "and T_i: after set_state_dict the cosine continues from the fresh "
                                        "scheduler's T_cur (see the expectations); calling "
                                        "step(state['last_epoch']) on the fresh scheduler first recovers them."
                                        + GROUPS + RESUME),
    "OneCycleLR": Port(P + "OneCycleLR(max_learning_rate=max_lr, total_steps=total_steps (or epochs * "
                           "steps_per_epoch), divide_factor=div_factor, end_learning_rate=max_lr / div_factor / "
                           "final_div_factor, phase_pct=float(pct_start), anneal_strategy=anneal_strategy, "
                           "three_phase=three_phase)",
                       "paddle's end_learning_rate is the final lr itself, torch's final_div_factor divides the "
                       "initial lr: compute it in torch's order. Same phase ends as torch (pct_start * "
                       "total_steps - 1, ..., fractional included). paddle requires phase_pct < 0.5 with "
                       "three_phase. paddle does not cycle momentum: only cycle_momentum=False has an "
                       "equivalent." + GROUPS),
    "SWALR": Port(None, "paddle.optimizer.lr has no SWA learning-rate scheduler."),
}

# Every difference PORTING's notes and the expectations' reasons describe, and the cases that show it.
DIFFERENCES = (
    Difference("CosineAnnealingLR", "resumed by last_epoch, the recursion restarts from initial_lr, one epoch ahead",
               ("cosineannealinglr/last-epoch-resume",
                "cosineannealinglr/get-lr-before-first-step-of-last-epoch-resume")),
    Difference("ExponentialLR", "resumed by last_epoch, the closed form from initial_lr is one decay ahead",
               ("exponentiallr/last-epoch-resume", "exponentiallr/scheduler-first-last-epoch-resume")),
    Difference("LinearLR", "resumed by last_epoch, the recursive ratio multiplies base_lr, not the mid-ramp lr",
               ("linearlr/last-epoch-resume",)),
    Difference("MultiplicativeLR", "resumed by last_epoch, the product is recomputed one factor ahead",
               ("multiplicativelr/last-epoch-resume",)),
    Difference("PolynomialLR", "resumed by last_epoch, the closed form is one decay ahead",
               ("polynomiallr/last-epoch-resume",)),
    Difference("LinearLR", "step(epoch) applies one step's ratio whatever the jump (no closed form)",
               ("linearlr/step-epoch", "linearlr/constant-epoch-repeated",
                "linearlr/step-epoch-negative-to-zero")),
    Difference("MultiplicativeLR", "step(epoch) jumps to the product up to that epoch", ("multiplicativelr/step-epoch",)),
    Difference("MultiplicativeLR", "step(epoch) with a fractional epoch raises TypeError: get_lr loops "
               "range(1, last_epoch + 1)", ("multiplicativelr/step-epoch-fractional",)),
    Difference("MultiplicativeLR", "lr_lambda is called last_epoch times per step: a stateful callable advances faster",
               ("multiplicativelr/resume-callable-object", "multiplicativelr/shared-callable-object-resume")),
    Difference("LambdaLR", "state_dict does not save a stateful lr_lambda", ("lambdalr/resume-callable-object",)),
    Difference("CosineAnnealingWarmRestarts", "state_dict holds only last_epoch and last_lr, not T_cur and T_i",
               ("cosineannealingwarmrestarts/resume-state-dict-at-4",
                "cosineannealingwarmrestarts/resume-state-dict-tmult")),
    Difference("CosineAnnealingWarmRestarts", "T_cur is reset by one subtraction, not modulo (torch before 2.8)",
               ("cosineannealingwarmrestarts/last-epoch-resume-past-two-periods",)),
    Difference("ReduceLROnPlateau", "the first metric is the best whatever it is (nan or inf included)",
               ("reducelronplateau/nan-metric", "reducelronplateau/inf-metrics", "reducelronplateau/max-mode-nan-inf")),
    Difference("ReduceLROnPlateau", "the rel threshold is best + best * threshold (best - best * threshold in min "
               "mode), which rounds otherwise than torch's best * (1 +/- threshold): a metric on torch's boundary is an "
               "improvement", ("reducelronplateau/max-rel-threshold-boundary",
                               "reducelronplateau/min-rel-threshold-boundary-negative")),
    Difference("ReduceLROnPlateau", "during cooldown the comparison is skipped: a better metric is not recorded as the "
               "best", ("reducelronplateau/cooldown-best-recorded",)),
    Difference("StepLR", "one base lr (learning_rate): step(epoch) decays from the lr, not a leftover initial_lr",
               ("steplr/initial-lr-without-last-epoch-step-epoch",)),
    Difference("StepLR", "resumed by last_epoch, the closed form from initial_lr ignores the group's current lr",
               ("steplr/last-epoch-resume-undecayed-lr", "steplr/scheduler-first-last-epoch-resume",
                "steplr/scheduler-first-wrapped-last-epoch-resume")),
    Difference("MultiStepLR", "resumed by last_epoch, the lr is base_lr = initial_lr, not the group's lr",
               ("multisteplr/last-epoch-no-milestones-two-groups",)),
    Difference("ConstantLR", "resumed by last_epoch, PiecewiseDecay's values come from initial_lr",
               ("constantlr/last-epoch-resume-unscaled-lr",)),
    Difference("CyclicLR", "the first lr is base_learning_rate, not a leftover initial_lr",
               ("cycliclr/initial-lr-without-last-epoch",)),
    Difference("CosineAnnealingLR", "one learning_rate is both the start and base_lr: a leftover initial_lr is not the "
               "base", ("cosineannealinglr/initial-lr-without-last-epoch",)),
    # the intervention cases (issue 17): paddle's optimizer saves and restores its scheduler, and holds no lr
    *(Difference(scheduler, "loading only the optimizer's state dict restores the scheduler too (the optimizer's "
                 "state dict carries 'LR_Scheduler'): the schedule continues where it was saved", (case_id,))
      for scheduler, case_id in (("StepLR", "steplr/resume-only-optimizer"),
                                 ("MultiStepLR", "multisteplr/resume-only-optimizer"),
                                 ("ReduceLROnPlateau", "reducelronplateau/resume-only-optimizer"))),
    Difference("StepLR", "resuming only the scheduler sets the optimizer's lr too (the optimizer reads the scheduler's "
               "value and holds no lr of its own)", ("steplr/resume-only-scheduler",)),
    Difference("StepLR", "get_lr() is the closed form (the lr in use), not torch's chainable form that decays again at "
               "a boundary", ("steplr/get-lr-called-by-user",)),
    Difference("CosineAnnealingLR", "get_lr() before the first step returns base_lr (its last_epoch == 0 branch), not "
               "torch's recursion evaluated at epoch 0, above the lr", ("cosineannealinglr/get-lr-before-first-step",)),
)

_FLOAT64 = Tolerance(
    rel=1e-14,
    abs=4.4e-16,
    reason="float64: paddle's schedulers are Python float arithmetic; its closed forms (gamma ** n, PolynomialDecay, "
           "PiecewiseDecay's exact lr, LinearWarmup's interpolation) against torch's recursive products, whose "
           "rounding walks ~1 ulp per step (measured over the suite: <= 1.3e-15 relative, ~6 ulp; keras and optax "
           "measure up to 12 ulp over 1000 steps): rel 1e-14 (~45 ulp) as for the other float64 libraries; abs "
           "4.4e-16 (2 ulp of 1.0) for values cancelling to ~0 at the end of a cosine, lrs <= 1",
)
_FLOAT32 = Tolerance(
    rel=1.2e-7,
    abs=4.4e-16,
    reason="float32 params: paddle computes the schedule in float64 and rounds only the final value to float32 "
           "(the optimizer's lr tensor), a relative error <= 2 ** -24 = 6e-8 on top of the float64 differences: "
           "rel 1.2e-7 (one float32 ulp); abs 4.4e-16 as in float64 for values cancelling to ~0",
)


@contextmanager
def _rejected():
    """paddle rejects configurations torch accepts with ValueError or with a bare `assert`: Unsupported."""
    with rejected_as_unsupported(LIBRARY):
        try:
            yield
        except AssertionError as exc:
            raise Unsupported(f"{LIBRARY} rejects this configuration: {str(exc).strip()}") from exc


def _int(value, name: str) -> int:
    if float(value) != int(value):
        raise Unsupported(f"{name}={value!r}: paddle takes an int")
    return int(value)


def _epoch(epoch):
    """An explicit epoch as a porter passes it: an int when it is whole (paddle's annotation), else the float."""
    return int(epoch) if float(epoch).is_integer() else float(epoch)


# How a paddle training loop does each intervention of spec 4.5 (docs/porting/paddle.md prints this table). A
# paddle LRScheduler is standalone: the optimizer reads float(scheduler()) before each update and nothing else.
INTERVENTIONS = {
    "skip-optimizer-step": Port("skip optimizer.step() (paddle.amp.GradScaler on overflow); scheduler.step() as "
                                "usual", "The scheduler does not know about the optimizer's steps: nothing changes."),
    "scheduler-steps": Port("call scheduler.step() n times (or not at all) in one iteration", ""),
    "wrap-optimizer-step": Port("optimizer.step = wrapper(optimizer.step)",
                                "Nothing in paddle patches or checks optimizer.step: no effect on the schedule."),
    "set": Port(None, "Optimizer.set_lr raises RuntimeError when the optimizer's learning_rate is an "
                      "LRScheduler (\"can't be LRScheduler when invoke this API\"): the lr is the scheduler's value."),
    "add-param-group": Port(None, "no public add_param_group (Optimizer._add_param_group is internal), and the "
                                  "one scheduler serves every group."),
    "add-scheduler": Port(None, "an optimizer takes one LRScheduler as its learning_rate: a second scheduler "
                                "built later is not attached to it."),
    "call": Port("scheduler.get_lr() (the formula at last_epoch, as torch's get_lr()); scheduler.last_lr (torch's "
                 "get_last_lr())", "One scheduler per torch group here, so one value per group."),
    "read-scheduler": Port(None, "the schedulers have last_epoch, but reading it (and the plateau counters) is not ported or "
                              "tested yet."),
    "set-scheduler": Port(None, "the schedulers have last_epoch, but writing it by hand is not ported or tested yet."),
    "change-argument": Port(None, "the schedulers take a Python float learning_rate and float arguments: no tensor "
                                  "of the user's to change in place."),
    "resume": Port("optimizer.set_state_dict(state['optimizer']) and/or scheduler.set_state_dict("
                   "state['scheduler']) on fresh objects",
                   "Optimizer.state_dict() carries its scheduler's state (key 'LR_Scheduler') and set_state_dict "
                   "restores it: loading only the optimizer restores the schedule too."),
    "on": Port(None, "not ported yet: the adapter builds every scheduler on the case's learning rate; what "
                   "paddle's schedulers do with None, or a member of another optimizer, is not graded."),
    "load-twice": Port(None, "not ported yet: the resume port loads each state dict once; one dict object loaded twice "
                           "is not graded."),
}


class _Paddle(StatefulAdapter):
    float32 = False

    def __init__(self) -> None:
        import paddle  # first: without it, its own dependency (numpy) would be the module named missing
        import numpy
        import paddle.optimizer.lr as lr_module

        self._numpy = numpy
        self._lr = lr_module
        schedulers = set(ported(PORTING))
        for torch_name, paddle_name in (("LinearLR", "LinearLR"), ("CyclicLR", "CyclicLR"),
                                        ("OneCycleLR", "OneCycleLR"),
                                        ("CosineAnnealingWarmRestarts", "CosineAnnealingWarmRestarts")):
            if not hasattr(lr_module, paddle_name):
                schedulers.discard(torch_name)
        self.info = AdapterInfo(
            name=self.variant,
            version=paddle.__version__,
            schedulers=frozenset(schedulers),
            features=frozenset({"state_dict", "last_epoch", "scheduler_first", "step_epoch", "fractional_epoch",
                                "plateau"}) | expressed(INTERVENTIONS),
            observables=frozenset({"last_lr"}),
            tolerance=_FLOAT32 if self.float32 else _FLOAT64,
        )

    # --- sessions ---------------------------------------------------------------------------------

    def build(self, case: Case) -> Session:
        groups = len(case.groups)
        with _rejected():
            callables = _Callables()
            schedulers = [self._scheduler(case.scheduler, case, g, groups, callables) for g in range(groups)]
        return _Session(schedulers, self._numpy.float32 if self.float32 else float)

    def restore(self, case: Case, checkpoint, load=STATE_DICTS) -> Session:
        session = self.build(case)
        if load:  # the optimizer's state dict holds its scheduler's ('LR_Scheduler'): either one restores it
            for scheduler, state in zip(session.schedulers, checkpoint):
                scheduler.set_state_dict(copy.deepcopy(state))
        return session

    # --- schedulers -------------------------------------------------------------------------------

    def _scheduler(self, spec: SchedulerSpec, case: Case, g: int, groups: int, callables: _Callables):
        L = self._lr
        name = spec.name
        group = case.groups[g]
        last_epoch = spec.kwargs.get("last_epoch", -1)
        # torch's base lr is the group's initial_lr whenever it has one (LRScheduler.__init__ keeps a leftover
        # one): the schedulers whose get_lr reads base_lrs start from it even without last_epoch, the recursive
        # ones from the group's lr; a paddle scheduler has one base lr, its learning_rate
        from_base = last_epoch != -1 or name in BASE_LR_CLOSED_FORMS
        lr = float(group["initial_lr"] if from_base and "initial_lr" in group else group["lr"])
        resume = {"last_epoch": last_epoch}
        allowed = {"last_epoch"}
        if name == "LambdaLR":
            k = only_kwargs(spec, allowed | {"lr_lambda"})
            fn = per_group(callables.of(spec, "lr_lambda"), groups, "lr_lambda")[g]
            return L.LambdaDecay(learning_rate=lr, lr_lambda=fn, **resume)
        if name == "MultiplicativeLR":
            k = only_kwargs(spec, allowed | {"lr_lambda"})
            fn = per_group(callables.of(spec, "lr_lambda"), groups, "lr_lambda")[g]
            return L.MultiplicativeDecay(learning_rate=lr, lr_lambda=fn, **resume)
        if name == "StepLR":
            k = only_kwargs(spec, allowed | {"step_size", "gamma"})
            return L.StepDecay(learning_rate=lr, step_size=_int(k["step_size"], "step_size"), gamma=k["gamma"],
                               **resume)
        if name == "MultiStepLR":
            k = only_kwargs(spec, allowed | {"milestones", "gamma"})
            repeated = sorted(m for m, n in Counter(k["milestones"]).items() if n > 1)
            if repeated:
                raise Unsupported(f"repeated milestone(s) {repeated}: MultiStepDecay needs strictly increasing "
                                  "milestones, one gamma each")
            return L.MultiStepDecay(learning_rate=lr, milestones=sorted(k["milestones"]), gamma=k["gamma"], **resume)
        if name == "ConstantLR":
            k = only_kwargs(spec, allowed | {"factor", "total_iters"})
            if k["total_iters"] == 0:
                raise Unsupported("total_iters=0: torch keeps lr * factor for ever (its epoch-0 branch); "
                                  "PiecewiseDecay has no such configuration")
            return L.PiecewiseDecay(boundaries=[k["total_iters"]], values=[lr * k["factor"], lr], **resume)
        if name == "LinearLR":
            k = only_kwargs(spec, allowed | {"start_factor", "end_factor", "total_iters"})
            return L.LinearLR(learning_rate=lr, total_steps=k["total_iters"], start_factor=k["start_factor"],
                              end_factor=k["end_factor"], **resume)
        if name == "ExponentialLR":
            k = only_kwargs(spec, allowed | {"gamma"})
            return L.ExponentialDecay(learning_rate=lr, gamma=k["gamma"], **resume)
        if name == "PolynomialLR":
            k = only_kwargs(spec, allowed | {"total_iters", "power"})
            return L.PolynomialDecay(learning_rate=lr, decay_steps=k["total_iters"], end_lr=0.0, power=k["power"],
                                     cycle=False, **resume)
        if name == "CosineAnnealingLR":
            k = only_kwargs(spec, allowed | {"T_max", "eta_min"})
            return L.CosineAnnealingDecay(learning_rate=lr, T_max=_int(k["T_max"], "T_max"),
                                          eta_min=float(k["eta_min"]), **resume)
        if name == "CosineAnnealingWarmRestarts":
            k = only_kwargs(spec, allowed | {"T_0", "T_mult", "eta_min"})
            return L.CosineAnnealingWarmRestarts(learning_rate=lr, T_0=k["T_0"], T_mult=k["T_mult"],
                                                 eta_min=k["eta_min"], **resume)
        if name == "CyclicLR":
            k = only_kwargs(spec, allowed | {"base_lr", "max_lr", "step_size_up", "step_size_down", "mode", "gamma",
                                             "scale_fn", "scale_mode", "cycle_momentum"})
            if k["cycle_momentum"]:
                raise Unsupported("paddle's CyclicLR does not cycle momentum")
            down = k["step_size_down"]
            return L.CyclicLR(
                base_learning_rate=float(per_group(k["base_lr"], groups, "base_lr")[g]),
                max_learning_rate=float(per_group(k["max_lr"], groups, "max_lr")[g]),
                step_size_up=_int(k["step_size_up"], "step_size_up"),
                step_size_down=None if down is None else _int(down, "step_size_down"),
                mode=k["mode"], exp_gamma=float(k["gamma"]),
                scale_fn=None if k["scale_fn"] is None else callables.of(spec, "scale_fn"),
                scale_mode=k["scale_mode"], **resume,
            )
        if name == "OneCycleLR":
            return self._onecycle(spec, g, groups)
        if name == "SequentialLR":
            return self._warmup(spec, case, g, groups, callables)
        if name == "ReduceLROnPlateau":
            k = only_kwargs(spec, {"mode", "factor", "patience", "threshold", "threshold_mode", "cooldown", "min_lr",
                                   "eps"})
            return L.ReduceOnPlateau(learning_rate=lr, mode=k["mode"], factor=k["factor"], patience=k["patience"],
                                     threshold=k["threshold"], threshold_mode=k["threshold_mode"],
                                     cooldown=k["cooldown"], min_lr=per_group(k["min_lr"], groups, "min_lr")[g],
                                     epsilon=k["eps"])
        raise Unsupported(f"{name} has no paddle equivalent")

    def _onecycle(self, spec: SchedulerSpec, g: int, groups: int):
        k = kwargs_of(spec)
        if k["cycle_momentum"]:
            raise Unsupported("paddle's OneCycleLR does not cycle momentum")
        total = k["total_steps"]
        if total is None:
            if k["epochs"] is None or k["steps_per_epoch"] is None:
                raise Unsupported("OneCycleLR needs total_steps, or epochs and steps_per_epoch")
            total = k["epochs"] * k["steps_per_epoch"]
        max_lr = float(per_group(k["max_lr"], groups, "max_lr")[g])
        initial = max_lr / k["div_factor"]  # torch: initial_lr = max_lr / div_factor, min_lr = initial_lr / final
        return self._lr.OneCycleLR(
            max_learning_rate=max_lr, total_steps=_int(total, "total_steps"), divide_factor=k["div_factor"],
            end_learning_rate=initial / k["final_div_factor"], phase_pct=float(k["pct_start"]),
            anneal_strategy=k["anneal_strategy"], three_phase=k["three_phase"],
            last_epoch=k.get("last_epoch", -1),
        )

    def _warmup(self, spec: SchedulerSpec, case: Case, g: int, groups: int, callables: _Callables):
        milestones = list(only_kwargs(spec, {"milestones"})["milestones"])
        names = [child.name for child in spec.children]
        if len(names) != 2 or names[0] != "LinearLR":
            raise Unsupported(f"SequentialLR of {names}: paddle only has LinearWarmup (a linear warmup, then "
                              "another scheduler)")
        if "ReduceLROnPlateau" in names:
            raise Unsupported("LinearWarmup cannot wrap ReduceOnPlateau")
        warmup = only_kwargs(spec.children[0], {"start_factor", "end_factor", "total_iters"})
        if milestones != [warmup["total_iters"]]:
            raise Unsupported(f"milestones={milestones}: LinearWarmup hands over when its warmup "
                              f"(total_iters={warmup['total_iters']}) ends")
        if warmup["start_factor"] >= warmup["end_factor"]:
            raise Unsupported("LinearWarmup only warms up (end_lr > start_lr)")
        lr = float(case.groups[g]["lr"])
        inner = self._scheduler(spec.children[1], case, g, groups, callables)
        return self._lr.LinearWarmup(learning_rate=inner, warmup_steps=_int(warmup["total_iters"], "total_iters"),
                                     start_lr=lr * warmup["start_factor"], end_lr=lr * warmup["end_factor"])


class _Callables:
    """The callables of one case, built once per scheduler spec and shared by its per-group paddle schedulers:
    torch gives every group the same object (LambdaLR's [lr_lambda] * groups), and a port passes that one object
    to each group's scheduler - which matters for a callable object with state (vocabulary's call_count_decay)."""

    def __init__(self) -> None:
        self._built: dict[tuple[int, str], object] = {}

    def of(self, spec: SchedulerSpec, kwarg: str):
        key = (id(spec), kwarg)  # the spec outlives the case's build: ids are not reused meanwhile
        if key not in self._built:
            self._built[key] = vocabulary.build(spec.kwargs[kwarg])
        return self._built[key]


class _Session(Session):
    """One paddle scheduler per param group, stepped together; the lr cast as the optimizer's lr tensor is."""

    def __init__(self, schedulers, cast) -> None:
        self.schedulers = schedulers
        self.cast = cast

    def lrs(self):
        return [float(self.cast(scheduler())) for scheduler in self.schedulers]

    def last_lrs(self):
        return [float(scheduler.last_lr) for scheduler in self.schedulers]

    def optimizer_step(self) -> None:
        pass

    def wrap_optimizer_step(self, keep_attributes) -> None:
        pass  # paddle's schedulers never look at optimizer.step: a wrapper changes nothing they see

    def get_lr(self):
        return [scheduler.get_lr() for scheduler in self.schedulers]

    def get_last_lr(self):
        return [scheduler.last_lr for scheduler in self.schedulers]

    def scheduler_step(self, metric=None, epoch=None) -> None:
        for scheduler in self.schedulers:
            if metric is not None:
                scheduler.step(metric)
            elif epoch is not None:
                scheduler.step(_epoch(epoch))
            else:
                scheduler.step()

    def save(self):
        return [copy.deepcopy(scheduler.state_dict()) for scheduler in self.schedulers]


class Paddle64(_Paddle):
    """paddle.optimizer.lr with float64 parameters: the scheduler's value as is."""

    float32 = False
    variant = "paddle-float64"


class Paddle32(_Paddle):
    """paddle.optimizer.lr with paddle's default float32 parameters: the value rounded to float32."""

    float32 = True
    variant = "paddle-float32"
