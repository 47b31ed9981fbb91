"""A port with coarse declarations: it declares every scheduler and feature torch has, but can express only
plain cases, and raises `Unsupported` for the rest - as a library adapter written from a library's docs does
(issue 18: 97% of the cases drawn against one such adapter were unsupported). What it refuses: more than one
param group, any optimizer but SGD, any protocol but the standard loop, tensor lrs, interventions, and per
scheduler a few argument values (those of REFUSED). Where it runs a case it is torch, except that StepLR decays
one step late (deviants.StepLRLate): a planted deviation the search must still reach."""

from __future__ import annotations

from conformance.adapters.base import Unsupported
from fakes.deviants import StepLRLate

# scheduler -> {argument: the values it has no equivalent for}
REFUSED = {
    "StepLR": {"gamma": (0.5, 0.1, 0.0)},
    "CosineAnnealingWarmRestarts": {"T_mult": (2, 3)},
    "ReduceLROnPlateau": {"threshold_mode": ("abs",), "mode": ("max",)},
    "CyclicLR": {"mode": ("triangular2", "exp_range")},
    "OneCycleLR": {"three_phase": (True,), "anneal_strategy": ("linear",)},
    "ConstantLR": {"factor": (0.25, 0.1, 0.0)},
    "LinearLR": {"start_factor": (0.25, 0.1, 0.0)},
}


def refusal(case) -> str | None:
    """Why this port cannot express `case`, or None."""
    if len(case.groups) > 1:
        return "one param group only"
    if case.optimizer.name != "SGD":
        return f"optimizer {case.optimizer.name}: SGD only"
    if case.protocol != "standard":
        return f"protocol {case.protocol}: the standard loop only"
    if case.tensor_lr:
        return "tensor lrs"
    if case.interventions:
        return "interventions"
    for spec in case.scheduler.walk():
        for key, values in REFUSED.get(spec.name, {}).items():
            if key in spec.kwargs and spec.kwargs[key] in values:
                return f"{spec.name}({key}={spec.kwargs[key]!r}) has no equivalent"
    return None


class Picky(StepLRLate):
    """Refuses most configurations (module docstring), StepLR one step late where it runs a case."""

    label = "picky"

    def build(self, case):
        reason = refusal(case)
        if reason is not None:
            raise Unsupported(reason)
        return super().build(case)
