"""tools/matrix.py: release ranges, the kind of a difference, the check of docs/matrix/changes.toml against the
recorded traces (and that check run on the real data), the generated table; tools/uv_env.py's mapping."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from conformance import cases as cases_mod
from conformance import golden
from conformance.model import Event, Observation, Trace
from helpers import load_tool, make_case

ROOT = Path(__file__).resolve().parents[2]


matrix = load_tool("matrix")
uv_env = load_tool("uv_env")
CASE = make_case("steplr/kind-probe", scheduler="StepLR", kwargs={"step_size": 1})


def trace(lrs, events=(), last=None):
    return Trace(tuple(Observation(i, 0, lr, None, lr if last is None else last, None) for i, lr in enumerate(lrs)),
                 tuple(events))


def test_ranges_join_consecutive_releases_of_the_universe():
    universe = ["1.13.1", "2.0.1", "2.1.2", "2.2.2", "2.13.0"]
    assert matrix.ranges(["1.13.1", "2.0.1", "2.2.2"], universe) == "1.13.1-2.0.1, 2.2.2"
    assert matrix.ranges([], universe) == "none"


def test_env_names_follow_the_tox_factors():
    assert [matrix.env_name(r) for r in ("1.13.1", "2.0.1", "2.10.0")] == ["torch113", "torch20", "torch210"]


# --- the kind of the first difference ------------------------------------------------------------

ERROR = Event(0, "construct", "error", "ValueError", "bad value")
WARNING = Event(1, "scheduler.step", "warning", "UserWarning", "w")


@pytest.mark.parametrize("before, after, kind", [
    (trace([0.1, 0.05]), trace([0.1, 0.1]), "lr values"),
    (trace([0.1, 0.1]), trace([0.1, 0.1], last=0.2), "momentum/last_lr"),
    (trace([], [ERROR]), trace([0.1]), "error raised"),  # an error gone
    (trace([], [ERROR]), trace([], [Event(0, "construct", "error", "TypeError", "bad value")]), "error raised"),
    (trace([0.1, 0.1], [WARNING]), trace([0.1, 0.1]), "warning"),  # a warning gone
    (trace([0.1, 0.1]), trace([0.1, 0.1], [WARNING]), "warning"),  # a warning new
    (trace([], [ERROR]), trace([], [Event(0, "construct", "error", "ValueError", "reworded")]), "message text"),
])
def test_first_difference_kind(before, after, kind):
    assert matrix.first_difference_kind(CASE, before, after) == kind


def test_an_event_explains_the_values_that_change_at_its_step():
    # the warning and the lr change at step 1: the warning is the first difference, as compare reports it
    before = trace([0.1, 0.1, 0.1])
    after = trace([0.1, 0.05, 0.05], [WARNING])
    assert matrix.first_difference_kind(CASE, before, after) == "warning"
    # a warning at step 1 before an error at step 2 that replaces it: the warning comes first
    later_error = Event(2, "scheduler.step", "error", "TypeError", "x")
    assert matrix.first_difference_kind(CASE, trace([0.1] * 3, [later_error]), trace([0.1] * 3, [WARNING])) == "warning"


def test_identical_traces_have_no_kind():
    with pytest.raises(ValueError, match="do not differ"):
        matrix.first_difference_kind(CASE, trace([0.1]), trace([0.1]))


# --- changes.toml against the transitions ----------------------------------------------------------

T = matrix.Transition


def change(**fields):
    base = {"id": "c1", "release": "2.8.0", "kind": "lr values", "summary": "s", "cause": "https://x/pull/1",
            "cause_title": "t", "cases": ["a/x"]}
    return {**base, **fields}


def test_changes_matching_every_transition_have_no_problem():
    found = [T("a/x", "2.7.1", "2.8.0", "lr values", "d"), T("a/y", "2.9.1", "2.10.0", "warning", "d")]
    changes = [change(), change(id="c2", release="2.10.0", kind="warning", cases=["a/y"])]
    assert matrix.change_problems(changes, found) == []


@pytest.mark.parametrize("changes, message", [
    ([change(release="2.9.1")], "a/x does not change at 2.9.1"),
    ([change(kind="warning")], "first difference at 2.8.0 is lr values, not warning"),
    ([change(cases=["a/z"])], "no change lists a/x at 2.8.0"),
    ([change(), change(id="c2")], "a/x at 2.8.0 is listed by 2 changes: c1, c2"),
    ([change(), change()], "c1: id used twice"),
    ([change(kind="lr")], "kind 'lr' is not one of"),
    ([change(release="2.8.1")], "release '2.8.1' is not a tested release"),
    ([change(cause="")], "no cause and no `searched`"),
    ([{"id": "c1", "release": "2.8.0"}], "c1: missing kind, summary, cause, cause_title, cases"),
])
def test_a_change_that_disagrees_with_the_traces_is_a_problem(changes, message):
    found = [T("a/x", "2.7.1", "2.8.0", "lr values", "d")]
    problems = matrix.change_problems(changes, found)
    assert any(message in p for p in problems), problems


def test_an_unattributed_change_may_say_what_was_searched():
    found = [T("a/x", "2.7.1", "2.8.0", "lr values", "d")]
    assert matrix.change_problems([change(cause="", searched="git log -S ... 2.7.1..2.8.0")], found) == []


def test_transitions_follow_the_records_in_release_order():
    entry = {"traces": [{"file": "a/x.csv", "torch": "", "generated_by": ["2.8.0", "2.9.1", "1.13.1"]},
                        {"file": "a/x@torch2.0-2.7.csv", "torch": ">=2.0,<2.8", "generated_by": ["2.0.1", "2.7.1"]}]}
    runs = matrix.segments(entry)
    assert [s.releases for s in runs] == [("1.13.1",), ("2.0.1", "2.7.1"), ("2.8.0", "2.9.1")]


# --- the real data ---------------------------------------------------------------------------------


def test_every_recorded_change_is_attributed_once_with_its_release_and_kind():
    """docs/matrix/changes.toml against golden/traces: each listed case changes at that change's release (the
    trace of the release tested before differs), with a first difference of that kind, and every change of
    every case's trace between two releases is listed by exactly one change."""
    found = matrix.transitions(golden.load(), cases_mod.load_cases())
    assert found, "no case changes across releases: were the release-scoped traces lost?"
    assert matrix.change_problems(matrix.load_changes(), found) == []


