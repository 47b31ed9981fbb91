"""The search: hypothesis draws cases (strategies.py), each is checked on both implementations
(differential.py) until one diverges; hypothesis then shrinks it to a minimal case that still diverges.

Budget: `max_examples` (distinct cases run; hypothesis often draws a case again, which is not run twice),
or `max_seconds`. hypothesis has no time budget of its own, so the search runs in chunks of CHUNK examples
(each a hypothesis run whose seed derives from the search's seed) until the budget is spent or a divergence
is found; once it is spent the hypothesis run ends at once (the rest of its chunk is not drawn). Shrinking
is not charged to the budget.

Reproducibility: the chunks do not depend on timing, so the same seed, adapters and hypothesis release draw
the same cases in the same order, and a time budget only decides where that sequence stops. With a seed no
example database is read or written. Without one a random seed is drawn (and reported) and the example
database - hypothesis' memory of earlier findings, replayed first - lives in a user cache directory, one
per pair of adapters. hypothesis' other files (its constants cache) go to that cache directory too: a fuzz
run never writes .hypothesis/ into the working directory.
"""

from __future__ import annotations

import hashlib
import os
import random
import time
from collections import Counter
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from conformance.cases import CaseError, parse_case
from conformance.fuzz import differential, known, refusals, strategies
from conformance.fuzz.differential import Kind, Verdict

CHUNK = 200


@dataclass(frozen=True)
class Budget:
    max_examples: int | None = None
    max_seconds: float | None = None

    def __post_init__(self) -> None:
        if (self.max_examples is None) == (self.max_seconds is None):
            raise ValueError("a budget is either a number of examples or a number of seconds")


@dataclass
class Tally:
    """What the search saw: the examples run before the first divergence, by verdict kind, the reasons
    examples were skipped, and where the time went (wall time; `check_seconds` is the part spent running
    cases on the two implementations, the rest is hypothesis drawing them)."""

    examples: int = 0  # distinct cases run
    duplicates: int = 0  # cases hypothesis drew again (not run twice)
    kinds: Counter = field(default_factory=Counter)
    skipped: Counter = field(default_factory=Counter)  # reason -> count (unsupported / inexpressible)
    explained: Counter = field(default_factory=Counter)  # listed case id -> divergences it explained
    explained_by: Counter = field(default_factory=Counter)  # "traits" / "symptom" -> divergences (known.py)
    attribution_runs: int = 0  # extra runs of ablated cases, to see what a divergence needs (attribution.py)
    refusal_runs: int = 0  # extra runs of reverted refused cases, to learn what the candidate refuses (refusals.py)
    refused: frozenset = frozenset()  # the atoms the candidate was found to refuse, steered away from (refusals.py)
    search_seconds: float = 0.0
    check_seconds: float = 0.0
    shrink_runs: int = 0
    shrink_seconds: float = 0.0

    def add(self, other: "Tally") -> None:
        """Count `other`'s examples and time in too (the rounds of a `fuzz --keep-going` run)."""
        for name, mine in vars(self).items():
            theirs = getattr(other, name)
            setattr(self, name, mine | theirs if isinstance(mine, frozenset) else mine + theirs)

    @property
    def compared(self) -> int:
        """Examples graded on both sides: they agreed, diverged, or diverged as a listed difference does."""
        return self.kinds[Kind.SAME] + self.kinds[Kind.DIVERGENT] + self.kinds[Kind.KNOWN]

    @property
    def compared_share(self) -> float:
        return self.compared / self.examples if self.examples else 0.0

    @property
    def rate(self) -> float:
        """Examples per second of the search (wall time, hypothesis included)."""
        return self.examples / self.search_seconds if self.search_seconds > 0 else 0.0


@dataclass(frozen=True)
class Result:
    finding: Verdict | None  # the minimal divergent case; None when nothing was found within the budget
    tally: Tally
    seed: int
    flaky: bool = False  # the minimal case did not diverge again when hypothesis replayed it
    interrupted: bool = False


