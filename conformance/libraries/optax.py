"""optax (JAX) schedules graded against torch: `Optax64` (JAX_ENABLE_X64, float64) and `Optax32` (float32).

    lr-conformance run --adapter optax64 --expectations optax-float64
    lr-conformance run --adapter optax32 --expectations optax-float32

What is graded: optax schedules are pure functions of the update count. In a training loop they reach the
optimizer through `optax.inject_hyperparams(optax.sgd)(learning_rate=schedule, ...)`, which evaluates
`schedule(count)` with `count` an int32 array (0 at the first update) and casts the result to the params'
dtype. The adapter does exactly that for every param group (one schedule per group, built from the group's
lr): the lr at loop iteration i is `schedule(int32(i))` in float64 (`Optax64`, x64 enabled) or float32
(`Optax32`, JAX's default). Both set `jax_enable_x64` when constructed, so run one variant per process.

A finding this exposes (optax 0.2.8): under JAX_ENABLE_X64 with float64 params, the schedules that divide the
count by an int (exponential_decay, linear_schedule, polynomial_schedule) still produce float32 values - JAX
promotes int32 / int to float32, and inject_hyperparams keeps the schedule's dtype - so the optimizer gets e.g.
0.10000000149011612 for lr=0.1; join_schedules' jnp.where promotes its other stages to that float32 too, and
piecewise_interpolate_schedule (so the one-cycle schedules) interpolates its float64 values at a float32
fraction. cosine_decay_schedule (which converts to float) and piecewise_constant_schedule are float64. The
workaround is to hand the schedule a float64 count: `lambda count: schedule(jnp.asarray(count, jnp.float64))`.
The adapter grades optax as used, without the workaround; expectations/optax-float64.toml lists the cases this affects.

ReduceLROnPlateau is `optax.contrib.reduce_on_plateau`, a stateful gradient transformation that scales the
updates: the adapter feeds each step's metric to `update(zero_updates, state, value=metric)` and the lr is
`lr * state.scale` (the value fed is the previous epoch's metric, as torch's `scheduler.step(metric)` after
the epoch; optax compares in the params' dtype).

Mapping rules, per torch scheduler: PORTING below (the porting guide docs/porting/optax.md is generated from
it). Features: momentum (OneCycleLR's momentum / Adam beta1 cycle, as a second injected schedule) and plateau.
No resume, no step(epoch): schedules are stateless functions of the count, so there is nothing to resume.
Interventions: INTERVENTIONS below - only a skipped update (apply_if_finite) has an optax form; the count is the
optimizer's update count, so the schedule does not advance on it (torch's scheduler does).
"""

from __future__ import annotations

from collections import Counter

from conformance.adapters.base import StatefulAdapter
from conformance.libraries.common import (
    FLOAT32_CLOSED_FORMS,
    Port,
    ScheduleSession,
    Session,
    Unsupported,
    expressed,
    group_lrs,
    kwargs_of,
    onecycle_phases,
    only_kwargs,
    per_group,
    ported,
    rejected_as_unsupported,
    uniform,
)
from conformance.model import AdapterInfo, Case, SchedulerSpec, Tolerance

LIBRARY = "optax"
INSTALL = "pip install 'lr-conformance[optax]'"  # `lr-conformance adapters` says it when the library does not import (tox -e optax)

X64 = (" Under JAX_ENABLE_X64 it carries float32 rounding (optax's int32 count; see the module docstring): wrap "
       "it as `lambda count: schedule(jnp.asarray(count, jnp.float64))` for float64.")

