"""Measure the claim of docs/spec.md section 2.3: does treating a case's integers as floats change any trace?

Runs every case twice through the installed torch - as written, and with every integer in kwargs, children,
groups, optimizer, metrics and epochs turned into a float - and prints the cases whose traces (values or events)
differ, counted by family. Torch 2.13.0 (about 10 s of CPU here):

    python tools/spec_int_float.py
"""

from __future__ import annotations

import sys
from collections import Counter

from conformance import cases
from conformance.adapters.torch_reference import TorchAdapter

FLOAT_KEYS = ("kwargs", "children", "groups", "optimizer", "metrics", "epochs")


def as_floats(value):
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return float(value)
    if isinstance(value, list):
        return [as_floats(item) for item in value]
    if isinstance(value, dict):
        return {key: item if key == "fn" else as_floats(item) for key, item in value.items()}
    return value


def fingerprint(trace):
    return ([(o.step, o.group, o.lr, o.momentum, o.last_lr) for o in trace.observations], [e.key for e in trace.events])


def main() -> int:
    adapter = TorchAdapter()
    changed = []
    for case in cases.load_cases():
        raw = {key: as_floats(value) if key in FLOAT_KEYS else value for key, value in case.raw.items()}
        floated = cases.parse_case(raw, source=case.source)
        if fingerprint(adapter.trace(case)) != fingerprint(adapter.trace(floated)):
            changed.append(case.id)
    print(f"torch {adapter.info.version}: {len(changed)} of {len(cases.load_cases())} traces change")
    for family, count in sorted(Counter(case_id.split("/")[0] for case_id in changed).items()):
        print(f"  {family}: {count}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
