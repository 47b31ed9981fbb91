"""tf-keras 2.x (`tf_keras`, the Keras 2 code base that TensorFlow keeps apart from keras 3) graded against torch:
`TFKeras64` (float64 schedules and lr variables) and `TFKeras32` (the default float32).

    pip install "tf-keras==2.21.0" "tensorflow-cpu==2.21.0" "torch==2.13.0"
    lr-conformance run --adapter tf-keras64 --expectations tf-keras-float64
    lr-conformance run --adapter tf-keras32 --expectations tf-keras-float32

What is graded:
* `tf_keras.optimizers.schedules` (ExponentialDecay, PiecewiseConstantDecay, PolynomialDecay, CosineDecay with and
  without warm-up, CosineDecayRestarts): each param group gets its own `tf_keras.optimizers.SGD(learning_rate=
  schedule)` built from the group's lr. A tf-keras schedule computes in the dtype of its initial_learning_rate
  (`dtype = initial_learning_rate.dtype` in every `__call__`, learning_rate_schedule.py): a Python float is a
  float32 tensor, so the float64 variant passes `tf.constant(lr, tf.float64)` - what a tf-keras user does for a
  float64 schedule. The lr of loop iteration i is the optimizer's schedule evaluated at `optimizer.iterations` = i
  and cast to the variables' dtype, what `Optimizer._compute_current_learning_rate` and SGD's
  `update_step` (`tf.cast(self.learning_rate, variable.dtype)`) do before each update.
* `tf_keras.callbacks.ReduceLROnPlateau`: the callback on a stand-in model whose `optimizer` is a tf-keras SGD with a
  floatx learning_rate variable. tf-keras' callback reads and writes `self.model.optimizer.lr` only (no
  multi-optimizer path as keras 3 has): one callback per param group, each fed the same metric, makes the same
  decisions torch's one scheduler makes for all groups, each with its group's min_lr.
Both variants set floatx when constructed (a process-wide setting): run one variant per process.

Mapping rules, per torch scheduler: PORTING below (docs/porting/tf-keras.md is generated from it). The schedule
classes are keras 3's ancestors - keras 3 (conformance/libraries/keras.py) ported them - so the calls are keras'
under `tf_keras.`; where tf-keras' source behaves otherwise, its entry says so.
Features: plateau, and the interventions of INTERVENTIONS (a skipped update; an lr set by hand where the lr is a
variable: the plateau callback's). No resume, step(epoch) or momentum (no one-cycle or cyclic schedule).
"""

from __future__ import annotations

import os

from conformance.libraries import keras as keras_adapter
from conformance.libraries.common import (
    FLOAT32_CLOSED_FORMS,
    Difference,
    FLOAT64_CLOSED_FORMS,
    Port,
    ScheduleSession,
    Session,
    Unsupported,
    expressed,
    group_lrs,
    only_kwargs,
    per_group,
    ported,
    rejected_as_unsupported,
)
from conformance.model import AdapterInfo, Case

LIBRARY = "tf-keras"
INSTALL = "pip install 'lr-conformance[tf-keras]'"  # `lr-conformance adapters` says it when the library does not import (tox -e tf_keras)


def _tf_keras(port: Port) -> Port:
    """keras 3's port of a scheduler, spelled with tf-keras' module path."""
    call = None if port.call is None else "tf_" + port.call
    return Port(call, port.notes.replace("keras ", "tf-keras ").replace("in keras", "in tf-keras"))


