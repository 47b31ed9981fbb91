"""mmengine's parameter schedulers (`mmengine.optim.scheduler`, OpenMMLab) graded against torch: `MMEngine`.

    pip install mmengine-lite "torch==2.13.0"     # mmengine-lite: the same schedulers without the heavy deps
    lr-conformance run --adapter mmengine --expectations mmengine

What is graded: mmengine's `*LR` schedulers (StepLR, MultiStepLR, ConstantLR, LinearLR, ExponentialLR, PolyLR,
CosineAnnealingLR, CosineRestartLR, OneCycleLR, ReduceOnPlateauLR) driving a real torch optimizer (SGD or
Adam, one 1-element parameter per param group, as for torch) wrapped in `mmengine.optim.OptimWrapper`, the
way mmengine's Runner uses them: the loop calls `optim_wrapper.step()` and then `scheduler.step()` for every
scheduler of the list, in order (mmengine's ParamSchedulerHook); ReduceOnPlateauLR gets
`step({"loss": metric})` (its `monitor` key in the validation metrics dict). The schedulers are built with
`by_epoch=True` (the unit is irrelevant here: one scheduler step per loop iteration, as torch).

mmengine has no composite classes: a list of schedulers on one optimizer, each active on its own
`[begin, end)` range of scheduler steps, is how mmengine sequences and chains schedules. ChainedScheduler is a
list with every member active from step 0; SequentialLR is a list whose child i is active from milestone i-1
(`begin`), with `end` as below. mmengine's `end` is more than "stop updating": ConstantLR, LinearLR and PolyLR
take their length from it (`total_iters = end - begin - 1`), so torch's `total_iters` is mmengine's
`end = begin + total_iters + 1`.

Mapping rules, per torch scheduler: PORTING below (docs/porting/mmengine.md is generated from it). Features:
plateau, state_dict (the optim wrapper's and every scheduler's state_dict, restored into fresh objects),
last_epoch (mmengine's `last_step`), scheduler_first (mmengine keeps torch's step counting, warning
included), the interventions of INTERVENTIONS below (all but get_lr(), which mmengine has no public form of);
observable: last_lr (`get_last_value()` of the last scheduler of the list). Not graded: step(epoch)
(mmengine's step() takes no epoch), momentum (mmengine's OneCycleLR does not cycle momentum), tensor lrs,
errors and warnings (torch's validation is torch's API; mmengine validates differently - e.g. it accepts
LinearLR(start_factor=0), torch does not, and then divides by zero at the second step - and an implementation
raising where torch raised something else is graded `error`, which no expectations file can list).
"""

from __future__ import annotations

import copy

from conformance.adapters.base import StatefulAdapter
from conformance.adapters.torch_reference import torch_group, torch_optimizer, wrapped_step
from conformance.libraries.common import (
    Difference,
    Port,
    Session,
    Unsupported,
    expressed,
    kwargs_of,
    only_kwargs,
    ported,
    rejected_as_unsupported,
)
from conformance.model import STATE_DICTS, AdapterInfo, Case, SchedulerSpec, Tolerance

LIBRARY = "mmengine"
INSTALL = "pip install 'lr-conformance[mmengine]'"  # `lr-conformance adapters` says it when the library does not import (tox -e mmengine)

M = "mmengine.optim.scheduler."
FINITE = (" torch's total_iters is mmengine's end - begin - 1 (mmengine derives the schedule's length from "
          "`end`), hence end = total_iters + 1.")
