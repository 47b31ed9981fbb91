"""compare(): what counts as a difference, and how the first one is described."""

import math

from helpers import make_case

from conformance.compare import compare, ulp_distance
from conformance.model import FEATURES, AdapterInfo, Event, Observation, Status, Tolerance, Trace

CASE = make_case()
STRICT = AdapterInfo("t", "1", frozenset({"StepLR"}), frozenset(FEATURES), frozenset({"last_lr", "messages"}))
VALUES_ONLY = AdapterInfo("v", "1", frozenset({"StepLR"}), frozenset({"errors"}))


def trace(lrs, events=()):
    return Trace(tuple(Observation(s, g, lr) for s, row in enumerate(lrs) for g, lr in enumerate(row)), tuple(events))


BASE = trace([[0.1, 0.05], [0.1, 0.05], [0.05, 0.025]])
WARN = Event(0, "scheduler.step", "warning", "UserWarning", "w")


def test_identical_passes():
    assert compare(CASE, BASE, BASE, STRICT)[0] is Status.PASS


def test_one_ulp_on_one_group_fails_with_position():
    drifted = trace([[0.1, 0.05], [0.1, math.nextafter(0.05, 1)], [0.05, 0.025]])
    status, detail, d = compare(CASE, BASE, drifted, STRICT)
    assert status is Status.FAIL
    assert (d.step, d.group, d.column, d.ulps) == (1, 1, "lr", 1)
    assert "step 1 group 1 lr" in detail and "1 ulp" in detail


def test_tolerance_admits_small_error_only():
    drifted = trace([[0.1, 0.05], [0.1, 0.05 * (1 + 1e-9)], [0.05, 0.025]])
    loose = Tolerance(rel=1e-6, reason="float32 library")
    assert compare(CASE, BASE, drifted, STRICT, loose)[0] is Status.PASS
    far = trace([[0.1, 0.05], [0.1, 0.06], [0.05, 0.025]])
    assert compare(CASE, BASE, far, STRICT, loose)[0] is Status.FAIL


def test_short_and_long_traces_fail_on_length():
    status, _, d = compare(CASE, BASE, trace([[0.1, 0.05]]), STRICT)
    assert (status, d.step, d.column) == (Status.FAIL, 1, "length")
    status, _, d = compare(CASE, BASE, trace([[0.1, 0.05]] * 2 + [[0.05, 0.025]] * 2), STRICT)
    assert (status, d.step, d.column) == (Status.FAIL, 3, "length")


def test_unexpected_error_is_error_status():
    actual = trace([[0.1, 0.05]], [Event(0, "scheduler.step", "error", "RuntimeError", "boom")])
    status, detail, _ = compare(CASE, BASE, actual, STRICT)
    assert status is Status.ERROR and "RuntimeError" in detail


def test_error_one_step_late_fails():
    err = lambda step: Event(step, "scheduler.step", "error", "ValueError", "bad")  # noqa: E731
    expected = trace([[0.1, 0.05]], [err(0)])
    late = trace([[0.1, 0.05], [0.1, 0.05]], [err(1)])
    status, _, d = compare(CASE, expected, late, STRICT)
    assert status is Status.FAIL and d.step == 0


def test_lost_warning_fails_only_for_adapters_declaring_warnings():
    expected = trace([[0.1, 0.05], [0.1, 0.05], [0.05, 0.025]], [WARN])
    status, _, d = compare(CASE, expected, BASE, STRICT)
    assert status is Status.FAIL and d.column == "event"
    assert compare(CASE, expected, BASE, VALUES_ONLY)[0] is Status.PASS


def test_messages_compared_only_when_declared():
    expected = trace([[0.1, 0.05], [0.1, 0.05], [0.05, 0.025]], [WARN])
    reworded = trace([[0.1, 0.05], [0.1, 0.05], [0.05, 0.025]], [Event(0, "scheduler.step", "warning", "UserWarning", "x")])
    assert compare(CASE, expected, reworded, STRICT)[0] is Status.FAIL
    no_messages = AdapterInfo("m", "1", frozenset({"StepLR"}), frozenset(FEATURES))
    assert compare(CASE, expected, reworded, no_messages)[0] is Status.PASS


def test_nan_equals_nan_but_not_a_number():
    nan = trace([[math.nan, 0.05]])
    assert compare(CASE, nan, nan, STRICT)[0] is Status.PASS
    assert compare(CASE, nan, trace([[0.1, 0.05]]), STRICT)[0] is Status.FAIL


def test_last_lr_compared_only_when_observable():
    expected = Trace((Observation(0, 0, 0.1, None, 0.1),))
    actual = Trace((Observation(0, 0, 0.1, None, 0.2),))
    assert compare(CASE, expected, actual, STRICT)[0] is Status.FAIL
    assert compare(CASE, expected, actual, VALUES_ONLY)[0] is Status.PASS


def test_ulp_distance():
    assert ulp_distance(1.0, 1.0) == 0
    assert ulp_distance(1.0, math.nextafter(1.0, 2)) == 1
    assert ulp_distance(-0.0, 0.0) == 0
    assert ulp_distance(math.nextafter(0.0, -1), math.nextafter(0.0, 1)) == 2
    assert ulp_distance(math.nan, 1.0) is None
