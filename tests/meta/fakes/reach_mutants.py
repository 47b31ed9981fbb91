"""torch 2.13's schedulers, each with one change that only the case language's `on`, `{ none = true }` children
(spec 2.5) or a state dict loaded twice (spec 4.5) shows: before those existed each passed the whole suite (they
are the mutation campaign's m0012, m0227 and m0076, tools/README.md). tests/meta/test_wrong_objects.py shows
that each now fails `run` on those cases only.

Each is an adapter (the torch reference adapter with one class replaced, as in fakes/deviants.py), so
`lr-conformance run --adapter tests/meta/fakes/reach_mutants.py:StepLRDuckTyped` runs it from the command line.
"""

from __future__ import annotations

import torch.optim.lr_scheduler as torch_schedulers
from fakes.deviants import _deviant


class _StepLRDuckTyped(torch_schedulers.StepLR):
    """Takes anything with param_groups for an optimizer (a port that duck-types instead of torch's isinstance
    check): None is an AttributeError, not torch's TypeError."""

    def __init__(self, optimizer, *args, **kwargs):
        optimizer.param_groups  # noqa: B018 - what a duck-typed port touches first
        super().__init__(optimizer, *args, **kwargs)


class _SequentialLRUnchecked(torch_schedulers.SequentialLR):
    """Checks neither that its stages are schedulers nor that they share its optimizer (a port that trusts its
    list): None fails later with an AttributeError, a stage on another optimizer is accepted."""

    def __init__(self, optimizer, schedulers, milestones, last_epoch=-1):
        # torch 2.13's SequentialLR.__init__ without the `optimizer` attribute and same-optimizer checks
        if len(schedulers) < 1:
            raise ValueError(f"{self.__class__.__name__} expects at least one scheduler, but got no scheduler.")
        for idx, scheduler in enumerate(schedulers):
            if isinstance(scheduler, torch_schedulers.ReduceLROnPlateau):
                raise ValueError(
                    f"{self.__class__.__name__} does not support `ReduceLROnPlateau` scheduler as it requires "
                    "additional kwargs to be specified when calling `step`, "
                    f"but got one at index {idx} in the given schedulers sequence.")
        if len(milestones) != len(schedulers) - 1:
            raise ValueError(
                "Sequential Schedulers expects number of schedulers provided to be one more than the number of "
                f"milestone points, but got number of schedulers {len(schedulers)} and the number of milestones "
                f"to be equal to {len(milestones)}")
        self._schedulers, self._milestones = schedulers, milestones
        self.last_epoch, self.optimizer = last_epoch + 1, optimizer
        for group in self.optimizer.param_groups:
            torch_schedulers._update_param_group_val(group, "lr", group["initial_lr"])
        self.recursive_undo()
        idx = torch_schedulers.bisect_right(self._milestones, 0)
        self._schedulers[idx]._initial_step()
        self._last_lr = schedulers[idx].get_last_lr()


class _LambdaLRKeepsThePoppedKey(torch_schedulers.LambdaLR):
    """load_state_dict pops lr_lambdas from the caller's dict and does not put it back (torch before the fix of
    pytorch#32756): a checkpoint loaded once is right, the same dict loaded again is a KeyError."""

    def load_state_dict(self, state_dict):
        lr_lambdas = state_dict.pop("lr_lambdas")
        self.__dict__.update(state_dict)
        for idx, fn in enumerate(lr_lambdas):
            if fn is not None:
                self.lr_lambdas[idx].__dict__.update(fn)


StepLRDuckTyped = _deviant("StepLRDuckTyped", "steplr-duck-typed", "StepLR", _StepLRDuckTyped)
SequentialLRUnchecked = _deviant("SequentialLRUnchecked", "sequentiallr-unchecked", "SequentialLR",
                                 _SequentialLRUnchecked)
LambdaLRKeepsThePoppedKey = _deviant("LambdaLRKeepsThePoppedKey", "lambdalr-keeps-the-popped-key", "LambdaLR",
                                     _LambdaLRKeepsThePoppedKey)

# each with the cases (by feature) that alone may tell it from torch
MUTANTS = ((StepLRDuckTyped, "wrong_objects"), (SequentialLRUnchecked, "wrong_objects"),
           (LambdaLRKeepsThePoppedKey, "reused_state_dict"))
