"""The `lr-conformance site` subcommand: its options and what it prints."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_parser(sub) -> argparse.ArgumentParser:
    site = sub.add_parser("site", help="build the static conformance site (cases, curves, libraries, torch releases)")
    site.add_argument("out", type=Path, metavar="OUT", help="directory to write the site to (e.g. build/site)")
    site.add_argument("--results", type=Path, metavar="PATH", action="append", default=[],
                      help="your own result file (`lr-conformance run --json FILE`), or a directory of them; "
                           "repeatable. Shown beside the shipped library results (docs/results), yours replacing "
                           "a shipped one of the same name; a full `run --json` result also draws your curve. "
                           "An expectations file NAME.toml beside NAME.json gives the reasons")
    site.add_argument("--results-only", action="store_true",
                      help="show only the --results given, not the shipped library results")
    site.add_argument("--changes", type=Path, metavar="FILE",
                      help="behaviour-change data (default: docs/matrix/changes.toml)")
    site.add_argument("--base-url", default="", metavar="URL",
                      help="the URL the site will be published at, for the badges' embed snippets")
    site.add_argument("--jobs", type=int, metavar="N", help="processes drawing plots (default: the CPUs, at most 4)")
    return site


def run(args) -> int:
    """Build the site; exit 0 when built, 2 when an input or OUT is unusable (one line per problem)."""
    from dataclasses import replace

    from conformance.site import SiteError, Sources, build_site

    if args.jobs is not None and args.jobs < 1:
        print(f"lr-conformance: --jobs {args.jobs}: must be at least 1", file=sys.stderr)
        return 2
    sources = Sources.checkout()
    missing = [path for path in args.results if not path.exists()]
    if missing:
        for path in missing:
            print(f"lr-conformance: --results {path}: no such file or directory", file=sys.stderr)
        return 2
    if args.results_only and not args.results:
        print("lr-conformance: --results-only: give the results to show with --results PATH", file=sys.stderr)
        return 2
    sources = replace(sources, user_results=tuple(args.results), results=None if args.results_only else sources.results)
    if args.changes is not None:
        sources = replace(sources, changes=args.changes)
    try:
        _dependencies()
        report = build_site(args.out, sources, processes=args.jobs, base_url=args.base_url)
    except SiteError as exc:
        for line in str(exc).splitlines():
            print(f"lr-conformance: {line}", file=sys.stderr)
        return 2
    for line in report.loaded:  # which results the matrix holds, so that a missing or replaced one is not a surprise
        print(f"site: results: {line}", file=sys.stderr)
    for note in report.notes:
        print(f"site: note: {note}")
    for warning in report.warnings:  # the pages say it too; a build log should not need reading them
        print(f"site: warning: {warning}", file=sys.stderr)
    print(f"site: {report.pages} pages, {report.plots} plots, {report.badges} badges, "
          f"{report.bytes / 1e6:.1f} MB in {report.seconds:.1f}s (inputs {report.load_seconds:.1f}s, plots "
          f"{report.plot_seconds:.1f}s on {report.processes} process{'es' if report.processes > 1 else ''}) "
          f"-> {report.out / 'index.html'}")
    return 0


def _dependencies() -> None:
    from conformance.site import SiteError

    missing = []
    for module in ("matplotlib", "jinja2"):
        try:
            __import__(module)
        except ImportError:
            missing.append(module)
    if missing:
        raise SiteError(f"the site needs {' and '.join(missing)}: pip install 'lr-conformance[site]'")
