"""Reports. One machine-readable result document (see `result_document`, schema in
schemas/result.schema.json) feeds every view: the terminal summary here, the Markdown/HTML reports
(conformance/htmlreport.py), and `lr-conformance report` re-rendering a saved document.
"""

from __future__ import annotations

import json
import re
import shlex
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict
from pathlib import Path

from conformance import __version__, resources
from conformance.model import AdapterInfo, Case, Outcome, Status, Tolerance, json_safe
from conformance.snippet import torch_snippet
from conformance.traces import short_message

# The characters an HTML page may not hold as text (HTML5's "control-character-in-input-stream": the C0 controls
# but tab, newline and carriage return, DEL and the C1 controls). A recorded message can hold one: torch >= 2.5's
# weights_only refusal bolds a phrase with the ANSI escape ESC [1m.
_HTML_FORBIDDEN = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def controls_escaped(text: str) -> str:
    """`text` with each character an HTML page may not hold written as its Python escape (ESC as \\x1b): the
    page stays well-formed and shows what was recorded. Both HTML views use it: the site and `--report`."""
    return _HTML_FORBIDDEN.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


RESULT_SCHEMA = "lr-conformance/result/1"
STATUS_ORDER = [s.value for s in Status]
# Statuses whose results carry a reproduction snippet (the case was run and did not simply pass).
REPRODUCE_STATUSES = frozenset(Status) - {Status.PASS, Status.UNSUPPORTED, Status.SKIP}
# Columns of an observation in Trace.to_json: [step, group, lr, momentum, last_lr, step_arg].
OBSERVATION_COLUMNS = ("step", "group", "lr", "momentum", "last_lr", "step_arg")
TOLERANCE_OVERRIDE = "--rtol/--atol"  # the source of a tolerance given on the command line


def reproduce_command(case_id: str, adapter_spec: str, *, expectations: str | None = None,
                      rtol: float | None = None, atol: float | None = None, timeout: float | None = None,
                      isolate: bool = False) -> str:
    """The CLI command that grades one case the way it was graded: same adapter, expectations, tolerance
    override, timeout and isolation (each option only when it was given; a full id selects that case alone)."""
    options = [("--adapter", adapter_spec if adapter_spec != "torch" else None), ("--expectations", expectations),
               ("--rtol", rtol), ("--atol", atol), ("--timeout", timeout)]
    given = "".join(f" {name} {shlex.quote(str(value))}" for name, value in options if value is not None and value != "")
    return f"lr-conformance run{given}{' --isolate' if isolate else ''} -k '{case_id}' -v"


def result_document(
    outcomes: Sequence[Outcome],
    cases: Mapping[str, Case],
    info: AdapterInfo,
    adapter_spec: str,
    reference: str,
    seconds: float,
    *,
    goldens_digest: str | None = None,
    tolerance: Tolerance | None = None,
    rerun_options: Mapping | None = None,
) -> dict:
    """The result document. `seconds` is the run's wall time. `goldens_digest` (conformance.resources) tells
    whether two results graded against the same goldens. `tolerance` is the one applied when it is not the
    adapter's (the --rtol/--atol override). `rerun_options` (reproduce_command's keywords: expectations, rtol,
    atol, timeout, isolate) go into every result's rerun command, so that it grades the case the way this run
    did."""
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
    applied = tolerance or info.tolerance
    return {
        "schema": RESULT_SCHEMA,
        # goldens: conformance.resources.goldens_digest, so two results tell whether they graded against the same
        "suite": {"name": "lr-conformance", "version": __version__, "reference": reference,
                  **({"goldens": goldens_digest} if goldens_digest else {})},
        "adapter": {**info.to_json(), "spec": adapter_spec},
        "tolerance": {"rel": applied.rel, "abs": applied.abs, "reason": applied.reason,
                      "source": TOLERANCE_OVERRIDE if tolerance is not None else "adapter"},
        "seconds": round(seconds, 3),
        "counts": {status: counts.get(status, 0) for status in STATUS_ORDER},
        "ok": not any(o.status.bad for o in outcomes),
        "results": results,
    }


