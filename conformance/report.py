"""Reports. One machine-readable result document (see `result_document`, schema in
schemas/result.schema.json) feeds every view: the terminal summary here, the Markdown/HTML reports
(conformance/htmlreport.py), and `lr-conformance report` re-rendering a saved document.
"""

from __future__ import annotations

import json
import shlex
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict

from conformance import __version__
from conformance.model import AdapterInfo, Case, Outcome, Status, json_safe
from conformance.snippet import torch_snippet

RESULT_SCHEMA = "lr-conformance/result/1"
STATUS_ORDER = [s.value for s in Status]
# Statuses whose results carry a reproduction snippet (the case was run and did not simply pass).
REPRODUCE_STATUSES = frozenset(Status) - {Status.PASS, Status.UNSUPPORTED, Status.SKIP}
# Columns of an observation in Trace.to_json: [step, group, lr, momentum, last_lr, step_arg].
OBSERVATION_COLUMNS = ("step", "group", "lr", "momentum", "last_lr", "step_arg")


def reproduce_command(case_id: str, adapter_spec: str, *, expectations: str | None = None,
                      rtol: float | None = None, atol: float | None = None, timeout: float | None = None) -> str:
    """The CLI command that grades one case the way it was graded: same adapter, expectations, tolerance
    override and timeout (each option only when it was given)."""
    options = [("--adapter", adapter_spec if adapter_spec != "torch" else None), ("--expectations", expectations),
               ("--rtol", rtol), ("--atol", atol), ("--timeout", timeout)]
    given = "".join(f" {name} {shlex.quote(str(value))}" for name, value in options if value is not None and value != "")
    return f"lr-conformance run{given} -k '{case_id}' -v"


def result_document(
    outcomes: Sequence[Outcome],
    cases: Mapping[str, Case],
    info: AdapterInfo,
    adapter_spec: str,
    reference: str,
    seconds: float,
    *,
    goldens_digest: str | None = None,
    rerun_options: Mapping | None = None,
) -> dict:
    """The result document. `rerun_options` (reproduce_command's keywords: expectations, rtol, atol, timeout)
    go into every result's rerun command, so that it grades the case the way this run did."""
    results = []
    for o in outcomes:
        case = cases[o.case_id]
        result = {
            "id": o.case_id,
            "scheduler": case.scheduler.name,
            "why": case.why,
            "status": o.status.value,
            "detail": o.detail,
            "divergence": json_safe(asdict(o.divergence)) if o.divergence else None,
            "missing": list(o.missing),
            "expected_file": o.expected_file,
            "seconds": round(o.seconds, 6),
            "reproduce": reproduce_command(o.case_id, adapter_spec, **(rerun_options or {})),
        }
        if o.status in REPRODUCE_STATUSES:
            result["snippet"] = torch_snippet(case)
        if o.expected_trace is not None and o.actual_trace is not None:
            # Both traces of a divergent case, in the wire format (Trace.to_json, non-finite as strings),
            # so that reports can show and plot them from the document alone.
            result["traces"] = {"expected": json_safe(o.expected_trace.to_json()),
                                "actual": json_safe(o.actual_trace.to_json())}
        results.append(result)
    counts = Counter(o.status.value for o in outcomes)
    return {
        "schema": RESULT_SCHEMA,
        # goldens: conformance.resources.goldens_digest, so two results tell whether they graded against the same
        "suite": {"name": "lr-conformance", "version": __version__, "reference": reference,
                  **({"goldens": goldens_digest} if goldens_digest else {})},
        "adapter": {**info.to_json(), "spec": adapter_spec},
        "seconds": round(seconds, 3),
        "counts": {status: counts.get(status, 0) for status in STATUS_ORDER},
        "ok": not any(o.status.bad for o in outcomes),
        "results": results,
    }


def dumps_result(document: Mapping) -> str:
    return json.dumps(document, indent=1, ensure_ascii=False) + "\n"


def terminal_summary(document: Mapping, verbose: bool = False) -> str:
    lines = []
    results = document["results"]
    bad = [r for r in results if Status(r["status"]).bad]
    shown = results if verbose else bad
    for r in shown:
        lines.append(f"{r['status'].upper():11} {r['id']}")
        if Status(r["status"]) is not Status.PASS:
            lines.append(f"            why:  {r['why']}")
            lines.append(f"            what: {r['detail']}")
            if r["expected_file"]:
                lines.append(f"            golden: {r['expected_file']}")
            window = divergence_window(r)
            if window:
                column = r["divergence"]["column"]
                label = "around:" if column in ("lr", "length") else f"around ({column}):"
                lines.append(f"            {label:<8}{'step':>5}  {'expected':24}  actual")
                for step, group, exp, act in window:
                    mark = ">" if step == r["divergence"]["step"] else ""
                    lines.append(f"            {mark:>8}{step:>5}  {_cell(exp):24}  {_cell(act)}")
            lines.append(f"            rerun: {r['reproduce']}")
            if verbose and r.get("snippet"):
                lines.append("            torch:")
                lines.extend(f"              {line}" for line in r["snippet"].splitlines())
    if shown:
        lines.append("")
    by_scheduler: dict[str, Counter] = {}
    for r in results:
        by_scheduler.setdefault(r["scheduler"], Counter())[r["status"]] += 1
    present = [s for s in STATUS_ORDER if document["counts"].get(s)]
    width = max((len(s) for s in by_scheduler), default=9)
    lines.append(f"{'scheduler':{width}}  " + "  ".join(f"{s:>11}" for s in present))
    for name in sorted(by_scheduler):
        lines.append(f"{name:{width}}  " + "  ".join(f"{by_scheduler[name].get(s, 0):>11}" for s in present))
    adapter = document["adapter"]
    totals = ", ".join(f"{document['counts'][s]} {s}" for s in present)
    lines.append(
        f"{adapter['name']} {adapter['version']} vs torch {adapter.get('mirrors') or document['suite']['reference']} goldens: "
        f"{totals} in {document['seconds']:.2f}s - {'OK' if document['ok'] else 'NOT CONFORMANT'}"
    )
    return "\n".join(lines)


def count_line(outcomes: Iterable[Outcome]) -> str:
    counts = Counter(o.status.value for o in outcomes)
    return ", ".join(f"{counts[s]} {s}" for s in STATUS_ORDER if counts.get(s))


def divergence_window(result: Mapping, before: int = 2, after: int = 2) -> list[tuple[int, int, object, object]]:
    """(step, group, expected, actual) rows around a result's first divergence, for the column that
    diverged (lr for length divergences), from the traces kept in the document. Empty when the result has
    no traces or diverged on an event. Missing observations are None."""
    divergence, kept = result.get("divergence"), result.get("traces")
    if not divergence or not kept or divergence["column"] == "event":
        return []
    column = divergence["column"] if divergence["column"] in OBSERVATION_COLUMNS else "lr"
    index = OBSERVATION_COLUMNS.index(column)
    group = divergence["group"] or 0
    expected = {(row[0], row[1]): row[index] for row in kept["expected"]["observations"]}
    actual = {(row[0], row[1]): row[index] for row in kept["actual"]["observations"]}
    steps = sorted({s for s, g in (*expected, *actual) if g == group})
    first = divergence["step"]
    return [(s, group, expected.get((s, group)), actual.get((s, group)))
            for s in steps if first - before <= s <= first + after]


def _cell(value) -> str:
    return "-" if value is None else repr(value) if isinstance(value, float) else str(value)
