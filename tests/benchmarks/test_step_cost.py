"""The reference's cost: `optimizer.step(); scheduler.step()` per scheduler under the installed torch.

One round = the whole of one existing case's loop (step_cases.py) on a freshly built optimizer and scheduler
(built in the untimed setup): the case's `steps` calls of `optimizer.step(); scheduler.step()` (the metric for
ReduceLROnPlateau). pytest-benchmark's tables show seconds per round; the summary below them, and the JSON that
tools/benchmark.py keeps, divide by the steps of a round: microseconds per step, median over the rounds. Whole
rounds rather than one step at a time because a schedule ends (OneCycleLR raises past total_steps) and a step's
cost changes along it (SequentialLR at its milestone). Warnings are ignored: which ones a release emits differs,
and recording them is the conformance run's business."""

from __future__ import annotations

import pytest

from conformance import cases as cases_mod
from conformance.adapters.torch_reference import TorchAdapter
from step_cases import BASELINE, BASELINE_CASE, STEP_CASES, step_arguments

ROUNDS = 1000
WARMUP_ROUNDS = 50
CASES = {case.id: case for case in cases_mod.load_cases()}


def _setup(case):
    """A fresh optimizer and scheduler for each round, as pytest-benchmark's setup wants them: (args, kwargs)."""
    adapter = TorchAdapter()
    arguments = step_arguments(case)

    def fresh():
        session = adapter.build(case)
        return (session.optimizer, session.scheduler, arguments), {}

    return fresh


def one_case(optimizer, scheduler, arguments):
    for args in arguments:
        optimizer.step()
        scheduler.step(*args)


def optimizer_alone(optimizer, scheduler, arguments):
    for _ in arguments:
        optimizer.step()


def _measure(benchmark, summary, name: str, case_id: str, loop) -> None:
    case = CASES[case_id]
    steps = len(step_arguments(case))
    benchmark.extra_info.update(what="step", scheduler=name, case=case_id, steps_per_round=steps)
    benchmark.pedantic(loop, setup=_setup(case), rounds=ROUNDS, warmup_rounds=WARMUP_ROUNDS)
    stats = benchmark.stats.stats
    summary.append(f"{name + ':':29} {stats.median / steps * 1e6:7.2f} us per step (median; IQR "
                   f"{stats.iqr / steps * 1e6:.2f}) over {stats.rounds} rounds of {steps} steps ({case_id})")


@pytest.mark.filterwarnings("ignore")
@pytest.mark.parametrize("scheduler", list(STEP_CASES))
@pytest.mark.benchmark(group="step cost: one round of a case (s)")
def test_step_cost(benchmark, summary, scheduler):
    _measure(benchmark, summary, scheduler, STEP_CASES[scheduler], one_case)


@pytest.mark.filterwarnings("ignore")
@pytest.mark.benchmark(group="step cost: one round of a case (s)")
def test_optimizer_step_alone(benchmark, summary):
    _measure(benchmark, summary, BASELINE, BASELINE_CASE, optimizer_alone)