# How an optax training loop does each intervention of spec 4.5 (docs/porting/optax.md prints this table).
# There is no scheduler object: inject_hyperparams evaluates schedule(count) at every update, count being the
# number of updates applied.
NO_SCHEDULER = "optax has no scheduler object to step: the schedule is evaluated at the update count."
INTERVENTIONS = {
    "skip-optimizer-step": Port("optax.apply_if_finite(optax.inject_hyperparams(optax.sgd)(learning_rate="
                                "schedule), max_consecutive_errors) - a non-finite update is skipped",
                                "A skipped update leaves the inner state, its count included, unchanged: the "
                                "schedule does not advance, where torch's scheduler.step() still does."),
    "scheduler-steps": Port(None, NO_SCHEDULER + " Stepping it twice (or not) per update is a different schedule "
                                  "function, not a loop action."),
    "wrap-optimizer-step": Port(None, "an optax optimizer is a pair of pure functions (init, update): nothing "
                                      "watches or patches a step method."),
    "set": Port(None, "inject_hyperparams overrides the hyperparams with schedule(count) at every update: "
                      "there is no stored lr a loop could set."),
    "add-param-group": Port(None, "optax has no param groups: per-group lrs are optax.multi_transform over a "
                                  "params pytree fixed at init."),
    "add-scheduler": Port(None, NO_SCHEDULER + " Two schedules are composed as functions (optax.join_schedules)."),
    "call": Port(None, "no get_lr() / get_last_lr(): a loop calls schedule(count) or reads "
                       "opt_state.hyperparams['learning_rate']."),
    "read-scheduler": Port(None, "schedules are stateless functions of the count: no last_epoch or plateau counters to read."),
    "set-scheduler": Port(None, "schedules are stateless functions of the count: nothing to write but the count, which is "
                               "opt_state's."),
    "change-argument": Port(None, "schedules close over their arguments as jax values, which are immutable: nothing "
                                  "to change in place."),
    "resume": Port(None, "schedules are stateless functions of the count: a restored opt_state is the whole "
                         "state; there is no separate scheduler state to load or leave out."),
    "on": Port(None, "a schedule is a stateless function of the count, built without an optimizer: no "
                   "optimizer argument to give None for; join_schedules joins functions, not schedulers on "
                   "optimizers."),
    "load-twice": Port(None, "schedules are stateless functions of the count: no scheduler state dict to load twice."),
}

