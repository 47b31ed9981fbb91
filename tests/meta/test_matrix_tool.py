"""tools/matrix.py's pure parts: release ranges, the kind of a difference, env names, causes."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from conformance.model import Event, Observation, Trace

ROOT = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("matrix_tool", ROOT / "tools" / "matrix.py")
matrix = importlib.util.module_from_spec(spec)
spec.loader.exec_module(matrix)

def trace(lrs, events=()):
    return Trace(tuple(Observation(i, 0, lr, None, lr, None) for i, lr in enumerate(lrs)), tuple(events))

def test_ranges_join_consecutive_releases_of_the_universe():
    universe = ["1.13.1", "2.0.1", "2.1.2", "2.2.2", "2.13.0"]
    assert matrix.ranges(["1.13.1", "2.0.1", "2.2.2"], universe) == "1.13.1-2.0.1, 2.2.2"
    assert matrix.ranges([], universe) == "none"

def test_env_names_follow_the_tox_factors():
    assert [matrix.env_name(r) for r in ("1.13.1", "2.0.1", "2.10.0")] == ["torch113", "torch20", "torch210"]

def test_difference_kind_names_the_coarsest_difference():
    error = Event(0, "construct", "error", "ValueError", "bad")
    warning = Event(1, "scheduler.step", "warning", "UserWarning", "w")
    assert matrix.difference_kind(trace([0.1, 0.05]), trace([0.1, 0.1])) == "lr values"
    assert matrix.difference_kind(trace([], [error]), trace([0.1])) == "error"
    assert matrix.difference_kind(trace([0.1], [warning]), trace([0.1])) == "warnings"
    reworded = Event(1, "scheduler.step", "warning", "UserWarning", "w, reworded")
    assert matrix.difference_kind(trace([0.1], [warning]), trace([0.1], [reworded])) == "message text"

def test_causes_prefer_the_exact_case_over_a_pattern():
    assert "149312" in matrix.cause_of("exponentiallr/last-epoch-resume")[0]
    assert "151289" in matrix.cause_of("cosineannealingwarmrestarts/last-epoch-resume-past-two-periods")[0]
    assert matrix.cause_of("steplr/gamma-half-step3") == ("", "not yet traced to a torch change")
