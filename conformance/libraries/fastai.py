"""fastai's hyper-parameter schedules (`fastai.callback.schedule`: SchedLin/SchedCos/SchedExp/SchedPoly/SchedNo,
combine_scheds, combined_cos, ParamScheduler, fit_one_cycle's schedule) graded against torch: `FastAI` (float64
schedule functions; combine_scheds' boundaries are a float32 tensor, see below).

    pip install --no-deps "fastai==2.8.12" && pip install fastcore fastprogress fasttransform "plum-dispatch<2.10" \
        numpy pandas matplotlib pillow pyyaml requests scipy scikit-learn cloudpickle fastdownload "torch==2.13.0"
    lr-conformance run --adapter fastai --expectations fastai

(fastai requires torchvision and spacy, neither of which the schedule module imports; torchvision does not load
beside the CPU torch wheel, so fastai goes in with --no-deps and its other requirements by hand: tox -e fastai.)

What is graded: fastai's own loop machinery around a real torch optimizer, with no Learner (the runner drives the
loop). A schedule is a function of the training progress `pct_train`; fastai's TrainEvalCallback.after_batch adds
`1. / (n_iter * n_epoch)` to it after each batch (a float sum, not t / N), and ParamScheduler.before_batch calls
`opt.set_hyper(name, sched(pct_train))` on fastai's OptimWrapper, which writes each param group of the torch
optimizer. The adapter runs exactly those two callbacks - TrainEvalCallback and ParamScheduler, fastai's code - on a
stand-in learner holding the counters (n_epoch = 1, n_iter = N batches) and the OptimWrapper: a scheduler step is
after_batch then the next batch's before_batch. The lr of loop iteration t is the group's lr the optimizer uses. A
schedule's values are numpy arrays with one value per param group, as fit_one_cycle builds them (`lr_max =
np.array([h['lr'] for h in self.opt.hypers])`).

N (the fit's length in batches) is the run's length, rounded up where a port needs whole pieces, as for fvcore:
a piece cut short would be stretched. Piecewise ports are combine_scheds(pcts=[steps_i / N, ...], scheds): it
asserts `sum(pcts) == 1.` exactly, and it keeps the cumulated pcts in a float32 torch tensor (`tensor([0] +
L(pcts))`), so a boundary and the position within a piece are computed in float32 - where the trace shows it,
expectations/fastai.toml says so.

Mapping rules, per torch scheduler: PORTING below (docs/porting/fastai.md is generated from it). Features: momentum
(OneCycleLR's cycle, fit_one_cycle's 'mom' schedule: SGD's momentum or Adam's beta1 through OptimWrapper's
hp map). Not graded: ReduceLROnPlateau (fastai's ReduceLROnPlateau is a TrackerCallback of a Learner: no metric
enters a schedule), resume, step(epoch), tensor lrs.

Interventions (spec 4.5): none is expressed. ParamScheduler sets every group's value before each batch from
pct_train alone: a skipped optimizer step does not change the progress (TrainEvalCallback counts batches), an lr set
by hand is overwritten at the next batch, a group added mid-run gets no value unless the schedule's arrays grow,
get_lr()/get_last_lr() do not exist (fastai records hps), and a resume is a Learner's (fit(start_epoch=...)), not
a scheduler state dict - none of which is a scheduler's code to grade here.
"""

from __future__ import annotations

import math
from collections import Counter
from types import SimpleNamespace

from conformance.adapters.base import StatefulAdapter
from conformance.adapters.torch_reference import torch_optimizer
from conformance.libraries.common import (
    FLOAT64_CLOSED_FORMS,
    Difference,
    Port,
    Session,
    Unsupported,
    group_lrs,
    kwargs_of,
    library_info,
    onecycle_phases,
    only_kwargs,
    per_group,
    sequential_stretches,
)
from conformance.model import Case, SchedulerSpec

LIBRARY = "fastai"
INSTALL = "pip install --no-deps 'fastai==2.8.12' (then its requirements but torchvision and spacy: tox -e fastai)"

F = "fastai.callback.schedule."
PCT = (" Evaluated by ParamScheduler at pct_train (TrainEvalCallback's running sum of 1 / N, N the fit's batches); "
       "lr is np.array of the groups' lrs.")


def _tail(piece: str, end: str) -> str:
    return F + f"combine_scheds([total_iters / N, 1 - total_iters / N], [{piece}, SchedNo({end}, {end})])"


