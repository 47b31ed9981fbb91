"""The torch reference adapter with one deliberate bug each. Each fake changes one method and says what the
harness must report for it (the assertions live in tests/meta/test_fake_adapters.py)."""

from __future__ import annotations

import math
from dataclasses import replace

from conformance.adapters.torch_reference import TorchAdapter, TorchSession
from conformance.model import Observation, SchedulerSpec, Trace


class Fake(TorchAdapter):
    """Torch, renamed; subclasses break one thing."""

    label = "fake"
    session_class = TorchSession

    def __init__(self) -> None:
        super().__init__()
        self.info = replace(self.info, name=f"fake-{self.label}")

    def build(self, case):
        session = super().build(case)
        return self.session_class(session.optimizer, session.scheduler)


# --- wrong values ---------------------------------------------------------------------------


class OffByOne(Fake):
    """Steps the scheduler once while building: every lr is the next step's. FAIL where the lr first changes."""

    label = "off-by-one"

    def build(self, case):
        session = super().build(case)
        session.optimizer_step()
        session.scheduler_step()
        return session


class DriftSession(TorchSession):
    def lrs(self):
        lrs = super().lrs()
        if len(lrs) > 1:
            lrs[-1] = math.nextafter(lrs[-1], math.inf)
        return lrs


class OneUlpDrift(Fake):
    """The last param group's lr is one ULP high. FAIL at step 0 on that group, 1 ulp."""

    label = "one-ulp-drift"
    session_class = DriftSession


class NaNSession(TorchSession):
    def lrs(self):
        lrs = super().lrs()
        return [math.nan] + lrs[1:] if self.scheduler.last_epoch >= 2 else lrs


class ReturnsNaN(Fake):
    """Group 0's lr is nan from step 2 on. FAIL at step 2 group 0."""

    label = "returns-nan"
    session_class = NaNSession


class IgnoresLastEpoch(Fake):
    """Drops `last_epoch` from constructor kwargs: a resumed schedule restarts from epoch 0."""

    label = "ignores-last-epoch"

    def _scheduler(self, spec: SchedulerSpec, optimizer):
        kwargs = {key: value for key, value in spec.kwargs.items() if key != "last_epoch"}
        return super()._scheduler(replace(spec, kwargs=kwargs), optimizer)


# --- raising --------------------------------------------------------------------------------


class RaisingSession(TorchSession):
    fail_at = 3  # the scheduler.step() call (0-based) that raises

    def __init__(self, optimizer, scheduler) -> None:
        super().__init__(optimizer, scheduler)
        self.calls = 0

    def scheduler_step(self, metric=None, epoch=None) -> None:
        if self.calls == self.fail_at:
            raise RuntimeError("fake: scheduler.step() blew up")
        self.calls += 1
        super().scheduler_step(metric, epoch)


class RaisesOnStep(Fake):
    """scheduler.step() raises at step 3. ERROR at step 3 (an error event torch does not have)."""

    label = "raises-on-step"
    session_class = RaisingSession


class NoSaveSession(TorchSession):
    def save(self):
        raise NotImplementedError("fake: no checkpoints")


class ClaimsStateDict(Fake):
    """Declares `state_dict` (inherited from torch) but its session cannot save. ERROR at the resume step."""

    label = "claims-state-dict"
    session_class = NoSaveSession


# --- wrong shape ----------------------------------------------------------------------------


class _Reshaped(Fake):
    """Post-processes the whole trace."""

    def reshape(self, case, observations: list[Observation]) -> list[Observation]:
        raise NotImplementedError

    def trace(self, case) -> Trace:
        trace = super().trace(case)
        return replace(trace, observations=tuple(self.reshape(case, list(trace.observations))))


class TooFewSteps(_Reshaped):
    """Stops one step early. FAIL (length) at the last step."""

    label = "too-few-steps"

    def reshape(self, case, observations):
        return [o for o in observations if o.step < case.steps - 1]


class TooManySteps(_Reshaped):
    """Runs one step long. FAIL (length) at step `steps`."""

    label = "too-many-steps"

    def reshape(self, case, observations):
        last = [o for o in observations if o.step == case.steps - 1]
        return observations + [replace(o, step=case.steps) for o in last]


class MissingGroup(_Reshaped):
    """Drops the last param group. FAIL (length) at step 0 on that group."""

    label = "missing-group"

    def reshape(self, case, observations):
        return [o for o in observations if o.group < len(case.groups) - 1]


class ExtraGroup(_Reshaped):
    """Reports one group too many. FAIL (length) at step 0 on the extra group."""

    label = "extra-group"

    def reshape(self, case, observations):
        extra = len(case.groups)
        return observations + [replace(o, group=extra) for o in observations if o.group == 0]


# --- schedulers claimed but missing ---------------------------------------------------------


class ClaimsButRaises(Fake):
    """Claims ExponentialLR (torch's list) but raises NotImplementedError building it. ERROR at step 0."""

    label = "claims-but-raises"

    def _scheduler(self, spec: SchedulerSpec, optimizer):
        if spec.name == "ExponentialLR":
            raise NotImplementedError("fake: ExponentialLR is not implemented")
        return super()._scheduler(spec, optimizer)


class ClaimsButGarbage(Fake):
    """Claims ExponentialLR but builds a constant schedule instead. FAIL at step 1, where torch first decays."""

    label = "claims-but-garbage"

    def _scheduler(self, spec: SchedulerSpec, optimizer):
        if spec.name == "ExponentialLR":
            spec = SchedulerSpec("StepLR", {"step_size": 1000})
        return super()._scheduler(spec, optimizer)


class Honest(Fake):
    """Does not claim ExponentialLR: its cases are UNSUPPORTED, never failures."""

    label = "honest"

    def __init__(self) -> None:
        super().__init__()
        self.info = replace(self.info, schedulers=self.info.schedulers - {"ExponentialLR"})
