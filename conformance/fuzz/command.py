"""`lr-conformance fuzz`: the options, the exit codes and what is printed.

    lr-conformance fuzz --adapter CANDIDATE [--reference SPEC] [--scheduler NAME ...] [--intervention DO ...]
                        [--max-seconds S | --max-examples N] [--seed N] [--record FILE] [--keep-going]

Exit codes, as `run`: 0 no divergence within the budget; 1 a divergence (printed: the first difference, a
ready-to-paste [[case]] block, the torch snippet; with --keep-going, every one the budget reached); 2 a usage or configuration problem, found before fuzzing
(every one reported, one line each); 130 interrupted (a divergence already found is still printed).
"""

from __future__ import annotations

import shlex
import sys
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from conformance import resources
from conformance.adapters import AdapterLoadError, load_adapter
from conformance.cases import SCHEDULERS, DataError
from conformance.model import INTERVENTIONS, json_safe

DEFAULT_SECONDS = 60.0
MAX_STEPS_LIMIT = 10_000  # the case language's bound on steps


def add_parser(sub) -> None:
    fuzz = sub.add_parser(
        "fuzz", help="differential fuzzing: hypothesis-generated cases, candidate vs reference, shrunk findings",
        description="Generate cases over the whole case language with hypothesis, run each on the candidate and "
                    "on the reference (default: the installed torch), and shrink the first divergence to a "
                    "minimal case, printed as a [[case]] block ready for golden/cases/<family>.toml.")
    fuzz.add_argument("--adapter", required=True, metavar="CANDIDATE",
                      help="the implementation to fuzz: entry-point name, module:Class, path/to/adapter.py or "
                           "cmd:<command>")
    fuzz.add_argument("--reference", default="torch", metavar="SPEC",
                      help="what the candidate is compared with, any adapter string (default: torch, the installed "
                           "release); e.g. 'cmd:/other/venv/bin/python -m conformance.serve --adapter torch'")
    fuzz.add_argument("--reference-in-process", action="store_true",
                      help="run the reference in this process even when the candidate runs here too (faster; a "
                           "candidate that patches torch while tracing then changes the reference as well). By "
                           "default an in-process candidate gets a reference in a process of its own")
    fuzz.add_argument("--unchecked-reference", action="store_true",
                      help="fuzz even when the reference does not reproduce the suite's goldens of the fuzzed "
                           "schedulers (two ports against each other); by default that is a configuration error")
    fuzz.add_argument("--scheduler", action="append", default=[], metavar="NAME",
                      help="only cases with this top-level scheduler (repeatable; composites still draw any child)")
    fuzz.add_argument("--intervention", action="append", default=[], metavar="DO",
                      help="every case has at least one intervention of this kind, and no other kind (repeatable; "
                           f"one of {', '.join(INTERVENTIONS)}; docs/spec.md 4.5); default: any kind, in one case "
                           "in eight")
    budget = fuzz.add_mutually_exclusive_group()
    budget.add_argument("--max-seconds", type=float, metavar="S",
                        help=f"stop after S seconds without a divergence (default {DEFAULT_SECONDS:g})")
    budget.add_argument("--max-examples", type=int, metavar="N", help="stop after N examples without a divergence")
    fuzz.add_argument("--seed", type=int, metavar="N",
                      help="draw the same cases as any run with this seed (no example database is used); "
                           "default: a random seed, printed")
    fuzz.add_argument("--record", type=Path, metavar="FILE",
                      help="append the finding's [[case]] block to FILE, a staging file to review")
    fuzz.add_argument("--expectations", action="append", type=resources.expectations_file, default=[],
                      metavar="FILE|NAME",
                      help="known differences (an expectations file, or the name of a shipped one, as for run; "
                           "repeatable): a divergence a listed case accounts for - its traits (schedulers, "
                           "features, callables) and first-difference column, or its warning/error symptom, and "
                           "every argument or metric the listed difference needs - is counted and the search goes "
                           "on (docs/fuzzing.md)")
    fuzz.add_argument("--known", action="append", type=Path, default=[], metavar="FILE",
                      help="a staging file of [[case]] blocks (what --record writes; repeatable): a divergence "
                           "one of its cases accounts for is counted and the search goes on, as for "
                           "--expectations - findings awaiting review are not found again")
    fuzz.add_argument("--keep-going", action="store_true",
                      help="after a finding, take it as known (as --known would) and search on until the budget "
                           "is spent: a campaign's findings in one run, each printed (and recorded with --record) "
                           "as it is found; the budget is the whole run's")
    fuzz.add_argument("--max-steps", type=int, default=40, metavar="N",
                      help="longest trace drawn (default 40: short cases shrink fast)")
    fuzz.add_argument("--timeout", type=float, metavar="SECONDS",
                      help="per-case timeout for cmd: adapters (default 30)")
    fuzz.add_argument("-q", "--quiet", action="store_true", help="no progress line")