PORTING = {
    "LambdaLR": Port(None, "a schedule is any function of pct: the user's own function, with no fastai code to "
                           "grade."),
    "MultiplicativeLR": Port(None, "no multiplicative (recursive) schedule: every Sched* is a closed form of pct."),
    "StepLR": Port(F + "combine_scheds([step_size / N] * k, [SchedNo(lr * gamma ** i, lr * gamma ** i) for i in "
                       "range(k)])  # N = k * step_size",
                   "constant pieces; N is rounded up to whole steps of step_size." + PCT),
    "MultiStepLR": Port(F + "combine_scheds([(m_i - m_{i-1}) / N, ...], [SchedNo(v_i, v_i), ...])",
                        "values[i + 1] = values[i] * gamma ** (times milestone i is repeated), milestones at or past "
                        "the run's end dropped; a milestone at 0 (torch applies gamma at construction) makes the "
                        "first value lr * gamma." + PCT),
    "ConstantLR": Port(_tail("SchedNo(lr * factor, lr * factor)", "lr"),
                       "torch's total_iters=0 keeps lr * factor for ever (a quirk); the port's first piece then has "
                       "share 0 and gives lr." + PCT),
    "LinearLR": Port(_tail("SchedLin(lr * start_factor, lr * end_factor)", "lr * end_factor"),
                     "start + pos * (end - start) over the first total_iters steps, then the end value (torch "
                     "clamps there too)." + PCT),
    "ExponentialLR": Port(F + "SchedExp(lr, lr * gamma ** N)",
                          "start * (end / start) ** pos = lr * (gamma ** N) ** (t / N)." + PCT),
    "PolynomialLR": Port(_tail("SchedPoly(lr, 0.0, 1.0)", "0.0") + "  # power 1.0 only",
                         "SchedPoly(start, end, power) is start + (end - start) * pos ** power, a power of the "
                         "progress, where torch's PolynomialLR decays lr * (1 - pos) ** power: the same curve for "
                         "power 1 only; other powers have no equivalent." + PCT),
    "CosineAnnealingLR": Port(F + "combine_scheds([T_max / N] * k, [SchedCos(lr, eta_min), SchedCos(eta_min, lr), "
                                  "...])  # k half periods cover the run; SchedCos(lr, eta_min) alone within T_max",
                              "SchedCos is half a cosine (start + (1 + cos(pi * (1 - pos))) * (end - start) / 2); "
                              "torch's CosineAnnealingLR keeps following the cosine past T_max (back up to lr), so "
                              "the port alternates descending and ascending halves." + PCT),
    "ChainedScheduler": Port(None, "no combinator multiplies schedules: combine_scheds sequences them."),
    "SequentialLR": Port(F + "combine_scheds([(m_i - m_{i-1}) / N, ...], [child ports])",
                         "each child ported over its own stretch restarts at 0 there, as torch's SequentialLR "
                         "calls child.step(0); a child whose port needs a longer horizon than its stretch has no "
                         "equivalent." + PCT),
    "ReduceLROnPlateau": Port(None, "fastai's ReduceLROnPlateau (fastai.callback.tracker) is a TrackerCallback of a "
                                    "Learner that monitors a recorded metric at epoch end; no metric enters a "
                                    "ParamScheduler schedule, and the callback needs a whole Learner: not graded."),
    "CyclicLR": Port(None, "no cyclic schedule; a triangle could be spelled as combined SchedLin pieces, which is "
                           "the user's own code."),
    "CosineAnnealingWarmRestarts": Port(
        F + "combine_scheds([T_0 * T_mult ** i / N, ...], [SchedCos(lr, eta_min), ...])",
        "one half cosine per cycle, enough cycles to cover the run (N: the end of the last one)." + PCT),
    "OneCycleLR": Port(
        F + "combined_cos(pct_start, lr_max / div, lr_max, lr_max / div_final)  # fit_one_cycle's 'lr' schedule, "
            "div = div_factor, div_final = div_factor * final_div_factor; 'mom': combined_cos(pct_start, "
            "max_momentum, base_momentum, max_momentum)",
        "fit_one_cycle's schedule, over N = total_steps batches. It is not torch's OneCycleLR: fastai's warm-up "
        "ends at pct = pct_start (step pct_start * total_steps) and its anneal at pct = 1 (step total_steps, never "
        "run), torch's at steps pct_start * total_steps - 1 and total_steps - 1, so fastai's curve is torch's "
        "stretched by one step per phase (see the expectations). Only cos annealing, two phases "
        "(three_phase=False)." + PCT),
    "SWALR": Port(None, "no SWA schedule in fastai.callback.schedule."),
}


