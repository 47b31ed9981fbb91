"""Benchmarks (pytest-benchmark): they record, they never fail on time. Run with `pytest tests/benchmarks`
(`tox -e bench`; `python tools/benchmark.py --save FILE` keeps a small JSON of them, as tools/matrix.py does per
torch release). A plain `pytest` does not collect them (pyproject.toml's testpaths).

Recorded beside the timings: the torch release and the load average at the start and the end of the session (a
machine shared with other jobs makes every figure slower; the load says how shared it was)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

SUMMARY = pytest.StashKey[list]()
LOAD_AT_START = pytest.StashKey[tuple]()


def _load_average() -> list[float]:
    return [round(value, 2) for value in os.getloadavg()]


def pytest_configure(config):
    config.addinivalue_line("markers", "command: times a command (Python's start and torch's import in every round)")
    config.stash[LOAD_AT_START] = _load_average()
    config.stash[SUMMARY] = []


def pytest_benchmark_update_machine_info(config, machine_info):
    import torch

    machine_info["torch"] = torch.__version__
    machine_info["cpu_count"] = os.cpu_count()
    machine_info["load_average"] = {"start": config.stash[LOAD_AT_START], "end": _load_average()}


@pytest.fixture(scope="session")
def summary(pytestconfig) -> list[str]:
    """Lines printed after pytest-benchmark's tables: the figures its tables do not show (per step, per case,
    ratio to the floor)."""
    return pytestconfig.stash[SUMMARY]


@pytest.fixture(scope="session")
def medians() -> dict[str, float]:
    """Median seconds of the harness benchmarks run so far this session, by extra_info["what"]."""
    return {}


def pytest_terminal_summary(terminalreporter, config):
    lines = config.stash.get(SUMMARY, [])
    if lines:
        terminalreporter.write_sep("-", f"benchmarks (load average {config.stash[LOAD_AT_START]} at the start, "
                                        f"{_load_average()} now)")
        for line in lines:
            terminalreporter.write_line(line)
