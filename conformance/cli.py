"""`lr-conformance` / `python -m conformance`: run, report, list, show, check, export, regen, adapters, site, fuzz.

Exit codes, the same for every command:
  0    conformant / nothing to do (check: the data is consistent; regen: written, or nothing to write)
  1    graded and not conformant: a case failed, errored, timed out, crashed or xpassed; or regen refused to
       change or remove existing goldens without --accept; or show --diff found a case that differs
  2    a usage, data or configuration problem found before grading: a bad option or --adapter, filters that
       match no case, a malformed case file, a golden that is missing, corrupt (hash, encoding, rows) or older
       than its case, a malformed manifest, goldens that cannot be written. Every problem found is reported
       at once, one line each, and nothing is graded or written.
  5    run: nothing was graded - every selected case was unsupported by the adapter or skipped (does not apply
       to the release it mirrors); "OK" would claim what no case showed
  130  interrupted
"""

from __future__ import annotations

import argparse
import difflib
import importlib
import math
import os
import sys
import time
from pathlib import Path

from conformance import __version__, cases as cases_mod, golden, report, resources, traces
from conformance.adapters import AdapterLoadError, load_adapter, registered, resolve_spec
from conformance.fuzz import command as fuzz_command
from conformance.htmlreport import ReportError
from conformance.model import Tolerance
from conformance.site import command as site_command

FORMATS = ("terminal", "json", "markdown")
EXIT_NOTHING_GRADED = 5  # as pytest's "no tests collected": a run with nothing graded is not a pass
REPORT_SUFFIXES = (".md", ".html", ".htm")


class UsageError(ValueError):
    """A bad combination or value of options. str() is one line per problem."""