def applied_tolerance(document: Mapping) -> Mapping:
    """The tolerance a document was graded with, and its source ("adapter" or "--rtol/--atol"). Documents
    written before it was recorded were graded with the adapter's."""
    return document.get("tolerance") or {**(document["adapter"].get("tolerance") or {}), "source": "adapter"}


def tolerance_text(document: Mapping) -> str:
    """`bit-exact (adapter)`, `rel 1e-06, abs 0 (--rtol/--atol)`."""
    tol = applied_tolerance(document)
    exact = not tol.get("rel") and not tol.get("abs")
    values = "bit-exact" if exact else f"rel {tol.get('rel', 0):g}, abs {tol.get('abs', 0):g}"
    return f"{values} ({tol.get('source', 'adapter')})"


def result_schema_problem(document: Mapping) -> str | None:
    """Where `document` departs from schemas/result.schema.json (one line), or None."""
    import jsonschema
    from referencing import Registry, Resource

    schemas = {name: json.loads(resources.schema_path(name).read_text(encoding="utf-8"))
               for name in ("protocol", "result")}
    registry = Registry().with_resources((s["$id"], Resource.from_contents(s)) for s in schemas.values())
    validator = jsonschema.Draft202012Validator(schemas["result"], registry=registry)
    error = jsonschema.exceptions.best_match(validator.iter_errors(document))
    if error is None:
        return None
    where = "/".join(str(part) for part in error.absolute_path) or "the top level"
    return f"at {where}: {short_message(error.message)}"


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
            for kind, divergence in windows(r):
                label = window_label(kind, divergence) + ":"
                lines.append(f"            {label:<8}{'step':>5}  {'expected':24}  actual")
                for step, group, exp, act in divergence_window(r, divergence):
                    mark = ">" if step == divergence["step"] else ""
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
        f"{adapter['name']} {adapter['version']} vs torch {adapter.get('mirrors') or document['suite']['reference']} "
        f"goldens, tolerance {tolerance_text(document)}: {totals} in {document['seconds']:.2f}s - "
        f"{verdict(document)}"
    )
    return "\n".join(lines)


# Statuses that mean the case was not graded at all: a run of nothing else proves nothing.
UNGRADED = frozenset({Status.UNSUPPORTED.value, Status.SKIP.value})


def graded(document: Mapping) -> int:
    """How many results of `document` were graded (compared with a golden, or failed trying)."""
    return sum(n for status, n in document["counts"].items() if status not in UNGRADED)


def verdict(document: Mapping) -> str:
    """The summary's last word: NOT CONFORMANT (a bad status), NOTHING GRADED (every case unsupported or
    skipped: exit 5, never "OK"), else OK."""
    if not document["ok"]:
        return "NOT CONFORMANT"
    return "OK" if graded(document) else "NOTHING GRADED"


def count_line(outcomes: Iterable[Outcome]) -> str:
    counts = Counter(o.status.value for o in outcomes)
    return ", ".join(f"{counts[s]} {s}" for s in STATUS_ORDER if counts.get(s))


def windows(result: Mapping) -> list[tuple[str, Mapping]]:
    """(kind, divergence) for each table of values a result shows: "around" its first divergence and, when
    that is another place, "large" around the first large difference. Event divergences have none."""
    first = result.get("divergence")
    if not first or not result.get("traces"):
        return []
    pairs = (("around", first), ("large", first.get("first_large")))
    return [(kind, d) for kind, d in pairs if d and d["column"] != "event"]


def window_label(kind: str, divergence: Mapping) -> str:
    """`around`, `large`, or with the column when it is not the lr: `around (momentum)`."""
    column = divergence["column"]
    return kind if column in ("lr", "length") else f"{kind} ({column})"


def divergence_window(result: Mapping, divergence: Mapping | None = None, before: int = 2,
                      after: int = 2) -> list[tuple[int, int, object, object]]:
    """(step, group, expected, actual) rows around a divergence (default: the result's first) for the column
    that diverged (lr for length divergences), from the traces kept in the document. Empty when the result has
    no traces or diverged on an event. Missing observations are None."""
    divergence, kept = divergence or result.get("divergence"), result.get("traces")
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
