"""How far the Node.js example is from the goldens, in ULPs: for every case it supports, the largest distance
over the whole trace (lr and last_lr), and which cases are not bit-exact. Run from the repository root:

    python examples/node/ulps.py

It also prints cos(k*pi/5) from CPython (the C library's cos) and from Node (V8's) for k = 0..10, to show the
one-ULP differences the recursive CosineAnnealingLR carries forward.
"""

from __future__ import annotations

import math
import subprocess
from pathlib import Path

from conformance import cases, golden, runner
from conformance.compare import ulp_distance
from conformance.transport import SubprocessAdapter

HERE = Path(__file__).resolve().parent


def main() -> None:
    store = golden.load()
    worst: dict[str, int] = {}
    with SubprocessAdapter(["node", str(HERE / "adapter.js")]) as adapter:
        for case in cases.load_cases():
            expected, _ = store.expected(case, store.reference)
            if runner.missing_capabilities(case, expected, adapter.info):
                continue
            actual = {(o.step, o.group): o for o in adapter.trace(case).observations}
            distance = 0
            for o in expected.observations:
                a = actual.get((o.step, o.group))
                for column in ("lr", "last_lr"):
                    e, x = getattr(o, column), None if a is None else getattr(a, column)
                    if e is not None and x is not None and not (math.isnan(e) and math.isnan(x)):
                        distance = max(distance, ulp_distance(e, x) or 0)
            worst[case.id] = distance
    inexact = {case_id: d for case_id, d in worst.items() if d}
    print(f"{len(worst)} cases supported, {len(worst) - len(inexact)} bit-exact")
    for case_id, distance in sorted(inexact.items()):
        print(f"  {case_id}: up to {distance} ulp")
    script = "for (let k = 0; k <= 10; k++) console.log(Math.cos(k * Math.PI / 5))"
    node = subprocess.run(["node", "-e", script], capture_output=True, text=True, check=True).stdout.split()
    print("k  CPython cos(k*pi/5)       Node Math.cos(k*pi/5)     ulp")
    for k, text in enumerate(node):
        ours, theirs = math.cos(k * math.pi / 5), float(text)
        print(f"{k:<2} {ours!r:25} {theirs!r:25} {ulp_distance(ours, theirs)}")


if __name__ == "__main__":
    main()