@dataclass
class Prepared:
    """What a fuzz run needs once its options are checked: both adapters (open: `close` them), the scope both
    declare, the known differences diagnosed, and the findings a round goes past (`--known`)."""

    reference: object
    candidate: object
    scope: object
    listed: list
    past: tuple

    def close(self) -> None:
        for adapter in (self.reference, self.candidate):
            adapter.close()


def prepared(args) -> tuple[Prepared | None, list[str]]:
    """Check the options of `lr-conformance fuzz`, load both adapters, check the reference against the goldens
    and diagnose the known differences: (Prepared, []), or (None, every problem, one line each). Shared by the
    command and by the HypoFuzz campaign target (fuzz/campaign.py), which takes the same options."""
    problems = _usage_problems(args)
    listed = []
    try:
        listed += _listed(args.expectations)
    except DataError as exc:
        problems += [str(line) for line in exc.args]
    try:
        import hypothesis  # noqa: F401 - an optional dependency: say so before anything else happens
        roles = (("--reference", args.reference), ("--adapter", args.adapter))
    except ImportError:
        problems.append("fuzz needs hypothesis: pip install 'lr-conformance[fuzz]'")
        roles = ()  # loading them starts torch in a process of its own (seconds), for a run that cannot fuzz
    adapters, past = {}, ()
    for role, spec in roles:
        try:
            adapters[role] = load_adapter(spec, timeout=args.timeout,
                                          isolate=role == "--reference" and _reference_needs_a_process(args))
        except AdapterLoadError as exc:
            problems.append(str(exc) if role == "--adapter" else str(exc).replace("--adapter", "--reference", 1))
    try:
        if not problems:
            from conformance.fuzz import strategies

            reference, candidate = adapters["--reference"], adapters["--adapter"]
            scope = strategies.scope_for(reference.info, candidate.info, _canonical(args.scheduler), args.max_steps,
                                         args.intervention)
            problems += _scope_problems(scope, args.scheduler, reference.info, candidate.info)
            try:
                staged = _staged(args.known, reference)
                past = tuple(found.id for found in staged)  # a round past these findings searches elsewhere
                listed += staged
            except DataError as exc:
                problems += [str(line) for line in exc.args]
            if not problems and not args.unchecked_reference:
                problems += _reference_problems(args.reference, reference, scope)
            if listed and not problems:
                from conformance.fuzz import known

                listed = known.diagnosed(listed, reference, candidate)  # how each differs, what it needs (known.py)
    except BaseException:
        for adapter in adapters.values():
            adapter.close()
        raise
    if problems:
        for adapter in adapters.values():
            adapter.close()
        return None, problems
    return Prepared(reference, candidate, scope, listed, past), []


def cmd_fuzz(args) -> int:
    ready, problems = prepared(args)
    if ready is None:
        for problem in problems:
            print(f"lr-conformance: {problem}", file=sys.stderr)
        return 2
    try:
        from conformance.fuzz import search

        budget = search.Budget(max_examples=args.max_examples,
                               max_seconds=None if args.max_examples else (args.max_seconds or DEFAULT_SECONDS))
        database = None if args.seed is not None else search.database_dir(args.reference, args.adapter)
        progress = _progress if (sys.stderr.isatty() and not args.quiet) else None
        return _rounds(args, ready.reference, ready.candidate, ready.scope, budget, database, progress,
                       ready.listed, ready.past)
    finally:
        ready.close()


