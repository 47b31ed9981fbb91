"""Per case, the largest difference in ULPs (and relative) between the golden and the actual trace, over every
compared value of every observation - not only the first divergence the harness reports. Reads a result
document written with --rtol 0 --atol 0 (results that differ carry both traces):

    NODE_EXAMPLE_MATH=v8 lr-conformance run --adapter 'cmd:node examples/node/adapter.js' --rtol 0 --atol 0 \\
        --json /tmp/v8.json
    python examples/node/measure/max_ulp.py /tmp/v8.json
"""

from __future__ import annotations

import json
import struct
import sys

EPS = 2.0**-52


def ordinal(x: float) -> int:
    """Doubles in order as integers: adjacent doubles differ by 1 (so -0.0 and 0.0 are both 0)."""
    i = struct.unpack("<q", struct.pack("<d", x))[0]
    return i if i >= 0 else -(i & 0x7FFFFFFFFFFFFFFF)


def main(path: str) -> int:
    worst_ulps, worst_rel = 0, 0.0
    for result in json.load(open(path))["results"]:
        traces = result.get("traces")
        if not traces:
            continue
        actual = {(o[0], o[1]): o for o in traces["actual"]["observations"]}
        ulps, rel = 0, 0.0
        for o in traces["expected"]["observations"]:
            a = actual.get((o[0], o[1]))
            for column in (2, 3, 4):  # lr, momentum, last_lr
                if a is None or o[column] is None or a[column] is None:
                    continue
                e, x = float(o[column]), float(a[column])
                ulps = max(ulps, abs(ordinal(e) - ordinal(x)))
                if e != 0:
                    rel = max(rel, abs(e - x) / abs(e))
        worst_ulps, worst_rel = max(worst_ulps, ulps), max(worst_rel, rel)
        print(f"{result['status']:5} {result['id']:55} {ulps} ulp, rel {rel / EPS:.2f} * 2^-52")
    print(f"worst: {worst_ulps} ulp, rel {worst_rel / EPS:.2f} * 2^-52")
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1]))
