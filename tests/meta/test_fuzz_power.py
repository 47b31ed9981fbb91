"""The fuzzer's proof of power: every deviant in tests/meta/fakes/deviants.py (torch with one plausible bug)
is found from scratch - no hint of which scheduler to look at - within BUDGET seconds, and shrunk to a short
case on which torch agrees with itself.

A long run (a minute per deviant at worst), so it runs only when asked: `tox -e fuzz`, or
LR_CONFORMANCE_FUZZ_POWER=1 pytest tests/meta/test_fuzz_power.py -v -s  (LR_CONFORMANCE_FUZZ_SEED=N to vary the
seed; each test prints how long the search and the shrinking took and the case it shrank to)."""

from __future__ import annotations

import os
import sys
import time

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


@pytest.mark.parametrize("route", ["in-process", "cmd"])
def test_speed_torch_against_itself(route, reference, benchmark, tmp_path, monkeypatch):
    """Examples per second of torch 2.13.0 fuzzed against itself, in process and with the reference behind
    the subprocess transport (`cmd:python -m conformance.serve --adapter torch`), as pytest-benchmark
    measures it: each round is a seeded search of EXAMPLES examples. Printed: the rate and the share of the
    time spent running the cases (the rest is hypothesis drawing them)."""
    from conformance.adapters import load_adapter

    monkeypatch.setenv("LR_CONFORMANCE_CACHE", str(tmp_path))
    examples = 300
    spec = "torch" if route == "in-process" else f"cmd:{sys.executable} -m conformance.serve --adapter torch"
    other = load_adapter(spec)
    scope = strategies.scope_for(reference.info, other.info)
    results, cpu = [], []

    def fuzz():
        # CPU seconds of this process beside the wall time: on a machine shared with other jobs the wall-time
        # rate swings with the load, the CPU-time rate much less (a `cmd:` child's CPU is not counted)
        start = time.process_time()
        results.append(search.search(other, TorchAdapter(), scope, search.Budget(max_examples=examples), seed=0))
        cpu.append(time.process_time() - start)

    try:
        benchmark.pedantic(fuzz, rounds=3, iterations=1)
    finally:
        other.close()
    tally = results[-1].tally
    assert results[-1].finding is None and tally.examples == examples
    per_cpu_second = examples / cpu[-1]
    benchmark.extra_info.update(examples=examples, examples_per_second=round(tally.rate, 1),
                                examples_per_cpu_second=round(per_cpu_second, 1),
                                running_cases_share=round(tally.check_seconds / tally.search_seconds, 2))
    print(f"\n{route}: {tally.rate:.1f} examples/s, {per_cpu_second:.1f} per CPU-second of this process "
          f"({tally.duplicates} drawn again and skipped); running the cases "
          f"{tally.check_seconds / tally.search_seconds:.0%} of the time, hypothesis drawing them the rest")
