"""Known differences: `fuzz --expectations FILE` lets a run go on past divergences an expectations file explains.

A library's expectations file lists the suite's cases it is known to differ on, each with its cause. Without
this, fuzzing such a library stops at one of those known differences nearly every time (mmengine's extra
step when constructed with `last_epoch`, paddle's per-group base lr): the search never reaches the
configurations nobody has looked at.

Matching is by shape, not by value. A case's *traits* are what it is made of: every scheduler in it, the
features it needs (`last_epoch`, `state_dict`, `step_epoch`, ... and `errors` when the reference raises),
whether it passes a callable object with state (not which function), and a leftover `initial_lr` in its param
groups (without `last_epoch`: resuming by it needs one, in the groups or put there by an earlier child). A divergent generated case is
*explained* by a listed case when it has every trait of that case: it is counted (by the listed id) and the
search goes on, as if the two had agreed. Kwarg values are not compared, so a listed case explains every
divergence of its shape or of a larger one - a plain `CosineAnnealingWarmRestarts` case listed for eta_min
above the lr explains every divergence of a case made of CosineAnnealingWarmRestarts alone. Cases that agree
are graded as always; only divergences are ever explained, and the run reports how many were.
"""

from __future__ import annotations

import types
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from conformance import vocabulary
from conformance.cases import CaseError
from conformance.model import Case, Trace


@dataclass(frozen=True)
class Known:
    """One listed case of an expectations file, as the fuzzer matches divergences against it."""

    id: str
    traits: frozenset[str]


def traits(case: Case, expected: Trace | None = None) -> frozenset[str]:
    """What `case` is made of (see the module docstring); `expected`: the reference's trace, for `errors`."""
    found = {f"scheduler:{name}" for name in case.schedulers}
    found |= {f"feature:{name}" for name in case.features()}
    if expected is not None and expected.has("error"):
        found.add("feature:errors")
    if any(_stateful(fn) for spec in case.scheduler.walk() for fn in _callables(spec.kwargs)):
        found.add("callable-object")
    if any("initial_lr" in group for group in case.groups) and "last_epoch" not in case.features():
        found.add("initial_lr")  # a leftover one; resuming by last_epoch needs it (or an earlier child's)
    return frozenset(found)


def _callables(value) -> Iterable[Mapping]:
    """The vocabulary callables in a kwargs value ({"fn": name, ...}, alone or in lists)."""
    if isinstance(value, Mapping) and isinstance(value.get("fn"), str):
        yield value
    elif isinstance(value, Mapping):  # a scheduler's kwargs
        for item in value.values():
            yield from _callables(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _callables(item)


def _stateful(spec: Mapping) -> bool:
    """A callable object with state (vocabulary's call_count_decay), not a plain function: state_dict saves
    it, and an implementation that calls it more or less often than torch shows it."""
    try:
        return not isinstance(vocabulary.build(spec), types.FunctionType)
    except vocabulary.VocabularyError:
        return False


def load(paths: Iterable[Path], cases: Iterable[Case], expected) -> list[Known]:
    """The listed cases of every expectations file in `paths`; `expected(case)` is the case's reference trace.
    Raises CaseError naming each listed id the suite does not have, one line each."""
    from conformance.expectations import load_expectations

    by_id = {case.id: case for case in cases}
    known, problems = [], []
    for path in paths:
        for case_id in load_expectations(path):
            case = by_id.get(case_id)
            if case is None:
                problems.append(f"{path}: lists {case_id!r}, which is not a case of this suite")
            else:
                known.append(Known(case_id, traits(case, expected(case))))
    if problems:
        raise CaseError(*problems)
    return known


def load_staged(paths: Iterable[Path], expected) -> list[Known]:
    """The cases of staging files (`fuzz --record` writes them: [[case]] blocks of any family), as known shapes:
    findings recorded, awaiting review, are not found again. `expected(case)` is the case's reference trace.
    Raises CaseError naming each unreadable file or case, one line each."""
    import tomllib

    from conformance.cases import parse_case

    known, problems = [], []
    for path in paths:
        try:
            tables = tomllib.loads(Path(path).read_text(encoding="utf-8")).get("case", [])
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            problems.append(f"{path}: not a readable TOML file of [[case]] blocks ({exc})")
            continue
        for index, table in enumerate(tables, 1):
            try:
                case = parse_case(table, source=str(path), family=str(table.get("id", "")).split("/", 1)[0])
            except (CaseError, TypeError, ValueError, KeyError) as exc:
                problems.append(f"{path}: case #{index}: {exc}")
                continue
            known.append(Known(case.id, traits(case, expected(case))))
    if problems:
        raise CaseError(*problems)
    return known


def explaining(known: Iterable[Known], case: Case, expected: Trace | None) -> str | None:
    """The id of the first listed case whose traits the divergent `case` all has, else None."""
    have = traits(case, expected)
    return next((item.id for item in known if item.traits <= have), None)