PORTING = {
    "LambdaLR": Port(None, "mmengine has no LambdaLR: its schedulers are config-built classes, and a "
                           "user function of the step has no mmengine counterpart to grade (mmengine's "
                           "registry does not wrap torch's LambdaLR)."),
    "MultiplicativeLR": Port(None, "no multiplicative (user-function) scheduler."),
    "StepLR": Port(M + "StepLR(optim_wrapper, step_size=step_size, gamma=gamma, by_epoch=True)",
                   "same chainable form as torch (lr * gamma when last_step % step_size == 0)."),
    "MultiStepLR": Port(M + "MultiStepLR(optim_wrapper, milestones=milestones, gamma=gamma, by_epoch=True)",
                        "same chainable form; repeated milestones multiply by gamma ** count, as torch."),
    "ConstantLR": Port(M + "ConstantLR(optim_wrapper, factor=factor, begin=0, end=total_iters + 1, by_epoch=True)",
                       "lr * factor until total_iters, then lr / factor once." + FINITE),
    "LinearLR": Port(M + "LinearLR(optim_wrapper, start_factor=start_factor, end_factor=end_factor, begin=0, "
                         "end=total_iters + 1, by_epoch=True)",
                     "torch's chainable formula." + FINITE + " Past `end` the lr is left alone (torch: "
                     "unchanged after total_iters), but `end` counts scheduler steps since construction, not "
                     "`last_step`: resuming with last_step=k keeps updating k + 1 steps too long."),
    "ExponentialLR": Port(M + "ExponentialLR(optim_wrapper, gamma=gamma, by_epoch=True)", ""),
    "PolynomialLR": Port(M + "PolyLR(optim_wrapper, eta_min=0.0, power=power, begin=0, end=total_iters + 1, "
                             "by_epoch=True)",
                         "mmengine's PolyLR reaches eta_min at its last updated step, end - 1: end = "
                         "total_iters + 1 for torch's lr * (1 - t / total_iters) ** power. mmengine's factor "
                         "(1 - 1 / (total_iters - t + 1)) ** power is torch's ratio of consecutive closed forms "
                         "written differently: the same values up to rounding. eta_min=0 is torch's (torch has "
                         "no floor); mmengine's default is 0 as well."),
    "CosineAnnealingLR": Port(M + "CosineAnnealingLR(optim_wrapper, T_max=T_max, eta_min=eta_min, by_epoch=True)",
                              "pass T_max explicitly and leave end at its default (INF): mmengine's T_max "
                              "defaults to end - begin. Same chainable form as torch, also after T_max (the "
                              "cosine goes back up towards lr)."),
    "ChainedScheduler": Port("[mmengine schedulers for each child, in order, each begin=0]",
                             "mmengine's Runner (ParamSchedulerHook) steps every scheduler of a list in order, "
                             "each applying its chainable form to the current lr: torch's ChainedScheduler. Each "
                             "child keeps its own mapping (its own end)."),
    "SequentialLR": Port("[child_i(..., begin=milestones[i - 1] (0 for the first), end=...) for each child]",
                         "a list of schedulers on consecutive [begin, end) ranges: child i begins at milestone "
                         "i - 1, where its last_step restarts at 0 as torch's step(0). A child whose own length "
                         "is unbounded (StepLR, MultiStepLR, ExponentialLR, CosineAnnealingLR) ends at the next "
                         "milestone; a ConstantLR / LinearLR / PolyLR child keeps its own end = begin + "
                         "total_iters + 1, which may reach the next milestone's step but not beyond (a shorter "
                         "`end` would change its shape: no equivalent). Difference: at a milestone torch "
                         "restarts the next child from its closed form at epoch 0 (base lr, times the child's "
                         "start factor), mmengine's next child continues from the current lr with its "
                         "chainable form."),
    "ReduceLROnPlateau": Port(M + "ReduceOnPlateauLR(optim_wrapper, monitor='loss', rule='less' (mode='min') or "
                              "'greater' ('max'), factor=factor, patience=patience, threshold=threshold, "
                              "threshold_rule=threshold_mode, cooldown=cooldown, min_value=min_lr, eps=eps)",
                              "step it with the validation metrics dict, scheduler.step({'loss': metric}) (the "
                              "key is `monitor`). Same counting as torch (reduces when the bad epochs exceed "
                              "patience). mmengine starts `best` at +-1e9 (its INF is int(1e9)), not +-inf."),
    "CyclicLR": Port(None, "mmengine has no cyclic schedule."),
    "CosineAnnealingWarmRestarts": Port(
        M + "CosineRestartLR(optim_wrapper, periods=[T_0 * T_mult ** i for i in range(cycles)], "
            "restart_weights=[1] * cycles, eta_min=eta_min, by_epoch=True)",
        "one period per cycle, enough cycles to cover the run (after the last period mmengine leaves the lr "
        "alone). mmengine computes the cosine recursively (ratio of consecutive cosines times lr - eta_min), "
        "torch in closed form: the same values up to rounding."),
    "OneCycleLR": Port(M + "OneCycleLR(optim_wrapper, eta_max=max_lr, total_steps=total_steps (or epochs * "
                           "steps_per_epoch), pct_start=pct_start, anneal_strategy=anneal_strategy, "
                           "div_factor=div_factor, final_div_factor=final_div_factor, three_phase=three_phase, "
                           "by_epoch=True)",
                       "torch's phases and arithmetic. mmengine's OneCycleLR schedules the lr only: there is no "
                       "momentum cycle (cycle_momentum=True has no equivalent)."),
    "SWALR": Port(None, "mmengine has no SWA learning-rate scheduler (its param schedulers have no anneal-to-swa_lr from the current lr)."),
}

