"""pytest plugin: run the conformance cases from any test suite.

Installed with the package (entry point `pytest11: lr_conformance`). It adds

    --lr-adapter=SPEC         the implementation to grade: the CLI's --adapter strings (entry-point name,
                              module:Class, path/to/adapter.py, cmd:...); default $LR_CONFORMANCE_ADAPTER, else torch
    --lr-expectations=FILE    cases known to differ (xfail, strict): a TOML file, or the name of a shipped one
    --lr-case=GLOB            only cases whose id matches (repeatable)
    --lr-timeout=SECONDS      per-case timeout for cmd: adapters (default 30)
    --lr-rtol=X --lr-atol=X   tolerance replacing the adapter's, as the CLI's --rtol/--atol

and a parametrized fixture `conformance_case`. A third party's test suite needs only this file:

    from conformance.pytest_plugin import check_case

    def test_lr_conformance(conformance_case, conformance_outcomes):
        check_case(conformance_case, conformance_outcomes)

Give option values with `=` (`--lr-adapter=path/to/adapter.py`, quoted whole if the path has a space):
pytest chooses its rootdir and configuration file from the command line's paths before it knows this
plugin's options, so a value given as a separate argument counts as a test path there - an adapter in
another project would make that project the rootdir, with its configuration. The plugin refuses that case
with one line rather than run under the wrong configuration. (The plugin's options all start with --lr-:
a bare --adapter would also collide with other plugins.)

All cases run once per session (so torch or the implementation is driven in one pass); each test then
reports its own case with the CLI's status and message: pass, fail (and error, timeout, crash, xpass) with
the explanation and a rerun command for the CLI that grades the same way, skip (unsupported / other
release) or xfail. A bad adapter string, expectations file, case file or golden is one usage error
(exit 4), reported before any case runs.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import pytest

from conformance import cases as cases_mod
from conformance.model import Status

PATH_OPTIONS = ("--lr-adapter", "--lr-expectations")


@dataclass(frozen=True)
class Grading:
    """What the session grades with, resolved once from the options: the pieces runner.run_cases needs and
    the rerun command line that reproduces them."""

    adapter: object
    cases: list
    store: object
    options: object
    rerun: dict


_GRADING = pytest.StashKey[Grading]()


def tolerance(text: str) -> float:
    """--lr-rtol/--lr-atol: a finite number >= 0 (pytest reports anything else as `invalid tolerance value`)."""
    value = float(text)
    if not math.isfinite(value) or value < 0:
        raise ValueError(text)
    return value


def pytest_addoption(parser):
    group = parser.getgroup("lr-conformance")
    group.addoption("--lr-adapter", default=None, metavar="SPEC",
                    help="adapter to grade: entry-point name, module:Class, file.py or cmd:... "
                         "(default $LR_CONFORMANCE_ADAPTER, else torch); write --lr-adapter=SPEC")
    group.addoption("--lr-expectations", default=None, metavar="FILE",
                    help="expectations TOML (cases known to differ), or the name of a shipped one")
    group.addoption("--lr-case", action="append", default=[], metavar="GLOB",
                    help="only cases whose id matches this glob (repeatable)")
    group.addoption("--lr-timeout", type=float, default=None, metavar="SECONDS",
                    help="per-case timeout (seconds) for cmd: adapters")
    group.addoption("--lr-rtol", type=tolerance, default=None, metavar="X",
                    help="relative tolerance replacing the adapter's (a finite number >= 0)")
    group.addoption("--lr-atol", type=tolerance, default=None, metavar="X",
                    help="absolute tolerance replacing the adapter's (a finite number >= 0)")


def pytest_configure(config):
    _refuse_values_taken_for_test_paths(config)


def _refuse_values_taken_for_test_paths(config) -> None:
    """`--lr-adapter PATH` (two arguments): before plugins load, pytest reads PATH as a test path and picks
    the rootdir and config file from it. Refuse when that moved the rootdir away from where pytest was
    started to where the value is."""
    if config.option.rootdir:
        return
    args = [str(a) for a in config.invocation_params.args]
    started, rootpath = Path(config.invocation_params.dir).resolve(), Path(config.rootpath).resolve()
    if started == rootpath or rootpath in started.parents:
        return
    for option, value in zip(args, args[1:]):
        path = Path(value)
        if option in PATH_OPTIONS and path.exists() and rootpath in (path.resolve(), *path.resolve().parents):
            raise pytest.UsageError(
                f"{option} {value}: pytest took {value} for a test path and made {rootpath} the rootdir, with "
                f"its configuration; give it as one argument: {option}={value}"
            )


def _selected_cases(config) -> list[cases_mod.Case]:
    return cases_mod.select(cases_mod.load_cases(), config.getoption("--lr-case"))


def pytest_generate_tests(metafunc):
    if "conformance_case" in metafunc.fixturenames:
        try:
            chosen = _selected_cases(metafunc.config)
        except cases_mod.CaseError as exc:
            raise pytest.UsageError(f"lr-conformance: {exc}") from None
        metafunc.parametrize("conformance_case", chosen, ids=[c.id for c in chosen])


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(session, config, items):
    """Resolve the adapter, expectations and goldens once, after collection and before any case runs, so a
    configuration problem is one usage error rather than the same error in every test."""
    if config.option.collectonly or not any("conformance_case" in getattr(i, "fixturenames", ()) for i in items):
        return
    config.stash[_GRADING] = _grading(config)


def _grading(config) -> Grading:
    from conformance import golden, resources, runner
    from conformance.adapters import ENV_VAR, AdapterLoadError, load_adapter
    from conformance.expectations import load_expectations
    from conformance.model import Tolerance

    spec = config.getoption("--lr-adapter") or os.environ.get(ENV_VAR) or "torch"
    expectations = config.getoption("--lr-expectations")
    rtol, atol = config.getoption("--lr-rtol"), config.getoption("--lr-atol")
    timeout = config.getoption("--lr-timeout")
    if timeout is not None and not (math.isfinite(timeout) and timeout > 0):
        raise pytest.UsageError(f"lr-conformance: --lr-timeout {timeout:g}: must be a positive number of seconds")
    tolerance = None
    if rtol is not None or atol is not None:
        tolerance = Tolerance(rtol or 0.0, atol or 0.0, "set on the pytest command line (--lr-rtol/--lr-atol)")
    try:
        options = runner.RunOptions(
            expectations=(load_expectations(resources.expectations_file(expectations),
                                            {case.id for case in cases_mod.load_cases()})
                          if expectations else None),
            tolerance_override=tolerance,
        )
        store = golden.load()
        chosen = _selected_cases(config)
        # the CLI's preflight: a missing, corrupt or stale golden stops the session before any case runs, every
        # problem listed, rather than surfacing as the same ERROR in each case that reads it
        problems = golden.preflight(store, chosen)
        if problems:
            raise pytest.UsageError("\n".join(f"lr-conformance: {problem}" for problem in problems))
        adapter = load_adapter(spec, timeout=timeout)
    except AdapterLoadError as exc:  # its message names the CLI's option
        raise pytest.UsageError(f"lr-conformance: {str(exc).replace('--adapter ', '--lr-adapter ', 1)}") from None
    except (cases_mod.CaseError, golden.GoldenError) as exc:
        raise pytest.UsageError(f"lr-conformance: {exc}") from None
    rerun = {"adapter_spec": spec, "expectations": expectations, "rtol": rtol, "atol": atol, "timeout": timeout}
    return Grading(adapter, chosen, store, options, rerun)


def pytest_sessionfinish(session):
    grading = session.config.stash.get(_GRADING, None)
    if grading is not None:
        grading.adapter.close()


@pytest.fixture(scope="session")
def conformance_adapter(pytestconfig):
    """The adapter under test (loaded once, before the first case runs)."""
    return _session_grading(pytestconfig).adapter


@pytest.fixture(scope="session")
def conformance_outcomes(pytestconfig):
    """Outcome of every selected case, keyed by id, computed once per session."""
    from conformance import runner

    grading = _session_grading(pytestconfig)
    outcomes = runner.run_cases(grading.adapter, grading.cases, grading.store, grading.options)
    return _Outcomes({o.case_id: o for o in outcomes}, grading.rerun)


def _session_grading(config) -> Grading:
    grading = config.stash.get(_GRADING, None)
    if grading is None:  # a test that uses the fixtures without conformance_case
        grading = config.stash[_GRADING] = _grading(config)
    return grading


class _Outcomes(dict):
    """{case id: Outcome}, plus how to rerun a case with the CLI the way this session graded it."""

    def __init__(self, outcomes, rerun: dict) -> None:
        super().__init__(outcomes)
        self.rerun = rerun


def check_case(case: cases_mod.Case, outcomes) -> None:
    """Turn one case's outcome into a pytest result with a self-explaining message."""
    from conformance.report import reproduce_command

    outcome = outcomes[case.id]
    if outcome.status in (Status.UNSUPPORTED, Status.SKIP):
        pytest.skip(f"{outcome.status.value}: {outcome.detail}")
    if outcome.status is Status.XFAIL:
        pytest.xfail(outcome.detail)
    if outcome.status is not Status.PASS:
        from conformance.snippet import torch_snippet

        rerun = getattr(outcomes, "rerun", {"adapter_spec": "torch"})
        message = f"{case.id}: {case.why}\n  {outcome.status.value}: {outcome.detail}"
        if outcome.expected_file:
            message += f"\n  golden: {outcome.expected_file}"
        message += f"\n  rerun: {reproduce_command(case_id=case.id, **rerun)}"
        message += "\n  torch reproduction:\n" + "".join(f"    {line}\n" for line in torch_snippet(case).splitlines())
        pytest.fail(message, pytrace=False)
