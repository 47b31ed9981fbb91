"""The harness's speed: a full `lr-conformance run` against the installed torch, in process, in cases per second,
and its ratio to the floor - bare torch stepping the same cases: building each case's optimizer and scheduler,
calling `optimizer.step(); scheduler.step()` (resuming where the case does) and reading the lrs, with none of the
harness around it (recording, event capture, loading goldens, comparing). Target: the run <= 1.5x the floor.
Printed and recorded, never asserted: the ratio is what a reader compares across machines and releases.

`test_command` (deselected by tools/matrix.py --bench, `-m "not command"`) times the same run as a command, with
Python's start and torch's import, and `pytest tests/conformance`, against the command floor `python -c "import
torch; torch.optim.SGD(...)"` (targets <= 1.5x and <= 3x): the figures a user waiting for them sees. Each of its rounds starts Python and imports torch, so it
costs seconds per round."""

from __future__ import annotations

import contextlib
import io
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from conformance import cases as cases_mod
from conformance import cli
from conformance.adapters.torch_reference import TorchAdapter

ROOT = Path(__file__).resolve().parents[2]
ROUNDS = 5
COMMAND_ROUNDS = 3
TARGET = 1.5  # the run over the bare stepping of the same cases
COMMAND_FLOOR = [sys.executable, "-c", "import torch; torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)"]
COMMANDS = {  # name: (command, target ratio to the command floor)
    "command floor": (COMMAND_FLOOR, None),
    "lr-conformance run": ([sys.executable, "-m", "conformance", "run", "-q"], 1.5),
    "pytest tests/conformance": ([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/conformance"],
                                 3.0),
}


def cases_run() -> list:
    """The cases a run against the installed torch grades: those whose torch specifier admits this release."""
    release = TorchAdapter().info.mirrors
    return [case for case in cases_mod.load_cases() if cases_mod.applies_to(case, release)]


def step_bare(adapter: TorchAdapter, case) -> None:
    """One case on bare torch: build, then per step read the lrs, `optimizer.step(); scheduler.step(...)` in the
    case's order (resuming through a checkpoint at resume_at), until the case ends or torch raises - a raise is
    the case's behaviour (an error case), as in the run."""
    try:
        session = adapter.build(case)
        for i in range(case.steps):
            if i == case.resume_at:
                session = adapter.restore(case, session.save())
            kwargs = case.step_kwargs(i)
            if case.protocol == "scheduler-first":
                session.scheduler_step(**kwargs)
                session.lrs()
                session.optimizer_step()
            else:
                session.lrs()
                session.optimizer_step()
                session.scheduler_step(**kwargs)
    except Exception:  # noqa: BLE001 - the case's error, what its golden records
        pass


@pytest.mark.benchmark(group="harness: every case in process (s)")
def test_floor_bare_torch(benchmark, medians, summary):
    cases = cases_run()
    adapter = TorchAdapter()
    benchmark.extra_info.update(what="floor", cases=len(cases))

    def floor():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch's warnings still are raised; only their printing is spared
            for case in cases:
                step_bare(adapter, case)

    benchmark.pedantic(floor, rounds=ROUNDS, warmup_rounds=1)
    median = medians["floor"] = benchmark.stats.stats.median
    summary.append(f"floor (bare torch stepping the {len(cases)} cases): {median:.3f} s, {len(cases) / median:.0f} "
                   "cases/s")


@pytest.mark.benchmark(group="harness: every case in process (s)")
def test_run_in_process(benchmark, medians, summary):
    """`lr-conformance run` through cli.main in this process (torch already imported): loading and checking cases
    and goldens, driving torch through the adapter, recording, comparing - every case the release grades."""
    cases = len(cases_run())
    benchmark.extra_info.update(what="run in process", cases=cases, target_ratio=TARGET)

    def run():
        with contextlib.redirect_stdout(io.StringIO()):
            return cli.main(["run", "-q"])

    code = benchmark.pedantic(run, rounds=ROUNDS, warmup_rounds=1)
    assert code == 0, "the run did not pass: its time would not be a full run's"
    median = medians["run in process"] = benchmark.stats.stats.median
    ratio = f"{median / medians['floor']:.2f}x the floor" if "floor" in medians else "floor not measured"
    summary.append(f"lr-conformance run in process: {cases} cases in {median:.3f} s, {cases / median:.0f} cases/s, "
                   f"{ratio} (target <= {TARGET}x)")


@pytest.mark.command
@pytest.mark.parametrize("name", list(COMMANDS))
@pytest.mark.benchmark(group="harness: commands (s)")
def test_command(benchmark, medians, summary, name):
    command, target = COMMANDS[name]
    benchmark.extra_info.update(what=name, **({"target_ratio": target, "floor": "command floor",
                                               "cases": len(cases_mod.load_cases())} if target else {}))
    # one warm-up round: the first start reads torch from disk, every later one from the page cache
    benchmark.pedantic(lambda: subprocess.run(command, cwd=ROOT, check=True, stdout=subprocess.DEVNULL,
                                              stderr=subprocess.DEVNULL), rounds=COMMAND_ROUNDS, warmup_rounds=1)
    median = medians[name] = benchmark.stats.stats.median
    if target is None:
        summary.append(f"{name} (python -c 'import torch; torch.optim.SGD(...)'): {median:.2f} s")
        return
    ratio = f"{median / medians['command floor']:.2f}x" if "command floor" in medians else "not measured"
    summary.append(f"{name} as a command: {median:.2f} s, {ratio} the command floor (target <= {target}x)")
