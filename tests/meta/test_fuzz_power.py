"""The fuzzer's proof of power: every deviant in tests/meta/fakes/deviants.py (torch with one plausible bug)
is found from scratch - no hint of which scheduler to look at - within BUDGET seconds, and shrunk to a short
case on which torch agrees with itself.

A long run (a minute per deviant at worst), so it runs only when asked: `tox -e fuzz`, or
LR_CONFORMANCE_FUZZ_POWER=1 pytest tests/meta/test_fuzz_power.py -v -s  (LR_CONFORMANCE_FUZZ_SEED=N to vary the
seed; each test prints how long the search and the shrinking took and the case it shrank to)."""

from __future__ import annotations

import os

import pytest
from fakes import deviants

from conformance.adapters.torch_reference import TorchAdapter
from conformance.fuzz import differential, emit, search, strategies
from conformance.fuzz.differential import Kind

pytestmark = pytest.mark.skipif(not os.environ.get("LR_CONFORMANCE_FUZZ_POWER"),
                                reason="the fuzzer's proof of power is a long run: tox -e fuzz")

BUDGET = 60.0  # seconds of search per deviant (shrinking not included)
SHORT = 16  # steps: a shrunk case longer than this is not one a reviewer reads at a glance
SEED = int(os.environ.get("LR_CONFORMANCE_FUZZ_SEED", "0"))


@pytest.fixture(scope="module")
def reference():
    return TorchAdapter()


@pytest.mark.parametrize("label", sorted(deviants.DEVIANTS))
def test_fuzz_finds_and_shrinks(label, reference, tmp_path, monkeypatch):
    monkeypatch.setenv("LR_CONFORMANCE_CACHE", str(tmp_path))
    adapter_class, scheduler, exposed_by = deviants.DEVIANTS[label]
    candidate = adapter_class()
    scope = strategies.scope_for(reference.info, candidate.info)
    result = search.search(reference, candidate, scope, search.Budget(max_seconds=BUDGET), seed=SEED)
    tally = result.tally
    assert result.finding is not None, f"{label} ({exposed_by}) not found in {tally.examples} examples"
    case = result.finding.case
    print(f"\n{label:28} found after {tally.examples:5} examples, {tally.search_seconds:5.1f} s; shrunk in "
          f"{tally.shrink_seconds:5.1f} s to {case.steps:2} steps: {result.finding.reason[:90]}")
    print(emit.case_block(emit.finding_case(case, result.finding.reason)))
    assert not result.flaky
    assert scheduler in case.schedulers
    assert case.steps <= SHORT and len(case.groups) <= 2
    assert differential.check(case, reference, TorchAdapter()).kind is Kind.SAME  # the deviant's doing
