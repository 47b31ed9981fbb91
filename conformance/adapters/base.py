"""The adapter interface: what an implementation writes once to be graded.

An adapter is any object with

    info: AdapterInfo            # name, version, schedulers, features, observables, tolerance (see model.py)
    trace(case: Case) -> Trace   # run the case, return what the optimizer used at each step
    close() -> None              # optional: release resources

Two helper bases make a typical adapter a few dozen lines:

* `StatefulAdapter`, for libraries with scheduler objects (torch, mmengine, paddle, keras callbacks...):
  implement `build(case) -> Session` and, for `state_dict`, `restore(case, checkpoint) -> Session`. The
  runner then drives every step protocol, records warnings and errors as events, and builds the trace.
* `FunctionAdapter`, for schedules that are pure functions of the step (optax, keras schedules):
  implement `lrs_at(case, step) -> list[float]` (and `momenta_at` if it declares `momentum`).

Everything torch-specific lives in conformance/adapters/torch_reference.py, which uses `StatefulAdapter`
exactly as a third party would.

What an adapter reads from a `Case` (conformance/model.py; the format is golden/cases/README.md):

    case.id               "steplr/gamma-half-step3": for messages and logs
    case.scheduler        SchedulerSpec: .name (a torch class name, "StepLR"), .kwargs (its constructor
                          arguments as data; lr_lambda / scale_fn are vocabulary specs such as
                          {"fn": "exponential", "gamma": 0.9}: conformance.vocabulary.build(spec) makes the
                          function), .children (composites: the wrapped schedulers, in order; None where the
                          case puts None in the list), .on (what it is built on: "optimizer", "second-optimizer"
                          or "none", spec 2.5; declare `wrong_objects` for the last two and None children);
                          .walk() visits the whole tree
    case.groups           one mapping per param group: "lr", and any of "momentum", "betas", "initial_lr";
                          "tensor_lr" there is the harness's flag (case.tensor_group(g)), not a group key
    case.optimizer        OptimizerSpec: .name ("SGD", "Adam", "Adagrad", "AdamW", "Rprop") and .kwargs
    case.steps            how many loop iterations to record
    case.protocol         "standard", "scheduler-first", "resume-state-dict" or "step-epoch" (the runner drives
                          it for a StatefulAdapter; a FunctionAdapter gets standard cases only)
    case.resume_at        the iteration at which the runner calls save() and restore() (state_dict resume)
    case.metrics          ReduceLROnPlateau: the metric passed to scheduler_step at each step
    case.epochs           step-epoch: the epoch passed to scheduler_step at each step
    case.tensor_lr        every lr is a 0-dim float32 tensor in torch (declare `tensor_lr` to be graded on it);
                          case.tensor_group(g) for one group, which a group table may flag alone (declare
                          `group_tensor_lr` too); a kwarg {"tensor": x} is a 0-dim tensor (`tensor_args`)
    case.observes_momentum  a scheduler cycles momentum / Adam's beta1, or the case asks to see it left alone
                          (observe_momentum): report it from momenta()
    case.interventions    what the loop does besides the textbook steps (spec 4.5): the runner interprets
                          them and calls the Session methods below; declare the feature of each you support

Cannot express a case? Raise `Unsupported("why")` (exported by conformance.adapters) from build, restore,
lrs_at or trace: the case is counted as unsupported, never a failure. Any other exception raised while
building or stepping is recorded as the implementation's behaviour (an error event), and is graded: a
NotImplementedError where torch raises nothing is an ERROR.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any

from conformance.model import AdapterInfo, Case, Status, Trace


class Unsupported(Exception):
    """Raised by an adapter (from build/restore/lrs_at/trace) when the library has the case's scheduler but
    not this configuration of it: the case is recorded as UNSUPPORTED with str(exc) as the reason, never as
    a failure. Not for behaviour the library has but gets wrong - that is a difference to report."""

    status = Status.UNSUPPORTED


class Adapter(ABC):
    info: AdapterInfo

    @abstractmethod
    def trace(self, case: Case) -> Trace:
        """Run `case` and return its trace. Errors the implementation raises *as behaviour* (for example a
        ValueError for an invalid argument) belong in the trace as events; anything else may propagate."""

    def close(self) -> None:
        """Release resources (processes, files). Called once when the run ends."""


class Session(ABC):
    """One live optimizer + scheduler pair built for a case, driven by the runner's step protocols."""

    @abstractmethod
    def lrs(self) -> Sequence[float]:
        """The learning rate the optimizer would use now, per param group."""

    def momenta(self) -> Sequence[float] | None:
        """SGD momentum or Adam beta1 per group, for schedulers that drive it (declare `momentum`)."""
        return None

    def last_lrs(self) -> Sequence[float] | None:
        """What the scheduler reports as its last lr (torch's get_last_lr); None if not observable."""
        return None

    @abstractmethod
    def optimizer_step(self) -> None:
        """One optimizer step (parameters need not move; what matters is that the step happened)."""

    @abstractmethod
    def scheduler_step(self, metric: float | None = None, epoch: float | None = None) -> None:
        """Advance the scheduler: with the metric for plateau schedulers, with an explicit epoch for the
        step-epoch protocol, else plainly."""

    def save(self) -> Any:
        """A checkpoint of optimizer and scheduler (declare `state_dict`): a copy (deep, or serialized), never
        the live objects - restore() must show that fresh objects resume from it alone (spec 4.3). Called at
        the start of iteration resume_at, when the scheduler has been stepped resume_at times."""
        raise NotImplementedError("this adapter does not declare the state_dict feature")

    # Interventions (spec 4.5). The runner calls each only for cases needing its feature, which the adapter
    # declares when it implements the method; the defaults say which feature is missing.

    def set_group(self, group: int, key: str, value: float) -> None:
        """`set`: write `value` into param group `group`'s `key` (lr, initial_lr, momentum), as a user's
        `optimizer.param_groups[group][key] = value` (declare `set_group`)."""
        raise NotImplementedError("this adapter does not declare the set_group feature")

    def add_param_group(self, options: dict) -> None:
        """`add-param-group`: a new param group with these keys (the optimizer's defaults for the rest)
        (declare `add_param_group`)."""
        raise NotImplementedError("this adapter does not declare the add_param_group feature")

    def wrap_optimizer_step(self, keep_attributes: bool) -> None:
        """`wrap-optimizer-step`: replace the optimizer's step with a function calling it; with
        `keep_attributes`, one that carries the original's attributes (functools.wraps) (declare
        `wrap_optimizer_step`)."""
        raise NotImplementedError("this adapter does not declare the wrap_optimizer_step feature")

    def add_scheduler(self, spec) -> Session:
        """`add-scheduler`: build the SchedulerSpec `spec` on this session's optimizer and return a Session whose
        `scheduler_step()` steps it (declare `add_scheduler`). When it is stepped - from the action's `from`, and
        whether this session's own scheduler still is (`replace`) - is the runner's (spec 4.5), so this method
        serves those too; they are features of their own (`add_scheduler_from`, `replace_scheduler`) because an
        implementation behind the subprocess protocol runs the loop itself."""
        raise NotImplementedError("this adapter does not declare the add_scheduler feature")

    def get_lr(self) -> Sequence[float]:
        """`call get_lr`: what the user's `scheduler.get_lr()` returns (declare `call_scheduler`)."""
        raise NotImplementedError("this adapter does not declare the call_scheduler feature")

    def get_last_lr(self) -> Sequence[float]:
        """`call get_last_lr`: what the user's `scheduler.get_last_lr()` returns (declare `call_scheduler`)."""
        raise NotImplementedError("this adapter does not declare the call_scheduler feature")

    def read_scheduler(self, attribute: str) -> float | Sequence[float]:
        """`read-scheduler`: the case's scheduler's `attribute` (model.READABLE_ATTRIBUTES: last_epoch, T_cur,
        T_i, base_lrs, min_lrs, best, num_bad_epochs, cooldown_counter) as a user's `scheduler.<attribute>`
        reads it: a number, or a list of numbers for base_lrs / min_lrs. Raise AttributeError where the
        scheduler has no such attribute, as torch does (declare `read_scheduler`)."""
        raise NotImplementedError("this adapter does not declare the read_scheduler feature")

    def set_scheduler(self, attribute: str, value) -> None:
        """`set-scheduler`: a user's `scheduler.<attribute> = value` (model.SETTABLE_ATTRIBUTES: last_epoch an
        int, T_cur a number, base_lrs / min_lrs a list replacing the whole list) (declare `set_scheduler`)."""
        raise NotImplementedError("this adapter does not declare the set_scheduler feature")

    def change_argument(self, argument: str, group: int | None, multiply: float | None, value: float | None) -> None:
        """`change-argument`: change in place a tensor the user passed when this session's objects were built -
        `argument` "lr": group `group`'s lr tensor as the optimizer was given it (whether or not the group
        still holds it); else the case's scheduler's tensor argument of that name (element `group` of a list)
        - as `tensor.mul_(multiply)`, or `tensor.fill_(value)` (declare `change_argument`)."""
        raise NotImplementedError("this adapter does not declare the change_argument feature")


