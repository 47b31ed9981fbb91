"""tinysched: learning-rate schedules in plain Python, one object per learning rate.

    from tinysched import Cosine
    schedule = Cosine(0.1, period=100)
    for epoch in range(100):
        train(lr=schedule.lr)
        schedule.step()

Every schedule is a closed-form function of the epoch counter, so a checkpoint is just the counter
(`state_dict()` / `load_state_dict()`). Written without looking at any other library's code.

Set TINYSCHED_BUG=1 to switch on a deliberate bug (StepDecay decays one epoch early), for the
lr-conformance walkthrough in ../README.md.
"""

from __future__ import annotations

import math
import os

__version__ = "0.3.0"


class Schedule:
    def __init__(self, base_lr: float) -> None:
        self.base_lr = base_lr
        self.epoch = 0

    @property
    def lr(self) -> float:
        return self.at(self.epoch)

    def at(self, epoch: int) -> float:
        raise NotImplementedError

    def step(self) -> None:
        self.epoch += 1

    def state_dict(self) -> dict:
        return {"epoch": self.epoch}

    def load_state_dict(self, state: dict) -> None:
        self.epoch = state["epoch"]


class StepDecay(Schedule):
    """Multiply by `factor` every `every` epochs."""

    def __init__(self, base_lr: float, every: int, factor: float = 0.1) -> None:
        super().__init__(base_lr)
        if every < 1:
            raise ValueError("every must be at least 1")
        self.every, self.factor = every, factor

    def at(self, epoch: int) -> float:
        if os.environ.get("TINYSCHED_BUG") == "1":
            periods = (epoch + 1) // self.every  # the deliberate bug: one epoch early
        else:
            periods = epoch // self.every
        return self.base_lr * self.factor**periods


class ExponentialDecay(Schedule):
    """Multiply by `rate` every epoch."""

    def __init__(self, base_lr: float, rate: float) -> None:
        super().__init__(base_lr)
        self.rate = rate

    def at(self, epoch: int) -> float:
        return self.base_lr * self.rate**epoch


class Cosine(Schedule):
    """Half a cosine from base_lr down to `floor` over `period` epochs, then back up (periodic)."""

    def __init__(self, base_lr: float, period: int, floor: float = 0.0) -> None:
        super().__init__(base_lr)
        if period < 1:
            raise ValueError("period must be at least 1")
        self.period, self.floor = period, floor

    def at(self, epoch: int) -> float:
        return self.floor + (self.base_lr - self.floor) * (1 + math.cos(math.pi * epoch / self.period)) / 2
