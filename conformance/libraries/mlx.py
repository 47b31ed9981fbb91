"""MLX's schedules (`mlx.optimizers.schedulers`, Apple) graded against torch: `MLX` (float32).

    pip install "mlx[cpu]" "torch==2.13.0"       # mlx[cpu]: the Linux CPU build
    lr-conformance run --adapter mlx --expectations mlx

What is graded: mlx schedules (`step_decay`, `exponential_decay`, `cosine_decay`, `linear_schedule`,
`join_schedules`) are functions of the optimizer's step counter. An `mlx.optimizers.SGD(learning_rate=schedule)`
keeps that counter as `state["step"]`, a uint64 array starting at 0, and in every update
(`Optimizer.apply_gradients`) sets `state["learning_rate"] = schedule(step)` before it increments the counter
and applies `learning_rate.astype(gradient.dtype)`. The adapter builds one real SGD per param group (mlx's
optimizers take one schedule for all their parameters) on a one-element float32 parameter: the lr at loop
iteration i is `schedule(optimizer.step)` - the call apply_gradients makes next - and each optimizer step is a
real `optimizer.update` (so the counter is the optimizer's own). The scheduler step is a no-op: in mlx the
schedule advances with the optimizer's updates, which in torch's standard loop (record, optimizer.step(),
scheduler.step()) is the same count.

Every schedule computes in float32, whatever the parameters' dtype: a Python float combined with the uint64
counter (`init * decay_rate ** step`, `(pi / decay_steps) * s`, `step * ((end - init) / steps) + init`) is a
float32 array, and `join_schedules`' `mx.where` keeps it. There is no float64 variant: float64 parameters get
the same float32 value, cast up. Hence the float32 tolerance of the other float32 closed-form libraries.

mlx has no constant schedule; the pieces of MultiStepLR and ConstantLR are `lambda step: mx.array(value)` joined
by `join_schedules` (the library code graded is the join). Not graded: momentum (mlx schedules only
`learning_rate`: SGD's momentum and Adam's betas are fixed numbers), ReduceLROnPlateau, CyclicLR, resume,
step(epoch) - nothing in mlx provides them.

Mapping rules, per torch scheduler: PORTING below (docs/porting/mlx.md is generated from it). Features: the one
intervention of INTERVENTIONS below that mlx can express, a skipped update (the schedule, a function of the
optimizer's own counter, does not advance on it).
"""

from __future__ import annotations

from collections import Counter

from conformance.adapters.base import StatefulAdapter
from conformance.libraries.common import (
    expressed,
    FLOAT32_CLOSED_FORMS,
    Port,
    Session,
    Unsupported,
    group_lrs,
    kwargs_of,
    onecycle_phases,
    onecycle_points,
    only_kwargs,
    per_group,
    ported,
    rejected_as_unsupported,
)
from conformance.model import AdapterInfo, Case, SchedulerSpec

LIBRARY = "mlx"
INSTALL = "pip install 'lr-conformance[mlx]'"  # `lr-conformance adapters` says it when the library does not import (tox -e mlx)

O = "mlx.optimizers."
CONST = "lambda step: mx.array(v)"
GROUPS = " One optimizer per param group (an mlx optimizer takes one schedule for all its parameters)."