# How a fastai loop does each intervention of spec 4.5 (docs/porting/fastai.md prints this table): none is
# expressed - ParamScheduler sets every group from pct_train alone before each batch.
INTERVENTIONS = {
    "skip-optimizer-step": Port(None, "TrainEvalCallback counts batches, not optimizer updates: a skipped update "
                                      "(fastai's MixedPrecision on overflow) does not change pct_train - the schedule "
                                      "goes on as planned, which is a Learner's loop, not a scheduler to grade."),
    "scheduler-steps": Port(None, "no scheduler is stepped by hand: ParamScheduler runs in before_batch."),
    "wrap-optimizer-step": Port(None, "nothing watches the optimizer's step method."),
    "set": Port(None, "an lr set by hand is overwritten at the next before_batch (opt.set_hyper)."),
    "add-param-group": Port(None, "the schedule's values are arrays of one value per group known when it was built."),
    "add-scheduler": Port(None, "a second ParamScheduler on the same hyper-parameter overwrites the first (callback "
                                "order), it does not act beside it."),
    "call": Port(None, "no get_lr() / get_last_lr(): fastai records the values in recorder.hps."),
    "read-scheduler": Port(None, "no scheduler object with attributes: a ParamScheduler callback derives its values from "
                              "pct_train."),
    "set-scheduler": Port(None, "nothing to write: the schedule is a function of pct_train (a Learner's, not a scheduler's)."),
    "change-argument": Port(None, "the annealing functions close over start and end as floats: no tensor of the "
                                  "user's to change in place."),
    "resume": Port(None, "a resume is a Learner's (fit(start_epoch=...) recomputes pct_train), not a scheduler state "
                         "dict."),
    "on": Port(None, "a ParamScheduler callback drives the Learner's own optimizer: no optimizer argument to "
                   "give None or another optimizer for."),
    "load-twice": Port(None, "no scheduler state dict to load twice (see resume)."),
}

# Each difference the port notes and expectations describe, and the suite's cases that show it (the expectations
# file lists each with its cause; tests/meta/test_documented_differences.py).
F32 = "combine_scheds hands its pieces a float32 position (its cumulated pcts are a float32 tensor)"
LATE = "combine_scheds starts a piece one batch late where the float32 boundary lies above the running pct_train"
DIFFERENCES = (
    Difference("OneCycleLR", "fit_one_cycle's combined_cos ends its phases one step later than torch's OneCycleLR",
               ("onecyclelr/defaults-cos", "onecyclelr/epochs-times-steps", "onecyclelr/per-group-max-lr",
                "onecyclelr/adam-beta1", "onecyclelr/pct-start-zero", "onecyclelr/pct-start-zero-lr-only",
                "onecyclelr/flat-warmup-momentum")),
    Difference("MultiStepLR", LATE, ("multisteplr/milestones-2-5-8", "multisteplr/unsorted-milestones")),
    Difference("StepLR", LATE, ("steplr/step-size-two-long-run",)),
    Difference("SequentialLR", LATE, ("sequentiallr/three-stages",)),
    Difference("CosineAnnealingWarmRestarts", LATE, ("cosineannealingwarmrestarts/tmult-2",)),
    Difference("CosineAnnealingLR", F32, ("cosineannealinglr/tmax-10", "cosineannealinglr/eta-min",
                                          "cosineannealinglr/far-past-tmax", "cosineannealinglr/recursion-drift")),
    Difference("CosineAnnealingWarmRestarts", F32, ("cosineannealingwarmrestarts/t0-5",
                                                    "cosineannealingwarmrestarts/two-groups",
                                                    "cosineannealingwarmrestarts/eta-min-above-lr",
                                                    "cosineannealingwarmrestarts/tmult-4")),
    Difference("LinearLR", F32, ("linearlr/defaults", "linearlr/two-groups")),
    Difference("PolynomialLR", F32, ("polynomiallr/defaults",)),
    Difference("SequentialLR", F32, ("sequentiallr/constant-then-exponential", "sequentiallr/warmup-then-cosine",
                                     "sequentiallr/milestone-one", "sequentiallr/stage-changes-lr-at-construction",
                                     "sequentiallr/exponential-then-steplr")),
    Difference("ExponentialLR", "SchedExp divides by its start: nan for a group at lr 0", ("exponentiallr/zero-lr-group",)),
    Difference("ConstantLR", "total_iters=0: the port's first piece has share 0", ("constantlr/total-iters-zero",)),
    Difference("LinearLR", "total_iters=0: the port's first piece has share 0", ("linearlr/total-iters-zero",)),
    Difference("PolynomialLR", "total_iters=0: the port's first piece has share 0", ("polynomiallr/total-iters-zero",)),
    Difference("SequentialLR", "total_iters=0 in a stage", ("sequentiallr/milestone-zero-polynomial-total-iters-zero",)),
    Difference("CosineAnnealingLR", "torch's cosine past T_max climbs back to a leftover initial_lr",
               ("cosineannealinglr/initial-lr-without-last-epoch",)),
    Difference("SequentialLR", "torch re-steps a nested SequentialLR at construction (pytorch#196243 and the repeated "
               "epoch 0)", ("sequentiallr/sequential-as-only-stage", "sequentiallr/sequential-as-first-stage",
                            "sequentiallr/sequential-in-single-stage-inner-milestone")),
)

