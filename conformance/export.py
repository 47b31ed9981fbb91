"""`lr-conformance export`: the resolved cases and their goldens as JSON lines, for consumers that do not read
TOML or CSV (an implementation in another language, a notebook, a database).

One object per case (schemas/export.schema.json; docs/spec.md section 10): the case exactly as a trace
request carries it ([defaults] merged), its vocabulary callables with their parameters and expressions, and
every golden trace of the case in the subprocess protocol's trace format. Floats are written by Python's json
(the shortest text that reads back to the same double), non-finite ones as "nan", "inf", "-inf".
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, TextIO

from conformance import golden, vocabulary
from conformance.cases import case_to_json, spec_hash
from conformance.model import CALLABLE_KWARGS, SUBCLASS_KWARG, Case, SchedulerSpec, json_safe

EXPORT_SCHEMA = "lr-conformance/export/1"


def callables(case: Case) -> list[dict]:
    """Every vocabulary spec in the case's scheduler tree (callables and a user's subclass), with where it is,
    its parameters (defaults filled in), its exact expression and whether it is a stateful callable object."""
    found: list[dict] = []

    def visit(spec: SchedulerSpec, prefix: str) -> None:
        if SUBCLASS_KWARG in spec.kwargs:  # a user's LRScheduler subclass: its methods' exact expressions
            entry, params = vocabulary.SUBCLASSES[spec.kwargs[SUBCLASS_KWARG]["fn"]], vocabulary.subclass(
                spec.kwargs[SUBCLASS_KWARG])[1]
            found.append({"path": f"{prefix}kwargs.{SUBCLASS_KWARG}", "fn": entry.name, "params": json_safe(params),
                          "expression": entry.expression, "stateful": False})
        for key in CALLABLE_KWARGS:
            if key in spec.kwargs:
                value = spec.kwargs[key]
                items = [(f"[{i}]", item) for i, item in enumerate(value)] if isinstance(value, list) else [("", value)]
                found.extend(_describe(f"{prefix}kwargs.{key}{suffix}", item) for suffix, item in items)
        for index, child in enumerate(spec.children):
            if child is not None:  # a `{ none = true }` child holds no callable
                visit(child, f"{prefix}children[{index}].")

    visit(case.scheduler, "")
    return found


def _describe(path: str, spec: Mapping[str, Any]) -> dict:
    entry = vocabulary.ENTRIES[spec["fn"]]
    params = {**(entry.defaults or {}), **{k: v for k, v in spec.items() if k != "fn"}}
    return {"path": path, "fn": entry.name, "params": json_safe(params), "expression": entry.expression,
            "stateful": vocabulary.is_stateful(spec)}


def record(case: Case, store: golden.Goldens) -> dict:
    """The export line of one case. Raises golden.GoldenError when a golden is missing or corrupt."""
    from conformance.runner import required_features

    entry = store.entry(case.id)
    ordered = sorted(entry["traces"], key=lambda r: r["torch"] != "")  # the reference first, then manifest order
    traces = []
    for item in ordered:
        trace = store.read_verified(store.root / item["file"], item["sha256"])
        traces.append({
            "file": item["file"],
            "torch": item["torch"],
            "sha256": item["sha256"],
            "generated_by": list(item.get("generated_by", ())),
            "requires": sorted(required_features(case, trace)),
            "trace": json_safe(trace.to_json()),
        })
    return {
        "schema": EXPORT_SCHEMA,
        "id": case.id,
        "source": case.source,
        "spec": spec_hash(case),
        "case": case_to_json(case),
        "schedulers": sorted(case.schedulers),
        "callables": callables(case),
        "traces": traces,
    }


def records(cases: Iterable[Case], store: golden.Goldens) -> Iterator[dict]:
    for case in cases:
        yield record(case, store)


def dumps(line: Mapping) -> str:
    """One JSON line: strict JSON (no NaN tokens), UTF-8 text, no spaces."""
    return json.dumps(line, allow_nan=False, ensure_ascii=False, separators=(",", ":")) + "\n"


def write(cases: Iterable[Case], store: golden.Goldens, out: TextIO) -> int:
    """Write the export lines of `cases` to `out`; returns how many."""
    count = 0
    for line in records(cases, store):
        out.write(dumps(line))
        count += 1
    return count
