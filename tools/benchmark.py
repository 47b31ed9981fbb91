"""Speed of a full conformance run relative to the unavoidable floor (importing torch + building one optimizer).

    python tools/benchmark.py [--repeat 5]

Prints the median wall time of each command and its ratio to the floor. Targets (issue #2):
`lr-conformance run` <= 1.5x the floor, `pytest tests/conformance` <= 3x. This is a measurement, not a test:
timing assertions in tests are flaky, so the README records the numbers this prints.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COMMANDS = {
    "floor": [sys.executable, "-c", "import torch; torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)"],
    "lr-conformance run": [sys.executable, "-m", "conformance", "run", "-q"],
    "pytest tests/conformance": [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/conformance"],
}
TARGETS = {"lr-conformance run": 1.5, "pytest tests/conformance": 3.0}


def median_seconds(command: list[str], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(command, cwd=ROOT, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    median_seconds(COMMANDS["floor"], 1)  # warm the page cache so the first measurement is not penalised
    floor = median_seconds(COMMANDS["floor"], args.repeat)
    print(f"{'floor (import torch + SGD)':28} {floor:6.2f} s")
    for name in ("lr-conformance run", "pytest tests/conformance"):
        seconds = median_seconds(COMMANDS[name], args.repeat)
        ratio = seconds / floor
        verdict = "within" if ratio <= TARGETS[name] else "OVER"
        print(f"{name:28} {seconds:6.2f} s  ratio {ratio:4.2f}  ({verdict} target {TARGETS[name]}x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
