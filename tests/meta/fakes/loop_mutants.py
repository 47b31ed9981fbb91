"""torch 2.13's StepLR, each with one change that only a real training loop shows: on the textbook loop
(observe, optimizer.step, scheduler.step, with a resume or step(epoch) at most) every mutant gives torch's
traces bit for bit, so before the case language had interventions (spec 4.5) each passed the whole suite.
tests/meta/test_interventions.py shows that each now fails `run`, on intervention cases only.

Each is an adapter (the torch reference adapter with StepLR replaced, as in fakes/deviants.py), so
`lr-conformance run --adapter tests/meta/fakes/loop_mutants.py:StepLRChainsOwnLr` runs it from the command line.
"""

from __future__ import annotations

import torch.optim.lr_scheduler as torch_schedulers
from fakes.deviants import _deviant


class _StepLRChainsOwnLr(torch_schedulers.StepLR):
    """Decays its own last lr instead of the optimizer's: an lr set by hand, or by a second scheduler, is lost
    at the next decay (a port that keeps the schedule's state apart from the optimizer)."""

    def get_lr(self):
        torch_schedulers._warn_get_lr_called_within_step(self)
        if (self.last_epoch == 0) or (self.last_epoch % self.step_size != 0):
            return torch_schedulers._param_groups_val_list(self.optimizer, "lr")
        own = getattr(self, "_last_lr", None)  # none yet while constructing (last_epoch=k): the optimizer's
        lrs = own if own is not None else [group["lr"] for group in self.optimizer.param_groups]
        return [lr * self.gamma for lr in lrs]


class _StepLRCountsOptimizerSteps(torch_schedulers.StepLR):
    """Advances only after an optimizer step (a port that ties the schedule to optimizer steps): a step AMP
    skipped, or an accumulation iteration, holds the schedule (once the optimizer has stepped: before that it
    steps as torch does, so the textbook and scheduler-first loops cannot tell)."""

    def __init__(self, optimizer, *args, **kwargs):
        self._optimizer_steps = self._seen = 0

        def count(*_):
            self._optimizer_steps += 1

        super().__init__(optimizer, *args, **kwargs)  # first: its checks of the optimizer are torch's own
        optimizer.register_step_post_hook(count)

    def step(self, epoch=None):
        if self._seen and epoch is None and self._optimizer_steps == self._seen:
            return  # no optimizer step since the last scheduler step (once the optimizer has stepped at all)
        self._seen = self._optimizer_steps
        super().step(epoch)


class _StepLRQuietGetLr(torch_schedulers.StepLR):
    """get_lr() called by the user returns the last lr, without the warning (a port that made get_lr an alias
    of get_last_lr)."""

    def get_lr(self):
        if not self._get_lr_called_within_step:
            return list(self._last_lr)
        return super().get_lr()


class _StepLRLoadSetsLr(torch_schedulers.StepLR):
    """Loading its state dict also writes its last lr into the optimizer (a port whose checkpoint restores the lr
    from the scheduler): invisible when the optimizer's state is loaded too, wrong when it is not."""

    def load_state_dict(self, state_dict):
        super().load_state_dict(state_dict)
        for group, lr in zip(self.optimizer.param_groups, self._last_lr):
            group["lr"] = lr


class _StepLRSavesAFunction(torch_schedulers.StepLR):
    """Keeps a function in its state dict (a port that saves the callable it rounds lrs with): pickled by
    reference, it round-trips through torch.load(weights_only=False) unnoticed, but torch.load(weights_only=True)
    refuses the checkpoint - an error event of phase resume where torch resumes."""

    def state_dict(self):
        return {**super().state_dict(), "_round": round}


StepLRChainsOwnLr = _deviant("StepLRChainsOwnLr", "steplr-chains-own-lr", "StepLR", _StepLRChainsOwnLr)
StepLRCountsOptimizerSteps = _deviant("StepLRCountsOptimizerSteps", "steplr-counts-optimizer-steps", "StepLR",
                                      _StepLRCountsOptimizerSteps)
StepLRQuietGetLr = _deviant("StepLRQuietGetLr", "steplr-quiet-get-lr", "StepLR", _StepLRQuietGetLr)
StepLRLoadSetsLr = _deviant("StepLRLoadSetsLr", "steplr-load-sets-lr", "StepLR", _StepLRLoadSetsLr)

StepLRSavesAFunction = _deviant("StepLRSavesAFunction", "steplr-saves-a-function", "StepLR", _StepLRSavesAFunction)

MUTANTS = (StepLRChainsOwnLr, StepLRCountsOptimizerSteps, StepLRQuietGetLr, StepLRLoadSetsLr, StepLRSavesAFunction)