def _rounds(args, reference, candidate, scope, budget, database, progress, listed, past) -> int:
    """One search, or with --keep-going one round per finding: each finding is diagnosed like a --known case
    and the next round goes past it (its chunk seeds derive from the findings, as with --known), until the
    budget - the run's, searching only, as in one round: shrinking is not charged - is spent. The rounds
    depend on the seed, not on timing, so `--max-examples` of the examples up to a finding reproduces it."""
    from conformance.fuzz import groups, known, search

    seed, total, findings, seconds = args.seed, search.Tally(), [], 0.0
    keys = []  # (finding id, its group key or None): the summary's groups (fuzz/groups.py)
    while True:
        result = search.search(reference, candidate, scope, _left(budget, total.examples, seconds), seed=seed,
                               database=database, progress=progress, listed=tuple(listed), past=past)
        if progress:
            print("\r\033[K", end="", file=sys.stderr)
        seed = result.seed  # a random seed is drawn once: every round of the run uses it
        total.add(result.tally)
        seconds += result.tally.search_seconds
        if not args.keep_going:
            return _report(args, result, reference.info, candidate.info)
        diagnosis, group = [], []  # the finding diagnosed like a --known case (for the next round) and its group

        def diagnose(case):
            if result.interrupted or result.flaky:
                return None  # interrupted: stop now; flaky: the case does not diverge again, nothing to diagnose
            try:
                diagnosis.extend(known.diagnosed([known.Known.of(case, _trace_or_none(reference, case))], reference,
                                                 candidate))
            except KeyboardInterrupt:
                return None  # the finding is still printed, without its group; the run stops below
            group.append(groups.key(diagnosis[0]))
            return group[0]

        case = _print_finding(args, result, reference.info, candidate.info, total.examples,
                              group=lambda case: _group(diagnose(case), listed))
        if case is None:
            break
        if case.id in past:  # the matching did not take the finding for itself: searching on would loop
            print(f"fuzz: {case.id} was found again although it was known: stopping (docs/fuzzing.md)")
            break
        findings.append(case.id)
        keys.append((case.id, group[0] if group else None))
        if result.interrupted or result.flaky:
            break
        if not diagnosis:  # Ctrl-C while diagnosing: as if it had come while searching
            result = replace(result, interrupted=True)
            break
        past = (*past, case.id)
        listed = [*listed, *diagnosis]
        if _left(budget, total.examples, seconds) is None:
            break
    return _report_rounds(args, result, total, seconds, findings, reference.info, candidate.info, keys)


def _group(key, listed) -> list[str]:
    """A finding's group as comment lines (fuzz/groups.py): its label and key in words, and the known cases -
    listed, --known, earlier findings - whose diagnosis has the same key (a hint, not a match)."""
    from conformance.fuzz import groups

    if key is None:
        return ["group: none (not diagnosed: the run was interrupted, or the case did not diverge again)"]
    same = [item.id for item in listed if item.difference is not None and groups.key(item) == key]
    shown = ", ".join(same[:3]) + (f" and {len(same) - 3} more" if len(same) > 3 else "")
    return [f"group {key.label} (likely cause, docs/fuzzing.md): {key}"
            + (f"; the same key as {shown}" if same else "")]


def _left(budget, examples: int, seconds: float):
    """What is left of the run's budget after `examples` examples and `seconds` of searching; None: spent."""
    from conformance.fuzz.search import Budget

    if budget.max_examples is not None:
        return Budget(max_examples=budget.max_examples - examples) if examples < budget.max_examples else None
    return Budget(max_seconds=budget.max_seconds - seconds) if seconds < budget.max_seconds else None


def _reference_needs_a_process(args) -> bool:
    """An in-process candidate shares this interpreter's torch with an in-process reference: its import (a
    library that "fixes" torch, an AMP layer wrapping it) or its tracing can patch the very classes the
    reference runs, and the two then agree on anything (issue 23). So the reference gets a process of its own
    unless the candidate already runs in one (cmd:), or the user asked for speed (--reference-in-process).
    The cost, measured in docs/fuzzing.md: the reference's answers cross a pipe as JSON."""
    return not args.reference_in_process and not args.adapter.startswith("cmd:")


