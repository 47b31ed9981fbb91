"""Changes that show in endless shapes, for the symptom matching of `fuzz --expectations/--known`
(conformance/fuzz/known.py, tests/meta/test_fuzz_known.py).

torch 2.8.0's SequentialLR restarted the next stage with `step(0)`, which warns that the epoch argument is
deprecated; 2.9 restarts it without: the warning at a milestone is gone, whatever the stages are, and
wherever the SequentialLR sits. `SequentialWarnsAtMilestone` is torch 2.13 with that warning back (issued
after the stage switch, so the trace differs by one extra warning and nothing else).
`SequentialAndStepLRWarn` also warns it from StepLR at each decay: the same symptom in a scheduler no
SequentialLR case has.
"""

from __future__ import annotations

import warnings

import torch.optim.lr_scheduler as torch_schedulers

from fakes.deviants import Deviant


class _SequentialWarnsAtMilestone(torch_schedulers.SequentialLR):
    def step(self, *args, **kwargs):  # passed on: torch's own TypeError for an epoch
        super().step(*args, **kwargs)
        if self.last_epoch in self._milestones:
            warnings.warn(torch_schedulers.EPOCH_DEPRECATION_WARNING, UserWarning, stacklevel=2)


class _StepLRWarnsAtDecay(torch_schedulers.StepLR):
    def step(self, *args, **kwargs):
        super().step(*args, **kwargs)
        if self.last_epoch > 0 and self.last_epoch % self.step_size == 0:
            warnings.warn(torch_schedulers.EPOCH_DEPRECATION_WARNING, UserWarning, stacklevel=2)


# the patched classes keep torch's names: torch puts them in messages
for _patched, _name in ((_SequentialWarnsAtMilestone, "SequentialLR"), (_StepLRWarnsAtDecay, "StepLR")):
    _patched.__name__ = _patched.__qualname__ = _name


class SequentialWarnsAtMilestone(Deviant):
    """SequentialLR warns the deprecated-epoch UserWarning at each milestone, as torch <= 2.8 did."""

    label = "sequential-warns-at-milestone"
    replaces = {"SequentialLR": _SequentialWarnsAtMilestone}


class SequentialAndStepLRWarn(Deviant):
    """SequentialLR at each milestone and StepLR at each decay warn the deprecated-epoch UserWarning."""

    label = "sequential-and-steplr-warn"
    replaces = {"SequentialLR": _SequentialWarnsAtMilestone, "StepLR": _StepLRWarnsAtDecay}
