"""One differential check: run a case on the reference and on the candidate, and decide what the pair says.

The reference's trace plays the golden's role: the candidate is graded against it exactly as `run` grades
against a golden file - `runner.missing_capabilities` first (a configuration the candidate does not declare
is *unsupported*, never a finding), then `compare.compare` with the candidate's tolerance.

When the reference raises, its error is behaviour like any other (an invalid argument's ValueError, a
ZeroDivisionError three steps in): the candidate must raise the same type at the same step and phase, and
a candidate without the `errors` feature is not graded on such cases. There is one exception - a case the
reference cannot *express*: its adapter raises Unsupported, lacks a scheduler or feature the case needs, or
its constructor does not take a keyword argument the case passes (a TypeError at construction, e.g.
`ChainedScheduler(optimizer=...)` on torch < 2.4). That says which API the release has, not how it
schedules, so the case is skipped - and the same holds for a candidate whose constructor does not take a
keyword the case passes. Skipped cases are counted and reported, never findings.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, replace

from conformance import compare, runner
from conformance.adapters.base import Unsupported
from conformance.model import AdapterInfo, Case, Divergence, Status, Trace
from conformance.traces import short_message

# The TypeError Python raises for a keyword a signature does not have (every CPython 3 wording).
_UNEXPECTED_KEYWORD = re.compile(r"unexpected keyword argument '(\w+)'")


class Kind(str, enum.Enum):
    SAME = "same"  # graded: the candidate matches the reference
    DIVERGENT = "divergent"  # graded: a finding
    UNSUPPORTED = "unsupported"  # the candidate does not declare (or cannot express) this configuration
    INEXPRESSIBLE = "inexpressible"  # the reference cannot express it (or could not run it)
    KNOWN = "known"  # divergent, and accounted for by a case an expectations file lists (fuzz/known.py)


@dataclass(frozen=True)
class Verdict:
    kind: Kind
    case: Case
    reason: str = ""  # why the case was skipped, or the one-line difference (compare's detail)
    status: Status | None = None  # the run status a divergence corresponds to (fail, error, timeout, crash)
    divergence: Divergence | None = None
    expected: Trace | None = None  # the reference's trace
    actual: Trace | None = None  # the candidate's trace


def grading_info(reference: AdapterInfo, candidate: AdapterInfo) -> AdapterInfo:
    """The candidate's declaration as the comparison sees it: only features and observables both sides
    declare are compared (a reference that does not promise torch's warnings cannot grade them)."""
    return replace(candidate, features=candidate.features & reference.features,
                   observables=candidate.observables & reference.observables)


def signature_mismatch(case: Case, trace: Trace) -> str | None:
    """The error message when the trace ends at construction in a TypeError about a keyword argument the
    case passes and the implementation's constructor does not take; else None."""
    error = trace.error
    if error is None or error.phase not in ("construct", "resume") or error.type != "TypeError":
        return None
    match = _UNEXPECTED_KEYWORD.search(error.message)
    passed = {key for spec in case.scheduler.walk() for key in spec.kwargs} | set(case.optimizer.kwargs)
    return error.message if match and match.group(1) in passed else None


def check(case: Case, reference, candidate, info: AdapterInfo | None = None) -> Verdict:
    """Run `case` on both adapters and classify the pair (see the module docstring)."""
    info = info or grading_info(reference.info, candidate.info)
    for side, declared in (("reference", reference.info), ("candidate", candidate.info)):
        lacking = runner.missing_capabilities(case, Trace(), declared)
        if lacking:
            kind = Kind.INEXPRESSIBLE if side == "reference" else Kind.UNSUPPORTED
            return Verdict(kind, case, f"{side} lacks {', '.join(lacking)}")
    try:
        expected = reference.trace(case)
    except Unsupported as exc:
        return Verdict(Kind.INEXPRESSIBLE, case, f"reference: {short_message(str(exc))}")
    except Exception as exc:  # noqa: BLE001 - a reference that cannot run a case grades nothing
        return Verdict(Kind.INEXPRESSIBLE, case, f"reference raised {type(exc).__name__}: {short_message(str(exc))}")
    mismatch = signature_mismatch(case, expected)
    if mismatch:
        return Verdict(Kind.INEXPRESSIBLE, case, f"reference: {mismatch}")
    lacking = runner.missing_capabilities(case, expected, info)
    if lacking:
        return Verdict(Kind.UNSUPPORTED, case, f"candidate lacks {', '.join(lacking)}")
    try:
        # checked as `run` checks it (runner.trace_case): a malformed trace - duplicate observations, values
        # that are not numbers - is the candidate's ERROR, never graded
        actual = runner.trace_case(candidate, case)
    except Unsupported as exc:
        return Verdict(Kind.UNSUPPORTED, case, f"candidate: {short_message(str(exc))}")
    except runner.AdapterFault as exc:
        return Verdict(Kind.DIVERGENT, case, f"{candidate.info.name}: {exc}", Status.ERROR, expected=expected)
    except Exception as exc:  # noqa: BLE001 - the candidate failing to run a case is a finding (run: ERROR)
        status, detail = runner.failure(candidate.info, exc)
        return Verdict(Kind.DIVERGENT, case, detail, status, expected=expected)
    mismatch = signature_mismatch(case, actual)
    if mismatch:
        return Verdict(Kind.UNSUPPORTED, case, f"candidate: {mismatch}")
    status, detail, divergence = compare.compare(case, expected, actual, info, info.tolerance)
    if status is Status.PASS:
        return Verdict(Kind.SAME, case, expected=expected, actual=actual)  # fuzz/attribution.py reads the traces
    return Verdict(Kind.DIVERGENT, case, detail, status, divergence, expected, actual)