def _usage_problems(args) -> list[str]:
    problems = []
    known = {name.lower() for name in SCHEDULERS}
    problems += [f"--scheduler {name}: not one of the 16 torch schedulers ({', '.join(SCHEDULERS)})"
                 for name in args.scheduler if name.lower() not in known]
    problems += [f"--intervention {name}: not one of the interventions ({', '.join(INTERVENTIONS)})"
                 for name in args.intervention if name not in INTERVENTIONS]
    if args.max_seconds is not None and not args.max_seconds > 0:
        problems.append(f"--max-seconds {args.max_seconds:g}: must be positive (seconds)")
    if args.max_examples is not None and args.max_examples < 1:
        problems.append(f"--max-examples {args.max_examples}: must be at least 1")
    if not 1 <= args.max_steps <= MAX_STEPS_LIMIT:
        problems.append(f"--max-steps {args.max_steps}: must be between 1 and {MAX_STEPS_LIMIT}")
    if args.timeout is not None and not args.timeout > 0:
        problems.append(f"--timeout {args.timeout:g}: must be a positive number of seconds")
    if args.record is not None:
        if args.record.is_dir():
            problems.append(f"--record {args.record}: is a directory; name a .toml file")
        elif not args.record.parent.is_dir():
            problems.append(f"--record {args.record}: directory {args.record.parent} does not exist")
    return problems


def _listed(expectations) -> list:
    """The cases the --expectations files list, as known shapes (with the suite's goldens)."""
    if not expectations:
        return []
    from conformance import golden
    from conformance.cases import load_cases
    from conformance.fuzz import known

    store = golden.load()
    return known.load(expectations, load_cases(), lambda case: store.expected(case, store.reference)[0])


def _reference_problems(spec: str, reference, scope) -> list[str]:
    """The reference must reproduce, bit for bit, the suite's goldens of every case involving a fuzzed
    scheduler before it judges anything. Otherwise a torch patched on import - by an in-process candidate
    (`--adapter my_port.py` that replaces StepLR.get_lr) under --reference-in-process, a sitecustomize, a
    stale build - becomes the yardstick, and a candidate that agrees with it is "no divergence" (issue 23).
    Checked after both adapters are loaded, so what the candidate's import changed is in place; a candidate
    that patches torch later, while tracing, reaches an in-process reference only under
    --reference-in-process (by default the reference then runs in a process of its own)."""
    from conformance import golden, runner
    from conformance.cases import load_cases
    from conformance.model import Status

    store = golden.load()
    cases = [case for case in load_cases() if case.schedulers & scope.schedulers]
    with runner.adapter_output_to_stderr():
        outcomes = runner.run_cases(reference, cases, store)
    wrong = [o for o in outcomes if o.status in (Status.FAIL, Status.ERROR, Status.TIMEOUT, Status.CRASH)]
    if not wrong:
        return []
    first = wrong[0]
    return [f"--reference {spec}: does not reproduce {len(wrong)} of the {len(cases)} goldens of the fuzzed "
            f"schedulers (first: {first.case_id}: {first.status.value}: {first.detail}); a reference that is not "
            "what the goldens were recorded from would grade the candidate against itself. `lr-conformance run "
            f"--adapter {shlex.quote(spec)}` lists them; --unchecked-reference fuzzes anyway"]


def _staged(paths, reference) -> list:
    """The cases of the --known staging files, as known shapes (with the reference's traces: no golden yet)."""
    from conformance.fuzz import known

    return known.load_staged(paths, lambda case: _trace_or_none(reference, case)) if paths else []


def _trace_or_none(adapter, case):
    try:
        return adapter.trace(case)
    except Exception:  # noqa: BLE001 - a case the reference cannot run still has a shape (without `errors`)
        return None


def _canonical(names) -> list[str]:
    by_lower = {name.lower(): name for name in SCHEDULERS}
    return [by_lower[name.lower()] for name in names if name.lower() in by_lower]


def _scope_problems(scope, names, reference, candidate) -> list[str]:
    problems = []
    for name in _canonical(names):
        for role, info in (("--reference", reference), ("--adapter", candidate)):
            if name not in info.schedulers:
                problems.append(f"--scheduler {name}: {role} {info.name} does not declare it")
        if name == "ReduceLROnPlateau" and "plateau" not in scope.features and name in scope.schedulers:
            problems.append("--scheduler ReduceLROnPlateau: the `plateau` feature is not declared by both sides")
    from conformance.fuzz.strategies import intervention_needs

    for name in sorted(scope.interventions & set(INTERVENTIONS)):
        for role, info in (("--reference", reference), ("--adapter", candidate)):
            lacking = [feature for feature in intervention_needs(name) if feature not in info.features]
            if lacking:
                problems.append(f"--intervention {name}: {role} {info.name} does not declare "
                                f"{', '.join(lacking)}")
    if not problems and not scope.tops:
        problems.append(f"{candidate.name} and {reference.name} declare no scheduler in common: nothing to fuzz")
    return problems


