"""Known differences: `fuzz --expectations FILE` lets a run go on past divergences an expectations file explains.

A library's expectations file lists the suite's cases it is known to differ on, each with its cause. Without
this, fuzzing such a library stops at one of those known differences nearly every time (mmengine's extra
step when constructed with `last_epoch`, paddle's per-group base lr): the search never reaches the
configurations nobody has looked at.

A listed case explains a divergence only when the known difference *accounts for it*: the same scheduler and
the same kind of first difference is a hint, not an explanation (paddle's ReduceLROnPlateau differs on a nan
first metric and, separately, in cooldown - both lr differences of a plain ReduceLROnPlateau case). When fuzz
loads the listed cases it runs each on both implementations (`diagnosed`): a listed case the two agree on
shows no difference of this candidate and explains nothing; for the others it keeps the column of the first
difference, its symptom when that is a warning or an error (see `Symptom`), and what the difference *needs*:
the optional ingredients of the case - keyword arguments, non-finite metrics - without which the pair agrees
(fuzz/attribution.py). A divergent generated case is a *candidate* for a listed case when

- it has every trait of that case and its first difference is in the same column (by traits). A case's
  *traits* are what it is made of: every scheduler in it, the features it needs (`last_epoch`, `state_dict`,
  `step_epoch`, ... and `errors` when the reference raises), whether it passes a callable object with state
  (not which function), and a leftover `initial_lr` in its param groups (without `last_epoch`: resuming by it
  needs one, in the groups or put there by an earlier child); or
- its first difference has the same symptom and it has at least one scheduler in common with that case (by
  symptom): a change in a composite shows in endless shapes (SequentialLR's restart of the next stage warns,
  or not, whatever the stages are), and another scheduler's missing warning is a finding;

and a candidate is *explained* when the divergence needs every ingredient the listed difference needs (each
removal, one more run of the pair, makes it go away: `accounted`); it is then counted (by the listed id) and
the search goes on as if the two had agreed. A listed difference that needs no ingredient (its case differs
even with every optional argument removed) is its shape's, and accounts for every candidate of its shape. Cases
that agree are graded as always; only divergences are ever explained, and the run reports how many were.
Listed cases that were not diagnosed (built by hand) match by traits alone.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from itertools import zip_longest
from pathlib import Path

from conformance import compare, vocabulary
from conformance.cases import CaseError
from conformance.fuzz import attribution, differential
from conformance.fuzz.differential import Kind, Verdict
from conformance.model import AdapterInfo, Case, Event, Trace


@dataclass(frozen=True)
class Symptom:
    """How a divergent pair first differs when that is an event: at which phase, which event the reference
    has there and which the candidate has (`"warning:UserWarning"`, `"error:ZeroDivisionError"`; None: no
    event), each with its message template (`template`)."""

    phase: str
    expected: str | None
    got: str | None
    expected_text: str = ""
    got_text: str = ""

    def __str__(self) -> str:
        def side(event, text):
            return "nothing" if event is None else f"{event} ({text})" if text else event

        return f"{self.phase}: expected {side(self.expected, self.expected_text)}, got {side(self.got, self.got_text)}"


@dataclass(frozen=True)
class Known:
    """One listed case of an expectations file, as the fuzzer matches divergences against it. `diagnosed`
    runs it on both implementations and fills in how they differ: `difference` (the column of its first
    difference, or the status of a candidate that failed to run it; None: the two agree, so it explains
    nothing), `symptom` (for an event) and `needs` (what the difference needs, see `needs`)."""

    id: str
    traits: frozenset[str]
    symptom: Symptom | None = None  # set by `diagnosed`: None for a value difference or an agreeing pair
    case: Case | None = field(default=None, compare=False, repr=False)  # what `diagnosed` runs
    difference: str | None = None
    needs: frozenset[str] | None = None  # None: not diagnosed (matched by shape alone, as before diagnosis)

    @classmethod
    def of(cls, case: Case, expected: Trace | None) -> "Known":
        """`case` as a known shape, not yet diagnosed; `expected` is its reference trace (None: it has none)."""
        return cls(case.id, traits(case, expected), case=case)

    @property
    def schedulers(self) -> frozenset[str]:
        return frozenset(trait for trait in self.traits if trait.startswith("scheduler:"))


@dataclass(frozen=True)
class Explanation:
    id: str  # the listed case
    by: str  # "traits" or "symptom"


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
    return vocabulary.is_stateful(spec)


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
                known.append(Known.of(case, expected(case)))
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
            known.append(Known.of(case, expected(case)))
    if problems:
        raise CaseError(*problems)
    return known


# Numbers in a message are the values of the case (`Tried to step 4 times`, `got -1`, `param_groups[1]`),
# not the check that raised it: a template replaces each by `#`.
_NUMBER = re.compile(r"(?<![\w.])[-+]?(?:\d+(?:\.\d*)?(?:[eE][-+]?\d+)?|inf|nan)(?![\w])")
# A normalized message is cut at 160 characters (docs/spec.md 5.3), so where it ends depends on how long its
# numbers are: templates are compared on a prefix every cut message still has.
TEMPLATE_LENGTH = 120


def template(message: str) -> str:
    """The message with its numbers replaced by `#`, cut to TEMPLATE_LENGTH characters."""
    return _NUMBER.sub("#", message)[:TEMPLATE_LENGTH]


def _phase_order(case: Case) -> tuple[str, ...]:
    """The phases of one step in the order they run (docs/spec.md 4.1, 4.5): events of a step follow it. An
    iteration's interventions run after its resume (`intervene` and `call` in the order listed; ranked here as
    if every `call` came last), and an added scheduler steps next to the case's own (before it, with `first`)."""
    start = ("construct", "state_dict", "resume", "intervene", "call")
    stepping = ("added-scheduler.step", "scheduler.step")
    if case.protocol == "scheduler-first":
        return (*start, *stepping, "observe", "optimizer.step")
    return (*start, "observe", "optimizer.step", *stepping)


