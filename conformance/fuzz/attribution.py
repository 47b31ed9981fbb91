"""What a divergence needs: the optional parts of a case without which the two implementations agree.

A known difference explains a divergence only if it accounts for it (fuzz/known.py), and "the same scheduler,
the same kind of first difference" does not say that: paddle's ReduceLROnPlateau differs on a nan first metric
and, separately, in cooldown; both are lr differences of a plain ReduceLROnPlateau case. What tells them apart
is what each needs: take the ingredient away and see whether the difference goes.

A case's *ingredients* are the parts it can do without: each optional keyword argument it passes, named by
scheduler (`ReduceLROnPlateau.cooldown`; removing it leaves the implementation's default), and its non-finite
metrics, the first one apart from later ones (the first metric seeds ReduceLROnPlateau's best; replaced by
the nearest finite metric). What a case's shape is - its schedulers, protocol and features, `last_epoch`, the
callables it passes, its step count - is not an ingredient: fuzz/known.py's traits match it as a whole.

A divergence *needs* the ingredients whose removal, one at a time, makes the pair agree. When no single removal
does, but removing them all does, it needs them all together. When even the case without any ingredient
diverges, it needs none: the difference is its shape's. An ingredient whose removal the reference cannot run
(a required argument: an error appears that the case did not have) or the candidate does not support says
nothing, and is not needed. Each removal is one more run of the pair, on divergent cases only.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable

from conformance.cases import CaseError, parse_case
from conformance.fuzz.differential import Kind, Verdict
from conformance.model import Case

# Arguments that are part of a case's shape, not ingredients: last_epoch is the `last_epoch` feature (a trait),
# the callables are required, and a composite's children and milestones make it what it is.
_SHAPE_KWARGS = frozenset({"last_epoch", "lr_lambda", "scale_fn", "schedulers", "milestones", "optimizer"})
FIRST_METRIC, LATER_METRICS = "metrics:non-finite-first", "metrics:non-finite-later"


def ingredients(case: Case) -> frozenset[str]:
    """The optional parts of `case` (see the module docstring), by name."""
    found = {f"{spec.name}.{key}" for spec in case.scheduler.walk() for key in spec.kwargs if key not in _SHAPE_KWARGS}
    metrics = case.metrics or ()
    if metrics and not math.isfinite(metrics[0]):
        found.add(FIRST_METRIC)
    if any(not math.isfinite(value) for value in metrics[1:]):
        found.add(LATER_METRICS)
    return frozenset(found)


def without(case: Case, names: Iterable[str]) -> Case | None:
    """`case` with the ingredients `names` removed; None when what is left is not a valid case."""
    names = frozenset(names)
    data = dict(case.raw)

    def strip(node: dict) -> dict:
        if "scheduler" not in node:  # a `{ none = true }` child (spec 2.5): no kwargs to remove
            return node
        node = dict(node)
        node["kwargs"] = {key: value for key, value in node.get("kwargs", {}).items()
                          if f"{node['scheduler']}.{key}" not in names}
        if "children" in node:
            node["children"] = [strip(child) for child in node["children"]]
        return node

    data.update(strip(data))
    if case.metrics is not None and names & {FIRST_METRIC, LATER_METRICS}:
        data["metrics"] = _finite(list(case.metrics), FIRST_METRIC in names, LATER_METRICS in names)
    try:
        return parse_case(data, source=case.source or "<attribution>")
    except (CaseError, TypeError, ValueError, KeyError):
        return None


def _finite(metrics: list[float], first: bool, later: bool) -> list[float]:
    """Non-finite metrics replaced by the nearest finite one before them (else after them; else 1.0)."""
    finite = [value for value in metrics if math.isfinite(value)]
    replaced, previous = [], None
    for index, value in enumerate(metrics):
        if not math.isfinite(value) and (first if index == 0 else later):
            value = previous if previous is not None else (finite[0] if finite else 1.0)
        replaced.append(value)
        previous = value if math.isfinite(value) else previous
    return replaced


def needs(verdict: Verdict, check: Callable[[Case], Verdict]) -> frozenset[str]:
    """The ingredients the divergent `verdict` needs (see the module docstring); `check` runs a case on both
    implementations."""
    case = verdict.case
    present = ingredients(case)
    had_error = verdict.expected is not None and verdict.expected.error is not None

    def agrees(names: frozenset[str]) -> bool:
        reduced = without(case, names)
        if reduced is None:
            return False
        again = check(reduced)
        if again.kind is not Kind.SAME:
            return False  # still divergent, or not graded: says nothing
        # a removal the reference cannot run (a required argument) "agrees" only because both sides fail
        return had_error or again.expected is None or again.expected.error is None

    single = frozenset(name for name in present if agrees(frozenset({name})))
    if single:
        return single
    if len(present) > 1 and agrees(present):
        return present
    return frozenset()
