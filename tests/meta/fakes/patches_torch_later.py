"""An in-process candidate that imports clean and patches torch at its first trace: StepLR's lr off by one part
in 10^9 from then on, for every user of torch in the process. The reference's check of the goldens (run after
both adapters are loaded, before any trace) passes; only a reference in a process of its own stays torch
(tests/meta/test_hostile.py)."""

import torch.optim.lr_scheduler as lr_scheduler

from conformance.adapters.torch_reference import TorchAdapter

_get_lr = lr_scheduler.StepLR.get_lr


def _off(self):
    return [lr * (1 + 1e-9) for lr in _get_lr(self)]


class PatchesWhileTracing(TorchAdapter):
    """torch, patched by its own first trace."""

    def trace(self, case):
        lr_scheduler.StepLR.get_lr = _off
        lr_scheduler.StepLR._get_closed_form_lr = _off
        return super().trace(case)
