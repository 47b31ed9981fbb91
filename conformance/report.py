"""Reports. One machine-readable result document (see `result_document`) feeds every view:
the terminal summary here, and the Markdown/HTML reports.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict

from conformance import __version__
from conformance.model import AdapterInfo, Case, Outcome, Status

RESULT_SCHEMA = "lr-conformance/result/1"
STATUS_ORDER = [s.value for s in Status]


def reproduce_command(case_id: str, adapter_spec: str) -> str:
    adapter = f" --adapter {adapter_spec}" if adapter_spec and adapter_spec != "torch" else ""
    return f"lr-conformance run{adapter} -k '{case_id}' -v"


def result_document(
    outcomes: Sequence[Outcome],
    cases: Mapping[str, Case],
    info: AdapterInfo,
    adapter_spec: str,
    reference: str,
    seconds: float,
) -> dict:
    results = []
    for o in outcomes:
        case = cases[o.case_id]
        results.append(
            {
                "id": o.case_id,
                "scheduler": case.scheduler.name,
                "why": case.why,
                "status": o.status.value,
                "detail": o.detail,
                "divergence": _finite(asdict(o.divergence)) if o.divergence else None,
                "missing": list(o.missing),
                "expected_file": o.expected_file,
                "seconds": round(o.seconds, 6),
                "reproduce": reproduce_command(o.case_id, adapter_spec),
            }
        )
    counts = Counter(o.status.value for o in outcomes)
    return {
        "schema": RESULT_SCHEMA,
        "suite": {"name": "lr-conformance", "version": __version__, "reference": reference},
        "adapter": {**info.to_json(), "spec": adapter_spec},
        "seconds": round(seconds, 3),
        "counts": {status: counts.get(status, 0) for status in STATUS_ORDER},
        "ok": not any(o.status.bad for o in outcomes),
        "results": results,
    }


def _finite(value):
    """JSON has no nan/inf: write them as strings, as the wire protocol does."""
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


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
            lines.append(f"            rerun: {r['reproduce']}")
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