S = "tf_keras.optimizers.schedules."
PORTING = {name: _tf_keras(port) for name, port in keras_adapter.PORTING.items()} | {
    "CosineAnnealingLR": Port(S + "CosineDecay(initial_learning_rate=lr, decay_steps=T_max, alpha=eta_min / lr)",
                              "tf-keras clamps the step at decay_steps (`tf.minimum(global_step_recomp, "
                              "decay_steps)`) and stays at eta_min; torch's CosineAnnealingLR keeps following the "
                              "cosine after T_max (back up towards lr): identical for step <= T_max only. T_max=0 "
                              "divides by zero (tf-keras does not check decay_steps, keras 3 raises): nan."),
    "ReduceLROnPlateau": Port("tf_keras.callbacks.ReduceLROnPlateau(monitor='val_loss', mode=mode, factor=factor, "
                              "patience=patience + 1, min_delta=threshold, cooldown=cooldown + 1 if cooldown else "
                              "0, min_lr=min_lr)  # one callback and optimizer per param group",
                              "as keras 3's: tf-keras reduces when the count of bad epochs *reaches* patience "
                              "(`self.wait >= self.patience`), torch when it *exceeds* it, so torch's p is "
                              "tf-keras' p + 1; the cooldown is decremented before it is tested, so torch's c > 0 "
                              "is c + 1; min_delta is torch's threshold_mode='abs'. Unlike keras 3, tf-keras starts "
                              "from best = +-inf (`_reset`), as torch does. The lr is a floatx variable: "
                              "`old_lr > np.float32(self.min_lr)` compares with min_lr rounded to float32. "
                              "torch's eps has no counterpart."),
}

INTERVENTIONS = {
    "skip-optimizer-step": Port("tf_keras.mixed_precision.LossScaleOptimizer(optimizer) - a non-finite update is "
                                "skipped",
                                "A skipped update does not increment optimizer.iterations, so the schedule does "
                                "not advance, where torch's scheduler.step() still does. ReduceLROnPlateau (a "
                                "callback at epoch end) is unaffected."),
} | {do: port for do, port in keras_adapter.INTERVENTIONS.items() if do != "skip-optimizer-step"}


# Each difference the port notes and expectations describe, and the suite's cases that show it (the expectations
# files list each with its cause; tests/meta/test_documented_differences.py).
DIFFERENCES = (
    Difference("ExponentialLR", "float64 only: a Python-float decay_rate is rounded to float32 by tf.cast before the "
               "float64 schedule uses it", ("exponentiallr/gamma-09", "exponentiallr/long-run")),
    Difference("StepLR", "float64 only: ExponentialDecay(staircase=True)'s decay_rate is rounded to float32 by tf.cast",
               ("steplr/default-gamma", "steplr/step-size-one", "steplr/step-size-two-long-run")),
    Difference("StepLR", "a schedule follows optimizer.iterations, which skipped or accumulated updates do not "
               "advance", ("steplr/amp-skips-first-optimizer-step", "steplr/amp-skips-later-optimizer-step",
                           "steplr/gradient-accumulation-per-batch-scheduler")),
    Difference("CosineAnnealingLR", "CosineDecay clamps at decay_steps: eta_min past T_max",
               ("cosineannealinglr/tmax-10", "cosineannealinglr/eta-min", "cosineannealinglr/far-past-tmax",
                "cosineannealinglr/tmax-one", "cosineannealinglr/eta-min-above-lr", "cosineannealinglr/two-groups",
                "cosineannealinglr/initial-lr-without-last-epoch", "cosineannealinglr/many-short-periods",
                "cosineannealinglr/recursion-drift")),
    Difference("SequentialLR", "CosineDecay with warm-up clamps at warmup_steps + decay_steps",
               ("sequentiallr/warmup-then-cosine",)),
    Difference("LinearLR", "a skipped update does not advance the ramp (optimizer.iterations)",
               ("linearlr/amp-skips-first-optimizer-step",)),
    Difference("ReduceLROnPlateau", "no eps: reductions smaller than torch's eps still happen",
               ("reducelronplateau/eps-stops-reductions-abs",)),
    Difference("ConstantLR", "total_iters=0: the boundary -1 gives lr from step 0", ("constantlr/total-iters-zero",)),
    Difference("LinearLR", "total_iters=0: PolynomialDecay divides 0 by decay_steps 0 (nan)",
               ("linearlr/total-iters-zero",)),
    Difference("PolynomialLR", "total_iters=0: PolynomialDecay divides 0 by decay_steps 0 (nan)",
               ("polynomiallr/total-iters-zero",)),
    Difference("PolynomialLR", "float64 only: a Python-float power is rounded to float32 by tf.cast (0.9; the powers "
               "float32 holds exactly are unaffected)", ("polynomiallr/power-0.9-two-groups",)),
)

