"""Trace CSV: bit-exact round trip through the stdlib reader and through pandas (round_trip parser)."""

import math
import random
import struct

import pytest

from conformance import golden, traces
from conformance.model import Event, Observation, Trace

TRICKY = [0.1, 0.1 + 0.2, 1 / 3, 5e-324, 2.2250738585072014e-308, 1.7976931348623157e308, -0.0, 0.0,
          0.10000000149011612, 1e-16, 123456789.12345679, math.inf, -math.inf]


def bits(x: float) -> bytes:
    return struct.pack("<d", x)


def trace_of(values) -> Trace:
    obs = tuple(Observation(i, 0, v, v, v, v) for i, v in enumerate(values))
    return Trace(obs, (Event(1, "scheduler.step", "warning", "UserWarning", 'a "quoted", comma'),))


def test_stdlib_round_trip_is_bit_exact():
    back = traces.loads(traces.dumps(trace_of(TRICKY)))
    assert [bits(o.lr) for o in back.observations] == [bits(v) for v in TRICKY]
    assert [bits(o.momentum) for o in back.observations] == [bits(v) for v in TRICKY]
    assert back.events == trace_of(TRICKY).events


def test_nan_round_trips():
    back = traces.loads(traces.dumps(trace_of([math.nan])))
    assert math.isnan(back.observations[0].lr)


def test_dumps_is_deterministic_and_shortest_repr():
    text = traces.dumps(trace_of([0.1]))
    assert "0,0,0.1,0.1,0.1,0.1,," in text.splitlines()
    assert traces.dumps(traces.loads(text)) == text


def test_pandas_round_trip_parser_is_bit_exact(tmp_path):
    rng = random.Random(1234)
    values = TRICKY[:-2] + [rng.uniform(0, 1) * 10 ** rng.randint(-12, 3) for _ in range(3000)]
    path = tmp_path / "t.csv"
    path.write_text(traces.dumps(trace_of(values)))
    frame = traces.read_trace_frame(path)
    lrs = frame.loc[frame["event"] == "", "lr"].tolist()
    assert [bits(v) for v in lrs] == [bits(v) for v in values]


def test_pandas_reads_every_committed_golden_exactly():
    store = golden.load()
    checked = 0
    for entry in store.entries.values():
        for record in entry["traces"]:
            path = store.root / record["file"]
            exact = traces.read_trace(path)
            frame = traces.read_trace_frame(path)
            rows = frame[frame["event"] == ""]
            assert [bits(v) for v in rows["lr"]] == [bits(o.lr) for o in exact.observations], path
            checked += 1
    assert checked > 0


@pytest.mark.parametrize(
    "text, message",
    [
        ("step,group\n", "header must be"),
        (",".join(traces.COLUMNS) + "\n0,0,zero,,,,,\n", ":2:"),
        (",".join(traces.COLUMNS) + "\n0,0,0.1\n", "expected 8 fields"),
    ],
)
def test_malformed_trace_names_file_and_line(text, message):
    with pytest.raises(traces.TraceFormatError) as info:
        traces.loads(text, "golden/traces/x.csv")
    assert "golden/traces/x.csv" in str(info.value) and message in str(info.value)
    assert "\n" not in str(info.value)
