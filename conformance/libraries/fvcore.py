"""fvcore's parameter schedulers (`fvcore.common.param_scheduler`, FAIR; the family detectron2 uses) graded
against torch: `FVCore` (float64).

    pip install "fvcore==0.1.5.post20221221" "torch==2.13.0"
    lr-conformance run --adapter fvcore --expectations fvcore

What is graded: an fvcore ParamScheduler is a pure function of the training progress `where`, a float in
[0, 1) (`scheduler(where) -> value`, plain Python float arithmetic: float64). The adapter builds one scheduler per
param group, with that group's lr as its values, over a horizon of N steps, and reports `scheduler(t / N)` as the
lr of loop iteration t (what detectron2's LRMultiplier does with `where = iteration / max_iter`). N is the run's
length (case.steps), rounded up where a port needs whole pieces: a StepLR port to a whole number of steps, a
cosine restart or a piecewise port to the end of its last piece (fvcore's CompositeParamScheduler rescales each
piece to its share of [0, 1), so a piece cut short by the run's end would be stretched). t < case.steps <= N, so
`where` stays in [0, 1).

Piecewise ports are CompositeParamScheduler(schedulers, lengths=[steps_i / N], interval_scaling="rescaled"): each
piece sees its own progress (t - start_i) / steps_i, as torch's SequentialLR restarts each child at its
milestone. fvcore compares `where + WHERE_EPSILON` (1e-6) with the running total of the lengths, which places a
boundary at its step exactly while N < 1e6.

Mapping rules, per torch scheduler: PORTING below (docs/porting/fvcore.md is generated from it). Not graded:
momentum (a ParamScheduler could drive it, but OneCycleLR's and CyclicLR's momentum cycles are not ported),
ReduceLROnPlateau (no metric enters a ParamScheduler), resume, step(epoch), tensor lrs.

Interventions (spec 4.5): none is expressed, so every case with one is unsupported. A ParamScheduler holds no
state and sees no optimizer: a skipped or wrapped optimizer step changes nothing (the lr is a function of the
iteration), an lr set by hand or an added param group is overwritten or ignored by whoever applies the value (in
detectron2, LRMultiplier), a second scheduler is a second function, get_lr()/get_last_lr() do not exist, and a
resume is just evaluating at where = k / N - none of it is fvcore code to grade.

Upstream: no documented promise found broken. CompositeParamScheduler's float-summed lengths cost up to ~80 ulp
in a piece's value after many pieces (cosineannealinglr/many-short-periods) - rounding, not a bug.
"""

from __future__ import annotations

import math
from collections import Counter

from conformance.adapters.base import StatefulAdapter
from conformance.libraries.common import (
    FLOAT64_CLOSED_FORMS,
    Port,
    ScheduleSession,
    Session,
    Unsupported,
    group_lrs,
    kwargs_of,
    library_info,
    onecycle_phases,
    onecycle_points,
    only_kwargs,
    per_group,
    rejected_as_unsupported,
    sequential_stretches,
)
from conformance.model import Case, SchedulerSpec

LIBRARY = "fvcore"

P = "fvcore.common.param_scheduler."
WHERE = " Evaluated at where = t / N (N: the run's steps, rounded up to whole pieces); one scheduler per param group."


def _tail(piece: str) -> str:
    return (P + f"CompositeParamScheduler([{piece}, ConstantParamScheduler(end)], lengths=[total_iters / N, "
            "1 - total_iters / N], interval_scaling=['rescaled', 'rescaled'])")