def test_every_cited_cause_is_a_pytorch_pull_request_issue_or_commit_with_its_title():
    changes = matrix.load_changes()
    cited = [c for c in changes if c["cause"]]
    assert cited and all(re.match(r"https://github.com/pytorch/pytorch/(pull|issues|commit)/\w+$", c["cause"])
                         for c in cited)
    assert all(c["cause_title"] for c in cited) and all(c["summary"] for c in changes)


def test_behaviour_changes_md_is_generated_from_the_current_data():
    import json

    results = json.loads(matrix.RESULTS.read_text())
    store, all_cases = golden.load(), cases_mod.load_cases()
    expected = matrix.render(store, all_cases, matrix.load_changes(), matrix.transitions(store, all_cases), results)
    assert matrix.TABLE.read_text(encoding="utf-8") == expected, "run `python tools/matrix.py --tables-only`"


# --- uv_env: pip's package sources for uv ------------------------------------------------------------

PIP_CONFIG = """\
:env:.find-links='/srv/wheels'
global.cert='/etc/ssl/certs/ca-certificates.crt'
global.extra-index-url='file:///srv/a/simple file:///srv/b/simple'
global.find-links='/ignored/by/env'
"""


def test_uv_gets_pips_find_links_and_extra_indexes():
    settings = uv_env.pip_settings(PIP_CONFIG)
    assert settings == {"find-links": ["/srv/wheels"], "extra-index-url": ["file:///srv/a/simple", "file:///srv/b/simple"]}
    assert uv_env.uv_variables(settings, {}) == {
        "UV_FIND_LINKS": "/srv/wheels",
        "UV_EXTRA_INDEX_URL": "file:///srv/a/simple file:///srv/b/simple",
        "UV_INDEX_STRATEGY": "unsafe-best-match",
    }


def test_uv_variables_already_set_win_and_no_pip_config_sets_nothing():
    settings = {"find-links": ["/a", "/b"], "index-url": ["https://mirror/simple"]}
    assert uv_env.uv_variables(settings, {"UV_INDEX_URL": "x", "UV_INDEX_STRATEGY": "first-index"}) == {
        "UV_FIND_LINKS": "/a,/b"}  # uv separates find-links with commas
    assert uv_env.uv_variables(uv_env.pip_settings(""), {}) == {}


@pytest.mark.parametrize("tool", ["matrix", "fuzz_releases"])
def test_a_tox_that_does_not_run_is_one_line_and_exit_2_before_any_release(tool, capsys, tmp_path):
    """The default --tox is this Python's `-m tox`: a Python without tox made every release 'install-failed' in
    results.json (its statuses lost) instead of one usage error."""
    module = matrix if tool == "matrix" else load_tool("fuzz_releases")
    recorded = matrix.RESULTS.read_bytes()
    missing = str(tmp_path / "no-such-tox")
    assert module.main(["--releases", "2.12.1", "2.13.0", "--tox", missing]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--tox" in err[0] and "no-such-tox" in err[0] and "does not run" in err[0], err
    assert matrix.RESULTS.read_bytes() == recorded
