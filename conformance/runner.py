"""The runner: drives the step protocols, and runs cases through an adapter against their goldens.

Step protocols (what "the lr at step i" means), for a StatefulAdapter's Session:

  standard          for i in steps: observe(i); optimizer.step(); scheduler.step([metric_i])
  scheduler-first   for i in steps: scheduler.step(); observe(i); optimizer.step()
                    (the pre-1.1.0 ordering: the lr actually used at step i is the one after the scheduler step)
  resume-state-dict standard, but at i == resume_at, before observing: save(), then restore() into fresh
                    objects and continue with them (scheduler-first may resume too: the ordering after a resume)
  step-epoch        standard, with scheduler.step(epoch_i) (the deprecated closed form)

Any warning raised during a call becomes an Event at that step and phase; any exception becomes an error
Event and ends the trace (what happens after an error is not part of the contract).
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from conformance import compare, golden
from conformance.adapters.base import Unsupported
from conformance.cases import applies_to
from conformance.model import AdapterInfo, Case, Event, Observation, Outcome, Status, Trace
from conformance.traces import short_message


class _Stop(Exception):
    """The case raised; the trace ends here."""


class _Recorder:
    def __init__(self) -> None:
        self.observations: list[Observation] = []
        self.events: list[Event] = []

    def call(self, step: int, phase: str, fn: Callable, *args, **kwargs) -> Any:
        error = None
        with warnings.catch_warnings(record=True) as caught:
            # "always": without it Python shows a warning once per code location, and whether a case saw
            # its warning would depend on which cases ran before it.
            warnings.simplefilter("always")
            try:
                result = fn(*args, **kwargs)
            except Unsupported:
                raise  # not behaviour: the adapter cannot express this case (run_case records UNSUPPORTED)
            except Exception as exc:  # noqa: BLE001 - the exception *is* the observation
                error = exc
        for w in caught:
            self.events.append(Event(step, phase, "warning", w.category.__name__, short_message(str(w.message))))
        if error is not None:
            self.events.append(Event(step, phase, "error", type(error).__name__, short_message(str(error))))
            raise _Stop from error
        return result

    def observe(self, step: int, session, case: Case, observe_last_lr: bool) -> None:
        def read():
            lrs = list(session.lrs())
            momenta = session.momenta() if case.drives_momentum else None
            last = session.last_lrs() if observe_last_lr else None
            return lrs, momenta, last

        lrs, momenta, last = self.call(step, "observe", read)
        arg = case.step_args[step] if case.step_args is not None else None
        for group, lr in enumerate(lrs):
            self.observations.append(
                Observation(
                    step,
                    group,
                    float(lr),
                    None if momenta is None else float(momenta[group]),
                    None if last is None else float(last[group]),
                    None if arg is None else float(arg),
                )
            )


def drive(case: Case, adapter) -> Trace:
    """Run `case` on a StatefulAdapter through its step protocol and return the trace."""
    rec = _Recorder()
    observe_last_lr = "last_lr" in adapter.info.observables
    try:
        session = rec.call(0, "construct", adapter.build, case)
        for i in range(case.steps):
            if i == case.resume_at:  # resume-state-dict, or scheduler-first after a resume
                checkpoint = rec.call(i, "state_dict", session.save)
                session = rec.call(i, "resume", adapter.restore, case, checkpoint)
            kwargs = {}
            if case.metrics is not None:
                kwargs["metric"] = case.metrics[i]
            if case.protocol == "step-epoch":
                kwargs["epoch"] = case.epochs[i]
            if case.protocol == "scheduler-first":
                rec.call(i, "scheduler.step", session.scheduler_step, **kwargs)
                rec.observe(i, session, case, observe_last_lr)
                rec.call(i, "optimizer.step", session.optimizer_step)
            else:
                rec.observe(i, session, case, observe_last_lr)
                rec.call(i, "optimizer.step", session.optimizer_step)
                rec.call(i, "scheduler.step", session.scheduler_step, **kwargs)
    except _Stop:
        pass
    return Trace(tuple(rec.observations), tuple(rec.events))


# --- running cases against goldens ----------------------------------------------------------


@dataclass(frozen=True)
class RunOptions:
    expectations: dict[str, str] | None = None  # case id -> reason it is known to differ (xfail)
    tolerance_override: Any = None  # a model.Tolerance from --rtol/--atol, replacing the adapter's


def required_features(case: Case, expected: Trace) -> frozenset[str]:
    """What an adapter needs to be graded on this case. Warnings are compared only for adapters that
    declare `warnings` (they never make a case unsupported); an expected error needs `errors`."""
    needs = set(case.features())
    if expected.has("error"):
        needs.add("errors")
    return frozenset(needs)


def missing_capabilities(case: Case, expected: Trace, info: AdapterInfo) -> tuple[str, ...]:
    missing = sorted(required_features(case, expected) - info.features)
    missing += sorted(f"scheduler:{s}" for s in case.schedulers - info.schedulers)
    return tuple(missing)


def run_case(adapter, case: Case, store: golden.Goldens, options: RunOptions = RunOptions()) -> Outcome:
    info: AdapterInfo = adapter.info
    release = info.mirrors or store.reference
    start = time.perf_counter()

    def outcome(status: Status, detail: str = "", **kw) -> Outcome:
        return Outcome(case.id, status, detail, seconds=time.perf_counter() - start, **kw)

    if not applies_to(case, release):
        return outcome(Status.SKIP, f"case applies to torch{case.torch}; {info.name} mirrors torch {release}")
    try:
        expected, expected_file = store.expected(case, release)
    except golden.GoldenError as exc:
        return outcome(Status.ERROR, f"golden: {exc}")
    missing = missing_capabilities(case, expected, info)
    if missing:
        return outcome(Status.UNSUPPORTED, f"needs {', '.join(missing)}", missing=missing, expected_file=expected_file)
    try:
        actual = adapter.trace(case)
    except Unsupported as exc:
        return outcome(Status.UNSUPPORTED, f"{info.name}: {short_message(str(exc))}", expected_file=expected_file)
    except Exception as exc:  # noqa: BLE001 - an adapter bug is a result, not a crash of the suite
        status = getattr(exc, "status", Status.ERROR)  # transports raise with TIMEOUT / CRASH
        return outcome(status, f"{info.name} raised {type(exc).__name__}: {short_message(str(exc))}",
                       expected_file=expected_file)
    tolerance = options.tolerance_override or info.tolerance
    status, detail, divergence = compare.compare(case, expected, actual, info, tolerance)
    reason = (options.expectations or {}).get(case.id)
    if reason is not None:
        if status is Status.PASS:
            status, detail = Status.XPASS, f"listed as expected to differ ({reason}) but matches"
        elif status in (Status.FAIL, Status.ERROR):  # ERROR here: an error event where torch has none
            status, detail = Status.XFAIL, f"{detail} [expected: {reason}]"
    kept = {"expected_trace": expected, "actual_trace": actual} if divergence is not None else {}
    return outcome(status, detail, divergence=divergence, expected_file=expected_file, **kept)


def run_cases(
    adapter,
    cases: Iterable[Case],
    store: golden.Goldens,
    options: RunOptions = RunOptions(),
    progress: Callable[[int, int, Outcome], None] | None = None,
) -> list[Outcome]:
    cases = list(cases)
    outcomes = []
    for index, case in enumerate(cases, 1):
        result = run_case(adapter, case, store, options)
        outcomes.append(result)
        if progress is not None:
            progress(index, len(cases), result)
    return outcomes