# The porting guide, as data (see conformance/libraries/common.py). `lr` is each param group's lr.
PORTING = {
    "LambdaLR": Port(None, "an mlx schedule is any callable of the step: `lambda step: lr * lr_lambda(step)` is "
                           "the user's own function, with no library code to grade."),
    "MultiplicativeLR": Port(None, "no multiplicative (recursive) schedule; a closed form of the product is the "
                                   "user's own function."),
    "StepLR": Port(O + "step_decay(init=lr, decay_rate=gamma, step_size=step_size)",
                   "init * decay_rate ** (step // step_size): torch's closed form, boundaries where torch's are. "
                   "mlx rejects step_size < 1 (ValueError)." + GROUPS),
    "MultiStepLR": Port(O + "join_schedules([" + CONST + " for v in (lr, lr * gamma ** k1, lr * gamma ** (k1 + k2), "
                        "...)], boundaries=sorted(set(milestones)))",
                        "mlx has no piecewise-constant schedule: join constant pieces at the distinct milestones "
                        "(join_schedules switches to piece i + 1 from step == boundary on, as torch's milestone); "
                        "a milestone repeated k times multiplies by gamma ** k there." + GROUPS),
    "ConstantLR": Port(O + "join_schedules([lambda step: mx.array(lr * factor), lambda step: mx.array(lr)], "
                           "boundaries=[total_iters])",
                       "exactly lr again from step == total_iters. torch's total_iters=0 is a quirk: torch applies "
                       "the factor at construction and never removes it (lr * factor throughout); this join gives "
                       "lr." + GROUPS),
    "LinearLR": Port(O + "linear_schedule(init=lr * start_factor, end=lr * end_factor, steps=total_iters)",
                     "clamped at end after total_iters, as torch. mlx rejects steps < 1 (ValueError): torch's "
                     "total_iters=0 has no equivalent." + GROUPS),
    "ExponentialLR": Port(O + "exponential_decay(init=lr, decay_rate=gamma)", "init * decay_rate ** step." + GROUPS),
    "PolynomialLR": Port(O + "linear_schedule(init=lr, end=0.0, steps=total_iters)  # power == 1 only",
                         "mlx has no polynomial schedule: only power=1 (a straight line to 0, clamped after "
                         "total_iters as torch) has an equivalent." + GROUPS),
    "CosineAnnealingLR": Port(O + "cosine_decay(init=lr, decay_steps=T_max, end=eta_min)",
                              "mlx clamps the step at decay_steps and stays at end (documented: 'constant for "
                              "steps beyond decay_steps'); torch's CosineAnnealingLR keeps following the cosine "
                              "after T_max (back up towards lr, period 2 * T_max): identical for step <= T_max "
                              "only. mlx rejects decay_steps < 1." + GROUPS),
    "ChainedScheduler": Port(None, "no combinator multiplies schedules: join_schedules sequences them."),
    "SequentialLR": Port(O + "join_schedules([child schedules], boundaries=milestones)",
                         "schedule i + 1 receives the steps since boundary i (step - boundary), so each child "
                         "restarts at 0 at its milestone, as torch's SequentialLR calls child.step(0); every "
                         "child must itself have an mlx equivalent. The linear-warmup-then-cosine pair is the "
                         "docstring's own example (join_schedules([linear_schedule(...), cosine_decay(...)], "
                         "[W]))." + GROUPS),
    "ReduceLROnPlateau": Port(None, "mlx has no plateau logic: schedules are functions of the step count only."),
    "CyclicLR": Port(None, "no periodic schedule: join_schedules of linear_schedule pieces can spell out a "
                           "fixed number of triangular cycles, but nothing reproduces CyclicLR's modes, scale_fn, "
                           "momentum cycle or open-ended run."),
    "CosineAnnealingWarmRestarts": Port(
        O + "join_schedules([cosine_decay(init=lr, decay_steps=T_0 * T_mult ** i, end=eta_min) for i in "
            "range(cycles)], boundaries=[T_0, T_0 + T_0 * T_mult, ...])",
        "one cosine_decay per cycle, enough cycles to cover the run (after the last one it stays at eta_min): "
        "the join restarts each cycle at step 0, torch's restart to lr." + GROUPS),
    "OneCycleLR": Port(
        O + "join_schedules([cosine_decay(init=max_lr / div_factor, decay_steps=e1, end=max_lr), "
            "cosine_decay(init=max_lr, decay_steps=e2 - e1, end=max_lr / div_factor / final_div_factor)], "
            "boundaries=[e1])  # e1 = pct_start * total_steps - 1, e2 = total_steps - 1; linear_schedule for "
            "anneal_strategy='linear'",
        "cosine_decay(init=a, decay_steps=n, end=b) is torch's _annealing_cos(a, b, s / n) (end + (init - end) / 2 "
        "* (1 + cos(pi * s / n))), so each phase is one cosine_decay (or linear_schedule) joined at torch's "
        "phase ends; three_phase adds the phase back to max_lr / div_factor. Phase ends must fall on whole "
        "steps. mlx does not schedule momentum (or Adam's betas): only cycle_momentum=False has an equivalent. "
        "torch extrapolates the last phase one step past total_steps - 1; mlx stays at the minimum." + GROUPS),
    "SWALR": Port(None, "mlx has no SWA learning-rate schedule (mlx.optimizers schedules are functions of the step count, not an anneal from the current lr)."),
}