# Upstream-ready reports (docs/porting/fastai.md renders them after the mapping).
REPORTS = """
### combine_scheds switches to the next schedule one batch late (float32 boundaries)

**Promise.** `combine_scheds(pcts, scheds)`: "Combine `scheds` according to `pcts` in one function" - schedule i
covers the share pcts[i] of training, so with `pcts=[2/12, 3/12, 3/12, 4/12]` over a 12-batch fit the third
schedule takes over at batch 5 (pct_train = 5/12), as a MultiStepLR(milestones=[2, 5, 8]) does.

**What happens.** combine_scheds keeps the cumulated pcts in a float32 tensor (`pcts = tensor([0] + L(pcts))`,
`torch.cumsum`), so the boundary 5/12 becomes 0.4166666865348816, above 5/12; at batch 5, pct_train is
TrainEvalCallback's running sum of 1/12, 0.41666666666666663, and `(pos >= pcts).nonzero().max()` still picks the
second schedule: it runs one batch more than asked. The same float32 tensor makes `actual_pos` a float32 value, so
every piece's position is rounded to float32 (relative error ~6e-8 in a cosine or linear piece). Suite cases:
`multisteplr/milestones-2-5-8`, `multisteplr/unsorted-milestones`, `sequentiallr/three-stages`,
`cosineannealingwarmrestarts/tmult-2` (expectations/fastai.toml).

**Minimal case** (fastai 2.8.12, torch 2.13.0):

```python
from fastai.callback.schedule import SchedNo, combine_scheds

sched = combine_scheds([2/12, 3/12, 3/12, 4/12], [SchedNo(v, v) for v in (0.1, 0.05, 0.025, 0.0125)])
pct_train = 0.0
for batch in range(9):
    print(batch, sched(pct_train))
    pct_train += 1. / 12  # TrainEvalCallback.after_batch
```

The torch schedule it stands for:

```python
import torch

optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
scheduler = torch.optim.lr_scheduler.MultiStepLR(optimizer, milestones=[2, 5, 8], gamma=0.5)
for batch in range(9):
    print(batch, optimizer.param_groups[0]["lr"])
    optimizer.step()
    scheduler.step()
```

| batch | torch MultiStepLR | fastai combine_scheds |
| --- | --- | --- |
| 0-1 | 0.1 | 0.1 |
| 2-4 | 0.05 | 0.05 |
| 5 | 0.025 | **0.05** |
| 6-7 | 0.025 | 0.025 |
| 8 | 0.0125 | 0.0125 |

**Suggested fix**: keep the boundaries in float64 Python floats (`pcts = list(itertools.accumulate([0] + pcts))`,
`idx = bisect.bisect_right(pcts, pos + 1e-12) - 1` clamped to pct_lim, `actual_pos = (pos - pcts[idx]) /
(pcts[idx + 1] - pcts[idx])`); or build pct_train as train_iter / total batches rather than a running sum.
"""