class StatefulAdapter(Adapter):
    @abstractmethod
    def build(self, case: Case) -> Session:
        """Construct the optimizer and scheduler for `case`. Raise what the implementation raises."""

    def restore(self, case: Case, checkpoint: Any) -> Session:
        """Fresh objects for `case`, then load `checkpoint` (from Session.save) into them. For the `resume`
        intervention (declare `partial_resume`) the runner passes `load=`: the state dicts to load, in order,
        ("optimizer",), ("scheduler",), ("scheduler", "optimizer") or (), one listed twice the same state dict
        object loaded again (declare `reused_state_dict`); for one whose fresh scheduler is built
        with other arguments (declare `resume_other_arguments`) it passes `scheduler=`, the SchedulerSpec to build
        instead of case.scheduler (same class, other kwargs) before loading; for one stating how the checkpoint is
        read back (declare `weights_only`) it passes `weights_only=` True or False (torch.load's argument: True
        refuses anything but tensors and plain data)."""
        raise NotImplementedError("this adapter does not declare the state_dict feature")

    def trace(self, case: Case) -> Trace:
        from conformance.runner import drive

        return drive(case, self)


class FunctionAdapter(Adapter):
    """For schedules that are pure functions of the step number. Supports the standard protocol only."""

    @abstractmethod
    def lrs_at(self, case: Case, step: int) -> Sequence[float]:
        """The lr per group at loop iteration `step` (0-based)."""

    def momenta_at(self, case: Case, step: int) -> Sequence[float] | None:
        return None

    def trace(self, case: Case) -> Trace:
        from conformance.runner import observations_at

        observations = []
        observes_momentum = case.observes_momentum
        for step in range(case.steps):
            momenta = self.momenta_at(case, step) if observes_momentum else None
            observations += observations_at(step, case, self.lrs_at(case, step), momenta, None, observes_momentum,
                                            FUNCTION_NAMES)
        return Trace(tuple(observations))


FUNCTION_NAMES = {"lrs": "lrs_at()", "momenta": "momenta_at()", "last_lrs": "last_lrs"}
