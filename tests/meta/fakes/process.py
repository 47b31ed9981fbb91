"""Process-level fakes, run through the subprocess transport (`python -m conformance.serve --adapter
tests/meta/fakes/process.py:Hangs`). They wrap a torch-free closed-form StepLR so that a restart costs a
Python start, not a torch import. They misbehave only on cases tagged `trigger`."""

from __future__ import annotations

import os
import signal
import sys
import threading

from conformance.adapters import FunctionAdapter
from conformance.model import AdapterInfo

TRIGGER = "trigger"


class ClosedFormStepLR(FunctionAdapter):
    """StepLR as base_lr * gamma ** (step // step_size): bit-exact with torch when gamma is a power of two."""

    info = AdapterInfo("closed-form-steplr", "1", frozenset({"StepLR"}))

    def lrs_at(self, case, step):
        kwargs = case.scheduler.kwargs
        factor = kwargs.get("gamma", 0.1) ** (step // kwargs["step_size"])
        return [group["lr"] * factor for group in case.groups]


class Hangs(ClosedFormStepLR):
    """Never answers a triggered case: TIMEOUT, then a fresh process for the next case."""

    def trace(self, case):
        if TRIGGER in case.tags:
            threading.Event().wait()
        return super().trace(case)


class KillsItself(ClosedFormStepLR):
    """SIGKILLs its own process on a triggered case: CRASH, then a fresh process for the next case."""

    def trace(self, case):
        if TRIGGER in case.tags:
            os.kill(os.getpid(), signal.SIGKILL)
        return super().trace(case)


class Noisy(ClosedFormStepLR):
    """Prints to stdout from Python and from the C level: conformance.serve must keep the protocol clean."""

    def trace(self, case):
        print("noise from print()")
        sys.stdout.flush()
        os.write(1, b"noise from write(1)\n")
        return super().trace(case)
