"""Arguments of the kind schedules pass to cos, pow and log, with the C library's result (through CPython's
math module, as torch's Python-float schedules get it) and the correctly rounded result (mpmath, 400 bits).
Writes one JSON file for libm_compare.js (docs/spec.md Annex B quotes what the two print).

    python examples/node/measure/libm_reference.py /tmp/libm.json      # needs mpmath (torch brings it)

About 40 s on one core. The samples are fixed (seeded), so every run on the same C library writes the same file.
"""

from __future__ import annotations

import json
import math
import platform
import random
import sys

import mpmath

mpmath.mp.prec = 400
SMALLEST_SUBNORMAL = mpmath.mpf(2) ** -1074


def rounded(value: mpmath.mpf) -> float:
    """`value` rounded once to the nearest double (mpmath's float() rounds subnormals twice)."""
    if abs(value) < mpmath.mpf(2) ** -1022:
        return float(mpmath.nint(value / SMALLEST_SUBNORMAL) * SMALLEST_SUBNORMAL)
    return float(value)


def samples() -> dict[str, list]:
    random.seed(1)
    pows: list[tuple[float, float]] = []
    bases = [0.1, 0.5, 0.9, 0.95, 0.99, 0.7, 0.3, 0.8, 0.2, 0.85, 1 / 3, 0.999, 0.9999, 2.0, 1.5, 0.75, 0.6, 0.4]
    for base in bases:  # gamma ** epoch: ExponentialLR / StepLR closed forms, `exponential` lambdas
        pows += [(base, float(n)) for n in range(400)]
    for _ in range(20000):
        base = random.uniform(0, 2)
        exponent = random.choice([random.uniform(-3, 3), float(random.randint(0, 500)), -0.5, -1.5, 0.5, 2.0])
        pows.append((base, exponent))
    for x in range(1, 2000):  # inverse_sqrt: (x + 1) ** -0.5, warmup ** -1.5
        pows += [(float(x), -0.5), (float(x), -1.5)]
    coss: list[float] = []
    for t_max in range(1, 200):  # pi * e / T and e * pi / T: CosineAnnealingLR, CAWR, OneCycleLR
        for e in range(3 * t_max + 2):
            coss += [math.pi * e / t_max, e * math.pi / t_max]
    coss += [random.uniform(-20, 20) for _ in range(50000)]
    random.seed(2)  # log: CosineAnnealingWarmRestarts' fractional epochs with T_mult > 1
    logs = [random.uniform(0, 100) for _ in range(20000)] + [float(i) for i in range(1, 3000)]
    logs += [i / 7 for i in range(1, 3000)]
    return {"pow": pows, "cos": coss, "log": logs}


def main(out: str) -> int:
    s = samples()
    doc = {
        "c_library": " ".join(platform.libc_ver()),
        "python": platform.python_version(),
        "pow": [[b, y, math.pow(b, y), None if b == 0 else rounded(mpmath.power(mpmath.mpf(b), mpmath.mpf(y)))]
                for b, y in s["pow"]],
        "cos": [[x, math.cos(x), rounded(mpmath.cos(mpmath.mpf(x)))] for x in s["cos"]],
        "log": [[x, math.log(x), rounded(mpmath.log(mpmath.mpf(x)))] for x in s["log"]],
    }
    with open(out, "w") as f:
        json.dump(doc, f)
    print(f"{out}: {len(doc['cos'])} cos, {len(doc['pow'])} pow, {len(doc['log'])} log arguments "
          f"({doc['c_library']}, CPython {doc['python']})")
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1]))