# How a loop around mmengine (its Runner, or a hand-written one) does each intervention of spec 4.5
# (docs/porting/mmengine.md prints this table). mmengine's schedulers are chainable like torch's: they read and
# write the optimizer's groups, and wrap optim_wrapper.step with a counter as torch wraps optimizer.step.
INTERVENTIONS = {
    "skip-optimizer-step": Port("skip optim_wrapper.step() (AMP overflow); scheduler.step() as usual",
                                "mmengine counts the wrapper's steps as torch counts the optimizer's and warns "
                                "on a scheduler step before the first optimizer step (warnings are not graded)."),
    "scheduler-steps": Port("call scheduler.step() n times (or not at all) in one iteration", ""),
    "wrap-optimizer-step": Port("optim_wrapper.step = wrapper(optim_wrapper.step)",
                                "the step mmengine's schedulers wrap with their counter (with_counter in "
                                "param_scheduler.py) is the OptimWrapper's: that is what a loop replaces."),
    "set": Port("optim_wrapper.optimizer.param_groups[g][key] = value",
                "the chainable forms continue from the value written, as torch's."),
    "add-param-group": Port("optim_wrapper.optimizer.add_param_group({'params': [p], **options})",
                            "A bug for plateau schedules: ReduceOnPlateauLR._get_value zips the groups' values with "
                            "the min_values it expanded per group at construction, so it silently never reduces a "
                            "group added later (torch's ReduceLROnPlateau re-expands a scalar min_lr to the new "
                            "group count): reducelronplateau/add-param-group-mid-run."),
    "add-scheduler": Port("a second mmengine scheduler built on the same OptimWrapper, stepped after (or before) "
                          "the first", "its begin / end count its own steps from its construction. `from` and "
                          "`replace` (features add_scheduler_from, replace_scheduler) are which scheduler the loop "
                          "steps, nothing of mmengine's: declared, and their cases it can build pass."),
    "call": Port("scheduler.get_last_value() (torch's get_last_lr()); get_lr() has none",
                 "torch's get_lr() is mmengine's protected _get_value(): a case calling get_lr() is unsupported."),
    "read-scheduler": Port(None, "the schedulers have last_step (torch's last_epoch), but reading it is not ported or tested "
                                "yet."),
    "set-scheduler": Port(None, "the schedulers have last_step (torch's last_epoch), but writing it by hand is not ported or "
                               "tested yet."),
    "change-argument": Port(None, "the ports pass float arguments and float group lrs: an argument changed in place "
                                  "after construction is not ported or tested yet."),
    "resume": Port("optim_wrapper.load_state_dict(state['optimizer']) and/or each scheduler's load_state_dict("
                   "state) on fresh objects, in the loop's order", ""),
    "on": Port(None, "not ported yet: the adapter builds every scheduler on the case's OptimWrapper; what "
                   "mmengine's schedulers do with None, or a member on another wrapper, is not graded."),
    "load-twice": Port(None, "not ported yet: the resume port loads each state dict once; one dict object loaded twice "
                           "is not graded."),
}

EXTRA_STEP = "constructed with last_epoch=k (0 included) it applies one more step at construction (torch before 2.8)"
TWO_GROUP_RESUME = ("resuming by last_epoch with more than one param group raises KeyError: OptimWrapper's synthetic "
                    "group has no initial_lr")

