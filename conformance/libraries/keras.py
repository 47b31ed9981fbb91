"""keras 3 graded against torch: `Keras64` (keras.config.set_floatx("float64")) and `Keras32` (the default
float32), both on the torch backend (KERAS_BACKEND=torch, set unless the environment chose another backend).

    lr-conformance run --adapter keras64 --expectations keras-float64
    lr-conformance run --adapter keras32 --expectations keras-float32

What is graded:
* `keras.optimizers.schedules` (ExponentialDecay, PiecewiseConstantDecay, PolynomialDecay, CosineDecay with
  and without warmup, CosineDecayRestarts): keras has no param groups, so each group gets its own
  `keras.optimizers.SGD(learning_rate=schedule)` built from the group's lr; the lr at loop iteration i is
  `optimizer.learning_rate` with `optimizer.iterations` at i - what the optimizer's update uses (it casts it
  to the variables' dtype, floatx). InverseTimeDecay has no torch counterpart and is not graded.
* `keras.callbacks.ReduceLROnPlateau`: the callback is attached to a stand-in model whose `optimizer` is a
  keras SGD holding a learning_rate variable (several groups: an object with `.optimizers`, one SGD per group,
  the multi-optimizer path the callback has); each step's metric is passed as
  `on_epoch_end(epoch, logs={"val_loss": metric})` and the lr is the variable's value.
Both variants set floatx when constructed (a process-wide setting): run one variant per process.

Mapping rules, per torch scheduler: PORTING below (docs/porting/keras.md is generated from it).
Features: plateau, and the interventions of INTERVENTIONS below (a skipped update; an lr set by hand where the lr is
a variable: the plateau callback's). No resume, step(epoch) or momentum (keras has no one-cycle or cyclic schedule).
"""

from __future__ import annotations

import os
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
    only_kwargs,
    ported,
    rejected_as_unsupported,
    uniform,
)
from conformance.model import AdapterInfo, Case, SchedulerSpec, Tolerance

LIBRARY = "keras"
INSTALL = "pip install 'lr-conformance[keras]'"  # `lr-conformance adapters` says it when the library does not import (tox -e keras)

