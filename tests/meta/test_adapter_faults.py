"""Nothing an in-process adapter does ends the run or makes it lie (tests/meta/fakes/faults.py): sys.exit
anywhere is that case's ERROR, stdout noise never reaches the machine-readable stream, a trace that is not a
Trace is an ERROR, lists of different lengths are blamed on the adapter, Ctrl-C still stops the run (130);
and --isolate / --timeout contain what only a child process can (os._exit, a hang)."""

from __future__ import annotations

import json
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
from fakes import faults as ft
from helpers import make_case, torch_store

from conformance import golden, runner
from conformance.adapters.torch_reference import TorchAdapter
from conformance.cli import main
from conformance.model import Status
from conformance.regenerate import regenerate

ROOT = Path(__file__).resolve().parents[2]
FAULTS = Path(__file__).parent / "fakes" / "faults.py"
CASE = "steplr/gamma-half-step3"  # a committed case the fakes pass when they behave
HALF = {"step_size": 3, "gamma": 0.5}

ONE = make_case("steplr/fault-one-group", kwargs=HALF, groups=[{"lr": 0.1}], steps=6)
TWO = make_case("steplr/fault-two-groups", kwargs=HALF, steps=6)
RESUME = make_case("steplr/fault-resume", kwargs=HALF, groups=[{"lr": 0.1}], steps=6, protocol="resume-state-dict",
                   resume_at=3)
CASES = {c.id: c for c in (ONE, TWO, RESUME)}


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    root = tmp_path_factory.mktemp("fault-goldens") / "traces"
    assert regenerate(TorchAdapter(), CASES.values(), torch_store(root), out=lambda s: None) == 0
    return golden.load(root)


def fake(name: str) -> str:
    return f"{FAULTS}:{name}"


def test_the_well_behaved_base_passes(store):
    assert [o.status for o in runner.run_cases(ft.StepAdapter(), CASES.values(), store)] == [Status.PASS] * 3


# --- the warnings machinery ---------------------------------------------------------------------------

TAMPERERS = [ft.IgnoresWarningsFromBuild, ft.ShowsWarningsOnceFromBuild, ft.ReplacesShowwarningInBuild,
             ft.ResetsWarningsInBuild]


@pytest.mark.parametrize("fake_class", TAMPERERS, ids=lambda c: c.__name__)
def test_an_adapter_that_changes_the_warnings_machinery_changes_it_for_that_call_only(fake_class):
    """The recorder catches warnings in one context for the whole case (conformance/runner.py _Recorder):
    whatever an adapter call does to the filters or to showwarning must not hide the next calls' warnings,
    nor leak out of the case."""
    before = (list(warnings.filters), warnings.showwarning)
    trace = runner.drive(ONE, fake_class())
    steps = [(e.step, e.phase, e.message) for e in trace.events if e.phase != "construct"]  # build's business
    assert steps == [(i, "scheduler.step", "stepped") for i in range(ONE.steps)]
    assert (list(warnings.filters), warnings.showwarning) == before
    assert [(e.step, e.message) for e in runner.drive(ONE, ft.TamperingAdapter()).events][:2] == [(0, "built"),
                                                                                                   (0, "stepped")]


# --- sys.exit -------------------------------------------------------------------------------------------

EXITS = [
    (ft.ExitsInBuild, ONE, "sys.exit(0) in construct at step 0"),
    (ft.ExitsInRestore, RESUME, "sys.exit(3) in resume at step 3"),
    (ft.ExitsInSchedulerStep, ONE, "sys.exit(0) in scheduler.step at step 2"),
    (ft.ExitsInLrs, ONE, "sys.exit('bye') in observe at step 1"),
    (ft.ExitsInTrace, ONE, "sys.exit(0) in trace()"),
    (ft.ExitsInLrsAt, ONE, "sys.exit(0) in trace()"),
]


@pytest.mark.parametrize("fake_class, case, fragment", EXITS, ids=[e[0].__name__ for e in EXITS])
def test_sys_exit_is_that_cases_error_and_the_run_goes_on(store, fake_class, case, fragment):
    outcomes = runner.run_cases(fake_class(), [case, TWO], store)
    assert len(outcomes) == 2  # the run went on
    first = outcomes[0]
    assert first.status is Status.ERROR and first.divergence is None, first.detail
    assert fragment in first.detail, first.detail


@pytest.mark.parametrize("fake_class, fragment", [(ft.ExitsOnInfo, "sys.exit(0)"),
                                                  (ft.RaisesOnInfo, "RuntimeError: no declaration today")])
def test_a_declaration_that_exits_or_raises_is_that_cases_error(store, fake_class, fragment):
    outcome = runner.run_case(fake_class(), ONE, store)
    assert outcome.status is Status.ERROR and "info" in outcome.detail and fragment in outcome.detail, outcome.detail


def test_sys_exit_in_build_through_the_cli_is_error_exit_1(capsys):
    assert main(["run", "--adapter", fake("ExitsInBuild"), "-k", CASE]) == 1
    out = capsys.readouterr().out
    assert f"ERROR       {CASE}" in out and "sys.exit(0) in construct" in out and "NOT CONFORMANT" in out


