"""torch 2.13 with one change only a loop that changes a user's tensor in place shows (spec 4.5,
`change-argument`): SWALR's groups keep the very `swa_lr` tensor the user passed, and CyclicLR keeps the user's
`max_lr` tensor as its `max_lrs`, instead of copies. Every lr, warning and state dict is torch's bit for bit
while nobody touches the user's tensors - the cases of these schedulers without a change-argument all pass -
but `swa_lr.mul_(0.5)` or `max_lr.mul_(0.5)` after construction now moves the schedule, which torch's
test_constant_initial_params_swalr / _cyclelr say it must not. After a resume the loaded state dicts replace
the aliases, as they would in such a port. tests/meta/test_interventions.py shows both.

    lr-conformance run --adapter tests/meta/fakes/argument_mutants.py:ArgumentsAliased
"""

from __future__ import annotations

import torch

from conformance.adapters.torch_reference import TorchAdapter


class ArgumentsAliased(TorchAdapter):
    label = "arguments-aliased"

    def build(self, case, scheduler=None):
        session = super().build(case, scheduler)
        built, given = session.scheduler, session._arguments
        if type(built).__name__ == "SWALR" and isinstance(given.get("swa_lr"), torch.Tensor):
            for group in session.optimizer.param_groups:
                if float(group["swa_lr"]) == float(given["swa_lr"]):
                    group["swa_lr"] = given["swa_lr"]  # the user's tensor itself, not a copy of it
        if type(built).__name__ == "CyclicLR" and isinstance(given.get("max_lr"), torch.Tensor):
            built.max_lrs = [given["max_lr"] if float(m) == float(given["max_lr"]) else m for m in built.max_lrs]
        return session