class FastAI(StatefulAdapter):
    """fastai.callback.schedule schedules applied by ParamScheduler through an OptimWrapper; float64."""

    variant = "fastai"

    def __init__(self) -> None:
        from fastai.callback import core, schedule
        from fastai import optimizer

        self._schedule = schedule
        self._core = core
        self._optimizer = optimizer
        self.info = library_info("fastai", "fastai", PORTING, FLOAT64_CLOSED_FORMS, features={"momentum"})

    def build(self, case: Case) -> Session:
        import numpy as np

        if case.tensor_lr:
            raise Unsupported("tensor lrs")
        lrs = np.array(group_lrs(case))
        scheds, n = self._port(case.scheduler, lrs, case, case.steps)
        optimizer = torch_optimizer(case)
        return _Session(self, optimizer, scheds, n)

    # --- ports: ({hyper name: schedule}, the fit's length N >= steps) ------------------------------------------

    def _combined(self, pieces, steps: int):
        """combine_scheds of (schedule, length in steps) pieces, zero-length ones left out; the last piece is
        stretched to `steps` if the pieces end before."""
        pieces = [(s, n) for s, n in pieces if n > 0]
        total = sum(n for _, n in pieces)
        if total < steps:
            pieces[-1] = (pieces[-1][0], pieces[-1][1] + steps - total)
            total = steps
        if len(pieces) == 1:
            return pieces[0][0], total
        pcts = [n / total for _, n in pieces]
        if sum(pcts) != 1.0:
            raise Unsupported(f"combine_scheds asserts sum(pcts) == 1. and the float sum of {pcts} is {sum(pcts)!r}")
        return self._schedule.combine_scheds(pcts, [s for s, _ in pieces]), total

    def _then_constant(self, piece, length: int, end, steps: int):
        """`piece` over `length` steps, then `end` (torch's clamp after total_iters)."""
        if length >= steps:
            return piece, length
        return self._combined([(piece, length), (self._schedule.SchedNo(end, end), steps - length)], steps)

    def _port(self, spec: SchedulerSpec, lrs, case: Case, steps: int):
        """({'lr': schedule} or with 'mom', N)."""
        if spec.name == "OneCycleLR":
            return self._onecycle(spec, lrs, case, steps)
        schedule, n = self._lr_port(spec, lrs, steps)
        return {"lr": schedule}, n

    def _lr_port(self, spec: SchedulerSpec, lrs, steps: int):
        fs = self._schedule
        name = spec.name
        if name == "StepLR":
            k = only_kwargs(spec, {"step_size", "gamma"})
            size = k["step_size"]
            if size < 1:
                raise Unsupported(f"StepLR(step_size={size}): constant pieces need whole steps")
            pieces = [(fs.SchedNo(lrs * k["gamma"] ** i, lrs * k["gamma"] ** i), size)
                      for i in range(max(1, math.ceil(steps / size)))]
            return self._combined(pieces, steps)
        if name == "MultiStepLR":
            k = only_kwargs(spec, {"milestones", "gamma"})
            counts = Counter(m for m in k["milestones"] if m < steps)
            value, start, pieces = lrs, 0, []
            for m in sorted(counts):
                pieces.append((fs.SchedNo(value, value), m - start))
                value, start = value * k["gamma"] ** counts[m], m
            pieces.append((fs.SchedNo(value, value), steps - start))
            return self._combined(pieces, steps)
        if name == "ConstantLR":
            k = only_kwargs(spec, {"factor", "total_iters"})
            iters = min(k["total_iters"], steps)
            return self._then_constant(fs.SchedNo(lrs * k["factor"], lrs * k["factor"]), iters, lrs, steps)
        if name == "LinearLR":
            k = only_kwargs(spec, {"start_factor", "end_factor", "total_iters"})
            end = lrs * k["end_factor"]
            return self._then_constant(fs.SchedLin(lrs * k["start_factor"], end), k["total_iters"], end, steps)
        if name == "ExponentialLR":
            k = only_kwargs(spec, {"gamma"})
            return fs.SchedExp(lrs, lrs * k["gamma"] ** steps), steps
        if name == "PolynomialLR":
            k = only_kwargs(spec, {"total_iters", "power"})
            if k["power"] != 1.0:
                raise Unsupported(f"PolynomialLR(power={k['power']}): SchedPoly is start + (end - start) * "
                                  "pos ** power, not torch's lr * (1 - pos) ** power")
            return self._then_constant(fs.SchedPoly(lrs, 0.0 * lrs, 1.0), k["total_iters"], 0.0 * lrs, steps)
        if name == "CosineAnnealingLR":
            k = only_kwargs(spec, {"T_max", "eta_min"})
            half, low = k["T_max"], k["eta_min"]
            if half < 1:
                raise Unsupported(f"CosineAnnealingLR(T_max={half}): no half period to port")
            halves = [fs.SchedCos(lrs, low + 0.0 * lrs) if i % 2 == 0 else fs.SchedCos(low + 0.0 * lrs, lrs)
                      for i in range(math.ceil(steps / half))]
            return self._combined([(s, half) for s in halves], steps)
        if name == "CosineAnnealingWarmRestarts":
            k = only_kwargs(spec, {"T_0", "T_mult", "eta_min"})
            lengths = [k["T_0"]]
            while sum(lengths) < steps:
                lengths.append(lengths[-1] * k["T_mult"])
            return self._combined([(fs.SchedCos(lrs, k["eta_min"] + 0.0 * lrs), n) for n in lengths], steps)
        if name == "SequentialLR":
            return self._sequential(spec, lrs, steps)
        raise Unsupported(f"{name} has no fastai equivalent")

    def _onecycle(self, spec: SchedulerSpec, lrs, case: Case, steps: int):
        import numpy as np

        k = kwargs_of(spec)
        if k["anneal_strategy"] != "cos" or k["three_phase"]:
            raise Unsupported("OneCycleLR: fit_one_cycle's schedule is a two-phase cosine")
        total, _ = onecycle_phases(k)
        if total < steps:
            raise Unsupported(f"OneCycleLR(total_steps={total}) stepped {steps} times: torch raises past the end")
        groups = len(case.groups)
        lr_max = np.array(per_group(k["max_lr"], groups, "max_lr"), dtype=float)
        fs = self._schedule
        div = k["div_factor"]
        scheds = {"lr": fs.combined_cos(k["pct_start"], lr_max / div, lr_max, lr_max / (div * k["final_div_factor"]))}
        if k["cycle_momentum"]:
            high = np.array(per_group(k["max_momentum"], groups, "max_momentum"), dtype=float)
            low = np.array(per_group(k["base_momentum"], groups, "base_momentum"), dtype=float)
            scheds["mom"] = fs.combined_cos(k["pct_start"], high, low, high)
        return scheds, total

    def _sequential(self, spec: SchedulerSpec, lrs, steps: int):
        if any(node.name == "OneCycleLR" for node in spec.walk()):
            # even a stage that never runs (milestone 0): its constructor drives the momentum torch reports. At
            # any depth: a OneCycleLR inside a nested SequentialLR stage of length 0 is skipped by
            # sequential_stretches before its port could refuse it, and torch still reports its momentum
            raise Unsupported("SequentialLR with a OneCycleLR stage: fit_one_cycle's schedule is a whole fit")
        pieces = sequential_stretches(spec, steps, "fastai", lambda child, length: self._lr_port(child, lrs, length))
        return self._combined(pieces, steps)