# Upstream-ready reports (docs/porting/tf-keras.md renders them after the mapping).
REPORTS = """
### A float64 schedule rounds its Python-float constants to float32 (`tf.cast` of a Python float)

**Promise.** Every schedule of `tf_keras/src/optimizers/schedules/learning_rate_schedule.py` computes in the dtype
of its `initial_learning_rate` (`dtype = initial_learning_rate.dtype`, then `tf.cast(..., dtype)` of the other
arguments), so a float64 `initial_learning_rate` makes a float64 schedule; `decay_rate` is documented as "A Python
number".

**What happens.** `tf.cast(self.decay_rate, dtype)` converts the Python float to a tensor first, without a dtype,
which makes it float32, and only then casts it to float64: `tf.cast(0.9, tf.float64)` is 0.8999999761581421. The
float64 schedule then multiplies by float32's rounding of `decay_rate` at every power (relative error ~2.6e-8 per
power of 0.9, 1.5e-8 for 0.1), six orders of magnitude above float64's. `tf.convert_to_tensor(0.9, tf.float64)`
is exact. The same `tf.cast` is applied to ExponentialDecay's and InverseTimeDecay's `decay_rate`, PolynomialDecay's
`end_learning_rate` and `power`, CosineDecay's `warmup_target`, and CosineDecayRestarts' `alpha`, `t_mul` and
`m_mul`. Suite cases: `exponentiallr/gamma-09`, `exponentiallr/long-run`, `steplr/default-gamma`,
`steplr/step-size-one`, and PolynomialDecay's `power` in `polynomiallr/power-0.9-two-groups`
(expectations/tf-keras-float64.toml).

**Minimal case** (tf-keras 2.21.0, tensorflow-cpu 2.21.0, torch 2.13.0):

```python
import tensorflow as tf
import tf_keras

schedule = tf_keras.optimizers.schedules.ExponentialDecay(tf.constant(0.1, tf.float64), decay_steps=1,
                                                          decay_rate=0.9)
for step in range(4):
    print(step, float(schedule(step)))
```

The torch schedule it stands for:

```python
import torch

optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1, dtype=torch.float64))], lr=0.1)
scheduler = torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=0.9)
for step in range(4):
    print(step, optimizer.param_groups[0]["lr"])
    optimizer.step()
    scheduler.step()
```

| step | torch ExponentialLR | tf-keras ExponentialDecay (float64) |
| --- | --- | --- |
| 0 | 0.1 | 0.1 |
| 1 | 0.09000000000000001 | **0.08999999761581422** |
| 2 | 0.08100000000000002 | **0.08099999570846564** |
| 3 | 0.07290000000000002 | **0.07289999420642869** |

**Suggested fix**: `tf.convert_to_tensor(self.decay_rate, dtype=dtype)` (or `tf.cast(tf.constant(self.decay_rate,
dtype=dtype), dtype)`) in place of `tf.cast(self.decay_rate, dtype)`, and the same for the other constants; a
tensor argument keeps today's behaviour. Until then, pass every constant as a float64 tensor.
"""

