"""pytest plugin: run the conformance cases from any test suite.

Installed with the package (entry point `pytest11: lr_conformance`). It adds

    --adapter SPEC          the implementation to grade (same strings as the CLI; default $LR_CONFORMANCE_ADAPTER
                            or torch)
    --lr-expectations FILE  cases known to differ (xfail, strict)
    --lr-case GLOB          only cases whose id matches (repeatable)
    --lr-timeout SECONDS    per-case timeout for cmd: adapters (default 30)

and a parametrized fixture `conformance_case`. A third party's test suite needs only:

    from conformance.pytest_plugin import check_case

    def test_lr_conformance(conformance_case, conformance_outcomes):
        check_case(conformance_case, conformance_outcomes)

All cases run once per session (so torch or the implementation is driven in one pass); each test then
reports its own case: pass, fail with the explanation, skip (unsupported / other release) or xfail.
"""

from __future__ import annotations

import pytest

from conformance import cases as cases_mod
from conformance.model import Status


def pytest_addoption(parser):
    group = parser.getgroup("lr-conformance")
    group.addoption("--adapter", default=None, help="adapter to grade: entry point, module:Class, file.py or cmd:...")
    group.addoption("--lr-expectations", default=None, help="expectations TOML (cases known to differ)")
    group.addoption("--lr-case", action="append", default=[], help="only cases whose id matches this glob")
    group.addoption("--lr-timeout", type=float, default=None, help="per-case timeout (seconds) for cmd: adapters")


def _selected_cases(config) -> list[cases_mod.Case]:
    return cases_mod.select(cases_mod.load_cases(), config.getoption("--lr-case"))


def pytest_generate_tests(metafunc):
    if "conformance_case" in metafunc.fixturenames:
        chosen = _selected_cases(metafunc.config)
        metafunc.parametrize("conformance_case", chosen, ids=[c.id for c in chosen])


@pytest.fixture(scope="session")
def conformance_adapter(pytestconfig):
    from conformance.adapters import load_adapter

    adapter = load_adapter(pytestconfig.getoption("--adapter"), timeout=pytestconfig.getoption("--lr-timeout"))
    yield adapter
    adapter.close()


@pytest.fixture(scope="session")
def conformance_outcomes(pytestconfig, conformance_adapter):
    """Outcome of every selected case, keyed by id, computed once per session."""
    from pathlib import Path

    from conformance import golden, runner
    from conformance.expectations import load_expectations

    path = pytestconfig.getoption("--lr-expectations")
    options = runner.RunOptions(expectations=load_expectations(Path(path)) if path else None)
    outcomes = runner.run_cases(conformance_adapter, _selected_cases(pytestconfig), golden.load(), options)
    return {o.case_id: o for o in outcomes}


def check_case(case: cases_mod.Case, outcomes) -> None:
    """Turn one case's outcome into a pytest result with a self-explaining message."""
    outcome = outcomes[case.id]
    if outcome.status in (Status.UNSUPPORTED, Status.SKIP):
        pytest.skip(f"{outcome.status.value}: {outcome.detail}")
    if outcome.status is Status.XFAIL:
        pytest.xfail(outcome.detail)
    if outcome.status is not Status.PASS:
        from conformance.snippet import torch_snippet

        message = f"{case.id}: {case.why}\n  {outcome.status.value}: {outcome.detail}"
        if outcome.expected_file:
            message += f"\n  golden: {outcome.expected_file}"
        message += f"\n  rerun: lr-conformance run -k '{case.id}' -v"
        message += "\n  torch reproduction:\n" + "".join(f"    {line}\n" for line in torch_snippet(case).splitlines())
        pytest.fail(message, pytrace=False)