@pytest.mark.parametrize("name", ["ExitsOnInfo", "ExitsOnConstruct"])
def test_sys_exit_while_loading_the_adapter_is_a_configuration_error(capsys, name):
    assert main(["run", "--adapter", fake(name), "-k", CASE]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("lr-conformance: --adapter") and "SystemExit" in err and "\n" not in err, err


def test_sys_exit_in_close_loses_nothing(capsys):
    assert main(["run", "--adapter", fake("ExitsOnClose"), "-k", CASE]) == 0
    captured = capsys.readouterr()
    assert "1 pass" in captured.out and "- OK" in captured.out
    assert "close() raised SystemExit" in captured.err


def test_ctrl_c_in_an_adapter_still_stops_the_run_with_130(store, capsys):
    with pytest.raises(KeyboardInterrupt):
        runner.run_case(ft.Interrupted(), ONE, store)
    assert main(["run", "--adapter", fake("Interrupted"), "-k", CASE]) == 130
    assert "interrupted" in capsys.readouterr().err


# --- not a Trace, lists of different lengths ---------------------------------------------------------------

NOT_TRACES = [
    (ft.ReturnsNone, "trace() returned None, not a Trace"),
    (ft.ReturnsList, "trace() returned list, not a Trace"),
    (ft.ReturnsStrings, "observation 0 (step 0, group 0): lr is str '0.1', not a number"),
]


@pytest.mark.parametrize("fake_class, fragment", NOT_TRACES, ids=[n[0].__name__ for n in NOT_TRACES])
def test_a_trace_that_is_not_a_trace_is_that_cases_error(store, fake_class, fragment):
    outcomes = runner.run_cases(fake_class(), [ONE, TWO], store)
    assert [o.status for o in outcomes] == [Status.ERROR, Status.ERROR]
    assert fragment in outcomes[0].detail, outcomes[0].detail


def test_lists_of_different_lengths_are_blamed_on_the_adapter(store):
    outcome = runner.run_case(ft.MoreLrsThanLastLrs(), ONE, store)
    assert outcome.status is Status.ERROR, outcome.detail
    assert "IndexError" not in outcome.detail
    assert "at step 0 session.lrs() returned 2 values but session.last_lrs() 1" in outcome.detail, outcome.detail


def test_an_extra_param_group_is_blamed_on_the_adapter(store):
    outcome = runner.run_case(ft.TooManyLrsAt(), ONE, store)
    d = outcome.divergence
    assert outcome.status is Status.FAIL and (d.step, d.group, d.column) == (0, 1, "length"), outcome.detail
    assert "the adapter returned 2 param groups, the case has 1" in outcome.detail, outcome.detail


# --- stdout: only the chosen view reaches it ---------------------------------------------------------------


def cli(*argv: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "conformance", *argv], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout)


def test_adapter_output_never_reaches_the_json_on_stdout():
    done = cli("run", "--adapter", fake("Noisy"), "-k", CASE, "--format", "json")
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)  # nothing but the document
    assert document["counts"]["pass"] == 1
    for noise in ("print() in __init__", "print() in build()", "write(1) in build()", "printf() in build()",
                  "print() in lrs()"):
        assert noise in done.stderr, noise


def test_adapter_output_never_reaches_the_terminal_summary_or_markdown():
    for fmt, start in (("terminal", "scheduler"), ("markdown", "# lr-conformance: stateful-steplr")):
        done = cli("run", "--adapter", fake("Noisy"), "-k", CASE, "--format", fmt)
        assert done.returncode == 0 and done.stdout.startswith(start) and "noise" not in done.stdout, done.stdout


def test_show_keeps_adapter_output_off_the_csv():
    done = cli("show", "--adapter", fake("Noisy"), "-k", CASE)
    assert done.returncode == 0, done.stderr
    assert done.stdout == (ROOT / "golden" / "traces" / f"{CASE}.csv").read_text()


# --- --isolate and --timeout ---------------------------------------------------------------------------------


def test_isolate_turns_os_exit_into_crash(capsys):
    assert main(["run", "--isolate", "--adapter", fake("ExitsProcess"), "-k", CASE]) == 1
    out = capsys.readouterr().out
    assert f"CRASH       {CASE}" in out and "exited with code 3" in out


def test_isolate_serves_any_adapter_string_and_the_rerun_line_keeps_it(tmp_path):
    out = tmp_path / "result.json"
    assert main(["run", "--isolate", "--adapter", fake("Noisy"), "-k", CASE, "--json", str(out)]) == 0
    (result,) = json.loads(out.read_text())["results"]
    assert result["status"] == "pass" and " --isolate" in result["reproduce"]


def test_show_isolated():
    done = cli("show", "--isolate", "--adapter", fake("StepAdapter"), "-k", CASE)
    assert done.returncode == 0 and done.stdout == (ROOT / "golden" / "traces" / f"{CASE}.csv").read_text()


def test_timeout_is_enforced_in_process_by_isolating(capsys):
    assert main(["run", "--timeout", "1", "--adapter", fake("Sleeps"), "-k", CASE]) == 1
    captured = capsys.readouterr()
    assert f"TIMEOUT     {CASE}" in captured.out and "no answer to the case within 1s" in captured.out
    assert captured.err.count("--timeout") == 1 and "child process" in captured.err


def test_isolated_sys_exit_is_error_as_in_process(capsys):
    assert main(["run", "--isolate", "--adapter", fake("ExitsInBuild"), "-k", CASE]) == 1
    out = capsys.readouterr().out
    assert f"ERROR       {CASE}" in out and "sys.exit(0) in construct at step 0" in out