S = "keras.optimizers.schedules."
PORTING = {
    "LambdaLR": Port(None, "a LearningRateSchedule subclass whose __call__ returns lr * lr_lambda(step) is the "
                           "user's own code, with no library code to grade."),
    "MultiplicativeLR": Port(None, "no recursive schedule; a closed form of the product is the user's own code."),
    "StepLR": Port(S + "ExponentialDecay(initial_learning_rate=lr, decay_steps=step_size, decay_rate=gamma, "
                       "staircase=True)", "staircase=True gives gamma ** (step // step_size)."),
    "MultiStepLR": Port(S + "PiecewiseConstantDecay(boundaries=[m - 1 for m in sorted(set(milestones))], "
                            "values=[lr * gamma ** k for k in (0, 1, ...)])",
                        "keras switches to values[i + 1] when step > boundaries[i], torch at epoch == milestone: "
                        "boundaries are the milestones minus one. A milestone repeated k times multiplies by "
                        "gamma ** k. With no milestones the lr is constant: pass learning_rate=lr (keras accepts "
                        "PiecewiseConstantDecay(boundaries=[], values=[lr]) but its __call__ then raises IndexError "
                        "on boundaries[0])."),
    "ConstantLR": Port(S + "PiecewiseConstantDecay(boundaries=[total_iters - 1], values=[lr * factor, lr])",
                       "boundary minus one, as for MultiStepLR. torch's total_iters=0 is a quirk: torch applies "
                       "the factor at construction and never removes it (lr * factor throughout); this call gives "
                       "lr, so match it with learning_rate=lr * factor."),
    "LinearLR": Port(S + "PolynomialDecay(initial_learning_rate=lr * start_factor, decay_steps=total_iters, "
                         "end_learning_rate=lr * end_factor, power=1.0)", "clamped after total_iters, as torch."),
    "ExponentialLR": Port(S + "ExponentialDecay(initial_learning_rate=lr, decay_steps=1, decay_rate=gamma)", ""),
    "PolynomialLR": Port(S + "PolynomialDecay(initial_learning_rate=lr, decay_steps=total_iters, "
                             "end_learning_rate=0.0, power=power)",
                         "end_learning_rate defaults to 0.0001 in keras: pass 0.0."),
    "CosineAnnealingLR": Port(S + "CosineDecay(initial_learning_rate=lr, decay_steps=T_max, alpha=eta_min / lr)",
                              "keras clamps the step at decay_steps and stays at eta_min; torch's "
                              "CosineAnnealingLR keeps following the cosine after T_max (back up towards lr): "
                              "identical for step <= T_max only."),
    "ChainedScheduler": Port(None, "keras schedules do not compose."),
    "SequentialLR": Port(S + "CosineDecay(initial_learning_rate=lr * start_factor, decay_steps=T_max, "
                             "alpha=eta_min / lr, warmup_target=lr, warmup_steps=total_iters)",
                         "only the linear-warmup-then-cosine pair SequentialLR([LinearLR(start_factor, "
                         "end_factor=1.0, total_iters=W), CosineAnnealingLR(T_max, eta_min)], milestones=[W]); "
                         "keras has no general sequencing of schedules."),
    "ReduceLROnPlateau": Port("keras.callbacks.ReduceLROnPlateau(monitor='val_loss', mode=mode, factor=factor, "
                              "patience=patience + 1, min_delta=threshold, cooldown=cooldown + 1 if cooldown else "
                              "0, min_lr=min_lr)",
                              "keras reduces when the count of bad epochs *reaches* patience, torch when it "
                              "*exceeds* it (torch's counting: pytorch/pytorch#7242, #2545): torch's patience p is keras' p + 1. keras decrements the cooldown "
                              "before testing it, so its last cooldown epoch already counts as bad: torch's "
                              "cooldown c > 0 is keras' c + 1. keras' min_delta is torch's threshold_mode='abs' "
                              "(no relative threshold: threshold_mode='rel' only with threshold=0). keras takes "
                              "the first metric as the best whatever it is (torch starts from +-inf, so a nan or "
                              "inf first metric is a bad epoch there). One min_lr for all optimizers; torch's eps "
                              "has no counterpart."),
    "CyclicLR": Port(None, "keras has no cyclic schedule."),
    "CosineAnnealingWarmRestarts": Port(S + "CosineDecayRestarts(initial_learning_rate=lr, first_decay_steps=T_0, "
                                            "t_mul=T_mult, m_mul=1.0, alpha=eta_min / lr)",
                                        "keras finds the cycle of a step with a logarithm when t_mul != 1."),
    "OneCycleLR": Port(None, "keras has no one-cycle schedule."),
    "SWALR": Port(None, "keras has no SWA learning-rate scheduler (keras.optimizers.schedules has no anneal-to-a-constant from the group's current lr)."),
}

_FLOAT64 = Tolerance(
    rel=1e-14,
    abs=4.4e-16,
    reason="float64: keras' closed forms (power, cos) against torch's recursive products, whose rounding walks "
           "~1 ulp per step (measured <= 12 ulp over 1000 steps): rel 1e-14 is ~45 ulp; abs 4.4e-16 (2 ulp of 1.0) "
           "for values cancelling to ~0 at the end of a cosine, lrs <= 1",
)
_FLOAT32 = FLOAT32_CLOSED_FORMS


# How a keras training loop does each intervention of spec 4.5 (docs/porting/keras.md prints this table). A
# LearningRateSchedule is evaluated at optimizer.iterations, which counts the updates applied; the plateau
# callback writes a plain learning_rate variable.
INTERVENTIONS = {
    "skip-optimizer-step": Port("keras.optimizers.LossScaleOptimizer(optimizer) - a non-finite update is skipped",
                                "A skipped update never calls inner_optimizer.apply, which increments iterations: the "
                                "schedule does not advance, where torch's scheduler.step() still does. "
                                "ReduceLROnPlateau (a callback at epoch end) is unaffected."),
    "scheduler-steps": Port(None, "a schedule is evaluated at optimizer.iterations and the callback at each "
                                  "epoch end: there is no scheduler a loop steps by hand."),
    "wrap-optimizer-step": Port(None, "nothing in keras watches or patches the optimizer's apply method."),
    "set": Port("optimizer.learning_rate = value (where the lr is a variable: ReduceLROnPlateau's)",
                "Only lr: keras has no initial_lr, and SGD's momentum is a constructor float. Where the lr is "
                "a LearningRateSchedule the setter raises TypeError (\"its learning rate is not settable\", "
                "keras/src/optimizers/base_optimizer.py): unsupported."),
    "add-param-group": Port(None, "keras optimizers have no param groups: a different lr per variable set is "
                                  "another optimizer."),
    "add-scheduler": Port(None, "an optimizer has one learning_rate: a second schedule replaces it, it does not "
                                "act beside it."),
    "call": Port(None, "no get_lr() / get_last_lr(): a loop reads optimizer.learning_rate."),
    "read-scheduler": Port(None, "the schedule has no last_epoch or counters of its own: its step is optimizer.iterations."),
    "set-scheduler": Port(None, "the schedule has no last_epoch or counters of its own to write (optimizer.iterations is the "
                               "optimizer's)."),
    "change-argument": Port(None, "a LearningRateSchedule keeps its arguments as Python numbers and casts them on "
                                  "each call: no torch tensor of the user's to change in place."),
    "resume": Port(None, "the schedule has no state of its own (a function of optimizer.iterations) and the "
                         "callback's is not saved: no separate scheduler state to load or leave out."),
    "on": Port(None, "a schedule is a function of optimizer.iterations, built without an optimizer: no "
                   "optimizer argument to give None or another optimizer for."),
    "load-twice": Port(None, "the schedule has no state dict of its own to load twice (see resume)."),
}


