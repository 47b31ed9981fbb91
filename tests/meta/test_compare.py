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


# --- the first divergence, and the first large one -------------------------------------------------------

COSINE = [[0.1, 0.05], [0.0975, 0.04875], [0.0905, 0.04525], [0.08, 0.04], [0.0655, 0.03275]]


def test_a_large_difference_after_a_one_ulp_drift_is_reported_too():
    drifted = [row[:] for row in COSINE]
    drifted[1][0] = math.nextafter(drifted[1][0], 1)  # step 1: 1 ulp, exact grading fails here first
    drifted[3][1] = 0.14  # step 3: the real bug
    status, detail, d = compare(CASE, trace(COSINE), trace(drifted), STRICT)
    assert status is Status.FAIL and (d.step, d.group, d.ulps) == (1, 0, 1)
    large = d.first_large
    assert (large.step, large.group, large.column, large.expected, large.actual) == (3, 1, "lr", 0.04, 0.14)
    assert large.first_large is None
    assert "step 1 group 0 lr" in detail and "first large difference: step 3 group 1 lr: expected 0.04, got 0.14" in detail


def test_no_first_large_when_the_first_divergence_is_large_or_none_is():
    jumped = [row[:] for row in COSINE]
    jumped[2][0] = 0.2
    jumped[4][0] = 0.3
    _, detail, d = compare(CASE, trace(COSINE), trace(jumped), STRICT)
    assert d.step == 2 and d.first_large is None and "first large" not in detail
    small = [row[:] for row in COSINE]
    small[2][0] *= 1 + 1e-9  # below 1e-6 relative: not large
    _, detail, d = compare(CASE, trace(COSINE), trace(small), STRICT)
    assert d.step == 2 and d.first_large is None and "first large" not in detail


def test_an_event_or_a_length_difference_is_large():
    drifted = [row[:] for row in COSINE]
    drifted[0][1] = math.nextafter(drifted[0][1], 0)
    late_error = Event(3, "scheduler.step", "error", "RuntimeError", "boom")
    _, _, d = compare(CASE, trace(COSINE), trace(drifted[:4], [late_error]), VALUES_ONLY)
    assert (d.step, d.column) == (0, "lr") and (d.first_large.step, d.first_large.column) == (3, "event")
    _, _, d = compare(CASE, trace(COSINE), trace(drifted[:3]), VALUES_ONLY)
    assert (d.first_large.step, d.first_large.group, d.first_large.column) == (3, 0, "length")


def test_a_missing_or_extra_param_group_is_blamed_on_the_adapter():
    one_group = trace([[row[0]] for row in COSINE])
    _, detail, d = compare(CASE, trace(COSINE), one_group, STRICT)
    assert (d.step, d.group, d.column) == (0, 1, "length")
    assert "got none (the adapter returned 1 param group, the case has 2)" in detail
    three_groups = trace([row + [0.01] for row in COSINE])
    _, detail, d = compare(CASE, trace(COSINE), three_groups, STRICT)
    assert (d.step, d.group, d.column) == (0, 2, "length")
    assert "got lr=0.01 (the adapter returned 3 param groups, the case has 2)" in detail