# The differences PORTING's notes describe, and the cases that show them (not yet every expectations entry:
# tests/meta/test_documented_differences.py lists the libraries whose table is complete).
DIFFERENCES = (
    Difference("SequentialLR", "at a milestone the next stage continues from the current lr instead of restarting "
               "from its closed form at epoch 0",
               ("sequentiallr/three-stages", "sequentiallr/stage-changes-lr-at-construction",
                "sequentiallr/step-after-onecycle-from-its-initial-lr", "sequentiallr/exponential-then-steplr")),
    Difference("SequentialLR", "a list of schedulers has no reset of the lr to a leftover initial_lr at construction",
               ("sequentiallr/initial-lr-without-last-epoch", "sequentiallr/later-onecycle-stage-sets-initial-lr",
                "sequentiallr/built-up-front-replacing-a-warmup")),
    # _ParamScheduler.__init__ ends with self.step() whatever last_step is (expectations/mmengine.toml)
    Difference("ExponentialLR", EXTRA_STEP,
               ("exponentiallr/last-epoch-resume", "exponentiallr/scheduler-first-last-epoch-resume",
                "exponentiallr/last-epoch-zero-after-one-step",
                "exponentiallr/last-epoch-zero-on-a-resumed-adamw")),
    Difference("CosineAnnealingLR", EXTRA_STEP,
               ("cosineannealinglr/last-epoch-resume", "cosineannealinglr/last-epoch-zero-after-one-step",
                "cosineannealinglr/last-epoch-zero-on-a-resumed-adamw",
                "cosineannealinglr/last-epoch-zero-continue")),
    Difference("CosineAnnealingWarmRestarts", EXTRA_STEP,
               ("cosineannealingwarmrestarts/last-epoch-resume",
                "cosineannealingwarmrestarts/last-epoch-resume-past-two-periods",
                "cosineannealingwarmrestarts/last-epoch-zero-after-one-step",
                "cosineannealingwarmrestarts/last-epoch-zero-on-a-resumed-adamw")),
    Difference("LinearLR", EXTRA_STEP, ("linearlr/last-epoch-resume", "linearlr/last-epoch-zero-after-one-step",
                                        "linearlr/last-epoch-zero-on-a-resumed-adamw")),
    Difference("PolynomialLR", EXTRA_STEP,
               ("polynomiallr/last-epoch-resume", "polynomiallr/last-epoch-zero-after-one-step",
                "polynomiallr/last-epoch-zero-on-a-resumed-adamw")),
    # OptimWrapper.param_groups appends a synthetic group without initial_lr once there are two groups
    Difference("StepLR", TWO_GROUP_RESUME,
               ("steplr/last-epoch-resume-two-groups", "steplr/scheduler-first-last-epoch-resume",
                "steplr/scheduler-first-wrapped-last-epoch-resume")),
    Difference("MultiStepLR", TWO_GROUP_RESUME, ("multisteplr/last-epoch-no-milestones-two-groups",)),
    Difference("CosineAnnealingWarmRestarts", "chainable (a ratio times the current lr) where torch's closed form "
               "from base_lrs overwrites a scheduler chained before or after it",
               ("chainedscheduler/warm-restarts-after-decay", "chainedscheduler/warm-restarts-first")),
    Difference("CosineAnnealingWarmRestarts", "a restart returns eta_max = base_value as is, not torch's "
               "eta_min + (base_lr - eta_min) * (1 + cos(0)) / 2", ("cosineannealingwarmrestarts/eta-min-above-lr",)),
    Difference("ReduceLROnPlateau", "best starts at 1e9 (-1e9 in max mode), not inf",
               ("reducelronplateau/huge-metrics",)),
    Difference("ReduceLROnPlateau", "a param group added after construction is never reduced (min_values expanded "
               "per group at construction)", ("reducelronplateau/add-param-group-mid-run",)),
    Difference("CosineAnnealingLR", "a param group added after construction is never annealed (the recursive "
               "_get_value zips the groups with the base_values of construction)",
               ("cosineannealinglr/add-param-group-at-first-iteration",)),
)

_TOLERANCE = Tolerance(
    rel=4e-15,
    abs=0.0,
    reason="float64. StepLR, MultiStepLR, ConstantLR, LinearLR, ExponentialLR, CosineAnnealingLR, OneCycleLR and "
           "ReduceOnPlateauLR use torch's own chainable formulas (bit-exact). PolyLR's factor (1 - 1 / (T - t + 1)) "
           "** power against torch's ((1 - t / T) / (1 - (t - 1) / T)) ** power, CosineRestartLR's recursive cosine "
           "against torch's closed form, and SequentialLR stages continuing from the previous stage's recursively "
           "computed lr where torch restarts from the closed form each round differently by ~1 ulp per step "
           "(power 2 doubles it): measured <= 3.5 ulp (rel 7.8e-16) over the suite; rel 4e-15 is ~18 ulp. No abs "
           "term: both sides reach 0 exactly (PolyLR's last factor is 0)",
)

