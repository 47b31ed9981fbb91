"""What examples/README.md ("Writing your own adapter") and docs/spec.md (4.3, 7.3) tell an adapter author,
held to what the harness does (issue 20 item 12): bit-exact is the default declaration, and at `resume_at`
the scheduler has been stepped exactly `resume_at` times, in either step order."""

from __future__ import annotations

import copy
import math
from pathlib import Path

import pytest
from helpers import make_case

from conformance import runner
from conformance.adapters.base import Session, StatefulAdapter
from conformance.model import AdapterInfo, Tolerance

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("doc", ["examples/README.md", "docs/spec.md"])
def test_the_docs_say_the_three_things_a_cold_adapter_writer_had_to_find_in_the_code(doc):
    text = " ".join((ROOT / doc).read_text(encoding="utf-8").split())
    assert "without a tolerance" in text or "Leave `tolerance` out" in text  # bit-exact is the default
    assert "`save()` returns a copy" in text
    assert "stepped exactly `resume_at` times" in text


def test_an_adapter_that_declares_no_tolerance_is_graded_bit_exact():
    declared = AdapterInfo(name="mine", version="1", schedulers=frozenset({"StepLR"}))
    assert declared.tolerance == Tolerance() and declared.tolerance.exact
    assert not declared.tolerance.close(0.1, math.nextafter(0.1, 1.0))  # one ulp off is a difference
    hello = {"name": "mine", "version": "1", "schedulers": ["StepLR"]}  # a cmd: adapter's hello, no tolerance
    assert AdapterInfo.from_json(hello).tolerance.exact


class _Counting(Session):
    """One constant lr; counts the scheduler steps and notes the count at each save()."""

    def __init__(self, saves: list[int], steps: int = 0) -> None:
        self.saves, self.steps = saves, steps

    def lrs(self):
        return [0.1]

    def optimizer_step(self) -> None:
        pass

    def scheduler_step(self, metric=None, epoch=None) -> None:
        self.steps += 1

    def save(self):
        self.saves.append(self.steps)
        return copy.deepcopy({"steps": self.steps})


class _CountingAdapter(StatefulAdapter):
    info = AdapterInfo(name="counting", version="1", schedulers=frozenset({"StepLR"}),
                       features=frozenset({"state_dict", "scheduler_first"}))

    def __init__(self) -> None:
        self.saves: list[int] = []

    def build(self, case):
        return _Counting(self.saves)

    def restore(self, case, checkpoint):
        return _Counting(self.saves, checkpoint["steps"])


@pytest.mark.parametrize("protocol", ["resume-state-dict", "scheduler-first"])
@pytest.mark.parametrize("resume_at", [1, 4])
def test_at_resume_at_the_scheduler_has_been_stepped_resume_at_times(protocol, resume_at):
    adapter = _CountingAdapter()
    case = make_case("steplr/counted", groups=[{"lr": 0.1}], steps=6, protocol=protocol, resume_at=resume_at)
    runner.trace_case(adapter, case)
    assert adapter.saves == [resume_at]
