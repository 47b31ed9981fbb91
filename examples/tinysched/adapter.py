"""lr-conformance adapter for tinysched: how torch's schedulers map onto tinysched's schedules.

    lr-conformance run --adapter examples/tinysched/adapter.py --report report.html

torch keeps one scheduler per optimizer; tinysched keeps one schedule per learning rate, so a session
holds one schedule per param group, built from that group's lr. tinysched has no optimizer, so
optimizer.step() is a no-op.
"""

import sys
from pathlib import Path

from conformance.adapters import Session, StatefulAdapter, Unsupported
from conformance.model import AdapterInfo, Tolerance

sys.path.insert(0, str(Path(__file__).parent))  # a real project would have tinysched installed
import tinysched  # noqa: E402

# torch scheduler name -> (tinysched class, {torch kwarg: tinysched argument}, torch's defaults)
MAPPING = {
    "StepLR": (tinysched.StepDecay, {"step_size": "every", "gamma": "factor"}, {"gamma": 0.1}),
    "ExponentialLR": (tinysched.ExponentialDecay, {"gamma": "rate"}, {}),
    "CosineAnnealingLR": (tinysched.Cosine, {"T_max": "period", "eta_min": "floor"}, {"eta_min": 0.0}),
}


class TinySession(Session):
    def __init__(self, schedules):
        self.schedules = schedules

    def lrs(self):
        return [schedule.lr for schedule in self.schedules]

    def optimizer_step(self):
        pass

    def scheduler_step(self, metric=None, epoch=None):
        for schedule in self.schedules:
            schedule.step()

    def save(self):
        return [schedule.state_dict() for schedule in self.schedules]


class TinyschedAdapter(StatefulAdapter):
    info = AdapterInfo(
        name="tinysched",
        version=tinysched.__version__,
        schedulers=frozenset(MAPPING),
        features=frozenset({"state_dict"}),
        tolerance=Tolerance(
            rel=1e-10,
            abs=1e-12,
            reason="tinysched evaluates closed forms in float64 while torch updates the lr recursively, so the "
            "last bits differ and drift slowly with the step count (< 2e-12 relative over 1000 cosine steps)",
        ),
    )

    def build(self, case):
        cls, names, defaults = MAPPING[case.scheduler.name]
        kwargs = {**defaults, **case.scheduler.kwargs}
        unknown = set(kwargs) - set(names)
        if unknown:  # the case is unsupported (counted, not a failure); any other exception would be an ERROR
            raise Unsupported(f"no tinysched equivalent for {sorted(unknown)}")
        if any("initial_lr" in group for group in case.groups):
            # torch keeps an initial_lr an earlier scheduler left in the group as its base lr; a tinysched
            # schedule has one base lr, the lr it is given
            raise Unsupported("no tinysched equivalent for a leftover initial_lr in a param group")
        args = {names[key]: value for key, value in kwargs.items()}
        return TinySession([cls(group["lr"], **args) for group in case.groups])

    def restore(self, case, checkpoint):
        session = self.build(case)
        for schedule, state in zip(session.schedules, checkpoint):
            schedule.load_state_dict(state)
        return session