class _Keras(StatefulAdapter):
    floatx = "float64"

    def __init__(self) -> None:
        os.environ.setdefault("KERAS_BACKEND", "torch")
        import keras

        keras.config.set_floatx(self.floatx)
        self._keras = keras
        self.info = AdapterInfo(
            name=self.variant,
            version=f"{keras.__version__} ({keras.backend.backend()} backend)",
            schedulers=ported(PORTING),
            features=frozenset({"plateau"}) | expressed(INTERVENTIONS),
            tolerance=_FLOAT64 if self.floatx == "float64" else _FLOAT32,
        )

    def build(self, case: Case) -> Session:
        keras = self._keras
        keras.config.set_floatx(self.floatx)
        lrs = group_lrs(case)
        if case.scheduler.name == "ReduceLROnPlateau":
            return _PlateauSession(keras, case, lrs)
        with rejected_as_unsupported(LIBRARY):
            optimizers = [keras.optimizers.SGD(learning_rate=self._schedule(case.scheduler, lr)) for lr in lrs]

        def lr_fn(step: int):
            values = []
            for optimizer in optimizers:
                optimizer.iterations.assign(step)
                values.append(float(keras.ops.cast(optimizer.learning_rate, self.floatx)))
            return values

        return ScheduleSession(lr_fn, by_updates=True)  # evaluated at optimizer.iterations: updates applied

    def _schedule(self, spec: SchedulerSpec, lr: float):
        schedules = self._keras.optimizers.schedules
        name = spec.name
        if name == "StepLR":
            k = only_kwargs(spec, {"step_size", "gamma"})
            return schedules.ExponentialDecay(initial_learning_rate=lr, decay_steps=k["step_size"],
                                              decay_rate=k["gamma"], staircase=True)
        if name == "ExponentialLR":
            k = only_kwargs(spec, {"gamma"})
            return schedules.ExponentialDecay(initial_learning_rate=lr, decay_steps=1, decay_rate=k["gamma"])
        if name == "MultiStepLR":
            k = only_kwargs(spec, {"milestones", "gamma"})
            counts = Counter(k["milestones"])
            if not counts:  # a constant lr: PiecewiseConstantDecay with no boundary fails when called (boundaries[0])
                return lr
            boundaries, values, decays = [], [lr], 0
            for milestone in sorted(counts):
                decays += counts[milestone]
                boundaries.append(milestone - 1)
                values.append(lr * k["gamma"] ** decays)
            return schedules.PiecewiseConstantDecay(boundaries=boundaries, values=values)
        if name == "ConstantLR":
            k = only_kwargs(spec, {"factor", "total_iters"})
            return schedules.PiecewiseConstantDecay(boundaries=[k["total_iters"] - 1], values=[lr * k["factor"], lr])
        if name == "LinearLR":
            k = only_kwargs(spec, {"start_factor", "end_factor", "total_iters"})
            return schedules.PolynomialDecay(initial_learning_rate=lr * k["start_factor"],
                                             decay_steps=k["total_iters"], end_learning_rate=lr * k["end_factor"],
                                             power=1.0)
        if name == "PolynomialLR":
            k = only_kwargs(spec, {"total_iters", "power"})
            return schedules.PolynomialDecay(initial_learning_rate=lr, decay_steps=k["total_iters"],
                                             end_learning_rate=0.0, power=k["power"])
        if name == "CosineAnnealingLR":
            k = only_kwargs(spec, {"T_max", "eta_min"})
            return schedules.CosineDecay(initial_learning_rate=lr, decay_steps=k["T_max"], alpha=_alpha(k, lr))
        if name == "CosineAnnealingWarmRestarts":
            k = only_kwargs(spec, {"T_0", "T_mult", "eta_min"})
            return schedules.CosineDecayRestarts(initial_learning_rate=lr, first_decay_steps=k["T_0"],
                                                 t_mul=k["T_mult"], m_mul=1.0, alpha=_alpha(k, lr))
        if name == "SequentialLR":
            return self._warmup_cosine(spec, lr)
        raise Unsupported(f"{name} has no keras equivalent")

    def _warmup_cosine(self, spec: SchedulerSpec, lr: float):
        milestones = list(only_kwargs(spec, {"milestones"})["milestones"])
        names = [child.name for child in spec.children]
        if names != ["LinearLR", "CosineAnnealingLR"]:
            raise Unsupported(f"SequentialLR of {names}: keras only has linear warmup then cosine (CosineDecay)")
        warmup = only_kwargs(spec.children[0], {"start_factor", "end_factor", "total_iters"})
        cosine = only_kwargs(spec.children[1], {"T_max", "eta_min"})
        if warmup["end_factor"] != 1.0 or milestones != [warmup["total_iters"]]:
            raise Unsupported("SequentialLR warmup must be LinearLR(end_factor=1.0, total_iters=milestone)")
        return self._keras.optimizers.schedules.CosineDecay(
            initial_learning_rate=lr * warmup["start_factor"], decay_steps=cosine["T_max"], alpha=_alpha(cosine, lr),
            warmup_target=lr, warmup_steps=warmup["total_iters"],
        )