def symptom(verdict: Verdict, info: AdapterInfo) -> Symptom | None:
    """The symptom of a divergent verdict's first difference when that is an event (warnings only where `info`,
    the grading declaration, compares them), else None.

    The message template is part of it. Every argument check raises a ValueError at construction and both
    ordering warnings are UserWarnings at `scheduler.step`: with types alone, a listed case whose candidate lacks
    one check (OneCycleLR's `pct_start`) would explain a missing other check of the same scheduler
    (`total_steps`), or a missing epoch-deprecation warning a missing ordering warning. The numbers in a
    message are the case's values, not the check, so they are left out (`template`); a reworded message is a
    new symptom, which can only make the search stop where it could have gone on."""
    divergence = verdict.divergence
    if divergence is None or divergence.column != "event" or verdict.expected is None or verdict.actual is None:
        return None
    expected_at, got_at = ([event for event in compare.compared_events(trace, info) if event.step == divergence.step]
                           for trace in (verdict.expected, verdict.actual))
    first = _first_edit(expected_at, got_at, info)
    if first is None:
        return None
    expected, got = first
    if expected is not None and got is not None and expected.phase != got.phase:
        # at different phases, the earlier one has no counterpart: the other side has nothing there
        order = _phase_order(verdict.case)
        rank = {phase: index for index, phase in enumerate(order)}
        if rank.get(expected.phase, len(order)) < rank.get(got.phase, len(order)):
            got = None
        else:
            expected = None
    phase = (expected or got).phase
    return Symptom(phase, _sign(expected), _sign(got), _text(expected), _text(got))


def _first_edit(expected: list[Event], got: list[Event], info: AdapterInfo) -> tuple[Event | None, Event | None] | None:
    """The first events of one step that differ, once the events both sides share at its start and at its end
    are set aside: a warning missing among warnings both sides have (each child of a chain warns) is missing,
    not a mismatch of every warning after it - compare pairs events by position, which says where they
    differ, not which one is new. Events are told apart by their message templates too (two ordering warnings
    are not an epoch warning); what is left is paired in order, and a pair that differs only in a message
    compare does not grade is no difference."""
    def same(e: Event, g: Event) -> bool:
        return compare.event_key(e, info) == compare.event_key(g, info) and template(e.message) == template(g.message)

    head = 0
    while head < min(len(expected), len(got)) and same(expected[head], got[head]):
        head += 1
    tail = 0
    while tail < min(len(expected), len(got)) - head and same(expected[-1 - tail], got[-1 - tail]):
        tail += 1
    for e, g in zip_longest(expected[head:len(expected) - tail], got[head:len(got) - tail]):
        if e is None or g is None or compare.event_key(e, info) != compare.event_key(g, info):
            return e, g
    return None


