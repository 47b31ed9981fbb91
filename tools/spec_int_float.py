"""Measure the claim of docs/spec.md section 2.3: does treating a case's integers as floats change any trace?

Runs every case twice through the installed torch - as written, and with every integer in kwargs, children,
groups, optimizer, metrics and epochs turned into a float - and prints the cases whose traces differ, counted by
family: first those whose values or events (step, phase, kind, type) differ, then those that differ only in an
event's message. Torch 2.13.0 (about 10 s of CPU here):

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


def messages(trace):
    return [e.message for e in trace.events]


def by_family(ids) -> str:
    return "".join(f"\n  {family}: {n}" for family, n in sorted(Counter(i.split("/")[0] for i in ids).items()))


def main() -> int:
    adapter = TorchAdapter()
    changed, message_only = [], []
    all_cases = cases.load_cases()
    for case in all_cases:
        raw = {key: as_floats(value) if key in FLOAT_KEYS else value for key, value in case.raw.items()}
        as_written, floated = adapter.trace(case), adapter.trace(cases.parse_case(raw, source=case.source))
        if fingerprint(as_written) != fingerprint(floated):
            changed.append(case.id)
        elif messages(as_written) != messages(floated):
            message_only.append(case.id)
    print(f"torch {adapter.info.version}: {len(changed)} of {len(all_cases)} traces change values or events"
          f"{by_family(changed)}")
    print(f"{len(message_only)} more change only an event's message{by_family(message_only)}")
    for case_id in message_only:
        print(f"  {case_id}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
