"""tools/benchmark.py (the record it keeps of a pytest-benchmark report, docs/step-cost.md's table), tools/matrix.py's
bookkeeping of the steps a run skips, and the step cases of tests/benchmarks under the installed torch. The
benchmarks themselves only run when asked for (`pytest tests/benchmarks`): they measure, and nothing here times
anything."""

from __future__ import annotations

import importlib.util
import sys
import warnings
from argparse import Namespace
from pathlib import Path

import pytest

from conformance import cases as cases_mod
from conformance.adapters.torch_reference import TorchAdapter

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools"))
sys.path.insert(0, str(ROOT / "tests" / "benchmarks"))

import benchmark  # noqa: E402
import step_cases  # noqa: E402


def _load_matrix():
    spec = importlib.util.spec_from_file_location("matrix_tool_for_bench", ROOT / "tools" / "matrix.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


matrix = _load_matrix()


def _stats(median: float, iqr: float = 0.0, rounds: int = 5) -> dict:
    return {"median": median, "iqr": iqr, "rounds": rounds, "min": median, "max": median, "mean": median}


REPORT = {  # a pytest-benchmark JSON report, cut to what tools/benchmark.py reads
    "machine_info": {"torch": "2.13.0+cpu", "cpu": {"brand_raw": "Test CPU"}, "cpu_count": 2, "system": "Linux",
                     "release": "6.0", "python_version": "3.11.7", "load_average": {"start": [0.5], "end": [1.5]}},
    "datetime": "2026-01-02T03:04:05",
    "version": "5.1.0",
    "benchmarks": [
        {"stats": _stats(0.5), "extra_info": {"what": "floor", "cases": 100}},
        {"stats": _stats(1.0, 0.25), "extra_info": {"what": "run in process", "cases": 100, "target_ratio": 1.5}},
        {"stats": _stats(3.0), "extra_info": {"what": "command floor"}},
        {"stats": _stats(4.5), "extra_info": {"what": "lr-conformance run", "target_ratio": 1.5,
                                              "floor": "command floor"}},
        {"stats": _stats(2e-4, 1e-5, 1000), "extra_info": {"what": "step", "scheduler": "StepLR",
                                                           "case": "steplr/x", "steps_per_round": 10}},
    ],
}


def test_a_report_becomes_microseconds_per_step_cases_per_second_and_the_ratio_to_the_floor():
    record = benchmark.extract(REPORT)
    assert record["torch"] == "2.13.0"
    assert record["step"]["StepLR"] == {"case": "steplr/x", "steps_per_round": 10, "median_us": 20.0, "iqr_us": 1.0,
                                        "min_us": 20.0, "rounds": 1000}
    run = record["harness"]["run in process"]
    assert (run["cases_per_second"], run["ratio_to_floor"], run["floor"]) == (100.0, 2.0, "floor")
    assert record["harness"]["floor"]["cases_per_second"] == 200.0
    assert record["harness"]["lr-conformance run"]["ratio_to_floor"] == 1.5  # to its own floor: the command's
    assert record["machine"]["cpu"] == "Test CPU" and record["load_average"] == {"start": [0.5], "end": [1.5]}


def _record(torch: str, step_us: dict[str, tuple[float, float]]) -> dict:
    """A saved record whose schedulers step in (median, fastest round) microseconds."""
    record = benchmark.extract({**REPORT, "machine_info": {**REPORT["machine_info"], "torch": torch}})
    record["step"] = {name: {"case": f"{name.lower()}/x", "steps_per_round": 10, "median_us": median, "iqr_us": 0.5,
                             "min_us": fastest, "rounds": 1000} for name, (median, fastest) in step_us.items()}
    return record


def _tables(page: str) -> list[dict[str, str]]:
    """Each table of the page as {first cell: row}."""
    tables, current = [], None
    for line in page.splitlines():
        if line.startswith("| "):
            if current is None:
                current = {}
                tables.append(current)
            current[line.split(" | ")[0][2:]] = line
        else:
            current = None
    return tables


def test_the_step_cost_table_marks_a_release_that_made_a_step_slower_in_the_median_and_the_fastest_round():
    records = {"2.13.0": _record("2.13.0", {"StepLR": (20.0, 18.0), "OneCycleLR": (40.0, 30.0),
                                            "LinearLR": (10.0, 10.0)}),
               "2.12.1": _record("2.12.1", {"StepLR": (40.0, 36.0), "OneCycleLR": (44.0, 30.0),
                                            "LinearLR": (20.0, 11.0)})}
    page = benchmark.render_step_cost(records, ["2.12.1", "2.13.0", "2.14.1"], "2.13.0")
    median, fastest, microseconds, harness = _tables(page)
    # medians: the reference's own column in microseconds, others as ratios; bold only where the fastest round
    # is as much slower (LinearLR's median doubled, its fastest round did not: other jobs, not torch)
    assert median["StepLR (`steplr/x`)"] == "| StepLR (`steplr/x`) | **2.00x** | 20.0 us | - |"
    assert median["OneCycleLR (`onecyclelr/x`)"] == "| OneCycleLR (`onecyclelr/x`) | 1.10 | 40.0 us | - |"
    assert median["LinearLR (`linearlr/x`)"] == "| LinearLR (`linearlr/x`) | 2.00 | 10.0 us | - |"
    assert fastest["StepLR (`steplr/x`)"] == "| StepLR (`steplr/x`) | **2.00x** | 18.0 us | - |"
    assert fastest["LinearLR (`linearlr/x`)"] == "| LinearLR (`linearlr/x`) | 1.10 | 10.0 us | - |"
    assert microseconds["StepLR"] == "| StepLR | 40.0 (0.5) | 20.0 (0.5) | - |"
    assert harness["2.13.0"] == "| 2.13.0 | 100 | 0.50 | 1.00 (2.00x) | 100.0 | 3.00 | 4.50 (1.50x) | - | 0.5 -> 1.5 | 2026-01-02T03:04 |"
    assert harness["2.14.1"] == "| 2.14.1 | - | - | - | - | - | - | - | - | not measured |"


def test_without_the_reference_release_the_table_shows_microseconds():
    page = benchmark.render_step_cost({"2.12.1": _record("2.12.1", {"StepLR": (40.0, 30.0)})}, ["2.12.1", "2.13.0"],
                                      "2.13.0")
    median, fastest = _tables(page)[:2]
    assert median["StepLR (`steplr/x`)"] == "| StepLR (`steplr/x`) | 40.0 us | - |"
    assert fastest["StepLR (`steplr/x`)"] == "| StepLR (`steplr/x`) | 30.0 us | - |"


@pytest.mark.parametrize("flags, kept", [
    ({"no_tests": True, "bench": True}, {"status", "test_seconds", "pytest"}),
    ({"no_regen": True, "bench": True}, {"regen", "regen_exit"}),
    ({}, {"bench", "bench_seconds"}),
])
def test_a_matrix_run_keeps_what_an_earlier_run_recorded_of_the_steps_it_skips(flags, kept):
    args = Namespace(**{"no_tests": False, "no_regen": False, "bench": False, **flags})
    earlier = {"status": "pass", "test_seconds": 300, "pytest": "460 passed", "regen": "regen: 1 new", "regen_exit": 0,
               "bench": "saved", "bench_seconds": 50, "install_seconds": 99}
    result = matrix.keep_earlier({"release": "2.0.1", "install_seconds": 20}, earlier, args)
    assert set(result) == {"release", "install_seconds"} | kept and result["install_seconds"] == 20


def test_a_matrix_run_judges_only_the_steps_it_ran():
    no_tests = Namespace(no_tests=True, no_regen=False, bench=True)
    assert matrix.release_problem({"status": "fail", "regen_exit": 0, "bench": "saved"}, no_tests) == ""
    assert "regen failed (exit 1)" in matrix.release_problem({"regen_exit": 1, "regen": "regen: refused"}, no_tests)
    assert "benchmarks failed" in matrix.release_problem({"regen_exit": 0, "bench": "1 failed"}, no_tests)
    assert "install failed" in matrix.release_problem({"status": "install-failed"}, no_tests)
    tests = Namespace(no_tests=False, no_regen=True, bench=False)
    assert "tests failed" in matrix.release_problem({"status": "fail", "regen_exit": 1}, tests)


def test_every_scheduler_has_a_step_case_that_steps_under_the_installed_torch():
    from test_step_cost import one_case  # the loop the step-cost benchmark times

    assert set(step_cases.STEP_CASES) == set(cases_mod.SCHEDULERS)
    by_id = {case.id: case for case in cases_mod.load_cases()}
    adapter = TorchAdapter()
    for name, case_id in step_cases.STEP_CASES.items():
        case = by_id[case_id]
        assert case.scheduler.name == name and not case.torch, f"{case_id}: not a {name} case of every release"
        session = adapter.build(case)
        calls = []
        step = session.scheduler.step
        session.scheduler.step = lambda *args: (calls.append(args), step(*args))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            one_case(session.optimizer, session.scheduler, step_cases.step_arguments(case))
        assert calls == list(step_cases.step_arguments(case)) and len(calls) == case.steps, case_id