class _Parser(argparse.ArgumentParser):
    """argparse, with its errors on one line (exit 2) instead of a usage block."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: {message} (see {self.prog} --help)\n")


def _filters(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-k", "--id", dest="patterns", action="append", default=[], metavar="PATTERN",
                        help="only cases whose id contains PATTERN, or is it; with * ? [ a glob over the whole id "
                             "(repeatable), e.g. cosine, steplr/gamma-half-step3, 'steplr/*'")
    parser.add_argument("--scheduler", action="append", default=[], help="only cases using this scheduler")
    parser.add_argument("--tag", action="append", default=[], help="only cases with this tag")


def _adapter_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--adapter", default=None,
                        help="entry-point name, module:Class, path/to/adapter.py or cmd:<command> "
                             "(default: $LR_CONFORMANCE_ADAPTER or 'torch')")
    parser.add_argument("--isolate", action="store_true",
                        help="run the adapter in a child process (python -m conformance.serve): a crash, a hang, "
                             "stdout noise or sys.exit in it cannot stop or falsify the run")
    parser.add_argument("--timeout", type=float, metavar="SECONDS",
                        help="per-case timeout (default 30 with --isolate or cmd:); a hung process is killed and "
                             "restarted. Implies --isolate: only a child process can be stopped")
    parser.add_argument("--startup-timeout", type=float, metavar="SECONDS",
                        help="how long a fresh child process may take to answer hello (default: --timeout when "
                             "given, else 120)")
    parser.add_argument("--max-answer-bytes", type=int, metavar="N",
                        help="longest answer line read from a child process (default 16777216 = 16 MiB); a "
                             "longer one is the case's ERROR")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="lr-conformance")
    parser.add_argument("--version", action="version", version=f"lr-conformance {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="grade an implementation (default: the installed torch) against the goldens")
    _adapter_options(run)
    _filters(run)
    run.add_argument("--json", dest="json_path", type=Path, help="write the machine-readable result here")
    run.add_argument("--expectations", type=resources.expectations_file, metavar="FILE|NAME",
                     help="TOML file of cases known to differ (xfail), or the name of one the suite ships for a "
                          "library adapter, e.g. paddle-float64 (`lr-conformance adapters` shows them)")
    run.add_argument("--rtol", type=float, help="relative tolerance, replacing the adapter's (default: its own)")
    run.add_argument("--atol", type=float, help="absolute tolerance, replacing the adapter's")
    run.add_argument("--report", type=Path, metavar="PATH",
                     help="also write a report with plots of divergent cases: PATH.html (self-contained) or PATH.md")
    run.add_argument("--format", choices=FORMATS, default="terminal",
                     help="what to print on stdout: the terminal summary (default), the JSON result, or Markdown")
    run.add_argument("-v", "--verbose", action="store_true",
                     help="list every case, not only problems, with a torch reproduction snippet for each problem")
    run.add_argument("-q", "--quiet", action="store_true", help="no progress line")

    rep = sub.add_parser("report", help="re-render a saved result (run --json FILE) as HTML, Markdown or text")
    rep.add_argument("result", type=Path, help="a result file written by `lr-conformance run --json`")
    rep.add_argument("--html", type=Path, metavar="PATH", help="write a self-contained HTML report with plots")
    rep.add_argument("--md", type=Path, metavar="PATH", help="write a Markdown report (plots in PATH's _plots dir)")
    rep.add_argument("--format", choices=FORMATS, default=None,
                     help="print this view on stdout (default: terminal, unless --html or --md is given)")
    rep.add_argument("-v", "--verbose", action="store_true", help="terminal view: list every case")

    lst = sub.add_parser("list", help="list cases")
    _filters(lst)

    show = sub.add_parser("show", help="print the trace an adapter produces for cases, as the goldens' CSV (each "
                                       "case's id and why on stderr), without comparing")
    _adapter_options(show)
    _filters(show)
    show.add_argument("--diff", action="store_true",
                      help="print the golden and the actual trace side by side instead, in only what grading "
                           "compares for this adapter (no last_lr column for one that does not observe it), "
                           "rows that differ marked '>'; exit 1 when any case differs")

    sub.add_parser("check", help="lint case files and goldens: schema, ids, hashes, orphans",
                   description="Validate the suite's data without grading anything: every case file against "
                               "schemas/case.schema.json, unique ids, every case's golden present and matching its "
                               "manifest hash and its case's spec hash, no orphan golden, and the shipped "
                               "expectations files. Prints one line per problem; exit 0 when there is none, 2 "
                               "otherwise.")

    export = sub.add_parser("export", help="write the resolved cases and their goldens as JSON lines "
                                           "(schemas/export.schema.json)")
    export.add_argument("--out", type=Path, metavar="FILE", help="write here (default: stdout)")
    _filters(export)

    regen = sub.add_parser("regen", help="regenerate reference goldens with the installed torch")
    _filters(regen)
    regen.add_argument("--accept", action="store_true", help="allow changing or removing existing goldens")
    regen.add_argument("--scoped", action="store_true",
                       help="record the installed (non-reference) torch release's traces as release-scoped variants")
    regen.add_argument("--goldens", type=Path, metavar="DIR",
                       help="the golden/ directory to regenerate (its cases/ are read, its traces/ written), or a "
                            "checkout holding one (default: the checkout the current directory is in)")
    regen.add_argument("--wait", type=float, default=golden.LOCK_TIMEOUT, metavar="SECONDS",
                       help="how long to wait for another regen writing the same goldens "
                            f"(default {golden.LOCK_TIMEOUT:g}), then fail")
    regen.add_argument("--adapter", default="torch", help=argparse.SUPPRESS)

    sub.add_parser("adapters", help="list the adapters registered by name (--adapter NAME): whether each one "
                                    "loads here, and the version it grades",
                   description="List every adapter registered by name - the built-in torch and library adapters "
                               "and any installed package's `lr_conformance.adapters` entry points - one line "
                               "each: its class; whether it loads here and the library version it grades, or why "
                               "not and what installs the library; and the shipped expectations for it "
                               "(--expectations NAME), importable or not.")
    site_command.add_parser(sub)
    fuzz_command.add_parser(sub)
    _describe_commands(parser, sub)
    return parser


def _describe_commands(parser: argparse.ArgumentParser, sub) -> None:
    """The top-level description lists every command there is (it once left out `fuzz`, added later), and a
    command without a description of its own gets its one-line help as one (`check --help` said nothing)."""
    parser.description = ("Golden traces of torch.optim.lr_scheduler and a harness that grades any LR scheduler "
                          f"implementation against them. Commands: {', '.join(sub.choices)}.")
    for action in sub._choices_actions:  # argparse keeps each command's help= here, and nowhere public
        command = sub.choices[action.dest]
        if not command.description:
            command.description = action.help[0].upper() + action.help[1:] + "."


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except cases_mod.DataError as exc:  # case files and goldens: every problem found, one line each
        for problem in exc.problems:
            print(f"lr-conformance: {problem}", file=sys.stderr)
        return 2
    except (AdapterLoadError, traces.TraceFormatError, UsageError, ReportError, resources.LocationError) as exc:
        print(f"lr-conformance: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("lr-conformance: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # the reader of stdout went away (`lr-conformance list | head`): stop quietly, as a process killed by
        # SIGPIPE would (shells report 141 for it); point stdout at devnull so the interpreter's final flush
        # does not raise again
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


def _selected(args, directory: Path | None = None) -> list[cases_mod.Case]:
    all_cases = cases_mod.load_cases(directory) if directory is not None else cases_mod.load_cases()
    chosen = cases_mod.select(all_cases, args.patterns, args.scheduler, args.tag)
    if not chosen:
        raise cases_mod.CaseError(no_match_message(all_cases, args.patterns, args.scheduler, args.tag))
    return chosen


def no_match_message(all_cases, patterns=(), schedulers=(), tags=()) -> str:
    """One line saying which filter matched nothing, and what comes close (for `-k`, `--scheduler`, `--tag`)."""
    all_cases = list(all_cases)
    ids = [c.id for c in all_cases]
    tried = [(f"-k {p!r}", cases_mod.select(all_cases, [p]), _close_ids(p, ids)) for p in patterns]
    known_schedulers = sorted({s for c in all_cases for s in c.schedulers})
    tried += [(f"--scheduler {s!r}", cases_mod.select(all_cases, schedulers=[s]),
               difflib.get_close_matches(s, known_schedulers, n=3, cutoff=0.5)) for s in schedulers]
    known_tags = sorted({t for c in all_cases for t in c.tags})
    tried += [(f"--tag {t!r}", cases_mod.select(all_cases, tags=[t]),
               difflib.get_close_matches(t, known_tags, n=3, cutoff=0.5)) for t in tags]
    empty = [f"{what} matches none" + (f" (close: {', '.join(close)})" if close else "")
             for what, found, close in tried if not found]
    if empty:
        rule = " (-k: a substring of the id, the id itself, or with * ? [ a glob over the whole id)" if patterns else ""
        return f"no case matches: {'; '.join(empty)}{rule}"
    counts = ", ".join(f"{what} {len(found)}" for what, found, _ in tried)
    return f"no case matches every filter at once ({counts} cases separately)"


def _close_ids(pattern: str, ids: list[str], n: int = 3) -> list[str]:
    """Ids that look like a mistyped `pattern`: compared whole, and by family and name."""
    def score(case_id: str) -> float:
        return max(difflib.SequenceMatcher(None, pattern, part).ratio() for part in (case_id, *case_id.split("/")))

    scored = sorted(((score(i), i) for i in ids), key=lambda x: (-x[0], x[1]))
    return [i for ratio, i in scored[:n] if ratio >= 0.6]


def _run_problems(args) -> list[str]:
    """Every bad option value, found before anything runs (one line each)."""
    problems = []
    for name in ("rtol", "atol"):
        value = getattr(args, name, None)
        if value is not None and not (math.isfinite(value) and value >= 0):
            problems.append(f"--{name} {value:g}: must be a finite number >= 0")
    value = getattr(args, "max_answer_bytes", None)
    if value is not None and value < 1:
        problems.append(f"--max-answer-bytes {value}: must be a positive number of bytes")
    for name in ("timeout", "startup_timeout"):
        value = getattr(args, name, None)
        if value is not None and not (math.isfinite(value) and value > 0):
            problems.append(f"--{name.replace('_', '-')} {value:g}: must be a positive, finite number of seconds")
    report_path = getattr(args, "report", None)
    if report_path is not None and report_path.suffix.lower() not in REPORT_SUFFIXES:
        problems.append(f"--report {report_path}: the extension picks the format, .html or .md")
    for option, path in (("--json", getattr(args, "json_path", None)), ("--report", report_path),
                         ("--html", getattr(args, "html", None)), ("--md", getattr(args, "md", None))):
        problem = _unwritable(path)
        if problem:
            problems.append(f"{option} {path}: {problem}")
    return problems


def _unwritable(path: Path | None) -> str | None:
    """Why a result or report cannot be written to `path` (checked before the run; nothing is created)."""
    if path is None:
        return None
    parent = path.parent
    if not parent.is_dir():
        return f"directory {str(parent)!r} does not exist" if not parent.exists() else f"{str(parent)!r} is not a directory"
    if path.is_dir():
        return "is a directory"
    if not os.access(parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        return "not writable"
    return None


def _all_case_ids() -> set[str]:
    """Every case of the suite, whatever -k selects: an expectations id is checked against these."""
    return {case.id for case in cases_mod.load_cases()}


def _refuse(problems: list[str]) -> None:
    if problems:  # main() prefixes the first line; the others get the same prefix here
        raise UsageError("\nlr-conformance: ".join(problems))


def cmd_run(args) -> int:
    from conformance import runner
    from conformance.expectations import load_expectations

    start = time.perf_counter()  # the summary's time is the run's wall time: loading included
    _refuse(_run_problems(args))
    selected = _selected(args)
    store = _checked_goldens(selected)
    expectations = load_expectations(args.expectations, _all_case_ids()) if args.expectations else None
    spec = resolve_spec(args.adapter)
    adapter, info = _load(args, spec)
    override = _tolerance(args)
    options = runner.RunOptions(expectations=expectations, tolerance_override=override)
    progress = _progress if (sys.stderr.isatty() and not args.quiet) else None
    try:
        with runner.adapter_output_to_stderr():
            outcomes = runner.run_cases(adapter, selected, store, options, progress)
    finally:
        if progress:
            print("\r\033[K", end="", file=sys.stderr)
        _close(adapter)
    document = report.result_document(
        outcomes, {c.id: c for c in selected}, info, spec, store.reference, time.perf_counter() - start,
        goldens_digest=resources.goldens_digest(store.manifest_bytes), tolerance=override, rerun_options=_rerun_options(args),
    )
    failed = []
    if args.json_path:
        try:
            args.json_path.write_text(report.dumps_result(document), encoding="utf-8")
        except OSError as exc:
            failed.append(f"--json {args.json_path}: {exc.strerror or exc}")
    _render(document, args.format, args.verbose, {args.report} - {None}, failed)
    _refuse(failed)
    if not document["ok"]:
        return 1
    return 0 if report.graded(document) else EXIT_NOTHING_GRADED


def _load(args, spec: str):
    """The adapter and its declaration, loaded with its output kept off stdout. --timeout isolates it (and says
    so once): in this process nothing could stop a hung case."""
    from conformance import runner

    if args.timeout is not None and not args.isolate and not spec.startswith("cmd:"):
        print("lr-conformance: --timeout: running the adapter in a child process (as --isolate does), the only "
              "place a hung case can be stopped", file=sys.stderr)
    with runner.adapter_output_to_stderr():
        adapter = load_adapter(spec, timeout=args.timeout, isolate=args.isolate,
                               startup_timeout=args.startup_timeout, max_answer_bytes=args.max_answer_bytes)
        try:
            info = runner.adapter_info(adapter)
        except runner.AdapterFault as exc:
            _close(adapter)
            raise AdapterLoadError(f"--adapter {spec!r}: {exc}") from None
    return adapter, info


def _close(adapter) -> None:
    """adapter.close(), which cannot end the run or lose its results."""
    from conformance import runner

    close = getattr(adapter, "close", None)
    if close is None:
        return
    try:
        with runner.adapter_output_to_stderr():
            close()
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # noqa: BLE001 - sys.exit too: the results are complete, report and go on
        print(f"lr-conformance: the adapter's close() raised {type(exc).__name__}: {exc} (ignored)", file=sys.stderr)


def _checked_goldens(selected: list[cases_mod.Case]) -> golden.Goldens:
    """The goldens, after a preflight over the selected cases: anything that would make grading them
    meaningless (a missing, corrupt or stale golden) is reported all at once as exit 2, before any grading."""
    store = golden.load()
    _print_notes(store)
    found = golden.preflight(store, selected)
    if found:
        raise golden.GoldenError(*found)
    return store


def _print_notes(store: golden.Goldens) -> None:
    for note in store.notes:
        print(f"lr-conformance: note: {note}", file=sys.stderr)


def cmd_report(args) -> int:
    from conformance import htmlreport

    outputs = {p for p in (args.html, args.md) if p is not None}
    problems = [f"{option} {path}: expected a {' or '.join(suffixes)} file name"
                for option, path, suffixes in (("--html", args.html, (".html", ".htm")), ("--md", args.md, (".md",)))
                if path is not None and path.suffix.lower() not in suffixes]
    _refuse(problems + _run_problems(args))
    document = htmlreport.load_result(args.result)
    failed: list[str] = []
    _render(document, args.format or (None if outputs else "terminal"), args.verbose, outputs, failed)
    _refuse(failed)
    return 0


def _render(document, fmt: str | None, verbose: bool, reports, failed: list[str]) -> None:
    """Print the chosen view on stdout, then write the report files. A report that cannot be written is added
    to `failed` (the view is out already: nothing graded is lost)."""
    from conformance import htmlreport

    if fmt == "terminal":
        print(report.terminal_summary(document, verbose=verbose))
    elif fmt == "json":
        print(report.dumps_result(document), end="")
    elif fmt == "markdown":
        print(htmlreport.to_markdown(document))
    sys.stdout.flush()
    for path in sorted(reports):
        try:
            written = htmlreport.write_report(document, path)
        except OSError as exc:
            failed.append(f"{path}: {exc.strerror or exc}")
            continue
        print(f"lr-conformance: wrote {path}" + (f" and {len(written) - 1} plot(s)" if len(written) > 1 else ""),
              file=sys.stderr)


def _tolerance(args) -> Tolerance | None:
    if args.rtol is None and args.atol is None:
        return None
    return Tolerance(args.rtol or 0.0, args.atol or 0.0, "set on the command line (--rtol/--atol)")


def _rerun_options(args) -> dict:
    """The options a rerun command must repeat to grade a case the same way (report.reproduce_command)."""
    expectations = resources.expectations_argument(args.expectations) if args.expectations else None
    return {"expectations": expectations, "rtol": args.rtol, "atol": args.atol, "timeout": args.timeout,
            "isolate": args.isolate}


def _progress(index: int, total: int, outcome) -> None:
    print(f"\r\033[K[{index}/{total}] {outcome.status.value:11} {outcome.case_id}", end="", file=sys.stderr, flush=True)


def cmd_list(args) -> int:
    rows = [(c.id, c.scheduler.name, c.protocol, f"torch{c.torch}" if c.torch else "", c.why) for c in _selected(args)]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    for row in rows:  # columns aligned; the torch column only when some case has a range
        print("  ".join(f"{value:{width}}" for value, width in zip(row, widths) if width) + "  " + row[4])
    return 0


def cmd_show(args) -> int:
    """Each case's trace as the goldens' CSV on stdout (so it diffs against golden/traces/<id>.csv), its id and
    why on stderr; with --diff, the golden and the actual side by side (side_by_side). A case the adapter does
    not support says why on stderr; an adapter error (or, with --diff, a difference) exits 1."""
    from conformance import runner
    from conformance.adapters import Unsupported
    from conformance.model import Status, Trace

    _refuse(_run_problems(args))
    chosen = _selected(args)
    store = golden.load() if args.diff else None
    spec = resolve_spec(args.adapter)
    adapter, info = _load(args, spec)
    unobserved = _unobserved(info)
    if unobserved and not args.diff:
        print(f"# {info.name} does not observe {' or '.join(unobserved)}: left empty here, unlike in the goldens "
              "(`show --diff` shows only what it observes)", file=sys.stderr)
    errors = differing = 0
    try:
        for case in chosen:
            print(f"# {case.id}: {case.why}", file=sys.stdout if args.diff else sys.stderr, flush=True)
            release = info.mirrors or (store.reference if store else None)
            if store is not None and not cases_mod.applies_to(case, release):
                print(f"lr-conformance: {case.id}: skipped: applies to torch{case.torch}, not {release}",
                      file=sys.stderr)
                continue
            expected, expected_file = store.expected(case, release) if store else (Trace(), "")
            missing = runner.missing_capabilities(case, expected, info)
            try:
                if missing:
                    raise Unsupported(f"needs {', '.join(missing)}")
                with runner.adapter_output_to_stderr():
                    trace = runner.trace_case(adapter, case)
            except Unsupported as exc:
                print(f"lr-conformance: {case.id}: unsupported: {exc}", file=sys.stderr)
                continue
            except Exception as exc:  # noqa: BLE001 - the adapter's fault (or a lost process): say so, go on
                errors += 1
                status = getattr(exc, "status", Status.ERROR).value
                print(f"lr-conformance: {case.id}: {status}: {info.name}: {exc}", file=sys.stderr)
                continue
            if store is None:
                sys.stdout.write(traces.dumps(trace))
            else:
                differing += _print_side_by_side(case, expected, expected_file, trace, info, unobserved)
            sys.stdout.flush()
    finally:
        _close(adapter)
    return 1 if errors or differing else 0


def _unobserved(info) -> list[str]:
    """What the goldens record and this adapter does not (so it is not compared)."""
    return [name for name, declared in (("last_lr", "last_lr" in info.observables),
                                        ("warnings", "warnings" in info.features)) if not declared]


def _print_side_by_side(case, expected, expected_file: str, actual, info, unobserved) -> bool:
    """`show --diff`'s table for one case, under the adapter's tolerance; whether any row differs."""
    from conformance.compare import side_by_side

    columns, rows = side_by_side(case, expected, actual, info)
    left_out = f"; not compared: {', '.join(unobserved)}" if unobserved else ""
    print(f"# golden {expected_file} | {info.name} {info.version}{left_out}")
    width = 24
    print(f" {'step':>5}  {'group':>5}  " + "  ".join(f"{c + ' ' + side:{width}}" for c in columns
                                                    for side in ("golden", info.name)).rstrip())
    for differs, step, group, pairs in rows:
        mark = ">" if differs else " "
        if group is None:  # an event: its two descriptions, on two lines when they differ
            golden_text, actual_text = pairs[0]
            print(f"{mark}{step:>5}  {'event':>5}  " + (f"golden: {golden_text}\n{'':14}{info.name}: {actual_text}"
                                                        if differs else golden_text))
            continue
        cells = "  ".join(f"{_value(value):{width}}" for pair in pairs for value in pair)
        print(f"{mark}{step:>5}  {group:>5}  {cells}".rstrip())
    return any(row[0] for row in rows)


def _value(value) -> str:
    return "-" if value is None else repr(value)


def cmd_check(args) -> int:
    from conformance.schemas import case_problems

    invalid = case_problems()  # every case file against schemas/case.schema.json, all problems at once
    if invalid:
        print("\n".join(f"lr-conformance: {line}" for line in invalid), file=sys.stderr)
        return 2
    all_cases = cases_mod.load_cases()
    store = golden.load()
    _print_notes(store)
    found = golden.problems(store, all_cases) + _shipped_expectations_problems()
    for line in found:
        print(line)
    print(f"check: {len(all_cases)} cases, {len(found)} problem(s)")
    return 2 if found else 0


def _shipped_expectations_problems() -> list[str]:
    """The expectations files the suite ships (expectations/): each must parse and name only cases the suite
    ships. Those, not the cases `check` is pointed at: a scratch copy or a fork ($LR_CONFORMANCE_GOLDENS) has
    other cases, which the shipped files were never about."""
    from conformance.expectations import load_expectations

    case_ids = {case.id for case in cases_mod.load_cases(resources.SHIPPED_CASES_DIR)}
    found = []
    for name in resources.expectations_names():
        try:
            load_expectations(resources.expectations_file(name), case_ids)
        except cases_mod.CaseError as exc:
            found += exc.problems
    return found


def cmd_export(args) -> int:
    from conformance import export

    selected = _selected(args)
    store = golden.load()
    if args.out is None:
        export.write(selected, store, sys.stdout)
        return 0
    # Written beside the target and renamed over it: an interrupted export leaves no half-written file.
    partial = args.out.with_name(f".{args.out.name}.partial")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    try:
        with partial.open("w", encoding="utf-8", newline="\n") as out:
            count = export.write(selected, store, out)
        os.replace(partial, args.out)
    finally:
        partial.unlink(missing_ok=True)
    print(f"lr-conformance: wrote {count} case(s) to {args.out}", file=sys.stderr)
    return 0


def cmd_regen(args) -> int:
    from conformance.regenerate import regenerate, regenerate_scoped

    if not args.wait >= 0:
        raise UsageError(f"--wait {args.wait:g}: must be a number of seconds >= 0")
    target = resources.regen_target(args.goldens)
    filtered = bool(args.patterns or args.scheduler or args.tag)
    chosen = _selected(args, target / "cases")
    adapter = load_adapter(args.adapter)

    def say(line: str) -> None:
        print(line, file=sys.stderr)

    try:
        # The lock is held from reading the goldens to writing them: a concurrent regen waits (up to --wait).
        with golden.writer(target / "traces", timeout=args.wait, out=say) as store:
            if args.scoped:
                return regenerate_scoped(adapter, chosen, store, accept=args.accept)
            return regenerate(adapter, chosen, store, accept=args.accept, prune=not filtered)
    finally:
        adapter.close()


def cmd_adapters(args) -> int:
    """One line per registered adapter: its name, its class, and whether it loads here - with the name and
    version of what it grades - or why not and what installs it; and the shipped expectations by its name
    either way (a library adapter states its variant and install command without the library)."""
    names = registered()
    shipped = set(resources.expectations_names())
    width, target_width = max(map(len, names)), max(map(len, names.values()))
    for name, target in sorted(names.items()):
        variant, install = _declared(target)
        try:
            adapter = load_adapter(name)
        except (AdapterLoadError, SystemExit) as exc:
            reason = str(exc).removeprefix(f"--adapter {name!r}: ") or type(exc).__name__
            status = f"not importable: {reason}"
            if install:  # what to install, not which of the library's own imports happened to fail first
                status += f" - install it: {install} (in a checkout: tox -e {_library(target)})"
        else:
            variant = adapter.info.name
            status = f"importable: {variant} {adapter.info.version}"
            adapter.close()
        if variant in shipped:
            status += f"; recorded differences: --expectations {variant}"
        print(f"{name:{width}}  {target:{target_width}}  {status}")
    return 0


def _declared(target: str) -> tuple[str | None, str | None]:
    """What a registered "module:Class" states without loading its library: the class's `variant` (its
    info.name) and the module's `INSTALL` command (conformance/libraries/common.py's convention). (None, None)
    for an adapter that states neither, or whose module does not import."""
    module_name, _, attr = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except Exception:  # noqa: BLE001 - load_adapter reports why, on the same line
        return None, None
    return getattr(getattr(module, attr, None), "variant", None), getattr(module, "INSTALL", None)


def _library(target: str) -> str:
    """The tox env that installs a registered adapter's library: its module's LIBRARY, with `-` as `_` (tox
    reads a hyphen in an env name as a factor separator: pytorch-optimizer's env is pytorch_optimizer)."""
    return importlib.import_module(target.partition(":")[0]).LIBRARY.replace("-", "_")


COMMANDS = {"run": cmd_run, "report": cmd_report, "list": cmd_list, "show": cmd_show, "check": cmd_check,
            "export": cmd_export, "regen": cmd_regen, "adapters": cmd_adapters, "site": site_command.run,
            "fuzz": fuzz_command.cmd_fuzz}