def _sign(event: Event | None) -> str | None:
    return None if event is None else f"{event.kind}:{event.type}"


def _text(event: Event | None) -> str:
    return "" if event is None else template(event.message)


def difference(verdict: Verdict) -> str:
    """What differs first in a divergent verdict: the column (lr, momentum, last_lr, event, ...), or the status
    of a candidate that could not run the case (error, timeout, crash)."""
    if verdict.divergence is not None:
        return verdict.divergence.column
    return verdict.status.value if verdict.status is not None else "divergent"


def diagnosed(listed: Iterable[Known], reference, candidate, info: AdapterInfo | None = None) -> list[Known]:
    """The listed cases with how the two implementations differ on each: its first difference, its symptom
    and what it needs (fuzz/attribution.py). Each is run on both implementations, and once per ingredient
    (they are few)."""
    info = info or differential.grading_info(reference.info, candidate.info)

    def check(case: Case) -> Verdict:
        return differential.check(case, reference, candidate, info)

    found = []
    for item in listed:
        verdict = check(item.case) if item.case is not None else None
        if verdict is None or verdict.kind is not Kind.DIVERGENT:
            # agreeing (or not graded here): this candidate does not show the difference, so it accounts for nothing
            found.append(replace(item, symptom=None, difference=None, needs=frozenset()))
            continue
        found.append(replace(item, symptom=symptom(verdict, info), difference=difference(verdict),
                             needs=attribution.needs(verdict, check)))
    return found


def explaining(known: Iterable[Known], verdict: Verdict, info: AdapterInfo,
               check: Callable[[Case], Verdict] | None = None) -> Explanation | None:
    """What accounts for the divergent `verdict`, if a listed case does (the module docstring); `check` runs a
    case on both implementations (for what the divergence needs). A candidate explanation is a listed case
    whose traits the case all has and whose first difference is in the same column, or whose symptom its first
    difference shows and with which it has a scheduler in common; it explains the divergence when the listed
    case's ingredients are all in the case and what the divergence needs is what the listed difference needs
    (`accounts`). Listed cases that were not diagnosed match by traits alone."""
    known = tuple(known)
    have = traits(verdict.case, verdict.expected)
    first = difference(verdict)
    shown = symptom(verdict, info) if any(item.symptom is not None for item in known) else None
    needed: list[frozenset[str]] = []  # computed once, for the first candidate explanation that needs it

    def accounts(item: Known) -> bool:
        if not item.needs:
            return True  # not diagnosed, or a difference of its shape: by shape alone (`accounted`)
        if not needed:
            needed.append(attribution.needs(verdict, check) if check is not None else frozenset())
        return accounted(item.needs, needed[0])

    for item in known:
        if item.traits <= have and (item.needs is None or item.difference == first) and accounts(item):
            return Explanation(item.id, "traits")
    if shown is None:
        return None
    for item in known:
        if item.symptom == shown and item.schedulers & have and accounts(item):
            return Explanation(item.id, "symptom")
    return None


def accounted(listed_needs: frozenset[str], divergence_needs: frozenset[str]) -> bool:
    """Whether a listed difference that needs `listed_needs` accounts for a divergence that needs
    `divergence_needs` (fuzz/attribution.py): the divergence needs every ingredient the listed difference needs
    - take any of them away and it goes - and may need more (what makes it visible in that case: a patience
    short enough for a reduction, threshold_mode abs for a tie of negative metrics). A divergence that survives
    the removal of one of them has another cause. A listed difference that needs nothing - its case differs even
    without any ingredient - is its shape's: it accounts for every divergence of its shape, which is where it
    stays blind (docs/fuzzing.md)."""
    return listed_needs <= divergence_needs
