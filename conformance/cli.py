"""`lr-conformance` / `python -m conformance`: run, report, list, show, check, regen.

Exit codes: 0 conformant / nothing to do; 1 a case failed, errored, timed out, crashed or xpassed (or regen
refused); 2 usage or configuration error (bad --adapter, malformed case file or golden).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from conformance import __version__, cases as cases_mod, golden, report, traces
from conformance.adapters import AdapterLoadError, load_adapter
from conformance.fuzz import command as fuzz_command
from conformance.htmlreport import ReportError
from conformance.model import Tolerance

FORMATS = ("terminal", "json", "markdown")
REPORT_SUFFIXES = (".md", ".html", ".htm")


class UsageError(ValueError):
    """A bad combination or value of options. str() is one line."""


def _filters(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-k", "--id", dest="patterns", action="append", default=[], metavar="GLOB",
                        help="only cases whose id matches this glob (repeatable), e.g. 'steplr/*'")
    parser.add_argument("--scheduler", action="append", default=[], help="only cases using this scheduler")
    parser.add_argument("--tag", action="append", default=[], help="only cases with this tag")


def _adapter_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--adapter", default=None,
                        help="entry-point name, module:Class, path/to/adapter.py or cmd:<command> "
                             "(default: $LR_CONFORMANCE_ADAPTER or 'torch')")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lr-conformance", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"lr-conformance {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="grade an implementation (default: the installed torch) against the goldens")
    _adapter_option(run)
    _filters(run)
    run.add_argument("--json", dest="json_path", type=Path, help="write the machine-readable result here")
    run.add_argument("--expectations", type=Path, help="TOML file of cases known to differ (xfail)")
    run.add_argument("--rtol", type=float, help="relative tolerance, replacing the adapter's (default: its own)")
    run.add_argument("--atol", type=float, help="absolute tolerance, replacing the adapter's")
    run.add_argument("--report", type=Path, metavar="PATH",
                     help="also write a report with plots of divergent cases: PATH.html (self-contained) or PATH.md")
    run.add_argument("--format", choices=FORMATS, default="terminal",
                     help="what to print on stdout: the terminal summary (default), the JSON result, or Markdown")
    run.add_argument("--timeout", type=float, metavar="SECONDS",
                     help="per-case timeout for cmd: adapters (default 30); a hung process is killed and restarted")
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

    show = sub.add_parser("show", help="print the trace an adapter produces for cases (CSV), without comparing")
    _adapter_option(show)
    _filters(show)

    sub.add_parser("check", help="lint case files and goldens: schema, ids, hashes, orphans")

    regen = sub.add_parser("regen", help="regenerate reference goldens with the installed torch")
    _filters(regen)
    regen.add_argument("--accept", action="store_true", help="allow changing or removing existing goldens")
    regen.add_argument("--scoped", action="store_true",
                       help="record the installed (non-reference) torch release's traces as release-scoped variants")
    regen.add_argument("--adapter", default="torch", help=argparse.SUPPRESS)

    fuzz_command.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except (cases_mod.CaseError, golden.GoldenError, AdapterLoadError, traces.TraceFormatError, UsageError,
            ReportError) as exc:
        print(f"lr-conformance: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("lr-conformance: interrupted", file=sys.stderr)
        return 130


def _selected(args) -> list[cases_mod.Case]:
    chosen = cases_mod.select(cases_mod.load_cases(), args.patterns, args.scheduler, args.tag)
    if not chosen:
        raise cases_mod.CaseError("no case matches the filters given")
    return chosen


def cmd_run(args) -> int:
    from conformance import runner
    from conformance.expectations import load_expectations

    if args.report is not None and args.report.suffix.lower() not in REPORT_SUFFIXES:
        raise UsageError(f"--report {args.report}: the extension picks the format, .html or .md")
    if args.timeout is not None and not args.timeout > 0:
        raise UsageError(f"--timeout {args.timeout:g}: must be a positive number of seconds")
    selected = _selected(args)
    store = golden.load()
    adapter = load_adapter(args.adapter, timeout=args.timeout)
    spec = args.adapter or os.environ.get("LR_CONFORMANCE_ADAPTER") or "torch"
    options = runner.RunOptions(
        expectations=load_expectations(args.expectations) if args.expectations else None,
        tolerance_override=_tolerance(args),
    )
    start = time.perf_counter()
    progress = _progress if (sys.stderr.isatty() and not args.quiet) else None
    try:
        outcomes = runner.run_cases(adapter, selected, store, options, progress)
    finally:
        adapter.close()
    if progress:
        print("\r\033[K", end="", file=sys.stderr)
    document = report.result_document(
        outcomes, {c.id: c for c in selected}, adapter.info, spec, store.reference, time.perf_counter() - start
    )
    if args.json_path:
        args.json_path.parent.mkdir(parents=True, exist_ok=True)
        args.json_path.write_text(report.dumps_result(document), encoding="utf-8")
    _render(document, args.format, args.verbose, {args.report} - {None})
    return 0 if document["ok"] else 1


def cmd_report(args) -> int:
    from conformance import htmlreport

    document = htmlreport.load_result(args.result)
    outputs = {p for p in (args.html, args.md) if p is not None}
    for path, suffixes in ((args.html, (".html", ".htm")), (args.md, (".md",))):
        if path is not None and path.suffix.lower() not in suffixes:
            raise UsageError(f"{path}: expected a {' or '.join(suffixes)} file name")
    _render(document, args.format or (None if outputs else "terminal"), args.verbose, outputs)
    return 0


def _render(document, fmt: str | None, verbose: bool, reports) -> None:
    """Write the report files, then print the chosen view on stdout."""
    from conformance import htmlreport

    if reports:
        for path in sorted(reports):
            written = htmlreport.write_report(document, path)
            print(f"lr-conformance: wrote {path}" + (f" and {len(written) - 1} plot(s)" if len(written) > 1 else ""),
                  file=sys.stderr)
    if fmt == "terminal":
        print(report.terminal_summary(document, verbose=verbose))
    elif fmt == "json":
        print(report.dumps_result(document), end="")
    elif fmt == "markdown":
        print(htmlreport.to_markdown(document))


def _tolerance(args) -> Tolerance | None:
    if args.rtol is None and args.atol is None:
        return None
    return Tolerance(args.rtol or 0.0, args.atol or 0.0, "set on the command line (--rtol/--atol)")


def _progress(index: int, total: int, outcome) -> None:
    print(f"\r\033[K[{index}/{total}] {outcome.status.value:11} {outcome.case_id}", end="", file=sys.stderr, flush=True)


def cmd_list(args) -> int:
    for case in _selected(args):
        extra = f" torch{case.torch}" if case.torch else ""
        print(f"{case.id:55} {case.scheduler.name:28} {case.protocol:18}{extra}  {case.why}")
    return 0


def cmd_show(args) -> int:
    adapter = load_adapter(args.adapter)
    try:
        for case in _selected(args):
            print(f"# {case.id}: {case.why}")
            print(traces.dumps(adapter.trace(case)), end="")
    finally:
        adapter.close()
    return 0


def cmd_check(args) -> int:
    all_cases = cases_mod.load_cases()
    found = golden.problems(golden.load(), all_cases)
    for line in found:
        print(line)
    print(f"check: {len(all_cases)} cases, {len(found)} problem(s)")
    return 1 if found else 0


def cmd_regen(args) -> int:
    from conformance.regenerate import regenerate, regenerate_scoped

    all_cases = cases_mod.load_cases()
    filtered = bool(args.patterns or args.scheduler or args.tag)
    chosen = cases_mod.select(all_cases, args.patterns, args.scheduler, args.tag)
    adapter = load_adapter(args.adapter)
    try:
        if args.scoped:
            return regenerate_scoped(adapter, chosen, golden.load(), accept=args.accept)
        return regenerate(adapter, chosen, golden.load(), accept=args.accept, prune=not filtered)
    finally:
        adapter.close()


COMMANDS = {"run": cmd_run, "report": cmd_report, "list": cmd_list, "show": cmd_show, "check": cmd_check,
            "regen": cmd_regen, "fuzz": fuzz_command.cmd_fuzz}