# The porting guide, as data (see conformance/libraries/common.py). `lr` is each param group's lr.
PORTING = {
    "LambdaLR": Port(None, "optax schedules are plain callables: `lambda count: lr * lr_lambda(count)` is the "
                           "user's own function, with no library code to grade."),
    "MultiplicativeLR": Port(None, "no multiplicative (recursive) schedule; a closed form of the product is the "
                                   "user's own function."),
    "StepLR": Port("optax.exponential_decay(init_value=lr, transition_steps=step_size, decay_rate=gamma, "
                   "staircase=True)",
                   "staircase=True gives gamma ** (count // step_size), torch's closed form. optax returns a "
                   "constant schedule (init_value) when decay_rate == 0 or transition_steps <= 0." + X64),
    "MultiStepLR": Port("optax.piecewise_constant_schedule(init_value=lr, boundaries_and_scales={m: gamma ** k "
                        "for m, k in Counter(milestones).items()})",
                        "the scale applies from count == m on, as torch's milestone; a milestone repeated k times "
                        "needs the scale gamma ** k (a dict has one entry per boundary)."),
    "ConstantLR": Port("optax.join_schedules([optax.constant_schedule(lr * factor), optax.constant_schedule(lr)], "
                       "boundaries=[total_iters])",
                       "the lr is exactly lr again from count == total_iters. torch's total_iters=0 is a quirk: "
                       "torch applies the factor at construction and never removes it (lr * factor throughout); "
                       "this call gives lr, so match it with optax.constant_schedule(lr * factor)."),
    "LinearLR": Port("optax.linear_schedule(init_value=lr * start_factor, end_value=lr * end_factor, "
                     "transition_steps=total_iters)", "clamped at end_value after total_iters, as torch." + X64),
    "ExponentialLR": Port("optax.exponential_decay(init_value=lr, transition_steps=1, decay_rate=gamma)",
                          "optax returns a constant schedule (init_value) when decay_rate == 0 (torch: 0 from step 1): "
                          "use optax.join_schedules([optax.constant_schedule(lr), optax.constant_schedule(0.0)], "
                          "[1]) for gamma=0." + X64),
    "PolynomialLR": Port("optax.polynomial_schedule(init_value=lr, end_value=0.0, power=power, "
                         "transition_steps=total_iters)", "clamped at 0 after total_iters, as torch." + X64),
    "CosineAnnealingLR": Port("optax.cosine_decay_schedule(init_value=lr, decay_steps=T_max, alpha=eta_min / lr)",
                              "optax clamps the count at decay_steps and stays at eta_min; torch's "
                              "CosineAnnealingLR keeps following the cosine after T_max (back up towards lr, "
                              "period 2 * T_max): identical for count <= T_max only."),
    "ChainedScheduler": Port(None, "no combinator multiplies schedules (optax.chain composes gradient "
                                   "transformations, not schedules)."),
    "SequentialLR": Port("optax.join_schedules([child schedules], boundaries=milestones)",
                         "each child restarts at count 0 at its milestone, as torch's SequentialLR calls "
                         "child.step(0); every child must itself have an optax equivalent. The linear-warmup-then-cosine pair "
                         "[LinearLR(start_factor, total_iters=W), CosineAnnealingLR(T_max, eta_min)] with milestones=[W] "
                         "is also optax.warmup_cosine_decay_schedule(init_value=lr * start_factor, peak_value=lr, "
                         "warmup_steps=W, decay_steps=W + T_max, end_value=eta_min), the same join."),
    "ReduceLROnPlateau": Port("optax.contrib.reduce_on_plateau(factor=factor, patience=patience + 1, "
                              "rtol=threshold (threshold_mode='rel') or atol=threshold ('abs'), cooldown=cooldown, "
                              "min_scale=min_lr / lr)",
                              "chain it after the optimizer (optax.chain(optax.sgd(lr), reduce_on_plateau(...))) "
                              "and pass the epoch's metric as update(..., value=metric): the lr is then "
                              "lr * state.scale. optax reduces when the count of bad steps *reaches* patience, "
                              "torch when it "
                              "*exceeds* it (torch's counting: pytorch/pytorch#7242, #2545): torch's patience p is optax's p + 1. mode='max' with 'abs' works by "
                              "feeding -metric; 'max' with 'rel' has no equivalent (optax compares with "
                              "(1 - rtol) * best), nor does threshold=0 (optax needs rtol or atol > 0). One scale "
                              "for all groups: min_lr must be the same fraction of every group's lr. torch's eps "
                              "(skip a group's reduction unless it exceeds eps, default 1e-8) has no counterpart: "
                              "a group whose lr is ~1e-8 is reduced by optax, not by torch."),
    "CyclicLR": Port(None, "no periodic schedule: piecewise_interpolate_schedule('linear', ...) can spell out a "
                           "fixed number of triangular cycles, but nothing reproduces CyclicLR's modes, scale_fn "
                           "or open-ended run."),
    "CosineAnnealingWarmRestarts": Port(
        "optax.sgdr_schedule([dict(init_value=lr, peak_value=lr, warmup_steps=0, decay_steps=T_0 * T_mult ** i, "
        "end_value=eta_min) for i in range(cycles)])",
        "one dict per cycle, enough cycles to cover the run (sgdr_schedule is finite: after the last cycle it "
        "stays at eta_min)."),
    "OneCycleLR": Port(
        "optax.piecewise_interpolate_schedule('cos' or 'linear', max_lr / div_factor, {pct_start * total_steps - "
        "1: div_factor, total_steps - 1: 1 / (div_factor * final_div_factor)}) (three_phase: {e1: div_factor, "
        "2 * e1: 1 / div_factor, total_steps - 1: 1 / final_div_factor})",
        "optax.cosine_onecycle_schedule(transition_steps=total_steps, ...) peaks at int(pct_start * total_steps) "
        "and reaches its minimum at total_steps, one step later than torch (pct_start * total_steps - 1 and "
        "total_steps - 1): either pass transition_steps=total_steps - 1 and pct_start=(pct_start * total_steps - "
        "1) / (total_steps - 1), or write the boundaries as here. Phase boundaries must fall on whole steps. "
        "Momentum (beta1 for Adam) is a second schedule, max_momentum -> base_momentum -> max_momentum, given to "
        "inject_hyperparams. torch extrapolates the last phase one step past total_steps - 1; optax stays at the "
        "minimum." + X64),
    "SWALR": Port(None, "optax has no SWA learning-rate schedule (a cosine decay to a floor is a function of the step count, not an anneal from the current lr)."),
}

_FLOAT64 = Tolerance(
    rel=1e-14,
    abs=4.4e-16,
    reason="float64: optax's closed forms (jnp.power, jnp.cos) against torch's recursive products, whose "
           "rounding walks ~1 ulp per step (measured <= 12 ulp over 1000 steps): rel 1e-14 is ~45 ulp; abs 4.4e-16 "
           "(2 ulp of 1.0) for values cancelling to ~0 at the end of a cosine (1 + cos x loses relative, not "
           "absolute, precision), lrs <= 1",
)
_FLOAT32 = FLOAT32_CLOSED_FORMS


