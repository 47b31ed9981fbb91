"""In-process adapters that misbehave the way a library or an adapter author's bug can: `sys.exit`, stdout
noise, `os._exit`, hangs, `trace()` returning something that is not a Trace, lists of different lengths.
Nothing an adapter does in process may end the run, turn it into a false OK, or corrupt the machine-readable
output (the assertions live in tests/meta/test_adapter_faults.py).

They wrap a torch-free StepLR (lr = base * gamma ** (steps // step_size), bit-exact with torch for gamma 0.5)
so that serving them in a child process (--isolate) costs a Python start, not a torch import.
"""

from __future__ import annotations

import ctypes
import math
import os
import sys
import time
import warnings

from conformance.adapters import FunctionAdapter, Session, StatefulAdapter
from conformance.model import AdapterInfo, Trace


class StepSession(Session):
    def __init__(self, case, count: int = 0) -> None:
        self.case = case
        self.count = count

    def lrs(self):
        kwargs = self.case.scheduler.kwargs
        factor = kwargs.get("gamma", 0.1) ** (self.count // kwargs["step_size"])
        return [group["lr"] * factor for group in self.case.groups]

    def last_lrs(self):
        return self.lrs()

    def optimizer_step(self) -> None:
        pass

    def scheduler_step(self, metric=None, epoch=None) -> None:
        self.count += 1

    def save(self):
        return self.count


class StepAdapter(StatefulAdapter):
    """Correct on StepLR: passes every StepLR case it supports."""

    info = AdapterInfo("stateful-steplr", "1", frozenset({"StepLR"}), frozenset({"state_dict"}),
                       frozenset({"last_lr"}))
    session_class = StepSession

    def build(self, case):
        return self.session_class(case)

    def restore(self, case, checkpoint):
        return self.session_class(case, checkpoint)


# --- the warnings machinery changed in one call: that call's business, not the next call's --------------


class WarningStepSession(StepSession):
    """Warns at every scheduler step, always from the same line (what Python's default filter shows once)."""

    def scheduler_step(self, metric=None, epoch=None) -> None:
        warnings.warn("stepped", UserWarning)
        super().scheduler_step(metric, epoch)


class TamperingAdapter(StepAdapter):
    """Warns at every scheduler step; building the session first does `tamper` to the warnings machinery,
    without a context of its own (as a library may on import or construction)."""

    session_class = WarningStepSession
    tamper = staticmethod(lambda: None)

    def build(self, case):
        self.tamper()
        warnings.warn("built", UserWarning)  # after tampering: whether this one is recorded is build's business
        return super().build(case)


class IgnoresWarningsFromBuild(TamperingAdapter):
    tamper = staticmethod(lambda: warnings.simplefilter("ignore"))


class ShowsWarningsOnceFromBuild(TamperingAdapter):
    tamper = staticmethod(lambda: warnings.simplefilter("default"))


class ReplacesShowwarningInBuild(TamperingAdapter):
    tamper = staticmethod(lambda: setattr(warnings, "showwarning", lambda *args, **kwargs: None))


class ResetsWarningsInBuild(TamperingAdapter):
    tamper = staticmethod(warnings.resetwarnings)


# --- sys.exit anywhere: that case's ERROR, never the end of the run -------------------------------------


class ExitsInBuild(StepAdapter):
    def build(self, case):
        sys.exit(0)


class ExitsInRestore(StepAdapter):
    def restore(self, case, checkpoint):
        sys.exit(3)


class ExitingStepSession(StepSession):
    def scheduler_step(self, metric=None, epoch=None) -> None:
        if self.count == 2:
            sys.exit(0)
        super().scheduler_step(metric, epoch)


class ExitsInSchedulerStep(StepAdapter):
    """sys.exit(0) in the third scheduler.step() call (loop iteration 2)."""

    session_class = ExitingStepSession


class ExitingLrsSession(StepSession):
    def lrs(self):
        if self.count == 1:
            sys.exit("bye")
        return super().lrs()


class ExitsInLrs(StepAdapter):
    """sys.exit('bye') reading the lrs at loop iteration 1."""

    session_class = ExitingLrsSession


class ExitsInTrace(StepAdapter):
    def trace(self, case):
        sys.exit(0)


class ExitsInLrsAt(FunctionAdapter):
    info = AdapterInfo("function-steplr", "1", frozenset({"StepLR"}))

    def lrs_at(self, case, step):
        sys.exit(0)


class ExitsOnInfo(StepAdapter):
    """Its declaration itself calls sys.exit (a property that imports a library which exits)."""

    @property
    def info(self):
        sys.exit(0)


class RaisesOnInfo(StepAdapter):
    @property
    def info(self):
        raise RuntimeError("no declaration today")


class ExitsOnConstruct(StepAdapter):
    def __init__(self) -> None:
        sys.exit(0)


class ExitsOnClose(StepAdapter):
    def close(self) -> None:
        sys.exit(0)


class InterruptedSession(StepSession):
    def scheduler_step(self, metric=None, epoch=None) -> None:
        raise KeyboardInterrupt  # what Ctrl-C raises, wherever the run is


class Interrupted(StepAdapter):
    """Ctrl-C while an adapter runs: the run stops (exit 130), it is not a case result."""

    session_class = InterruptedSession


# --- not a trace ------------------------------------------------------------------------------------------


class ReturnsNone(StepAdapter):
    def trace(self, case):
        return None


class ReturnsList(StepAdapter):
    def trace(self, case):
        return [[0, 0, 0.1]]


class ReturnsStrings(StepAdapter):
    """A Trace whose lrs are strings (a library that returns Decimal-ish text)."""

    def trace(self, case):
        trace = super().trace(case)
        observations = tuple(o.__class__(o.step, o.group, str(o.lr)) for o in trace.observations)
        return Trace(observations, trace.events)


class ExtraLrSession(StepSession):
    def lrs(self):
        return super().lrs() + [0.1]


class MoreLrsThanLastLrs(StepAdapter):
    """session.lrs() has one value too many; session.last_lrs() has one per group."""

    session_class = ExtraLrSession

    def build(self, case):
        session = super().build(case)
        session.last_lrs = StepSession(case).lrs  # one per group, as the case has
        return session


class TooManyLrsAt(FunctionAdapter):
    """lrs_at returns one lr more than the case has param groups (and nothing else to be inconsistent with)."""

    info = AdapterInfo("function-steplr", "1", frozenset({"StepLR"}))

    def lrs_at(self, case, step):
        return StepSession(case, step).lrs() + [0.1]


# --- wrong values: a 1-ulp drift buries a real bug ---------------------------------------------------------


class DriftThenJumpSession(StepSession):
    def lrs(self):
        lrs = super().lrs()
        if self.count == 8:
            lrs[0] *= 2
        elif self.count >= 1:
            lrs[0] = math.nextafter(lrs[0], 1.0)
        return lrs


class DriftsThenJumps(StepAdapter):
    """1 ulp high from step 1 on, and twice the lr at step 8: the first divergence is step 1, the first large
    one step 8."""

    session_class = DriftThenJumpSession


# --- stdout noise, process exit, hang ---------------------------------------------------------------------


class NoisySession(StepSession):
    def lrs(self):
        print("noise from print() in lrs()")
        return super().lrs()


class Noisy(StepAdapter):
    """Prints from Python, writes to fd 1 and printf()s from C (buffered by libc): stdout stays clean."""

    session_class = NoisySession

    def __init__(self) -> None:
        print("noise from print() in __init__")

    def build(self, case):
        print("noise from print() in build()")
        sys.stdout.flush()
        os.write(1, b"noise from write(1) in build()\n")
        ctypes.CDLL(None).printf(b"noise from printf() in build()\n")
        return super().build(case)


class SlowToLoad(StepAdapter):
    """Takes 0.5 s to construct (a library import), then runs every case at once."""

    def __init__(self) -> None:
        time.sleep(0.5)


class ExitsProcess(StepAdapter):
    """os._exit(3) in build: no Python code runs after it. Only --isolate can contain it (CRASH)."""

    def build(self, case):
        os._exit(3)


class Sleeps(StepAdapter):
    """Sleeps 20 s in build: only a child process can be stopped (--timeout / --isolate)."""

    def build(self, case):
        time.sleep(20)
        return super().build(case)
