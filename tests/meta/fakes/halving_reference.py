"""A torch-free stand-in for the reference adapter, for tests that run `lr-conformance regen` in subprocesses
(tests/meta/test_golden_cli.py, tools/stress_goldens.py): lr = group lr * 0.5 ** step for any case, and it
claims to mirror the reference release, so that regen accepts it. Not a model of any scheduler: goldens it
writes live only in scratch copies, never in the checkout's golden/."""

from conformance.adapters.base import FunctionAdapter
from conformance.cases import SCHEDULERS
from conformance.golden import REFERENCE_RELEASE
from conformance.model import FEATURES, AdapterInfo, Observation, Trace


class HalvingReference(FunctionAdapter):
    info = AdapterInfo("halving-reference", "1", frozenset(SCHEDULERS), frozenset(FEATURES),
                       mirrors=REFERENCE_RELEASE)

    def lrs_at(self, case, step):
        return [group["lr"] * 0.5**step for group in case.groups]

    def trace(self, case):
        # the rows the runner records: a momentum where the case observes it, the step argument it feeds
        return Trace(tuple(
            Observation(step, group, lr, 0.9 if case.observes_momentum else None, None,
                        None if case.step_args is None else float(case.step_args[step]))
            for step in range(case.steps) for group, lr in enumerate(self.lrs_at(case, step))))