class _Session(Session):
    """fastai's TrainEvalCallback and ParamScheduler on a stand-in learner over a torch optimizer."""

    def __init__(self, adapter: FastAI, optimizer, scheds, n_iter: int) -> None:
        self.optimizer = optimizer
        learn = SimpleNamespace(opt=adapter._optimizer.OptimWrapper(opt=optimizer), n_epoch=1, n_iter=n_iter,
                                training=True, pct_train=0.0, train_iter=0)
        self.tracker = adapter._core.TrainEvalCallback()
        self.params = adapter._schedule.ParamScheduler(scheds)
        for callback in (self.tracker, self.params):
            callback.learn = learn
        self.momentum = "mom" in scheds
        self.params.before_fit()
        self.params.before_batch()  # the first batch's values, at pct_train 0

    def lrs(self):
        return [float(group["lr"]) for group in self.optimizer.param_groups]

    def momenta(self):
        if not self.momentum:
            return None
        return [float(group["betas"][0] if "betas" in group else group["momentum"])
                for group in self.optimizer.param_groups]

    def optimizer_step(self) -> None:
        self.optimizer.step()

    def scheduler_step(self, metric=None, epoch=None) -> None:
        if epoch is not None:
            raise Unsupported("step(epoch) is not graded")
        self.tracker.after_batch()  # pct_train += 1. / (n_iter * n_epoch)
        self.params.before_batch()  # the next batch's values: opt.set_hyper(name, sched(pct_train))
