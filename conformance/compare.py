"""Compare an actual trace with the expected one and explain the first difference.

Columns compared: lr always; momentum where the case's scheduler drives it; last_lr only for adapters that
declare the `last_lr` observable. Events: errors always (type, step, phase); warnings only for adapters
that declare `warnings`; messages only for adapters that declare `messages`. The values a `call` intervention
returned ("value" events, spec 4.5) always, as numbers under the tolerance.
An error the golden does not have is reported as ERROR (the implementation raised), anything else as FAIL.

The divergence reported is the first one; when a later one is large (relative error above
LARGE_RELATIVE_ERROR, or any event or length divergence) and the first is not, it is reported too
(Divergence.first_large): an exact grading must not bury a jump of 0.1 at step 10 under a 1-ulp drift at step 3.
"""

from __future__ import annotations

import math
import struct
from dataclasses import replace

from conformance.model import AdapterInfo, Case, Divergence, Event, Observation, Status, Tolerance, Trace


LARGE_RELATIVE_ERROR = 1e-6


def ulp_distance(a: float, b: float) -> int | None:
    """How many doubles lie between a and b (0 = identical bits); None if either is nan."""
    if math.isnan(a) or math.isnan(b):
        return None

    def ordered(x: float) -> int:
        (bits,) = struct.unpack("<q", struct.pack("<d", x))
        return bits if bits >= 0 else -(bits & 0x7FFFFFFFFFFFFFFF)

    return abs(ordered(a) - ordered(b))


def _same(expected: float | None, actual: float | None, tolerance: Tolerance) -> bool:
    if expected is None or actual is None:
        return expected is None and actual is None
    return tolerance.close(expected, actual)


def compared_columns(case: Case, info: AdapterInfo) -> tuple[str, ...]:
    columns = ["lr"]
    if case.observes_momentum:
        columns.append("momentum")
    if "last_lr" in info.observables:
        columns.append("last_lr")
    return tuple(columns)


def event_key(event: Event, info: AdapterInfo) -> tuple:
    """What is compared of an event: (step, phase, kind, type), and the message for adapters declaring `messages`."""
    return event.key + ((event.message,) if "messages" in info.observables else ())


def compared_events(trace: Trace, info: AdapterInfo) -> list[Event]:
    return [e for e in trace.events if e.kind in ("error", "value") or "warnings" in info.features]


def _same_event(e: Event, a: Event, info: AdapterInfo, tolerance: Tolerance) -> bool:
    if e.kind == "value" and a.kind == "value":  # a returned number: compared as the lr columns are
        return e.key == a.key and _same(_number(e.message), _number(a.message), tolerance)
    return event_key(e, info) == event_key(a, info)


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _observation_divergence(case, expected: Trace, actual: Trace, info, tolerance) -> Divergence | None:
    """The first observation divergence, with `first_large` set to the first large one when that is later."""
    actual_at = {(o.step, o.group): o for o in actual.observations}
    groups_at: dict[int, int] = {}
    for o in actual.observations:
        groups_at[o.step] = groups_at.get(o.step, 0) + 1
    columns = compared_columns(case, info)
    first: Divergence | None = None
    large: Divergence | None = None
    worst: dict[str, float] = {}

    def note(d: Divergence) -> None:
        nonlocal first, large
        if first is None or _position(d) < _position(first):
            first = d
        if is_large(d) and (large is None or _position(d) < _position(large)):
            large = d

    for exp in expected.observations:
        act = actual_at.pop((exp.step, exp.group), None)
        if act is None:
            note(Divergence(exp.step, exp.group, "length", "an observation", _missing(case, exp.step, groups_at)))
            continue
        for column in columns:
            e, a = getattr(exp, column), getattr(act, column)
            if e is not None and a is not None:
                if math.isfinite(e) and math.isfinite(a):
                    error = abs(e - a)
                else:  # nan vs nan (or inf vs the same inf) is no error; any other non-finite pair is infinite
                    error = 0.0 if _same(e, a, tolerance) else math.inf
                worst[column] = max(worst.get(column, 0.0), error)
            if not _same(e, a, tolerance):
                note(_value_divergence(exp, column, e, a))
    for extra in sorted(actual_at.values(), key=lambda o: (o.step, o.group)):
        note(_extra(case, extra, groups_at))
    if first is None:
        return None
    return replace(first, max_abs_error=worst.get(first.column, first.max_abs_error),
                   first_large=None if large is first else large)


def _position(d: Divergence) -> tuple:
    return (d.step, d.column != "event", -1 if d.group is None else d.group)


def _groups(n: int) -> str:
    return f"{n} param group{'' if n == 1 else 's'}"


def _missing(case: Case, step: int, groups_at: dict[int, int]) -> str:
    returned = groups_at.get(step, 0)
    if returned:
        return f"none (the adapter returned {_groups(returned)}, the case has {len(case.groups)})"
    return "none (trace ended)"


def _extra(case: Case, extra: Observation, groups_at: dict[int, int]) -> Divergence:
    if extra.step >= case.steps:
        return Divergence(extra.step, extra.group, "length", f"no observation (the case has {case.steps} steps)",
                          f"lr={extra.lr!r}")
    blame = f" (the adapter returned {_groups(groups_at[extra.step])}, the case has {len(case.groups)})"
    return Divergence(extra.step, extra.group, "length", "no observation", f"lr={extra.lr!r}{blame}")