def _progress(tally) -> None:
    print(f"\r\033[K[{tally.search_seconds:5.0f} s] {tally.examples} examples, {tally.rate:.0f}/s, no divergence yet",
          end="", file=sys.stderr, flush=True)


def _label(info) -> str:
    return f"{info.name} {info.version}".strip()


def _counts(args, tally, seed) -> str:
    from conformance.fuzz.differential import Kind

    known = f", {tally.kinds[Kind.KNOWN]} of them known differences" if args.expectations or args.known else ""
    return (f"{tally.examples} examples ({tally.compared} compared{known}, "
            f"{tally.kinds[Kind.UNSUPPORTED]} unsupported by the candidate, "
            f"{tally.kinds[Kind.INEXPRESSIBLE]} the reference cannot express) in {tally.search_seconds:.1f} s, "
            f"{tally.rate:.1f} examples/s, seed {seed}")


def _report(args, result, reference, candidate) -> int:
    """What one search found: the finding (see `_print_finding`), or none; the exit code."""
    from conformance.fuzz.differential import Kind

    tally = result.tally
    pair = f"{_label(candidate)} vs {_label(reference)}"
    counts = _counts(args, tally, result.seed)
    if result.finding is None:
        print(f"fuzz: {pair}: no divergence in {counts}" + (" - INTERRUPTED" if result.interrupted else ""))
        if tally.kinds[Kind.UNSUPPORTED] + tally.kinds[Kind.INEXPRESSIBLE]:
            common = "; ".join(f"{reason} ({n})" for reason, n in tally.skipped.most_common(3))
            print(f"  most often skipped: {common}")
        _print_share(tally)
        _print_explained(tally)
        return 130 if result.interrupted else 0
    _print_finding(args, result, reference, candidate, tally.examples)
    _print_share(tally)
    _print_explained(tally)
    print(f"fuzz: {pair}: DIVERGENCE after {counts}" + (" - INTERRUPTED while shrinking" if result.interrupted else ""))
    return 130 if result.interrupted else 1


def _report_rounds(args, result, tally, seconds, findings, reference, candidate, keys=()) -> int:
    """The end of a --keep-going run: every finding was printed as it was found; the run's totals, and the
    findings by group (`keys`: each finding's id and group key, fuzz/groups.py)."""
    pair = f"{_label(candidate)} vs {_label(reference)}"
    tally.search_seconds = seconds
    rounds = len(findings) + (result.finding is None)
    found = f"{len(findings)} divergence(s) ({', '.join(findings)})" if findings else "no divergence"
    print(f"fuzz: {pair}: {found} in {rounds} round(s), {_counts(args, tally, result.seed)}"
          + (" - INTERRUPTED" if result.interrupted else ""))
    _print_groups(keys)
    _print_share(tally)
    _print_explained(tally)
    return 130 if result.interrupted else 1 if findings else 0


def _print_groups(keys) -> None:
    """A line per group of findings: its label, size, ids and key in words (a hint for review: docs/fuzzing.md)."""
    from conformance.fuzz import groups

    ordered = groups.grouped(keys)
    if not ordered:
        return
    print(f"  {len(keys)} finding(s) in {sum(key is not None for key, _ in ordered)} group(s) by likely cause "
          "(a hint for review, never a match; docs/fuzzing.md):")
    for key, ids in ordered:
        what = f"{key.label}: {len(ids)}" if key is not None else f"not grouped: {len(ids)}"
        why = key if key is not None else "not diagnosed (interrupted, or the case did not diverge again)"
        print(f"    {what} ({', '.join(ids)}): {why}")