# How an mlx training loop does each intervention of spec 4.5 (docs/porting/mlx.md prints this table). The
# schedule is evaluated at the optimizer's own update counter; there is no scheduler object.
NO_SCHEDULER = "mlx has no scheduler object: the schedule is called by the optimizer at its step counter."
INTERVENTIONS = {
    "skip-optimizer-step": Port("skip optimizer.update(model, grads) for that batch",
                                "The counter (state['step']) only advances in apply_gradients: the schedule does "
                                "not advance on a skipped update, where torch's scheduler.step() still does."),
    "scheduler-steps": Port(None, NO_SCHEDULER),
    "wrap-optimizer-step": Port(None, "nothing in mlx watches or patches optimizer.update."),
    "set": Port(None, "apply_gradients sets state['learning_rate'] = schedule(step) at every update: a value "
                      "set by hand is replaced before it is used."),
    "add-param-group": Port(None, "mlx optimizers have no param groups (one schedule for all parameters)."),
    "add-scheduler": Port(None, NO_SCHEDULER + " Schedules compose as functions (join_schedules)."),
    "call": Port(None, "no get_lr() / get_last_lr(): a loop reads optimizer.learning_rate."),
    "read-scheduler": Port(None, "schedules are functions of the optimizer's step counter: no scheduler attributes to read."),
    "set-scheduler": Port(None, "schedules are functions of the optimizer's step counter: no scheduler attributes to write."),
    "change-argument": Port(None, "schedule functions close over their arguments (Python floats or immutable mlx "
                                  "arrays): nothing to change in place."),
    "resume": Port(None, "the optimizer's state (its counter included) is the whole state: no separate scheduler "
                         "state to load or leave out."),
    "on": Port(None, "a schedule is a function of the optimizer's step, built without an optimizer: no "
                   "optimizer argument to give None or another optimizer for."),
    "load-twice": Port(None, "the optimizer's state is the whole state: no separate scheduler state dict to load "
                           "twice."),
}