def is_large(d: Divergence) -> bool:
    """An event or length divergence, a value missing on one side, or a relative error above
    LARGE_RELATIVE_ERROR (any error where the expected value is 0)."""
    if d.column in ("event", "length"):
        return True
    e, a = d.expected, d.actual
    if not isinstance(e, (int, float)) or not isinstance(a, (int, float)):
        return True
    if not (math.isfinite(e) and math.isfinite(a)):
        return not (math.isnan(e) and math.isnan(a)) and e != a
    return abs(e - a) > LARGE_RELATIVE_ERROR * abs(e)


def _value_divergence(obs: Observation, column: str, e, a) -> Divergence:
    if e is None or a is None:
        return Divergence(obs.step, obs.group, column, e, a)
    abs_error = abs(e - a) if math.isfinite(e) and math.isfinite(a) else math.inf
    return Divergence(obs.step, obs.group, column, e, a, abs_error, ulp_distance(e, a))


def _event_divergence(expected: Trace, actual: Trace, info: AdapterInfo, tolerance: Tolerance) -> Divergence | None:
    exp_events, act_events = compared_events(expected, info), compared_events(actual, info)
    for index in range(max(len(exp_events), len(act_events))):
        e = exp_events[index] if index < len(exp_events) else None
        a = act_events[index] if index < len(act_events) else None
        if e is not None and a is not None and _same_event(e, a, info, tolerance):
            continue
        step = min(x.step for x in (e, a) if x is not None)
        return Divergence(step, None, "event", describe_event(e), describe_event(a))
    return None


def describe_event(event: Event | None) -> str:
    if event is None:
        return "no event"
    text = f"{event.type} ({event.kind}) at step {event.step} in {event.phase}"
    return f"{text}: {event.message}" if event.message else text


def compare(
    case: Case, expected: Trace, actual: Trace, info: AdapterInfo, tolerance: Tolerance | None = None
) -> tuple[Status, str, Divergence | None]:
    if expected == actual:
        # Equal traces pass under any tolerance (close() accepts equal numbers, nan with nan; equal events have
        # equal keys, messages and values): the common case of a conforming run, decided without the walk below
        return Status.PASS, "", None
    tolerance = tolerance or info.tolerance
    candidates = [
        d
        for d in (
            _event_divergence(expected, actual, info, tolerance),
            _observation_divergence(case, expected, actual, info, tolerance),
        )
        if d is not None
    ]
    if not candidates:
        return Status.PASS, "", None
    # The earliest step wins; at the same step an event explains more than the values it caused.
    first = min(candidates, key=_position)
    larges = [d.first_large or d for d in candidates if is_large(d.first_large or d)]
    large = min(larges, key=_position, default=None)
    first = replace(first, first_large=None if large is None or large is first else large)
    unexpected_error = next(
        (e for e in actual.events if e.kind == "error" and e.key not in {x.key for x in expected.events}), None
    )
    if unexpected_error is not None and unexpected_error.step <= first.step:
        return Status.ERROR, f"raised {describe_event(unexpected_error)}", first
    return Status.FAIL, describe_divergence(first), first


def describe_divergence(d: Divergence) -> str:
    """One line: the divergence, then the first large one when that is another."""
    text = _describe(d)
    return f"{text}; first large difference: {_describe(d.first_large)}" if d.first_large else text


def _describe(d: Divergence) -> str:
    where = f"step {d.step}" + (f" group {d.group}" if d.group is not None else "")
    if d.column in ("event", "length"):
        return f"{where} {d.column}: expected {d.expected}, got {d.actual}"
    text = f"{where} {d.column}: expected {d.expected!r}, got {d.actual!r}"
    if d.abs_error is not None:
        text += f" (abs error {d.abs_error:.3g}"
        text += f", {d.ulps} ulp" if d.ulps is not None else ""
        text += f", max over trace {d.max_abs_error:.3g})" if d.max_abs_error is not None else ")"
    return text


def side_by_side(case: Case, expected: Trace, actual: Trace, info: AdapterInfo,
                 tolerance: Tolerance | None = None) -> tuple[tuple[str, ...], list[tuple]]:
    """The golden and the actual trace next to each other, only in what this grading compares (`show --diff`):
    the columns (compared_columns: no `last_lr` column for an adapter that does not observe it, which would
    otherwise differ on every row), then the compared events (compared_events) paired in order. Returns the
    column names and rows `(differs, step, group, ((golden, actual), ...))`, in step order, a missing
    observation's values as None; an event row has group None and one pair of describe_event texts."""
    tolerance = tolerance or info.tolerance
    columns = compared_columns(case, info)
    actual_at = {(o.step, o.group): o for o in actual.observations}
    expected_at = {(o.step, o.group): o for o in expected.observations}
    rows = []
    for key in sorted(expected_at.keys() | actual_at.keys()):
        exp, act = expected_at.get(key), actual_at.get(key)
        pairs = tuple((getattr(exp, c) if exp else None, getattr(act, c) if act else None) for c in columns)
        differs = exp is None or act is None or not all(_same(e, a, tolerance) for e, a in pairs)
        rows.append((differs, *key, pairs))
    exp_events, act_events = compared_events(expected, info), compared_events(actual, info)
    for index in range(max(len(exp_events), len(act_events))):
        e = exp_events[index] if index < len(exp_events) else None
        a = act_events[index] if index < len(act_events) else None
        differs = e is None or a is None or not _same_event(e, a, info, tolerance)
        step = min(x.step for x in (e, a) if x is not None)
        rows.append((differs, step, None, ((describe_event(e), describe_event(a)),)))
    rows.sort(key=lambda row: (row[1], row[2] is None, row[2] or 0))
    return columns, rows
