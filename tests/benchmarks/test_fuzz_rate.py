"""fuzz's throughput: torch against itself in process for FUZZ_SECONDS (a rate over 100 examples is start-up, not
throughput: runs of 20 s or more), in examples per second of wall time and per CPU-second of this process (which
other jobs on a shared machine disturb less), and the share of drawn examples compared. Printed and recorded,
never asserted."""

from __future__ import annotations

import os
import time

import pytest

from conformance.adapters.torch_reference import TorchAdapter
from conformance.fuzz import search, strategies

FUZZ_SECONDS = float(os.environ.get("LR_CONFORMANCE_FUZZ_SECONDS", "20"))
SEED = 3


@pytest.mark.benchmark(group="fuzz: torch against itself in process")
def test_fuzz_rate(benchmark, summary, tmp_path, monkeypatch):
    monkeypatch.setenv("LR_CONFORMANCE_CACHE", str(tmp_path))  # hypothesis' files outside the checkout
    reference, candidate = TorchAdapter(), TorchAdapter()
    scope = strategies.scope_for(reference.info, candidate.info)
    runs = []

    def fuzz():
        cpu = time.process_time()
        result = search.search(reference, candidate, scope, search.Budget(max_seconds=FUZZ_SECONDS), seed=SEED)
        runs.append((result.tally, time.process_time() - cpu))
        return result

    result = benchmark.pedantic(fuzz, rounds=1, warmup_rounds=0)
    tally, cpu = runs[-1]
    benchmark.extra_info.update(what="fuzz", examples=tally.examples, examples_per_second=round(tally.rate, 1),
                                examples_per_cpu_second=round(tally.examples / cpu, 1), seconds=FUZZ_SECONDS)
    summary.append(f"fuzz --adapter torch --max-seconds {FUZZ_SECONDS:g} --seed {SEED} (in process): {tally.examples} "
                   f"examples, {tally.rate:.1f}/s, {tally.examples / cpu:.1f} per CPU-second, "
                   f"{tally.compared_share:.0%} compared" + ("" if result.finding is None else " - DIVERGED"))