class _Optax(StatefulAdapter):
    x64 = True

    def __init__(self) -> None:
        import jax

        jax.config.update("jax_enable_x64", self.x64)
        import jax.numpy as jnp
        import optax

        self._jnp = jnp
        self._optax = optax
        self._dtype = jnp.float64 if self.x64 else jnp.float32
        schedulers = set(ported(PORTING))
        if not hasattr(getattr(optax, "contrib", None), "reduce_on_plateau"):
            schedulers.discard("ReduceLROnPlateau")
        self.info = AdapterInfo(
            name=self.variant,
            version=optax.__version__,
            schedulers=frozenset(schedulers),
            features=frozenset({"momentum", "plateau"}) | expressed(INTERVENTIONS),
            tolerance=_FLOAT64 if self.x64 else _FLOAT32,
        )

    # --- sessions ---------------------------------------------------------------------------------

    def build(self, case: Case) -> Session:
        if case.observes_momentum and not case.drives_momentum:
            # optax schedules values; an optimizer's momentum that no schedule drives has no optax counterpart
            raise Unsupported("observe_momentum: optax has no untouched optimizer momentum to report")
        if case.scheduler.name == "ReduceLROnPlateau":
            return _PlateauSession(self, case)
        lrs = group_lrs(case)
        self._horizon = case.steps  # steps sgdr_schedule's finite list of cycles must cover
        with rejected_as_unsupported(LIBRARY):
            schedules = [self._schedule(case.scheduler, lr, g, len(lrs)) for g, lr in enumerate(lrs)]
            momenta = [self._momentum_schedule(case.scheduler, g, len(lrs)) for g in range(len(lrs))
                       ] if case.drives_momentum else None
        lr_fn = lambda n: [self._value(s, n) for s in schedules]  # noqa: E731
        momentum_fn = None
        if momenta is not None:
            momentum_fn = lambda n: [self._value(s, n) for s in momenta]  # noqa: E731
        return ScheduleSession(lr_fn, momentum_fn, by_updates=True)  # inject_hyperparams' count: updates applied

    def _value(self, schedule, step: int) -> float:
        # What inject_hyperparams hands the optimizer: schedule(int32 count), cast to the params' dtype.
        jnp = self._jnp
        return float(jnp.asarray(schedule(jnp.asarray(step, jnp.int32)), self._dtype))

    # --- schedules --------------------------------------------------------------------------------

    def _schedule(self, spec: SchedulerSpec, lr: float, g: int, groups: int):
        optax = self._optax
        name = spec.name
        if name == "StepLR":
            k = only_kwargs(spec, {"step_size", "gamma"})
            return optax.exponential_decay(init_value=lr, transition_steps=k["step_size"], decay_rate=k["gamma"],
                                           staircase=True)
        if name == "MultiStepLR":
            k = only_kwargs(spec, {"milestones", "gamma"})
            scales = {m: k["gamma"] ** count for m, count in Counter(k["milestones"]).items()}
            return optax.piecewise_constant_schedule(init_value=lr, boundaries_and_scales=scales)
        if name == "ConstantLR":
            k = only_kwargs(spec, {"factor", "total_iters"})
            return optax.join_schedules(
                [optax.constant_schedule(lr * k["factor"]), optax.constant_schedule(lr)], [k["total_iters"]]
            )
        if name == "LinearLR":
            k = only_kwargs(spec, {"start_factor", "end_factor", "total_iters"})
            return optax.linear_schedule(init_value=lr * k["start_factor"], end_value=lr * k["end_factor"],
                                         transition_steps=k["total_iters"])
        if name == "ExponentialLR":
            k = only_kwargs(spec, {"gamma"})
            return optax.exponential_decay(init_value=lr, transition_steps=1, decay_rate=k["gamma"])
        if name == "PolynomialLR":
            k = only_kwargs(spec, {"total_iters", "power"})
            return optax.polynomial_schedule(init_value=lr, end_value=0.0, power=k["power"],
                                             transition_steps=k["total_iters"])
        if name == "CosineAnnealingLR":
            k = only_kwargs(spec, {"T_max", "eta_min"})
            if lr == 0:
                raise Unsupported("alpha = eta_min / lr is undefined for lr = 0")
            return optax.cosine_decay_schedule(init_value=lr, decay_steps=k["T_max"], alpha=k["eta_min"] / lr)
        if name == "CosineAnnealingWarmRestarts":
            k = only_kwargs(spec, {"T_0", "T_mult", "eta_min"})
            if lr == 0 and k["eta_min"] != 0:  # optax/schedules/_schedule.py: alpha = 0.0 if peak_value == 0.0
                raise Unsupported("a cosine from lr = 0 to eta_min: optax's cosine is peak_value * a ratio (0 here)")
            return optax.sgdr_schedule(
                [dict(init_value=lr, peak_value=lr, warmup_steps=0, decay_steps=t, end_value=k["eta_min"])
                 for t in _cycle_lengths(k["T_0"], k["T_mult"], self._horizon)]
            )
        if name == "OneCycleLR":
            k = kwargs_of(spec)
            return self._onecycle(k, per_group(k["max_lr"], groups, "max_lr")[g])
        if name == "SequentialLR":
            k = only_kwargs(spec, {"milestones"})
            children = [self._schedule(child, lr, g, groups) for child in spec.children]
            return optax.join_schedules(children, list(k["milestones"]))
        raise Unsupported(f"{name} has no optax equivalent")

    def _onecycle(self, k, max_lr: float):
        total, ends = onecycle_phases(k)
        kind = {"cos": "cosine", "linear": "linear"}[k["anneal_strategy"]]
        div, final = k["div_factor"], k["final_div_factor"]
        if k["three_phase"]:
            scales = {ends[0]: div, ends[1]: 1 / div, ends[2]: 1 / final}
        else:
            scales = {ends[0]: div, ends[1]: 1 / (div * final)}
        return self._optax.piecewise_interpolate_schedule(kind, max_lr / div, scales)

    def _momentum_schedule(self, spec: SchedulerSpec, g: int, groups: int):
        if spec.name != "OneCycleLR":
            raise Unsupported(f"{spec.name} drives momentum; only OneCycleLR's momentum cycle is mapped")
        k = kwargs_of(spec)
        total, ends = onecycle_phases(k)
        kind = {"cos": "cosine", "linear": "linear"}[k["anneal_strategy"]]
        low = per_group(k["base_momentum"], groups, "base_momentum")[g]
        high = per_group(k["max_momentum"], groups, "max_momentum")[g]
        if k["three_phase"]:
            scales = {ends[0]: low / high, ends[1]: high / low, ends[2]: 1.0}
        else:
            scales = {ends[0]: low / high, ends[1]: high / low}
        return self._optax.piecewise_interpolate_schedule(kind, high, scales)


