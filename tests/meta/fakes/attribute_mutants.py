"""torch 2.13's StepLR, CosineAnnealingWarmRestarts and ReduceLROnPlateau with one change only a loop that reads
a scheduler attribute shows (spec 4.5, `read-scheduler`): the lrs, warnings and state dicts are torch's bit for
bit, but `scheduler.last_epoch`, as the user reads it between steps, stops at 5 once the scheduler has stepped
past it (a port that keeps its true count elsewhere, a "global step", and updates the public `last_epoch` only
up to a limit). Before the case language could read attributes, this passed the whole suite: the mutants of
torch's CosineAnnealingWarmRestarts that change only `last_epoch` (m0611, m0649, m0650) survived the same way.
tests/meta/test_interventions.py shows it passes every case of these schedulers without a read-scheduler of
last_epoch, and fails each one that reads it past step 5.

    lr-conformance run --adapter tests/meta/fakes/attribute_mutants.py:LastEpochStops
"""

from __future__ import annotations

import torch.optim.lr_scheduler as torch_schedulers
from fakes.deviants import Deviant

STOP = 5  # the last last_epoch the user sees


class _LastEpochStops:
    """Steps with the true count (so every lr is torch's), then shows the user min(true count, STOP). A
    last_epoch the user wrote by hand since (anything but what it showed) is taken as the count."""

    def step(self, *args, **kwargs):
        shown = self.__dict__.get("_shown")
        if shown is not None and self.last_epoch == shown:
            self.last_epoch = self._true
        super().step(*args, **kwargs)
        self._true = self.last_epoch
        self.last_epoch = self._shown = min(self.last_epoch, STOP)


def _patched(name: str) -> type:
    base = getattr(torch_schedulers, name)
    return type(name, (_LastEpochStops, base), {"__doc__": _LastEpochStops.__doc__, "__qualname__": name})


SCHEDULERS = ("StepLR", "CosineAnnealingWarmRestarts", "ReduceLROnPlateau")
LastEpochStops = type("LastEpochStops", (Deviant,), {"label": "last-epoch-stops",
                                                     "replaces": {name: _patched(name) for name in SCHEDULERS},
                                                     "__doc__": __doc__})