def _print_finding(args, result, reference, candidate, examples: int, group=None):
    """The finding: its first difference, a [[case]] block ready to paste, the torch snippet; appended to
    --record. `examples`: as many as the run took to find it (for the command that finds it again); `group`:
    the finding's case -> the comment lines saying its group (--keep-going, `_group`). Returns the finding as
    a case, or None when there was none."""
    from conformance.fuzz import emit

    verdict = result.finding
    if verdict is None:
        return None
    tally = result.tally
    pair = f"{_label(candidate)} vs {_label(reference)}"
    case, what = emit.finding(verdict, pair)
    rerun = _rerun_command(args, result.seed, examples)
    grouped = group(case) if group is not None else []
    block = emit.case_block(case, comments=[f"found by lr-conformance fuzz: {what}", f"reproduce: {rerun}", *grouped])
    status = verdict.status.value.upper() if verdict.status is not None else "DIFFERS"
    print(f"DIVERGENCE  {case.id}  ({status}; shrunk to {case.steps} step(s) in {tally.shrink_seconds:.1f} s, "
          f"{tally.shrink_runs} replays)" + (" - FLAKY: the minimal case did not diverge when replayed" if result.flaky
                                              else ""))
    print(f"  what:   {verdict.reason}")
    for line in grouped:
        print(f"  {line}")
    for line in _window(verdict):
        print(f"  {line}")
    # regen writes goldens only into a checkout: outside one (say, the package installed from a wheel) say so
    where = "" if resources.find_checkout(Path.cwd()) else " of a checkout of lr-conformance"
    print(f"  case:   paste into golden/cases/{emit.family(case)}.toml{where}, say in `why` what it pins, then run "
          "`lr-conformance regen` there (the reference torch records its golden):")
    print()
    print(block)
    print("  torch (standalone code printing the reference values):")
    from conformance.snippet import torch_snippet

    print("\n".join(f"    {line}" for line in torch_snippet(case).splitlines()))
    print()
    if args.record is not None:
        emit.record(args.record, block)
        print(f"fuzz: appended {case.id} to {args.record}")
    return case


def _print_share(tally) -> None:
    """The share of drawn examples graded on both sides, and what the draws were steered away from (refusals.py)."""
    print(f"  compared: {tally.compared} of {tally.examples} drawn examples ({tally.compared_share:.0%})")
    if tally.refused:
        from conformance.fuzz.refusals import describe

        print(f"  steered away from what the candidate refuses ({tally.refusal_runs} extra runs to learn it): "
              f"{describe(tally.refused)}")


def _print_explained(tally) -> None:
    if +tally.explained:  # (shrinking counts nothing, but leaves zero counts)
        listed = "; ".join(f"{case_id} ({n})" for case_id, n in (+tally.explained).most_common())
        how = ", ".join(f"{tally.explained_by[by]} by {by}" for by in ("traits", "symptom"))
        print(f"  known differences (--expectations, --known), by the listed case that accounts for them "
              f"({how}; {tally.attribution_runs} extra runs to see what they need): {listed}")


def _window(verdict) -> list[str]:
    """expected vs actual around the first divergence (value divergences only), as `run` prints them."""
    from conformance.report import divergence_window

    if verdict.divergence is None or verdict.expected is None or verdict.actual is None:
        return []
    rows = divergence_window({"divergence": json_safe(asdict(verdict.divergence)),
                              "traces": {"expected": json_safe(verdict.expected.to_json()),
                                         "actual": json_safe(verdict.actual.to_json())}})
    if not rows:
        return []
    lines = [f"around: {'step':>5}  {'expected':24}  actual"]
    for step, _group, expected, actual in rows:
        mark = ">" if step == verdict.divergence.step else ""
        lines.append(f"{mark:>7} {step:>5}  {_cell(expected):24}  {_cell(actual)}")
    return lines


def _cell(value) -> str:
    return "-" if value is None else repr(value) if isinstance(value, float) else str(value)


def _rerun_command(args, seed: int, examples: int) -> str:
    """The command that finds this divergence again: same adapters, scope and seed, and as many examples
    as it took (a time budget would stop at a machine-dependent point)."""
    parts = ["lr-conformance", "fuzz", "--adapter", args.adapter]
    if args.reference != "torch":
        parts += ["--reference", args.reference]
    if args.reference_in_process:
        parts.append("--reference-in-process")
    for name in args.scheduler:
        parts += ["--scheduler", name]
    for name in args.intervention:
        parts += ["--intervention", name]
    for path in args.expectations:
        parts += ["--expectations", resources.expectations_argument(path)]
    for path in args.known:
        parts += ["--known", str(path)]
    if args.keep_going:
        parts.append("--keep-going")  # the rounds before this finding: it is found in its own round again
    parts += ["--max-examples", str(max(examples, 1))]
    if args.max_steps != 40:
        parts += ["--max-steps", str(args.max_steps)]
    parts += ["--seed", str(seed)]
    return " ".join(shlex.quote(p) for p in parts)