class MLX(StatefulAdapter):
    """mlx.optimizers schedules on a real mlx SGD per param group, float32."""

    variant = "mlx"

    def __init__(self) -> None:
        import mlx.core as mx
        import mlx.optimizers as optim

        self._mx = mx
        self._optim = optim
        self.info = AdapterInfo(
            name=self.variant,
            version=mx.__version__,
            schedulers=ported(PORTING),
            features=expressed(INTERVENTIONS),
            tolerance=FLOAT32_CLOSED_FORMS,
        )

    def build(self, case: Case) -> Session:
        if case.drives_momentum:
            raise Unsupported(f"{case.scheduler.name} drives momentum; mlx schedules only the learning rate")
        lrs = group_lrs(case)
        with rejected_as_unsupported(LIBRARY):
            schedules = [self._schedule(case.scheduler, lr, g, len(lrs), case.steps) for g, lr in enumerate(lrs)]
        return _Session(self._mx, [(self._optim.SGD(learning_rate=s), s) for s in schedules])

    # --- schedules --------------------------------------------------------------------------------

    def _constant(self, value: float):
        mx = self._mx
        return lambda step: mx.array(value)

    def _schedule(self, spec: SchedulerSpec, lr: float, g: int, groups: int, horizon: int):
        optim = self._optim
        name = spec.name
        if name == "StepLR":
            k = only_kwargs(spec, {"step_size", "gamma"})
            return optim.step_decay(init=lr, decay_rate=k["gamma"], step_size=k["step_size"])
        if name == "MultiStepLR":
            k = only_kwargs(spec, {"milestones", "gamma"})
            counts = Counter(k["milestones"])
            boundaries = sorted(counts)
            values, decays = [lr], 0
            for m in boundaries:
                decays += counts[m]
                values.append(lr * k["gamma"] ** decays)
            if not boundaries:
                return self._constant(lr)
            return optim.join_schedules([self._constant(v) for v in values], boundaries)
        if name == "ConstantLR":
            k = only_kwargs(spec, {"factor", "total_iters"})
            return optim.join_schedules([self._constant(lr * k["factor"]), self._constant(lr)], [k["total_iters"]])
        if name == "LinearLR":
            k = only_kwargs(spec, {"start_factor", "end_factor", "total_iters"})
            return optim.linear_schedule(init=lr * k["start_factor"], end=lr * k["end_factor"],
                                         steps=k["total_iters"])
        if name == "ExponentialLR":
            k = only_kwargs(spec, {"gamma"})
            return optim.exponential_decay(init=lr, decay_rate=k["gamma"])
        if name == "PolynomialLR":
            k = only_kwargs(spec, {"total_iters", "power"})
            if k["power"] != 1:
                raise Unsupported(f"PolynomialLR(power={k['power']!r}): mlx has no polynomial schedule, only the "
                                  "linear one (power=1)")
            return optim.linear_schedule(init=lr, end=0.0, steps=k["total_iters"])
        if name == "CosineAnnealingLR":
            k = only_kwargs(spec, {"T_max", "eta_min"})
            return optim.cosine_decay(init=lr, decay_steps=k["T_max"], end=k["eta_min"])
        if name == "CosineAnnealingWarmRestarts":
            k = only_kwargs(spec, {"T_0", "T_mult", "eta_min"})
            lengths = _cycle_lengths(k["T_0"], k["T_mult"], horizon)
            boundaries, total = [], 0
            for length in lengths[:-1]:
                total += length
                boundaries.append(total)
            return optim.join_schedules([optim.cosine_decay(init=lr, decay_steps=t, end=k["eta_min"])
                                         for t in lengths], boundaries)
        if name == "OneCycleLR":
            k = kwargs_of(spec)
            return self._onecycle(k, float(per_group(k["max_lr"], groups, "max_lr")[g]))
        if name == "SequentialLR":
            k = only_kwargs(spec, {"milestones"})
            children = [self._schedule(child, lr, g, groups, horizon) for child in spec.children]
            return optim.join_schedules(children, list(k["milestones"]))
        raise Unsupported(f"{name} has no mlx equivalent")

    def _onecycle(self, k, max_lr: float):
        _, ends = onecycle_phases(k)
        optim = self._optim
        anneal = {"cos": lambda a, b, n: optim.cosine_decay(init=a, decay_steps=n, end=b),
                  "linear": lambda a, b, n: optim.linear_schedule(init=a, end=b, steps=n)}[k["anneal_strategy"]]
        points = onecycle_points(k, max_lr)
        starts = [0] + ends[:-1]
        pieces = [anneal(points[i], points[i + 1], ends[i] - starts[i]) for i in range(len(ends))]
        return optim.join_schedules(pieces, ends[:-1])


def _cycle_lengths(t0: int, mult: int, horizon: int) -> list[int]:
    lengths, total = [], 0
    while total <= horizon:
        lengths.append(t0 * mult**len(lengths))
        total += lengths[-1]
    return lengths


class _Session(Session):
    """One mlx SGD per param group, each with its schedule; an optimizer step is a real update."""

    def __init__(self, mx, pairs) -> None:
        self.mx = mx
        self.optimizers = [opt for opt, _ in pairs]
        self.schedules = [schedule for _, schedule in pairs]
        self.params = [{"w": mx.zeros((1,), dtype=mx.float32)} for _ in pairs]
        self.grads = {"w": mx.ones((1,), dtype=mx.float32)}

    def lrs(self):
        # what Optimizer.apply_gradients stores as state["learning_rate"] at the next update, schedule(step), and
        # applies as learning_rate.astype(gradient.dtype) (float32 parameters)
        mx = self.mx
        return [float(mx.array(schedule(opt.step)).astype(mx.float32).item())
                for opt, schedule in zip(self.optimizers, self.schedules)]

    def optimizer_step(self) -> None:
        for g, opt in enumerate(self.optimizers):
            self.params[g] = opt.apply_gradients(self.grads, self.params[g])
            self.mx.eval(self.params[g], opt.state)

    def scheduler_step(self, metric=None, epoch=None) -> None:
        if epoch is not None:
            raise Unsupported("an mlx schedule is a function of the optimizer's step counter: no step(epoch)")
        if metric is not None:
            raise Unsupported("mlx has no plateau schedule")
