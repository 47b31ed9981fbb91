"""`lr-conformance site OUT/`: a static site of the suite's findings - every case's curve, every library's
overlay, every torch release's change - that needs no server (plain files, relative links, a little vanilla JS
for filtering).

    data.py    read the cases, goldens, library results, expectations, release matrix and changes
    plots.py   draw the SVG plots (matplotlib, deterministic, in parallel)
    pages.py   what each page shows, rendered by the Jinja2 templates in templates/ (static/: CSS and JS)

The site is built in a staging directory next to OUT and swapped in when complete, so an interrupted or
failed build leaves the previous site intact. OUT is only replaced when it is empty or holds a site built
by this command (the MARKER file says so): nothing else is ever deleted.
Needs the `site` extra: pip install 'lr-conformance[site]' (matplotlib, Jinja2).
"""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from conformance.site.data import SiteError, Sources

MARKER = ".lr-conformance-site"

__all__ = ["MARKER", "BuildReport", "SiteError", "Sources", "build_site"]


@dataclass(frozen=True)
class BuildReport:
    out: Path
    pages: int
    plots: int
    badges: int
    bytes: int
    seconds: float
    load_seconds: float
    plot_seconds: float
    processes: int
    notes: tuple[str, ...]
    warnings: tuple[str, ...] = ()  # results graded against an older suite
    loaded: tuple[str, ...] = ()  # which library results were read from where


def check_output(out: Path) -> None:
    """Refuse, before any work, an OUT that is a file or a non-empty directory this command did not build."""
    if out.exists() and not out.is_dir():
        raise SiteError(f"{out}: exists and is not a directory")
    if out.is_dir() and any(out.iterdir()) and not (out / MARKER).is_file():
        raise SiteError(f"{out}: not empty and not a site built by `lr-conformance site` (no {MARKER} file); "
                        "give a new or empty directory")


def build_site(out: Path, sources: Sources | None = None, processes: int | None = None,
               base_url: str = "") -> BuildReport:
    """Build the whole site into `out`. Raises SiteError (one line per problem) on unusable input."""
    from conformance.site import data, pages, plots

    out = Path(out)
    check_output(out)
    start = time.perf_counter()
    site = data.load(sources or Sources.checkout())
    loaded = time.perf_counter()
    planned = pages.plan(site, base_url=base_url)

    staging = out.with_name(f".{out.name}.staging-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        plot_start = time.perf_counter()
        processes = plots.default_processes() if processes is None else processes
        size = plots.render([(staging / path, plot) for path, plot in planned.plots], processes)
        plot_seconds = time.perf_counter() - plot_start
        for path, text in {**planned.pages, **planned.badges}.items():
            target = staging / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8", newline="\n")
            size += len(text.encode())
        static = resources.files("conformance.site") / "static"
        (staging / "static").mkdir()
        for item in sorted(static.iterdir(), key=lambda p: p.name):
            if item.is_file() and not item.name.startswith("."):
                (staging / "static" / item.name).write_bytes(item.read_bytes())
        (staging / ".nojekyll").write_text("")  # GitHub Pages: serve the files as they are
        (staging / MARKER).write_text("built by `lr-conformance site`; the directory is replaced on rebuild\n")
        _swap(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return BuildReport(out, len(planned.pages), len(planned.plots), len(planned.badges), size,
                       time.perf_counter() - start, loaded - start, plot_seconds, processes, site.notes,
                       site.warnings, site.loaded)


def _swap(staging: Path, out: Path) -> None:
    backup = out.with_name(f".{out.name}.old-{os.getpid()}")
    if out.exists():
        check_output(out)  # still ours (or empty) after the build
        os.replace(out, backup)
    os.replace(staging, out)
    shutil.rmtree(backup, ignore_errors=True)