NO_GET_LR = "mmengine has no public get_lr(): torch's get_lr() is its protected _get_value()"

INF = int(1e9)  # mmengine.optim.scheduler.param_scheduler.INF, the default `end`


class MMEngine(StatefulAdapter):
    """mmengine-lite / mmengine parameter schedulers on an OptimWrapper around a torch optimizer (float64)."""

    variant = "mmengine"

    def __init__(self) -> None:
        import mmengine
        import mmengine.optim as optim
        import mmengine.optim.scheduler as scheduler

        self._optim = optim
        self._scheduler = scheduler
        self.info = AdapterInfo(
            name=self.variant,
            version=mmengine.__version__,
            schedulers=ported(PORTING),
            # add-scheduler's from / replace are the loop's choice of which scheduler it steps (INTERVENTIONS)
            features=frozenset({"plateau", "state_dict", "last_epoch", "scheduler_first", "add_scheduler_from",
                                "replace_scheduler"}) | expressed(INTERVENTIONS),
            observables=frozenset({"last_lr"}),
            tolerance=_TOLERANCE,
        )

    # --- sessions ---------------------------------------------------------------------------------

    def build(self, case: Case) -> Session:
        if any(action.do == "call" and action.method == "get_lr" for action in case.interventions):
            # before anything is built: otherwise a library error at construction (the two-group resume's
            # KeyError) would grade a case whose get_lr() call mmengine cannot express at all
            raise Unsupported(NO_GET_LR)
        wrapper = self._optimizer(case)
        self._top = case.scheduler
        with rejected_as_unsupported(LIBRARY):
            schedulers = self._schedulers(case.scheduler, wrapper, begin=0, end=None)
        return _Session(wrapper, schedulers, plateau=case.scheduler.name == "ReduceLROnPlateau", adapter=self)

    def restore(self, case: Case, checkpoint, load=STATE_DICTS) -> Session:
        wrapper_state, scheduler_states = copy.deepcopy(checkpoint)
        session = self.build(case)
        for name in load:
            if name == "optimizer":
                session.wrapper.load_state_dict(wrapper_state)
            else:
                for scheduler, state in zip(session.schedulers, scheduler_states):
                    scheduler.load_state_dict(state)
        return session

    def added(self, spec: SchedulerSpec, wrapper) -> Session:
        """add-scheduler: mmengine schedulers for `spec` on the same OptimWrapper, counting from now."""
        with rejected_as_unsupported(LIBRARY):
            return _Session(wrapper, self._schedulers(spec, wrapper, begin=0, end=None), plateau=False, adapter=self)

    def _optimizer(self, case: Case):
        if case.tensor_lr:
            raise Unsupported("tensor lrs")
        return self._optim.OptimWrapper(torch_optimizer(case))

    # --- schedulers -------------------------------------------------------------------------------

    def _schedulers(self, spec: SchedulerSpec, wrapper, begin: int, end: int | None) -> list:
        """mmengine schedulers for `spec`, active from `begin` (scheduler steps since construction), ending
        at `end` at the latest (None: no limit from a SequentialLR around it)."""
        name = spec.name
        if name == "ChainedScheduler":
            kwargs = dict(spec.kwargs)
            kwargs.pop("optimizer", None)
            if kwargs:
                raise Unsupported(f"ChainedScheduler({', '.join(kwargs)}) has no equivalent")
            return [s for child in spec.children for s in self._schedulers(child, wrapper, begin, end)]
        if name == "SequentialLR":
            milestones = list(only_kwargs(spec, {"milestones"})["milestones"])
            if len(milestones) != len(spec.children) - 1 or milestones != sorted(milestones):
                raise Unsupported(f"SequentialLR milestones {milestones} for {len(spec.children)} children")
            if any(child.children for child in spec.children):
                raise Unsupported("SequentialLR of composites: torch rejects it, a flat mmengine list has no "
                                  "such limit; nothing to compare")
            starts = [begin] + [begin + m for m in milestones]
            stops = [begin + m for m in milestones] + [end]
            out = []
            for child, start, stop in zip(spec.children, starts, stops):
                out += self._schedulers(child, wrapper, start, stop)
            return out
        return [self._one(spec, wrapper, begin, end, top=spec is self._top)]

    def _one(self, spec: SchedulerSpec, wrapper, begin: int, limit: int | None, top: bool = False):
        s = self._scheduler
        name = spec.name
        k = kwargs_of(spec)
        last_step = k.get("last_epoch", -1)
        if last_step != -1 and begin != 0:
            raise Unsupported("last_epoch inside a composite")

        def span(total_iters: int) -> dict:
            # ConstantLR / LinearLR / PolyLR: total_iters = end - begin - 1 in mmengine.
            end = begin + total_iters + 1
            if limit is not None and end > limit + 1:
                raise Unsupported(f"{name}(total_iters={total_iters}) is cut by the next milestone at {limit}: "
                                  "a shorter mmengine `end` changes its schedule")
            return {"begin": begin, "end": end}

        unbounded = {"begin": begin, "end": INF if limit is None else limit}
        common = {"last_step": last_step, "by_epoch": True}
        if begin >= unbounded["end"]:
            raise Unsupported(f"{name} would be active on an empty range [{begin}, {unbounded['end']})")
        if name == "StepLR":
            k = only_kwargs(spec, {"step_size", "gamma", "last_epoch"})
            return s.StepLR(wrapper, step_size=k["step_size"], gamma=k["gamma"], **unbounded, **common)
        if name == "MultiStepLR":
            k = only_kwargs(spec, {"milestones", "gamma", "last_epoch"})
            return s.MultiStepLR(wrapper, milestones=list(k["milestones"]), gamma=k["gamma"], **unbounded, **common)
        if name == "ConstantLR":
            k = only_kwargs(spec, {"factor", "total_iters", "last_epoch"})
            return s.ConstantLR(wrapper, factor=k["factor"], **span(k["total_iters"]), **common)
        if name == "LinearLR":
            k = only_kwargs(spec, {"start_factor", "end_factor", "total_iters", "last_epoch"})
            return s.LinearLR(wrapper, start_factor=k["start_factor"], end_factor=k["end_factor"],
                              **span(k["total_iters"]), **common)
        if name == "ExponentialLR":
            k = only_kwargs(spec, {"gamma", "last_epoch"})
            return s.ExponentialLR(wrapper, gamma=k["gamma"], **unbounded, **common)
        if name == "PolynomialLR":
            k = only_kwargs(spec, {"total_iters", "power", "last_epoch"})
            return s.PolyLR(wrapper, eta_min=0.0, power=k["power"], **span(k["total_iters"]), **common)
        if name == "CosineAnnealingLR":
            k = only_kwargs(spec, {"T_max", "eta_min", "last_epoch"})
            if not k["T_max"]:
                raise Unsupported("T_max=0: mmengine replaces a falsy T_max with end - begin")
            return s.CosineAnnealingLR(wrapper, T_max=k["T_max"], eta_min=k["eta_min"], **unbounded, **common)
        if name == "CosineAnnealingWarmRestarts":
            k = only_kwargs(spec, {"T_0", "T_mult", "eta_min", "last_epoch"})
            periods = _periods(k["T_0"], k["T_mult"], self._horizon(last_step))
            return s.CosineRestartLR(wrapper, periods=periods, restart_weights=[1.0] * len(periods),
                                     eta_min=k["eta_min"], **unbounded, **common)
        if name == "OneCycleLR":
            k = only_kwargs(spec, {"max_lr", "total_steps", "epochs", "steps_per_epoch", "pct_start",
                                   "anneal_strategy", "div_factor", "final_div_factor", "three_phase",
                                   "cycle_momentum", "last_epoch"})
            total = k["total_steps"]
            if total is None and k["epochs"] is not None and k["steps_per_epoch"] is not None:
                total = k["epochs"] * k["steps_per_epoch"]
            if total is None:
                raise Unsupported("OneCycleLR needs total_steps, or epochs and steps_per_epoch")
            max_lr = list(k["max_lr"]) if isinstance(k["max_lr"], (list, tuple)) else k["max_lr"]
            return s.OneCycleLR(wrapper, eta_max=max_lr, total_steps=total, pct_start=k["pct_start"],
                                anneal_strategy=k["anneal_strategy"], div_factor=k["div_factor"],
                                final_div_factor=k["final_div_factor"], three_phase=k["three_phase"],
                                **unbounded, **common)
        if name == "ReduceLROnPlateau":
            if not top:
                raise Unsupported("ReduceLROnPlateau inside a composite: mmengine steps it with a metrics "
                                  "dict, the other schedulers without")
            k = only_kwargs(spec, {"mode", "factor", "patience", "threshold", "threshold_mode", "cooldown",
                                   "min_lr", "eps"})
            rule = {"min": "less", "max": "greater"}.get(k["mode"])
            if rule is None:
                raise Unsupported(f"mode={k['mode']!r}")
            min_lr = list(k["min_lr"]) if isinstance(k["min_lr"], (list, tuple)) else k["min_lr"]
            return s.ReduceOnPlateauLR(wrapper, monitor="loss", rule=rule, factor=k["factor"],
                                       patience=k["patience"], threshold=k["threshold"],
                                       threshold_rule=k["threshold_mode"], cooldown=k["cooldown"],
                                       min_value=min_lr, eps=k["eps"])
        raise Unsupported(f"{name} has no mmengine equivalent")

    def _horizon(self, last_step: int) -> int:
        return self._steps + max(last_step, 0) + 1

    def trace(self, case: Case):
        # the scheduler steps CosineRestartLR's finite list of periods must cover: one per iteration, `count` at a
        # scheduler-steps iteration - counting iterations alone, a case stepping several times per iteration ran
        # past the last period, where mmengine keeps the final value instead of restarting (fuzz, issue 18:
        # T_0=1, T_mult=3 stepped 3 times at iteration 0 gave 0.025 for the restart's 0.1 at iteration 2)
        self._steps = case.steps + sum(action.count - 1 for action in case.interventions
                                       if action.do == "scheduler-steps")
        return super().trace(case)