def _alpha(kwargs, lr: float) -> float:
    if lr == 0:
        raise Unsupported("alpha = eta_min / lr is undefined for lr = 0")
    return kwargs["eta_min"] / lr


class _Optimizers:
    """The multi-optimizer shape keras.callbacks.ReduceLROnPlateau handles (`optimizer.optimizers`)."""

    def __init__(self, optimizers) -> None:
        self.optimizers = optimizers


class _Model:
    def __init__(self, optimizer) -> None:
        self.optimizer = optimizer


class _PlateauSession(Session):
    def __init__(self, keras, case: Case, lrs: list[float]) -> None:
        k = only_kwargs(case.scheduler, {"mode", "factor", "patience", "threshold", "threshold_mode", "cooldown",
                                         "min_lr"})
        if k["threshold_mode"] == "rel" and k["threshold"] != 0:
            raise Unsupported("threshold_mode='rel': keras' min_delta is an absolute threshold")
        self.keras = keras
        self.optimizers = [keras.optimizers.SGD(learning_rate=lr) for lr in lrs]
        with rejected_as_unsupported(LIBRARY):
            self.callback = self._callback(keras, k, len(lrs))
        optimizer = self.optimizers[0] if len(lrs) == 1 else _Optimizers(self.optimizers)
        self.callback.set_model(_Model(optimizer))
        self.callback.on_train_begin()
        self.epoch = 0

    @staticmethod
    def _callback(keras, k, groups: int):
        return keras.callbacks.ReduceLROnPlateau(
            monitor="val_loss",
            mode=k["mode"],
            factor=k["factor"],
            patience=k["patience"] + 1,
            min_delta=k["threshold"],
            cooldown=k["cooldown"] + 1 if k["cooldown"] else 0,
            min_lr=uniform(k["min_lr"], groups, "min_lr"),
        )

    def lrs(self):
        return [float(self.keras.ops.convert_to_numpy(o.learning_rate)) for o in self.optimizers]

    def set_group(self, group, key, value) -> None:
        if key != "lr":
            raise Unsupported(f"keras has no {key} to set by hand")
        self.optimizers[group].learning_rate = value  # assigns the variable the callback reads and writes

    def optimizer_step(self) -> None:
        pass

    def scheduler_step(self, metric=None, epoch=None) -> None:
        self.callback.on_epoch_end(self.epoch, logs={"val_loss": metric})
        self.epoch += 1


class Keras64(_Keras):
    """keras 3 with floatx float64."""

    floatx = "float64"
    variant = "keras-float64"


class Keras32(_Keras):
    """keras 3 with the default floatx float32."""

    floatx = "float32"
    variant = "keras-float32"