# The porting guide, as data (see conformance/libraries/common.py). `lr` is each param group's lr.
PORTING = {
    "LambdaLR": Port(None, "a ParamScheduler subclass with the user's function is the user's own code, with no "
                           "library code to grade."),
    "MultiplicativeLR": Port(None, "no multiplicative (recursive) scheduler: every ParamScheduler is a closed form "
                                   "of where."),
    "StepLR": Port(P + "StepWithFixedGammaParamScheduler(base_value=lr, gamma=gamma, num_decays=N // step_size - 1, "
                       "num_updates=N)  # N a multiple of step_size, >= 2 * step_size",
                   "values lr, lr * gamma, lr * gamma * gamma, ... (fvcore multiplies them in turn, as torch's "
                   "recursion does), N / (num_decays + 1) = step_size updates each. fvcore rejects lr <= 0 and "
                   "gamma <= 0 (ValueError)." + WHERE),
    "MultiStepLR": Port(P + "MultiStepParamScheduler(values=[lr, lr * gamma ** c1, ...], "
                            "milestones=sorted(set(milestones)), num_updates=N)",
                        "values[i + 1] = values[i] * gamma ** (times milestone i is repeated), torch's recursion; "
                        "milestones at or past N are dropped (fvcore requires them < num_updates). fvcore rejects a "
                        "milestone at 0 (it must be > the start epoch 0): torch's gamma applied at construction has "
                        "no equivalent." + WHERE),
    "ConstantLR": Port(_tail(P + "ConstantParamScheduler(lr * factor)") + "  # end = lr",
                       "lr * factor until total_iters, then lr. torch's total_iters=0 is a quirk: torch applies "
                       "the factor at construction and never removes it; the port (a piece of length 0) gives lr."
                       + WHERE),
    "LinearLR": Port(_tail(P + "LinearParamScheduler(start_value=lr * start_factor, end_value=lr * end_factor)")
                     + "  # end = lr * end_factor",
                     "end_value * w + start_value * (1 - w) over the first total_iters steps, then lr * end_factor "
                     "(torch clamps there too)." + WHERE),
    "ExponentialLR": Port(P + "ExponentialParamScheduler(start_value=lr, decay=gamma ** N)",
                          "start_value * decay ** where = lr * (gamma ** N) ** (t / N): fvcore's decay is the factor "
                          "over the whole run." + WHERE),
    "PolynomialLR": Port(_tail(P + "PolynomialDecayParamScheduler(base_value=lr, power=power)") + "  # end = 0.0",
                         "base_value * (1 - w) ** power over the first total_iters steps, then its end value lr * 0 ** "
                         "power (0; lr for power 0), where torch stays too." + WHERE),
    "CosineAnnealingLR": Port(
        P + "CompositeParamScheduler([CosineParamScheduler(lr, eta_min), CosineParamScheduler(eta_min, lr), ...], "
            "lengths=[T_max / N] * k, interval_scaling=['rescaled'] * k)  # k half periods cover the run",
        "CosineParamScheduler is half a cosine (end + 0.5 * (start - end) * (1 + cos(pi * w))); torch's "
        "CosineAnnealingLR keeps following the cosine past T_max (back up to lr, period 2 * T_max), so the port "
        "alternates descending and ascending halves. A run within T_max is the first half alone." + WHERE),
    "ChainedScheduler": Port(None, "no combinator multiplies schedulers: CompositeParamScheduler sequences them."),
    "SequentialLR": Port(P + "CompositeParamScheduler([child ports], lengths=[(m_i - m_{i-1}) / N], "
                             "interval_scaling=['rescaled'] * k)",
                         "each child is ported over its own stretch (milestone to milestone) and restarts at 0 "
                         "there, as torch's SequentialLR calls child.step(0); a child whose port needs a longer "
                         "horizon than its stretch (a StepLR whose stretch is not a multiple of step_size, a cut "
                         "cosine) has no equivalent, as has every child without a port." + WHERE),
    "ReduceLROnPlateau": Port(None, "a ParamScheduler is a function of the progress only: no metric enters it."),
    "CyclicLR": Port(None, "no cyclic scheduler. The triangular modes could be spelled as a Composite of "
                           "LinearParamScheduler pieces, exp_range's per-iteration scaling could not; this adapter "
                           "ports none of them, nor the momentum cycle."),
    "CosineAnnealingWarmRestarts": Port(
        P + "CompositeParamScheduler([CosineParamScheduler(lr, eta_min) for each cycle], "
            "lengths=[T_0 * T_mult ** i / N], interval_scaling=['rescaled'] * cycles)",
        "one half cosine per cycle, enough cycles to cover the run (N: the end of the last one); each restarts at "
        "lr, torch's restart." + WHERE),
    "OneCycleLR": Port(
        P + "CompositeParamScheduler([CosineParamScheduler(max_lr / div_factor, max_lr), "
            "CosineParamScheduler(max_lr, max_lr / div_factor / final_div_factor), ConstantParamScheduler(low)], "
            "lengths=[e1 / N, (e2 - e1) / N, 1 / N], ...)  # e1 = pct_start * total_steps - 1, e2 = N - 1 = "
            "total_steps - 1; LinearParamScheduler for anneal_strategy='linear'",
        "CosineParamScheduler(a, b)(w) is torch's _annealing_cos(a, b, w) (the same operations in the same "
        "order); three_phase adds the phase back to max_lr / div_factor; the last step (total_steps - 1) is the "
        "minimum, a constant piece. Phase ends must fall on whole steps. Momentum is not ported: only "
        "cycle_momentum=False is graded." + WHERE),
    "SWALR": Port(None, "fvcore has no SWA learning-rate schedule (its ParamSchedulers are functions of where = t / N, not an anneal from the current lr)."),
}