class _TFKeras(keras_adapter._Keras):
    """keras 3's schedule ports (keras_adapter._Keras._schedule) built from tf-keras' classes."""

    floatx = "float64"

    def __init__(self) -> None:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's start-up chatter about CUDA on stderr
        import tensorflow as tf
        import tf_keras

        tf_keras.backend.set_floatx(self.floatx)
        self._tf = tf
        self._keras = tf_keras
        self._dtype = tf.as_dtype(self.floatx)
        self.info = AdapterInfo(
            name=self.variant,
            version=f"{tf_keras.__version__} (tensorflow {tf.__version__})",
            schedulers=ported(PORTING),
            features=frozenset({"plateau"}) | expressed(INTERVENTIONS),
            tolerance=FLOAT64_CLOSED_FORMS if self.floatx == "float64" else FLOAT32_CLOSED_FORMS,
        )

    def build(self, case: Case) -> Session:
        tf, tf_keras = self._tf, self._keras
        tf_keras.backend.set_floatx(self.floatx)
        lrs = group_lrs(case)
        if case.scheduler.name == "ReduceLROnPlateau":
            return _PlateauSession(tf_keras, case, lrs)
        with rejected_as_unsupported(LIBRARY):
            # keras 3's ports, given the lr as a tensor of the variant's dtype: the schedule computes in it, and
            # the values the port derives from lr (lr * gamma ** k, lr * factor) are computed in it too
            optimizers = [tf_keras.optimizers.SGD(learning_rate=self._schedule(case.scheduler,
                                                                                tf.constant(lr, self._dtype)))
                          for lr in lrs]

        def lr_fn(step: int):
            values = []
            for optimizer in optimizers:
                optimizer.iterations.assign(step)
                schedule = optimizer._learning_rate  # the schedule (or constant) the optimizer was given
                lr = schedule(optimizer.iterations) if callable(schedule) else schedule
                values.append(float(tf.cast(lr, self._dtype)))
            return values

        return ScheduleSession(lr_fn, by_updates=True)  # evaluated at optimizer.iterations: updates applied


class _Model:
    """What tf-keras' ReduceLROnPlateau reads: `model.optimizer.lr`."""

    def __init__(self, optimizer) -> None:
        self.optimizer = optimizer


class _PlateauSession(Session):
    """One tf-keras ReduceLROnPlateau per param group (the callback handles one optimizer), all fed the metric."""

    def __init__(self, tf_keras, case: Case, lrs: list[float]) -> None:
        k = only_kwargs(case.scheduler, {"mode", "factor", "patience", "threshold", "threshold_mode", "cooldown",
                                         "min_lr"})
        if k["threshold_mode"] == "rel" and k["threshold"] != 0:
            raise Unsupported("threshold_mode='rel': tf-keras' min_delta is an absolute threshold")
        self.backend = tf_keras.backend
        self.optimizers = [tf_keras.optimizers.SGD(learning_rate=lr) for lr in lrs]
        self.callbacks = []
        with rejected_as_unsupported(LIBRARY):
            for optimizer, min_lr in zip(self.optimizers, per_group(k["min_lr"], len(lrs), "min_lr")):
                callback = tf_keras.callbacks.ReduceLROnPlateau(
                    monitor="val_loss", mode=k["mode"], factor=k["factor"], patience=k["patience"] + 1,
                    min_delta=k["threshold"], cooldown=k["cooldown"] + 1 if k["cooldown"] else 0, min_lr=min_lr)
                callback.set_model(_Model(optimizer))
                callback.on_train_begin()
                self.callbacks.append(callback)
        self.epoch = 0

    def lrs(self):
        return [float(self.backend.get_value(optimizer.lr)) for optimizer in self.optimizers]

    def set_group(self, group, key, value) -> None:
        if key != "lr":
            raise Unsupported(f"tf-keras has no {key} to set by hand")
        self.optimizers[group].lr = value  # assigns the variable the callback reads and writes

    def optimizer_step(self) -> None:
        pass

    def scheduler_step(self, metric=None, epoch=None) -> None:
        for callback in self.callbacks:
            callback.on_epoch_end(self.epoch, logs={"val_loss": metric})
        self.epoch += 1


class TFKeras64(_TFKeras):
    """tf-keras with float64 schedules (a float64 initial_learning_rate) and floatx float64."""

    floatx = "float64"
    variant = "tf-keras-float64"


class TFKeras32(_TFKeras):
    """tf-keras with the default float32 (Python-float initial_learning_rate, floatx float32)."""

    floatx = "float32"
    variant = "tf-keras-float32"
