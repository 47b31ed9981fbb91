"""The runner: drives the step protocols, and runs cases through an adapter against their goldens.

Step protocols (what "the lr at step i" means), for a StatefulAdapter's Session:

  standard          for i in steps: observe(i); optimizer.step(); scheduler.step([metric_i])
  scheduler-first   for i in steps: scheduler.step(); observe(i); optimizer.step()
                    (the pre-1.1.0 ordering: the lr actually used at step i is the one after the scheduler step)
  resume-state-dict standard, but at i == resume_at, before observing: save(), then restore() into fresh
                    objects and continue with them (scheduler-first may resume too: the ordering after a resume)
  step-epoch        standard, with scheduler.step(epoch_i) (the deprecated closed form)

Interventions (a case's `interventions`, spec 4.5) are data this loop interprets, here and nowhere else: at
the start of iteration i, after a resume_at resume, each action of i in the listed order (set a group's key,
add a param group, wrap optimizer.step, add a scheduler, call get_lr / get_last_lr, resume partially, into a
scheduler built with other arguments, or reading the checkpoint back with weights_only); then
the iteration runs with its optimizer step skipped (skip-optimizer-step) or its scheduler stepped `count` times
(scheduler-steps; with an `epoch`, as step(epoch): Case.step_kwargs), added schedulers stepped before or after
the case's own from their `from` on, and the case's own no longer once an added one replaces it.

Any warning raised during a call becomes an Event at that step and phase; any exception becomes an error
Event and ends the trace (what happens after an error is not part of the contract).

An adapter runs in this process as untrusted code: `sys.exit` (any BaseException but KeyboardInterrupt),
a `trace()` that returns no Trace, or lists of different lengths are an AdapterFault - that case's ERROR,
never an event, never the end of the run. Ctrl-C (KeyboardInterrupt) still stops the run. What a process
can do to itself (os._exit, a hang, a segfault) only a child process contains: --isolate.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import numbers
import os
import sys
import time
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from conformance import compare, golden
from conformance.adapters.base import Unsupported
from conformance.cases import applies_to
from conformance.model import (
    STATE_DICTS,
    AdapterInfo,
    Case,
    Event,
    Observation,
    Outcome,
    Status,
    Trace,
    declaration_problem,
)
from conformance.traces import short_message


class _Stop(Exception):
    """The case raised; the trace ends here."""


class AdapterFault(Exception):
    """The adapter broke the interface rather than showing a behaviour: it called sys.exit, returned something
    that is not a Trace, or lists of different lengths. run_case records the case as ERROR with this message."""


def _escaped(exc: BaseException) -> str:
    """What a BaseException that is not an Exception says (sys.exit, or a test framework's outcome)."""
    if isinstance(exc, SystemExit):
        return f"sys.exit({exc.code!r})"
    return f"{type(exc).__name__}: {short_message(str(exc))}"


def adapter_info(adapter) -> AdapterInfo:
    """`adapter.info`, read as the untrusted code it may be (a property can raise or exit)."""
    try:
        info = adapter.info
    except KeyboardInterrupt:
        raise
    except Exception as exc:  # noqa: BLE001
        raise AdapterFault(f"reading its .info raised {type(exc).__name__}: {short_message(str(exc))}") from None
    except BaseException as exc:  # noqa: BLE001 - sys.exit
        raise AdapterFault(f"reading its .info called {_escaped(exc)}") from None
    if not isinstance(info, AdapterInfo):
        raise AdapterFault(f".info is a {type(info).__name__}, not an AdapterInfo")
    try:
        problem = _checked_declaration(info, _number_types(info))
    except TypeError:  # a field that cannot be hashed (a list where a set belongs): checked uncached
        problem = declaration_problem(info)
    if problem is not None:
        raise AdapterFault(f"its declaration (.info) is invalid: {problem}")
    return info


def _number_types(info: AdapterInfo) -> tuple:
    # False == 0.0 and hashes alike, but a bool tolerance is invalid: the types are part of the cache key
    tolerance = info.tolerance
    return type(tolerance), type(getattr(tolerance, "rel", None)), type(getattr(tolerance, "abs", None))


@functools.lru_cache(maxsize=64)
def _checked_declaration(info: AdapterInfo, _types: tuple) -> str | None:
    """declaration_problem, once per distinct declaration: run_case reads `.info` before every case (an adapter
    may change it) and mostly gets the same one back. Keyed by value (AdapterInfo is frozen; a field that is
    not hashable is checked uncached), so a changed declaration is checked again."""
    return declaration_problem(info)


SESSION_NAMES = {"lrs": "session.lrs()", "momenta": "session.momenta()", "last_lrs": "session.last_lrs()"}


def observations_at(step: int, case: Case, lrs, momenta=None, last=None, observes_momentum: bool = False,
                    names=SESSION_NAMES) -> list[Observation]:
    """One Observation per param group from what an adapter returned at one step (`names` say which methods
    returned them; momenta are passed for cases that observe momentum, `observes_momentum`). Lists of different
    lengths, or values that are not numbers, are the adapter's fault (AdapterFault), not a behaviour."""
    if momenta is None and observes_momentum:
        raise AdapterFault(f"at step {step} {names['momenta']} returned None, but the case's scheduler drives "
                           "momentum")
    lrs = _as_list(lrs, step, names["lrs"])
    momenta = None if momenta is None else _as_list(momenta, step, names["momenta"])
    last = None if last is None else _as_list(last, step, names["last_lrs"])
    if last is not None and len(last) < len(lrs) and case.groups_at(step) > len(case.groups):
        # groups added mid-run (add-param-group): a scheduler's last lrs may not cover them yet (spec 4.5)
        last = last + [None] * (len(lrs) - len(last))
    for values, key in ((momenta, "momenta"), (last, "last_lrs")):
        if values is not None and len(values) != len(lrs):
            raise AdapterFault(f"at step {step} {names['lrs']} returned {len(lrs)} values but {names[key]} "
                               f"{len(values)} (the case has {len(case.groups)} param groups)")
    arg = case.step_args[step] if case.step_args is not None else None
    try:
        arg = None if arg is None else float(arg)
        return [
            Observation(step, group, float(lr), None if momenta is None else float(momenta[group]),
                        None if last is None or last[group] is None else float(last[group]), arg)
            for group, lr in enumerate(lrs)
        ]
    except (TypeError, ValueError) as exc:
        raise AdapterFault(f"at step {step} a value that is not a number came back ({exc})") from None


def _as_list(values, step: int, name: str) -> list:
    if type(values) is list:  # noqa: E721 - the common case, fast
        return values
    if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
        raise AdapterFault(f"at step {step} {name} returned a {type(values).__name__}, not a list")
    return list(values)


# Python >= 3.14 can keep warning filters per context (-X context_aware_warnings), out of `warnings.filters`.
_CONTEXT_AWARE_WARNINGS = bool(getattr(sys.flags, "context_aware_warnings", False))


class _Recorder:
    """Records what a case does, call by call: observations, and every warning or error as an Event.

    Warnings are caught by one `warnings.catch_warnings(record=True)` with an "always" filter for the whole
    case (`open` / `close`); each call takes the warnings it added to that context's log. Entering and leaving
    a context around each call - three to four calls per step - cost about a tenth of running a case (a
    fifth of a fuzz example's time outside torch). What each call records is the same: an adapter call that
    changes the warnings machinery (a filter, `showwarning`) changes it for the rest of that call only, as a
    context of its own would, because the recorder then re-enters a fresh context before the next call."""

    def __init__(self) -> None:
        self.observations: list[Observation] = []
        self.events: list[Event] = []
        self._context = None

    def open(self) -> None:
        self._context = warnings.catch_warnings(record=True)
        self._log = self._context.__enter__()
        # "always": without it Python shows a warning once per code location, and whether a case saw
        # its warning would depend on which cases ran before it.
        warnings.simplefilter("always")
        self._filters, self._armed = warnings.filters, list(warnings.filters)
        self._showwarning = warnings.showwarning
        self._showwarnmsg_impl = getattr(warnings, "_showwarnmsg_impl", None)  # where record=True logs to

    def close(self) -> None:
        if self._context is not None:
            self._context.__exit__(None, None, None)
            self._context = None

    def _intact(self) -> bool:
        """Whether the warnings machinery is still as `open` left it (the adapter's last call changed nothing)."""
        if _CONTEXT_AWARE_WARNINGS:
            return False  # Python >= 3.14 may keep the filters in a context, out of sight here: re-enter always
        return (warnings.filters is self._filters and warnings.showwarning is self._showwarning
                and getattr(warnings, "_showwarnmsg_impl", None) is self._showwarnmsg_impl
                and self._filters == self._armed)

    def call(self, step: int, phase: str, fn: Callable, *args, **kwargs) -> Any:
        # Three to four calls a step: this is the harness's innermost loop, kept to what each call must do.
        start = len(self._log)
        try:
            result = fn(*args, **kwargs)
        except Unsupported:
            raise  # not behaviour: the adapter cannot express this case (run_case records UNSUPPORTED)
        except Exception as exc:  # noqa: BLE001 - the exception *is* the observation
            self._take(step, phase, start)
            self.events.append(Event(step, phase, "error", type(exc).__name__, short_message(str(exc))))
            raise _Stop from exc
        except KeyboardInterrupt:
            raise  # Ctrl-C stops the run
        except BaseException as exc:  # noqa: BLE001 - sys.exit: never behaviour, never the end of the run
            raise AdapterFault(f"{_escaped(exc)} in {phase} at step {step}") from None
        self._take(step, phase, start)
        return result

    def _take(self, step: int, phase: str, start: int) -> None:
        """The warnings the call that began at log index `start` added, as events; then a fresh context if the
        call changed the warnings machinery (a raise that ends the case needs neither: close() follows)."""
        log = self._log
        if len(log) > start:
            self.events.extend(Event(step, phase, "warning", w.category.__name__, short_message(str(w.message)))
                               for w in log[start:])
        if not self._intact():
            self.close()
            self.open()

    def observe(self, step: int, session, case: Case, observe_last_lr: bool, observes_momentum: bool) -> None:
        lrs, momenta, last = self.call(step, "observe", _read, session, observe_last_lr, observes_momentum)
        self.observations.extend(observations_at(step, case, lrs, momenta, last, observes_momentum))

    def values(self, step: int, method: str, values) -> None:
        """What a `call` intervention returned: one "value" event per element, its message the number's repr."""
        try:
            numbers = [float(value) for value in _as_list(values, step, f"session.{method}()")]
        except (TypeError, ValueError) as exc:
            raise AdapterFault(f"at step {step} session.{method}() returned a value that is not a number "
                               f"({exc})") from None
        self.events.extend(Event(step, "call", "value", method, repr(number)) for number in numbers)

    def attribute(self, step: int, attribute: str, value) -> None:
        """What a `read-scheduler` read: one "value" event per element of a list, one for a scalar; its message
        the repr of the Python number (an int stays an int, a tensor element is read as a float)."""
        values = value if isinstance(value, (list, tuple)) else [value]
        try:
            numbers = [_attribute_number(v) for v in values]
        except (TypeError, ValueError) as exc:
            raise AdapterFault(f"at step {step} session.read_scheduler({attribute!r}) returned a value that is not "
                               f"a number or a list of numbers ({exc})") from None
        self.events.extend(Event(step, "call", "value", attribute, repr(number)) for number in numbers)


def _attribute_number(value):
    """A read attribute's element as the Python number recorded: an int or a float as it is, anything else
    (a 0-dim tensor, a numpy scalar) as a float. A bool or a string is not a number here."""
    if isinstance(value, (bool, str, bytes)):
        raise TypeError(f"a {type(value).__name__}, {value!r}")
    if isinstance(value, int):
        return int(value)
    return float(value)


def _read(session, observe_last_lr: bool, observes_momentum: bool) -> tuple:
    """What `observe` reads from a session: its lrs, and its momenta and last lrs where they are observed."""
    return (list(session.lrs()), session.momenta() if observes_momentum else None,
            session.last_lrs() if observe_last_lr else None)


def drive(case: Case, adapter) -> Trace:
    """Run `case` on a StatefulAdapter through its step protocol and return the trace."""
    rec = _Recorder()
    observe_last_lr = "last_lr" in adapter.info.observables
    observes_momentum = case.observes_momentum  # walks the scheduler tree: once per case, not per step
    # The actions of each iteration, sorted out once (most cases have none): not a scan of every action per step
    actions: dict[int, list] = {}
    for action in case.interventions:
        actions.setdefault(action.at, []).append(action)
    rec.open()
    try:
        session = rec.call(0, "construct", adapter.build, case)
        added: list = []  # (action, stepper) per add-scheduler action so far
        for i in range(case.steps):
            if i == case.resume_at:  # resume-state-dict, or scheduler-first after a resume
                session = _resume(rec, i, adapter, case, session, STATE_DICTS)
            skip_optimizer, scheduler_steps = False, 1
            for action in actions.get(i, ()):
                if action.do == "skip-optimizer-step":
                    skip_optimizer = True
                elif action.do == "scheduler-steps":
                    scheduler_steps = action.count
                elif action.do == "resume":
                    session = _resume(rec, i, adapter, case, session, action.load, action.scheduler,
                                      action.weights_only)
                elif action.do == "call":
                    method = session.get_lr if action.method == "get_lr" else session.get_last_lr
                    rec.values(i, action.method, rec.call(i, "call", method))
                elif action.do == "read-scheduler":
                    rec.attribute(i, action.attribute, rec.call(i, "call", session.read_scheduler, action.attribute))
                elif action.do == "add-scheduler":
                    added.append((action, rec.call(i, "intervene", session.add_scheduler, action.scheduler)))
                else:
                    rec.call(i, "intervene", *_INTERVENE[action.do](session, action))
            kwargs = case.step_kwargs(i)
            if case.protocol == "scheduler-first":
                _step_schedulers(rec, i, session, kwargs, scheduler_steps, added)
                rec.observe(i, session, case, observe_last_lr, observes_momentum)
                if not skip_optimizer:
                    rec.call(i, "optimizer.step", session.optimizer_step)
            else:
                rec.observe(i, session, case, observe_last_lr, observes_momentum)
                if not skip_optimizer:
                    rec.call(i, "optimizer.step", session.optimizer_step)
                _step_schedulers(rec, i, session, kwargs, scheduler_steps, added)
    except _Stop:
        pass
    finally:
        rec.close()
    return Trace(tuple(rec.observations), tuple(rec.events))


def _step_schedulers(rec: _Recorder, i: int, session, kwargs: dict, times: int, added: list) -> None:
    """Iteration i's scheduler step, `times` times (scheduler-steps), each with the added schedulers stepped
    before (`first`) or after the case's own: those whose `from` has come, and the case's own unless an added
    scheduler replaces it from this iteration on (spec 4.5)."""
    if not added and times == 1:  # the textbook loop
        rec.call(i, "scheduler.step", session.scheduler_step, **kwargs)
        return
    stepping = [(action.first, stepper) for action, stepper in added if i >= action.first_stepped]
    replaced = any(action.replace for action, _ in added if i >= action.first_stepped)
    for _ in range(times):
        for first, stepper in stepping:
            if first:
                rec.call(i, "added-scheduler.step", stepper.scheduler_step)
        if not replaced:
            rec.call(i, "scheduler.step", session.scheduler_step, **kwargs)
        for first, stepper in stepping:
            if not first:
                rec.call(i, "added-scheduler.step", stepper.scheduler_step)


# The interventions that are one Session call each (spec 4.5): (method, its arguments) for an action.
_INTERVENE = {
    "set": lambda session, action: (session.set_group, action.group, action.key, action.value),
    "add-param-group": lambda session, action: (session.add_param_group, action.options),
    "wrap-optimizer-step": lambda session, action: (session.wrap_optimizer_step, action.keep_attributes),
    "set-scheduler": lambda session, action: (session.set_scheduler, action.attribute,
                                              list(action.value) if isinstance(action.value, tuple) else action.value),
    "change-argument": lambda session, action: (session.change_argument, action.argument, action.group,
                                                action.multiply, action.value),
}


def _resume(rec: _Recorder, i: int, adapter, case: Case, session, load: tuple[str, ...], scheduler=None,
            weights_only: bool | None = None):
    """Save both state dicts (phase state_dict), then fresh objects loading `load`, in that order (phase resume).
    The whole resume calls `restore(case, checkpoint)` as before interventions existed; a partial one passes
    `load`, one into a scheduler built with other arguments passes that SchedulerSpec as `scheduler`, and one
    stating how its checkpoint is read back passes `weights_only` (only then: an adapter without the feature
    never sees the argument)."""
    checkpoint = rec.call(i, "state_dict", session.save)
    kwargs = {} if weights_only is None else {"weights_only": weights_only}
    if scheduler is not None:
        return rec.call(i, "resume", adapter.restore, case, checkpoint, load=load, scheduler=scheduler, **kwargs)
    if load == STATE_DICTS and not kwargs:
        return rec.call(i, "resume", adapter.restore, case, checkpoint)
    return rec.call(i, "resume", adapter.restore, case, checkpoint, load=load, **kwargs)


# --- running cases against goldens ----------------------------------------------------------


@dataclass(frozen=True)
class RunOptions:
    expectations: dict[str, str] | None = None  # case id -> reason it is known to differ (xfail)
    tolerance_override: Any = None  # a model.Tolerance from --rtol/--atol, replacing the adapter's


def trace_problem(trace) -> str | None:
    """Why `trace` (what an adapter's trace() returned) cannot be graded, or None."""
    if not isinstance(trace, Trace):
        return f"trace() returned {'None' if trace is None else type(trace).__name__}, not a Trace"
    # A trace holds each (step, group) once (docs/spec.md 5.1): compare keys observations by (step, group), so
    # with two of one the last would silently win - a wrong value followed by the right one would pass.
    seen: dict[tuple, int] = {}
    for index, o in enumerate(trace.observations):
        if not isinstance(o, Observation):
            return f"trace() observation {index} is a {type(o).__name__}, not an Observation"
        first = seen.setdefault((o.step, o.group), index)
        if first != index:
            return (f"the trace holds step {o.step!r}, group {o.group!r} twice (observations {first} and {index}): "
                    "a trace holds each (step, group) once")
        # Exact types are the common case, checked fast (E721); bool is an int but no step number.
        if (type(o.step) is int and type(o.group) is int and o.step >= 0 and o.group >= 0  # noqa: E721
                and type(o.lr) is float and (o.momentum is None or type(o.momentum) is float)  # noqa: E721
                and (o.last_lr is None or type(o.last_lr) is float)  # noqa: E721
                and (o.step_arg is None or type(o.step_arg) is float)):  # noqa: E721
            continue
        where = f"trace() observation {index} (step {o.step!r}, group {o.group!r})"
        for name in ("step", "group"):
            value = getattr(o, name)
            if type(value) is not int or value < 0:  # noqa: E721
                return f"{where}: {name} is {type(value).__name__} {value!r}, not a step or group number"
        for name in ("lr", "momentum", "last_lr", "step_arg"):
            value = getattr(o, name)
            if (value is not None or name == "lr") and not isinstance(value, numbers.Real):
                return f"{where}: {name} is {type(value).__name__} {value!r}, not a number"
    for index, e in enumerate(trace.events):
        if not isinstance(e, Event):
            return f"trace() event {index} is a {type(e).__name__}, not an Event"
    return None


def trace_case(adapter, case: Case) -> Trace:
    """adapter.trace(case), checked. Raises Unsupported, AdapterFault, or what the adapter raised."""
    try:
        actual = adapter.trace(case)
    except KeyboardInterrupt:
        raise
    except Exception:
        raise
    except BaseException as exc:  # noqa: BLE001 - sys.exit from a trace() or lrs_at()
        raise AdapterFault(f"{_escaped(exc)} in trace()") from None
    problem = trace_problem(actual)
    if problem is not None:
        raise AdapterFault(problem)
    return actual


def failure(info: AdapterInfo, exc: Exception) -> tuple[Status, str]:
    """The status and one-line detail of a case whose trace() raised `exc`. A transport's errors carry their
    status (TIMEOUT, CRASH) and say what they are (`.what`: a malformed answer is not something the
    implementation raised); anything else is what the implementation raised."""
    what = getattr(exc, "what", None)
    status = getattr(exc, "status", Status.ERROR)
    if isinstance(what, str) and isinstance(status, Status):
        return status, f"{info.name}: {what}: {short_message(str(exc))}"
    return Status.ERROR, f"{info.name} raised {type(exc).__name__}: {short_message(str(exc))}"


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
    start = time.perf_counter()

    def outcome(status: Status, detail: str = "", **kw) -> Outcome:
        return Outcome(case.id, status, detail, seconds=time.perf_counter() - start, **kw)

    try:
        info = adapter_info(adapter)
    except AdapterFault as exc:
        return outcome(Status.ERROR, f"{type(adapter).__name__}: {exc}")
    release = info.mirrors or store.reference
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
        actual = trace_case(adapter, case)
    except Unsupported as exc:
        return outcome(Status.UNSUPPORTED, f"{info.name}: {short_message(str(exc))}", expected_file=expected_file)
    except AdapterFault as exc:  # an adapter bug, not a behaviour: never xfail
        return outcome(Status.ERROR, f"{info.name}: {exc}", expected_file=expected_file)
    except Exception as exc:  # noqa: BLE001 - an adapter bug is a result, not a crash of the suite
        status, detail = failure(info, exc)
        return outcome(status, detail, expected_file=expected_file)
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


@contextlib.contextmanager
def adapter_output_to_stderr():
    """While adapters run in this process, everything they print - print(), os.write(1, ...), C's printf -
    goes to stderr, so stdout carries only the chosen view (a JSON document, Markdown, CSV)."""
    sys.stdout.flush()
    try:
        out_fd, err_fd = sys.__stdout__.fileno(), sys.__stderr__.fileno()
        saved_fd = os.dup(out_fd)
    except (AttributeError, OSError, ValueError):  # no real stdout (embedded, or captured by a test)
        saved_fd = None
    else:
        _flush_c_stdio()
        os.dup2(err_fd, out_fd)
    saved = sys.stdout
    sys.stdout = sys.stderr
    try:
        yield
    finally:
        sys.stderr.flush()
        sys.stdout = saved
        if saved_fd is not None:
            _flush_c_stdio()  # libc buffers printf() output (fully, on a pipe): out now, to stderr
            os.dup2(saved_fd, out_fd)
            os.close(saved_fd)


def _flush_c_stdio() -> None:
    try:
        ctypes.CDLL(None).fflush(None)
    except (OSError, AttributeError, TypeError):  # pragma: no cover - no C library to flush (Windows)
        pass