INSTALL = "pip install 'lr-conformance[fvcore]'"  # `lr-conformance adapters` says it when the library does not import (tox -e fvcore)


# Spec 4.5's interventions, as the module docstring says: a ParamScheduler holds no state and sees no optimizer.
INTERVENTIONS = {
    "skip-optimizer-step": Port(None, "a ParamScheduler sees no optimizer: the lr is a function of the iteration, "
                                      "so a skipped optimizer step changes nothing fvcore computes."),
    "scheduler-steps": Port(None, "a ParamScheduler is evaluated, not stepped: stepping twice is evaluating at "
                                  "another where, chosen by the caller (in detectron2, LRMultiplier)."),
    "wrap-optimizer-step": Port(None, "nothing in fvcore watches or patches optimizer.step."),
    "set": Port(None, "whoever applies the value (in detectron2, LRMultiplier) overwrites an lr set by hand at the "
                      "next iteration; fvcore never reads a group's lr."),
    "add-param-group": Port(None, "fvcore has no param groups: whoever applies the value decides which groups get "
                                  "it."),
    "add-scheduler": Port(None, "a second schedule is a second function (CompositeParamScheduler composes them "
                                "up front)."),
    "call": Port(None, "no get_lr() / get_last_lr(): a ParamScheduler is called with where and returns the value."),
    "read-scheduler": Port(None, "a ParamScheduler holds no counter or state: nothing like last_epoch to read."),
    "set-scheduler": Port(None, "a ParamScheduler holds no counter or state: nothing like last_epoch to write."),
    "change-argument": Port(None, "a ParamScheduler keeps its start and end values as given, floats in every port: "
                                  "no tensor to change in place."),
    "resume": Port(None, "a ParamScheduler holds no state: a resume is evaluating at where = k / N."),
    "on": Port(None, "a ParamScheduler is a function of where, built without an optimizer: no optimizer "
                   "argument to give None for, and a CompositeParamScheduler composes functions, not "
                   "schedulers on optimizers."),
    "load-twice": Port(None, "a ParamScheduler holds no state: no state dict to load twice."),
}