def cache_dir() -> Path:
    """hypothesis' home for fuzz runs, outside any checkout: $LR_CONFORMANCE_CACHE/hypothesis, else
    $XDG_CACHE_HOME/lr-conformance/hypothesis, else ~/.cache/lr-conformance/hypothesis."""
    root = os.environ.get("LR_CONFORMANCE_CACHE") or Path(
        os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "lr-conformance"
    return Path(root) / "hypothesis"


def database_dir(reference_spec: str, candidate_spec: str) -> Path:
    """The example database of one pair of adapters."""
    pair = hashlib.sha256(f"{reference_spec}\0{candidate_spec}".encode()).hexdigest()[:16]
    return cache_dir() / "examples-by-pair" / pair


@contextmanager
def without_local_constants():
    """Draw as if no module of the user's were loaded. hypothesis (6.131 on) mixes into 5% of its draws the
    literals of the "local" modules in sys.modules - those outside site-packages and test directories - and which
    modules those are depends on the install (an editable checkout's conformance/ is local, a wheel's is not) and
    on what the process imported before (a tools/ module a test loaded): the same seed then draws other cases, so a
    finding's reproduce line would not reproduce it elsewhere and the seed-calibrated spans of tests/meta would
    hold in one run and not in the next. With the local constants empty, a seed names the same cases wherever fuzz
    runs; hypothesis' own constants (0, 1, -1, nan, inf, ...) stay. A hypothesis without the feature has nothing
    to hold constant."""
    try:
        from hypothesis.internal.conjecture import providers

        original, cache = providers._get_local_constants, providers.CONSTANTS_CACHE.cache
    except (ImportError, AttributeError):
        yield
        return
    providers._get_local_constants = providers.Constants  # an empty Constants(): no local literal
    cache.clear()  # the permitted values cached so far were computed with the local constants
    try:
        yield
    finally:
        providers._get_local_constants = original
        cache.clear()


@contextmanager
def hypothesis_home(path: Path):
    """Point hypothesis' storage at `path` for the search; restore the previous home after."""
    from hypothesis import configuration

    previous = vars(configuration).get("__hypothesis_home_directory")  # None: the default (env var, or cwd)
    configuration.set_hypothesis_home_dir(path)
    try:
        yield
    finally:
        configuration.set_hypothesis_home_dir(previous)


class _Probe:
    """The body of the hypothesis test: check one drawn case, count it, raise on a divergence."""

    def __init__(self, reference, candidate, tally: Tally, budget: Budget, listed=(),
                 refused: refusals.Refusals | None = None) -> None:
        self.reference, self.candidate, self.tally, self.budget = reference, candidate, tally, budget
        self.refused = refused if refused is not None else refusals.Refusals()  # what the strategy steers by
        self.listed = tuple(listed)  # known.Known: divergences these account for are not findings
        self.info = differential.grading_info(reference.info, candidate.info)
        self.started = time.perf_counter()
        self.deadline = None if budget.max_seconds is None else self.started + budget.max_seconds
        self.seen: Verdict | None = None  # the latest divergent verdict (while shrinking: the smallest yet)
        # Different draws often make the same case (many choices map to one value): each case runs once.
        self.ran: set[int] = set()
        self.divergent: dict[int, Verdict] = {}

    def spent(self) -> bool:
        if self.budget.max_examples is not None:
            return self.tally.examples >= self.budget.max_examples
        return time.perf_counter() > self.deadline

    def __call__(self, data: dict) -> None:
        shrinking = self.seen is not None
        if not shrinking and self.spent():
            # The budget is spent: end the hypothesis run now rather than draw the rest of its chunk for
            # nothing (drawing a case costs about as much as running it: a 500-example run drew ~120
            # cases it never ran, 15% of its drawing time).
            raise _BudgetSpent
        key = hash(repr(data))
        if key in self.ran:
            self.tally.duplicates += not shrinking
            verdict = self.divergent.get(key)
        else:
            self.ran.add(key)
            verdict = self._check(data, shrinking)
        if verdict is not None:
            # one raise site: hypothesis tells failures apart by where they were raised
            self.seen = self.divergent[key] = verdict
            self.refused.frozen = True  # shrinking and hypothesis' replay need the mapping they found it with
            raise _Divergent(verdict)

    def _attribution_check(self, case) -> Verdict:
        self.tally.attribution_runs += 1
        return differential.check(case, self.reference, self.candidate, self.info)

    def _refusal_check(self, case) -> Verdict:
        return differential.check(case, self.reference, self.candidate, self.info)

    def _check(self, data: dict, shrinking: bool) -> Verdict | None:
        """The verdict if the case diverges, else None; counted in the tally."""
        start = time.perf_counter()
        verdict = differential.check(parse_case(data, source="<fuzz>"), self.reference, self.candidate, self.info)
        if verdict.kind is Kind.DIVERGENT and self.listed:
            explained = known.explaining(self.listed, verdict, self.info, self._attribution_check)
            if explained is not None:  # also while shrinking: a minimal case never shrinks into a known shape
                verdict = Verdict(Kind.KNOWN, verdict.case, f"explained by {explained.id} ({explained.by})")
                self.tally.explained[explained.id] += not shrinking
                self.tally.explained_by[explained.by] += not shrinking
        if shrinking:
            self.tally.shrink_runs += 1
        else:
            self.tally.examples += 1
            self.tally.check_seconds += time.perf_counter() - start
            self.tally.kinds[verdict.kind] += 1
            if verdict.kind in (Kind.UNSUPPORTED, Kind.INEXPRESSIBLE):
                self.tally.skipped[verdict.reason] += 1
            if verdict.kind is Kind.UNSUPPORTED and self.tally.refusal_runs < refusals.budget(self.tally.examples):
                before = self.refused.runs
                self.refused.learn(data, self._refusal_check)
                self.tally.refusal_runs += self.refused.runs - before
                self.tally.refused = frozenset(self.refused.refused)
            if verdict.kind is Kind.DIVERGENT:
                self.tally.search_seconds = time.perf_counter() - self.started
        return verdict if verdict.kind is Kind.DIVERGENT else None


def search(
    reference,
    candidate,
    scope: strategies.Scope,
    budget: Budget,
    seed: int | None = None,
    database: Path | None = None,
    progress: Callable[[Tally], None] | None = None,
    listed: tuple[known.Known, ...] = (),
    steer: bool = True,
    past: tuple[str, ...] = (),
) -> Result:
    """Look for a case on which `candidate` differs from `reference`, and shrink the first one found.
    `database`: hypothesis' example database directory (None: none). `progress` is called between chunks.
    `listed`: known differences (fuzz/known.py, diagnosed: known.diagnosed); a divergence one of them accounts
    for is counted, not found. `steer`: learn what the candidate refuses and draw around it (fuzz/refusals.py;
    False: draw the whole scope, as before refusals were learned). `past`: the ids of the findings this round
    goes past (`--known`): the chunks' seeds then derive from them too, so that a round past a finding draws
    a sequence of its own rather than the earlier round's again up to that finding (a run with the same seed
    and findings still draws the same cases)."""
    from hypothesis import HealthCheck, Phase, Verbosity, given, settings
    from hypothesis import seed as fixed_seed
    from hypothesis.database import DirectoryBasedExampleDatabase
    from hypothesis.errors import Flaky

    seed = random.SystemRandom().randrange(2**32) if seed is None else seed
    tally = Tally()
    refused = refusals.Refusals()  # learned from the candidate's refusals as the search goes (refusals.py)
    refused.frozen = not steer
    strategy = strategies.case_data(scope, refused.steer)
    configured = settings(
        deadline=None,
        database=DirectoryBasedExampleDatabase(str(database)) if database is not None else None,
        phases=(Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink),
        suppress_health_check=list(HealthCheck),
        verbosity=Verbosity.quiet,
        report_multiple_bugs=False,
    )
    with hypothesis_home(cache_dir()), without_local_constants():
        _warm_up(reference, candidate, strategy)
        probe = _Probe(reference, candidate, tally, budget, listed, refused)  # the clock starts here

        def differs(data: dict) -> None:  # hypothesis needs a function; its name keys the example database
            probe(data)

        def finished(**kw) -> Result:
            elapsed = time.perf_counter() - probe.started
            if probe.seen is None:
                tally.search_seconds = elapsed
            else:
                tally.shrink_seconds = elapsed - tally.search_seconds
            return Result(kw.pop("finding", probe.seen), tally, seed, **kw)

        chunk = _offset(past)
        try:
            while not probe.spent():
                # every chunk has CHUNK examples whatever the budget, so that a budget only cuts the sequence
                run = settings(configured, max_examples=CHUNK)(given(strategy)(differs))
                before = tally.examples
                try:
                    fixed_seed(seed + chunk)(run)()
                except _Divergent as exc:
                    return finished(finding=trimmed(exc.verdict, probe._check))
                except _BudgetSpent:
                    break
                except Flaky:
                    return finished(flaky=True)
                chunk += 1
                if tally.examples == before and not probe.spent():
                    break  # a whole chunk drew nothing new: the scope is exhausted
                if progress is not None:
                    tally.search_seconds = time.perf_counter() - probe.started
                    progress(tally)
        except KeyboardInterrupt:
            return finished(interrupted=True)
        return finished()


def _offset(past: tuple[str, ...]) -> int:
    """Where the chunk seeds of a round past these findings start: 0 for none, else from their ids' digest."""
    if not past:
        return 0
    return int(hashlib.sha256("\0".join(sorted(past)).encode()).hexdigest()[:8], 16)


def trimmed(verdict: Verdict, check: Callable[[dict, bool], Verdict | None]) -> Verdict:
    """The shrunk finding cut to the fewest steps and the earliest resume_at that still diverge (`check`: the
    probe's, so a known difference is no finding here either). hypothesis shrinks the drawn choices, not the
    case: a metric walk or an epoch list can keep steps it does not drop. Steps and resume_at are independent
    of the rest of the case, so a cheap final pass tries each smaller value, smallest first, and repeats
    while one shortens: an earlier resume often moves the divergence earlier too (a resume at 6 of 11 steps
    became 2 of 4). Each round is at most steps + resume_at replays of cases no longer than the finding."""
    data, shortened = dict(verdict.case.raw), True
    while shortened:
        shortened = False
        for key, smallest in (("steps", data.get("resume_at", 0) + 1), ("resume_at", 1)):
            for smaller in range(smallest, data.get(key, smallest)):
                attempt = _with(data, **{key: smaller})
                try:
                    found = check(attempt, True)
                except CaseError:  # e.g. an intervention after the last step: that length is not a case
                    continue
                if found is not None:
                    data, verdict, shortened = attempt, found, True
                    break
    return verdict


def _with(data: dict, steps: int | None = None, resume_at: int | None = None) -> dict:
    """`data` with fewer steps (its per-step metrics / epochs cut to match) or an earlier resume_at."""
    changed = dict(data)
    if steps is not None:
        changed["steps"] = steps
        for per_step in ("metrics", "epochs"):
            if per_step in changed:
                changed[per_step] = list(changed[per_step])[:steps]
    if resume_at is not None:
        changed["resume_at"] = resume_at
    return changed


def _warm_up(reference, candidate, strategy) -> None:
    """Run the simplest case once on both sides before the clock starts: the first case pays one-off costs
    (torch imports its compiler stack on the first optimizer step: seconds), which would skew the rate."""
    from hypothesis import HealthCheck, Phase, find, settings

    simplest = find(strategy, lambda data: True,
                    settings=settings(database=None, phases=(Phase.generate, Phase.shrink),
                                      suppress_health_check=list(HealthCheck)))
    differential.check(parse_case(simplest, source="<fuzz>"), reference, candidate)


class _BudgetSpent(KeyboardInterrupt):
    """Raised by the probe once the budget is spent, to end the hypothesis run of the current chunk.
    hypothesis stops at once on a KeyboardInterrupt - it neither shrinks it, nor retries it, nor saves it
    to the example database - which is what a budget needs; any Exception would be taken for a failure.
    search() catches it before the KeyboardInterrupt of a real Ctrl-C."""


class _Divergent(Exception):
    def __init__(self, verdict: Verdict) -> None:
        super().__init__(verdict.reason)
        self.verdict = verdict
