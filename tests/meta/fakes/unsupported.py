"""An adapter, run behind `python -m conformance.serve`, that has StepLR but no equivalent of gamma=0.5."""

from conformance.adapters.base import FunctionAdapter, Unsupported
from conformance.model import FEATURES, AdapterInfo


class NoHalfGamma(FunctionAdapter):
    info = AdapterInfo("no-half-gamma", "1", frozenset({"StepLR"}), frozenset(FEATURES))

    def lrs_at(self, case, step):
        if case.scheduler.kwargs.get("gamma") == 0.5:
            raise Unsupported("gamma=0.5 has no equivalent here")
        return [g["lr"] * case.scheduler.kwargs.get("gamma", 0.1) ** (step // case.scheduler.kwargs["step_size"])
                for g in case.groups]
