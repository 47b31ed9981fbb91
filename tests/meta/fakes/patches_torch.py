"""An in-process candidate that patches torch when it is imported, as a hostile or careless port might: StepLR's
lr is off by one part in 10^9 - for every user of torch in the process, the fuzz reference included
(tests/meta/test_hostile.py: fuzz must refuse such a reference, not report "no divergence")."""

import torch.optim.lr_scheduler as lr_scheduler

from conformance.adapters.torch_reference import TorchAdapter

_get_lr = lr_scheduler.StepLR.get_lr


def _off(self):
    return [lr * (1 + 1e-9) for lr in _get_lr(self)]


lr_scheduler.StepLR.get_lr = _off
lr_scheduler.StepLR._get_closed_form_lr = _off


class PatchedTorch(TorchAdapter):
    """torch itself, after the patch: agrees with the patched reference on every case."""
