"""Torch, with markup in everything an adapter supplies: its name and version, an error it raises, an
Unsupported reason, a warning's message, a value that differs. Every view (HTML and Markdown reports, the
site) must show this text escaped, never as markup (tests/meta/test_spot_checks.py)."""

from __future__ import annotations

import warnings
from dataclasses import replace

from conformance.adapters import Unsupported
from conformance.adapters.torch_reference import TorchAdapter, TorchSession

# A tag, an attribute-breaking pair of quotes and an entity: escaped, each is visible text; unescaped, markup.
HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)> " \' &amp;'

UNSUPPORTED = "steplr/default-gamma"  # raises Unsupported(HOSTILE) when built
RAISES = "steplr/step-size-one"  # scheduler.step() raises ValueError(HOSTILE) at step 1
WARNS = "steplr/gamma-one"  # scheduler.step() warns HOSTILE at step 1
DIFFERS = "steplr/gamma-half-step3"  # lr doubled from step 2: a plain FAIL, in the plotted report


class HostileSession(TorchSession):
    case_id = ""
    steps = 0

    def scheduler_step(self, metric=None, epoch=None) -> None:
        super().scheduler_step(metric, epoch)
        self.steps += 1
        if self.steps == 1 and self.case_id == RAISES:
            raise ValueError(HOSTILE)
        if self.steps == 1 and self.case_id == WARNS:
            warnings.warn(HOSTILE, UserWarning)

    def lrs(self):
        lrs = super().lrs()
        return [lr * 2 for lr in lrs] if self.case_id == DIFFERS and self.steps >= 2 else lrs


class HostileText(TorchAdapter):
    def __init__(self) -> None:
        super().__init__()
        self.info = replace(self.info, name="hostile" + HOSTILE, version="1" + HOSTILE)

    def build(self, case):
        if case.id == UNSUPPORTED:
            raise Unsupported(HOSTILE)
        session = super().build(case)
        hostile = HostileSession(session.optimizer, session.scheduler)
        hostile.case_id = case.id
        return hostile