def _cycle_lengths(t0: int, mult: int, horizon: int) -> list[int]:
    lengths, total = [], 0
    while total < horizon:
        lengths.append(t0 * mult**len(lengths))
        total += lengths[-1]
    return lengths


class _PlateauSession(Session):
    """optax.contrib.reduce_on_plateau driven one metric per scheduler step."""

    def __init__(self, adapter: _Optax, case: Case) -> None:
        jnp, optax = adapter._jnp, adapter._optax
        k = only_kwargs(case.scheduler, {"mode", "factor", "patience", "threshold", "threshold_mode", "cooldown",
                                         "min_lr"})
        self.lrs0 = group_lrs(case)
        if k["threshold"] == 0:
            raise Unsupported("threshold=0: optax needs rtol or atol > 0")
        if k["mode"] == "max" and k["threshold_mode"] == "rel":
            raise Unsupported("mode='max' with threshold_mode='rel': optax compares with (1 - rtol) * best only")
        if 0.0 in self.lrs0:
            raise Unsupported("min_scale = min_lr / lr is undefined for lr = 0")
        min_lrs = per_group(k["min_lr"], len(self.lrs0), "min_lr")
        min_scale = uniform([m / lr for m, lr in zip(min_lrs, self.lrs0)], len(self.lrs0), "min_lr / lr")
        rel = k["threshold_mode"] == "rel"
        self.sign = -1.0 if k["mode"] == "max" else 1.0
        self.jnp = jnp
        self.dtype = adapter._dtype
        with rejected_as_unsupported(LIBRARY):
            self.transform = self._transform(optax, k, rel, min_scale)
        self.params = jnp.zeros((), self.dtype)
        self.state = self.transform.init(self.params)
        self.updated = False  # an update since the last metric: the metric reaches optax through an update

    @staticmethod
    def _transform(optax, k, rel: bool, min_scale: float):
        return optax.contrib.reduce_on_plateau(
            factor=k["factor"],
            patience=k["patience"] + 1,
            rtol=k["threshold"] if rel else 0.0,
            atol=0.0 if rel else k["threshold"],
            cooldown=k["cooldown"],
            min_scale=min_scale,
        )

    def lrs(self):
        return [float(self.jnp.asarray(lr * self.state.scale, self.dtype)) for lr in self.lrs0]

    def optimizer_step(self) -> None:
        self.updated = True

    def scheduler_step(self, metric=None, epoch=None) -> None:
        if not self.updated:
            raise Unsupported("reduce_on_plateau takes the metric in an update (update(..., value=metric)): "
                              "with the update skipped, it has no way to see it")
        self.updated = False
        value = self.jnp.asarray(self.sign * metric, self.dtype)
        _, self.state = self.transform.update(self.params, self.state, self.params, value=value)


class Optax64(_Optax):
    """optax with JAX_ENABLE_X64: float64 schedules."""

    x64 = True
    variant = "optax-float64"


class Optax32(_Optax):
    """optax in JAX's default float32."""

    x64 = False
    variant = "optax-float32"