class FVCore(StatefulAdapter):
    """fvcore.common.param_scheduler schedulers, one per param group, evaluated at where = t / N; float64."""

    variant = "fvcore"

    def __init__(self) -> None:
        from fvcore.common import param_scheduler

        self._ps = param_scheduler
        self.info = library_info("fvcore", "fvcore", PORTING, FLOAT64_CLOSED_FORMS)

    def build(self, case: Case) -> Session:
        if case.tensor_lr:
            raise Unsupported("tensor lrs")
        lrs = group_lrs(case)
        with rejected_as_unsupported(LIBRARY):
            ports = [self._port(case.scheduler, lr, g, len(lrs), case.steps) for g, lr in enumerate(lrs)]
        return ScheduleSession(lambda t: [float(scheduler(t / n)) for scheduler, n in ports])

    # --- ports: (a ParamScheduler, its horizon N >= steps) -----------------------------------------

    def _joined(self, pieces, steps: int):
        """CompositeParamScheduler of (scheduler, length in steps) pieces, zero-length ones left out; the last
        piece is stretched to `steps` if the pieces end before."""
        pieces = [(s, n) for s, n in pieces if n > 0]
        total = sum(n for _, n in pieces)
        if total < steps:
            pieces[-1] = (pieces[-1][0], pieces[-1][1] + steps - total)
            total = steps
        if len(pieces) == 1:
            return pieces[0][0], total
        ps = self._ps
        return ps.CompositeParamScheduler([s for s, _ in pieces], [n / total for _, n in pieces],
                                          ["rescaled"] * len(pieces)), total

    def _then_constant(self, piece, length: int, end: float, steps: int):
        """`piece` over `length` steps, then `end` for the rest of the run (torch's clamp after total_iters). A
        run that ends within `length` has the piece alone, over its whole length (horizon `length`)."""
        if length >= steps:
            return piece, length
        return self._joined([(piece, length), (self._ps.ConstantParamScheduler(end), steps - length)], steps)

    def _port(self, spec: SchedulerSpec, lr: float, g: int, groups: int, steps: int):
        ps = self._ps
        name = spec.name
        if name == "StepLR":
            k = only_kwargs(spec, {"step_size", "gamma"})
            size = k["step_size"]
            if size < 1:
                raise Unsupported(f"StepLR(step_size={size}): fvcore's step scheduler needs whole steps")
            n = size * max(2, math.ceil(steps / size))
            return ps.StepWithFixedGammaParamScheduler(base_value=lr, num_decays=n // size - 1, gamma=k["gamma"],
                                                       num_updates=n), n
        if name == "MultiStepLR":
            k = only_kwargs(spec, {"milestones", "gamma"})
            counts = Counter(m for m in k["milestones"] if m < steps)
            values = [lr]
            for m in sorted(counts):
                values.append(values[-1] * k["gamma"] ** counts[m])
            if not counts:
                return ps.ConstantParamScheduler(lr), steps
            return ps.MultiStepParamScheduler(values=values, num_updates=steps, milestones=sorted(counts)), steps
        if name == "ConstantLR":
            k = only_kwargs(spec, {"factor", "total_iters"})
            # a constant piece can be cut at the run's end: a run within total_iters is lr * factor alone
            iters = min(k["total_iters"], steps)
            return self._then_constant(ps.ConstantParamScheduler(lr * k["factor"]), iters, lr, steps)
        if name == "LinearLR":
            k = only_kwargs(spec, {"start_factor", "end_factor", "total_iters"})
            end = lr * k["end_factor"]
            ramp = ps.LinearParamScheduler(start_value=lr * k["start_factor"], end_value=end)
            return self._then_constant(ramp, k["total_iters"], end, steps)
        if name == "ExponentialLR":
            k = only_kwargs(spec, {"gamma"})
            return ps.ExponentialParamScheduler(start_value=lr, decay=k["gamma"] ** steps), steps
        if name == "PolynomialLR":
            k = only_kwargs(spec, {"total_iters", "power"})
            decay = ps.PolynomialDecayParamScheduler(base_value=lr, power=k["power"])
            # the decay's own end value, lr * 0 ** power: 0, or lr for power 0 (0 ** 0 == 1, as torch's ratio)
            return self._then_constant(decay, k["total_iters"], lr * 0.0 ** k["power"], steps)
        if name == "CosineAnnealingLR":
            k = only_kwargs(spec, {"T_max", "eta_min"})
            half, low = k["T_max"], k["eta_min"]
            if half < 1:
                raise Unsupported(f"CosineAnnealingLR(T_max={half}): no half period to port")
            halves = [ps.CosineParamScheduler(lr, low) if i % 2 == 0 else ps.CosineParamScheduler(low, lr)
                      for i in range(math.ceil(steps / half))]
            return self._joined([(s, half) for s in halves], steps)
        if name == "CosineAnnealingWarmRestarts":
            k = only_kwargs(spec, {"T_0", "T_mult", "eta_min"})
            lengths = [k["T_0"]]
            while sum(lengths) < steps:
                lengths.append(lengths[-1] * k["T_mult"])
            return self._joined([(ps.CosineParamScheduler(lr, k["eta_min"]), n) for n in lengths], steps)
        if name == "OneCycleLR":
            k = kwargs_of(spec)
            if k["cycle_momentum"]:
                raise Unsupported("OneCycleLR(cycle_momentum=True): the momentum cycle is not ported")
            return self._onecycle(k, float(per_group(k["max_lr"], groups, "max_lr")[g]), steps)
        if name == "SequentialLR":
            return self._sequential(spec, lr, g, groups, steps)
        raise Unsupported(f"{name} has no fvcore equivalent")

    def _onecycle(self, k, max_lr: float, steps: int):
        total, ends = onecycle_phases(k)
        if ends[0] < 0:
            # torch's step 0 is then already past the warm-up's end, (0 - e1) / (e2 - e1) into the anneal; a
            # Composite piece starts at its own beginning
            raise Unsupported(f"OneCycleLR: the warm-up ends at step {ends[0]}, before the run starts")
        ps = self._ps
        anneal = {"cos": ps.CosineParamScheduler, "linear": ps.LinearParamScheduler}[k["anneal_strategy"]]
        points = onecycle_points(k, max_lr)
        low = points[-1]
        starts = [0] + ends[:-1]
        pieces = [(anneal(points[i], points[i + 1]), ends[i] - starts[i]) for i in range(len(ends))]
        # torch's last step, total_steps - 1, is the end of the last phase: the minimum, held for that one step
        return self._joined(pieces + [(ps.ConstantParamScheduler(low), max(1, steps - ends[-1]))], max(steps, total))

    def _sequential(self, spec: SchedulerSpec, lr: float, g: int, groups: int, steps: int):
        pieces = sequential_stretches(spec, steps, "fvcore",
                                      lambda child, length: self._port(child, lr, g, groups, length))
        return self._joined(pieces, steps)