def _periods(t0: int, mult: int, horizon: int) -> list[int]:
    if t0 <= 0 or mult < 1 or int(mult) != mult:
        raise Unsupported(f"T_0={t0}, T_mult={mult}: no list of periods")
    periods, total = [], 0
    while total < horizon:
        periods.append(t0 * mult ** len(periods))
        total += periods[-1]
    return periods


class _Session(Session):
    def __init__(self, wrapper, schedulers: list, plateau: bool, adapter: MMEngine) -> None:
        self.wrapper = wrapper
        self.schedulers = schedulers
        self.plateau = plateau
        self._adapter = adapter

    def set_group(self, group, key, value) -> None:
        self.wrapper.optimizer.param_groups[group][key] = value

    def add_param_group(self, options) -> None:
        self.wrapper.optimizer.add_param_group(torch_group(options))

    def wrap_optimizer_step(self, keep_attributes) -> None:
        self.wrapper.step = wrapped_step(self.wrapper.step, keep_attributes)

    def add_scheduler(self, spec) -> Session:
        return self._adapter.added(spec, self.wrapper)

    def get_lr(self):
        raise Unsupported(NO_GET_LR)

    def user_values(self):
        # get_last_value() has one entry per OptimWrapper.param_groups at the last step, and with several groups
        # that list ends with the synthetic `base_param_settings` entry (mmengine/optim/optimizer/base.py
        # param_groups), which is no group of the user's: drop it, in the call as in last_lrs. Before, a
        # get_last_lr() call with two groups reported three values, and after add-param-group the synthetic
        # entry was read as the new group's last_lr (fuzz, issue 18).
        values = list(self.schedulers[-1].get_last_value())
        if self.wrapper.base_param_settings is not None and len(values) > 1:
            values = values[:-1]
        return values

    def get_last_lr(self):
        return self.user_values()

    def lrs(self):
        # The torch optimizer's groups: with several groups, OptimWrapper.param_groups appends a
        # `base_param_settings` entry (mmengine's record of the base lr, which its schedulers update too).
        return [float(group["lr"]) for group in self.wrapper.optimizer.param_groups]

    def last_lrs(self):
        groups = len(self.wrapper.optimizer.param_groups)
        return [float(v) for v in self.user_values()[:groups]]

    def optimizer_step(self) -> None:
        self.wrapper.step()

    def scheduler_step(self, metric=None, epoch=None) -> None:
        if epoch is not None:
            raise Unsupported("mmengine's step() takes no epoch")
        for scheduler in self.schedulers:
            if self.plateau:
                scheduler.step({"loss": metric})
            else:
                scheduler.step()

    def save(self):
        return copy.deepcopy((self.wrapper.state_dict(), [s.state_dict() for s in self.schedulers]))
