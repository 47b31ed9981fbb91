"""The site's pages: what each one shows, rendered as HTML by Jinja2 templates (autoescaped: case whys, error
messages and reasons contain <, & and quotes), plus the plots each page needs and the badge files.

`plan(site)` returns every file to write as data - pages as text, plots as `plots.Plot`s, badges as JSON - so
that conformance.site can draw the plots in parallel and write everything into place at once. Every link is
relative (the site works from any URL prefix, a file:// copy included).

    index.html                      the matrix (library variant x torch scheduler) and each library's summary
    cases.html                      every case, filterable
    cases/<family>/<name>.html      one page per case: why, plot with every overlay, library results, spec, snippet
    schedulers/<Scheduler>.html     one page per torch scheduler: its cases as small multiples
    libraries/<variant>.html        one page per library variant: every result with its reason, by scheduler
    timeline.html                   each torch release and the changes it brought, before/after curves
    badges/<variant>.json           a shields.io endpoint badge per library variant
    plots/...                       the SVGs
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, fields
from types import SimpleNamespace

from markupsafe import Markup, escape

from conformance import __version__, traces
from conformance.model import Event, Trace
from conformance.regenerate import describe_change
from conformance.site import plots
from conformance.site.data import CATEGORIES, CaseData, Change, Library, SiteData, display_path, release_ranges

TORCH_DOCS = "https://pytorch.org/docs/stable/generated/torch.optim.lr_scheduler.{}.html"
BADGE_COLORS = {"clean": "brightgreen", "known": "yellow", "unexplained": "red", "none": "lightgrey"}
PASSING_NOTE = "matches the golden within its tolerance; its trace is not stored (a passing curve is the golden)"


@dataclass(frozen=True)
class Plan:
    pages: dict[str, str]  # relative path -> HTML
    plots: list[tuple[str, plots.Plot]]  # relative path -> what to draw
    badges: dict[str, str]  # relative path -> JSON


def plan(site: SiteData, base_url: str = "") -> Plan:
    env = _environment()
    pages: dict[str, str] = {}
    plot_jobs: list[tuple[str, plots.Plot]] = []
    colors = {lib.name: plots.LIBRARY_COLORS[i % len(plots.LIBRARY_COLORS)] for i, lib in enumerate(site.libraries)}
    common = {"site": _SiteView(site)}

    def render(path: str, template: str, **context) -> None:
        root = "../" * path.count("/")
        pages[path] = env.get_template(template).render(root=root, **common, **context)

    by_scheduler: dict[str, list[CaseData]] = {s: [] for s in site.schedulers}
    for case in site.cases:
        by_scheduler[case.scheduler].append(case)

    # --- one page per case
    for scheduler, members in by_scheduler.items():
        for position, case in enumerate(members):
            path = case_path(case.id)
            root = "../" * path.count("/")
            plot_src = f"plots/cases/{case.id}.svg"
            plot, legend, empty_note = _case_plot(case, site, colors)
            plot_jobs.append((plot_src, plot))
            neighbours = {name: {"id": other.id, "href": root + case_path(other.id)} if other else None
                          for name, other in (("prev", members[position - 1] if position else None),
                                              ("next", members[position + 1] if position + 1 < len(members) else None))}
            render(path, "case.html", c=case, scheduler_href=f"{root}schedulers/{scheduler}.html",
                   position=position + 1, of=len(members),
                   plot=_figure(root + plot_src, plot, legend), not_observed=empty_note,
                   library_rows=_library_rows(case, site, root), scoped_rows=_scoped_rows(case, site),
                   golden_releases=release_ranges(case.golden.generated_by, site.releases) or "none recorded",
                   changes=site.changes_of(case.id), golden_file=_golden_path(case.golden.file),
                   golden_csv=traces.dumps(case.golden.trace), **neighbours)

    # --- one page per scheduler, its cases as small multiples
    for scheduler, members in by_scheduler.items():
        path = f"schedulers/{scheduler}.html"
        items = []
        for case in members:
            src = f"plots/small/{case.id}.svg"
            plot = plots.Plot("small", _torch_curves(case, site), empty_note=_empty_note(case),
                              alt=f"{case.id}: golden lr per step")
            plot_jobs.append((src, plot))
            differs = [lib.name for lib in site.libraries
                       if (r := lib.result(case.id)) is not None and r.category in ("differs", "error")]
            items.append({"anchor": _anchor(case.id), "href": "../" + case_path(case.id), "name": case.id,
                          "why": case.case.why, "text": " ".join((case.id, case.case.why, *case.case.tags)),
                          "plot": _figure("../" + src, plot), "differs": differs,
                          "scoped": (f"{len(case.records)} traces: " + "; ".join(
                              f"{release_ranges(r.generated_by, site.releases)}" for r in case.records))
                          if len(case.records) > 1 else ""})
        libraries = [{"variant": lib.name, "href": f"../{library_path(lib.name)}#{scheduler}",
                      "counts": lib.categories(scheduler), "total": sum(lib.categories(scheduler).values())}
                     for lib in site.libraries]
        render(path, "scheduler.html", scheduler=scheduler, cases=items, libraries=libraries,
               torch_docs=TORCH_DOCS.format(scheduler))

    # --- one page per library variant, and its badge
    badges = {}
    for lib in site.libraries:
        badge = badge_json(lib)
        badge_path = f"badges/{_file_slug(lib.name)}.json"
        badges[badge_path] = json.dumps(badge, indent=1) + "\n"
        sections = []
        schedulers = list(site.schedulers) + sorted({r.scheduler for r in lib.results} - set(site.schedulers))
        for scheduler in schedulers:
            rows = [{"id": r.case_id, "href": f"../{case_path(r.case_id)}" if site.case(r.case_id) else "",
                     "status": r.status, "divergence": divergence_text(r),
                     "reason": lib.reasons.get(r.case_id, "")}
                    for r in lib.results if r.scheduler == scheduler]
            sections.append({"scheduler": scheduler, "counts": lib.categories(scheduler), "rows": rows})
        totals = lib.categories()
        render(library_path(lib.name), "library.html", lib=lib, sections=sections, totals=totals,
               total=sum(totals.values()), badge=badge, badge_href=f"../{badge_path}",
               badge_markdown=_badge_markdown(lib, base_url, badge_path))

    # --- the index, the list of cases, the release timeline
    render("index.html", "index.html", schedulers=site.schedulers, matrix=_matrix(site),
           totals=[_cell(lib, None) for lib in site.libraries],
           lib_href={lib.name: library_path(lib.name) for lib in site.libraries},
           badge_href={lib.name: f"badges/{_file_slug(lib.name)}.json" for lib in site.libraries},
           base_url=base_url,
           badge_example=_badge_markdown(site.libraries[0], base_url, f"badges/{_file_slug(site.libraries[0].name)}.json")
           if site.libraries and base_url else "",
           scheduler_rows=[{"scheduler": s, "href": f"schedulers/{s}.html", "cases": len(m),
                            "scoped": sum(len(c.records) > 1 for c in m),
                            "differs": sum(_differs(c, site) > 0 for c in m)} for s, m in by_scheduler.items()])
    render("cases.html", "cases.html", rows=_case_rows(site), schedulers=site.schedulers,
           tags=sorted({t for c in site.cases for t in c.case.tags}))
    releases, change_plots = _timeline(site)
    plot_jobs += change_plots
    render("timeline.html", "timeline.html", releases=releases)
    return Plan(pages, plot_jobs, badges)


# --- paths ------------------------------------------------------------------------------------


def case_path(case_id: str) -> str:
    return f"cases/{case_id}.html"


def library_path(name: str) -> str:
    return f"libraries/{_file_slug(name)}.html"


def _file_slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-.") or "unnamed"


def _anchor(case_id: str) -> str:
    return case_id.replace("/", "--")


def _golden_path(file: str) -> str:
    return f"golden/traces/{file}"


# --- the case plot ----------------------------------------------------------------------------


def _torch_curves(case: CaseData, site: SiteData) -> tuple[plots.Curve, ...]:
    golden = plots.Curve(f"reference golden: torch {site.reference}", case.golden.trace, "golden",
                         plots.GROUP_COLORS[0])
    scoped = tuple(plots.Curve(f"torch {release_ranges(r.generated_by, site.releases) or r.torch}", r.trace,
                               "scoped", plots.TORCH_COLORS[i % len(plots.TORCH_COLORS)], events=True)
                   for i, r in enumerate(case.records[1:]))
    return (golden, *scoped)


def _empty_note(case: CaseData) -> str:
    error = case.golden.trace.error
    if case.golden.trace.observations or error is None:
        return ""
    return f"torch raises {error.type} at step {error.step} ({error.phase}): no lr is observed"


def _case_plot(case: CaseData, site: SiteData, colors: Mapping[str, str]):
    curves = list(_torch_curves(case, site))
    legend = [_legend(curves[0], note=_golden_note(case, site))]
    for curve, record in zip(curves[1:], case.records[1:]):
        legend.append(_legend(curve, note=f"release-scoped golden {_golden_path(record.file)} (torch {record.torch})"))
    marks = []
    passing = []
    for lib in site.libraries:
        result = lib.result(case.id)
        if result is None:
            continue
        if result.category == "pass":
            passing.append(lib.name)
            continue
        if result.category not in ("differs", "error"):
            continue
        color = colors[lib.name]
        if result.trace is not None:
            curve = plots.Curve(f"{lib.name} ({result.status})", result.trace, "library", color, events=True)
            curves.append(curve)
            legend.append(_legend(curve, note="its own trace"))
        d = result.divergence
        if d:
            value = _number(d.get("actual")) if d.get("column") in ("lr", "momentum") else None
            marks.append(plots.Mark(lib.name, int(d["step"]), str(d["column"]), value, color))
            legend.append({"label": f"{lib.name}: first differs at step {d['step']} ({d['column']})",
                           "note": divergence_text(result) if result.trace is None else "",
                           "swatch": {"color": color, "width": 0, "dash": "",
                                      "marker": "X" if value is not None else "v"}})
        elif result.trace is None:
            legend.append({"label": f"{lib.name}: {result.status}", "note": result.detail,
                           "swatch": {"color": color, "width": 1, "dash": "2 2", "marker": ""}})
    if passing:
        legend.insert(1, {"label": f"matches the golden ({len(passing)} librar{'y' if len(passing) == 1 else 'ies'}): "
                                   + ", ".join(passing), "note": PASSING_NOTE, "swatch": plots.swatch(curves[0])})
    plot = plots.Plot("case", tuple(curves), tuple(marks), empty_note=_empty_note(case),
                      alt=f"{case.id}: lr per step of the golden trace and its overlays")
    return plot, legend, _empty_note(case)


def _golden_note(case: CaseData, site: SiteData) -> str:
    groups = len({o.group for o in case.golden.trace.observations})
    where = release_ranges(case.golden.generated_by, site.releases)
    parts = [f"{_golden_path(case.golden.file)}" + (f", generated by torch {where}" if where else "")]
    if groups > 1:
        parts.append(f"{groups} param groups: " + ", ".join(
            f"group {g} {name}" for g, name in zip(range(groups), ("black", "blue", "purple", "pink") * 4)))
    if plots.log_scale((plots.Curve("", case.golden.trace, "golden", ""),)):
        parts.append("log scale")
    if case.golden.trace.events:
        parts.append("red lines: errors, dashed amber lines: warnings")
    return "; ".join(parts)


def _legend(curve: plots.Curve, note: str = "") -> dict:
    return {"label": curve.label, "note": note, "swatch": plots.swatch(curve)}


def _figure(src: str, plot: plots.Plot, legend=()) -> dict:
    width, height = plots.pixel_size(plot)
    return {"src": src, "width": width, "height": height, "alt": plot.alt, "legend": list(legend)}


def _number(value) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


# --- tables -----------------------------------------------------------------------------------


def divergence_text(result) -> str:
    d = result.divergence
    if not d:
        return result.detail
    where = f"step {d['step']}" + (f" group {d['group']}" if d.get("group") is not None else "")
    if d.get("column") in ("event", "length"):
        return f"{where} {d['column']}: expected {d.get('expected')}, got {d.get('actual')}"
    ulps = f" ({d['ulps']} ulp)" if d.get("ulps") is not None else ""
    return f"{where} {d['column']}: expected {d.get('expected')!r}, got {d.get('actual')!r}{ulps}"


def _library_rows(case: CaseData, site: SiteData, root: str) -> list[dict]:
    rows = []
    for lib in site.libraries:
        result = lib.result(case.id)
        if result is None:
            continue
        detail = divergence_text(result) if result.category != "unsupported" else (
            "needs " + ", ".join(result.missing) if result.missing else result.detail)
        rows.append({"variant": lib.name, "href": f"{root}{library_path(lib.name)}#{case.scheduler}",
                     "status": result.status, "divergence": detail if result.category != "pass" else "",
                     "reason": lib.reasons.get(case.id, "") if result.category != "pass" else "",
                     "differs": result.category in ("differs", "error"),
                     "expectations": lib.expectations_source})
    return rows


def _scoped_rows(case: CaseData, site: SiteData) -> list[dict]:
    if len(case.records) < 2:
        return []
    rows = []
    for record in case.records:
        rows.append({"file": _golden_path(record.file), "torch": record.torch,
                     "releases": release_ranges(record.generated_by, site.releases) or "none recorded",
                     "difference": "" if record is case.golden else
                     describe_change(case.case, case.golden.trace, record.trace)})
    return rows


def _differs(case: CaseData, site: SiteData) -> int:
    return sum(1 for lib in site.libraries
               if (r := lib.result(case.id)) is not None and r.category in ("differs", "error"))


def _case_rows(site: SiteData) -> list[dict]:
    rows = []
    for case in site.cases:
        results = [(lib.name, lib.result(case.id)) for lib in site.libraries]
        rows.append({"id": case.id, "href": case_path(case.id), "scheduler": case.scheduler, "why": case.case.why,
                     "tags": case.case.tags, "text": f"{case.id} {case.case.why}",
                     "scoped": len(case.records) if len(case.records) > 1 else 0,
                     "differs": [n for n, r in results if r is not None and r.category in ("differs", "error")],
                     "passes": sum(1 for _, r in results if r is not None and r.category == "pass")})
    return rows


def _cell(lib: Library, scheduler: str | None) -> dict:
    counts = lib.categories(scheduler)
    total = sum(counts.values())
    graded = counts["pass"] + counts["differs"] + counts["error"]
    css = ("empty" if not total else "error" if counts["error"] else "differs" if counts["differs"]
           else "pass" if graded else "unsupported")
    href = library_path(lib.name) + (f"#{scheduler}" if scheduler else "")
    return {"variant": lib.name, "counts": counts, "total": total, "css": css, "href": href}


def _matrix(site: SiteData) -> list[dict]:
    schedulers = list(site.schedulers)
    schedulers += sorted({r.scheduler for lib in site.libraries for r in lib.results} - set(schedulers))
    return [{"scheduler": s, "href": f"schedulers/{s}.html" if s in site.schedulers else "#matrix",
             "cells": [_cell(lib, s) for lib in site.libraries]} for s in schedulers]


# --- badges -----------------------------------------------------------------------------------


def badge_json(lib: Library) -> dict:
    """A shields.io endpoint badge (https://shields.io/badges/endpoint-badge): `N pass / M differ`, red when
    a difference is not explained by the variant's expectations file (fail, error, timeout, crash, xpass),
    yellow when every difference is a recorded one, green when nothing differs."""
    counts = lib.categories()
    statuses = Counter(r.status for r in lib.results)
    message = f"{counts['pass']} pass / {counts['differs']} differ"
    if counts["error"]:
        message += f" / {counts['error']} error"
    unexplained = sum(statuses[s] for s in ("fail", "error", "timeout", "crash", "xpass"))
    color = ("none" if not lib.results else "unexplained" if unexplained
             else "known" if counts["differs"] else "clean")
    return {"schemaVersion": 1, "label": lib.name, "message": message, "color": BADGE_COLORS[color]}


def _badge_markdown(lib: Library, base_url: str, badge_path: str) -> str:
    if not base_url:
        return ""
    from urllib.parse import quote

    url = base_url.rstrip("/") + "/" + badge_path
    return f"![{lib.name}](https://img.shields.io/endpoint?url={quote(url, safe='')})"


# --- the release timeline ---------------------------------------------------------------------


def transitions(case: CaseData, releases: tuple[str, ...]) -> list[tuple[str, str, object, object]]:
    """(previous release, release, record before, record after) wherever the case's trace changes between two
    consecutive releases that ran it."""
    ran = [(r, case.record_for(r)) for r in releases if case.record_for(r) is not None]
    return [(a, b, ra, rb) for (a, ra), (b, rb) in zip(ran, ran[1:]) if ra is not rb]


def _timeline(site: SiteData):
    jobs: list[tuple[str, plots.Plot]] = []
    by_release: dict[str, list[dict]] = {r: [] for r in site.releases}
    covered: set[tuple[str, str]] = set()
    for change in site.changes or ():
        view = _change_view(change, site, jobs)
        by_release.setdefault(change.release, []).append(view)
        covered.update((case_id, change.release) for case_id in change.cases)
    unattributed: dict[str, list[dict]] = {r: [] for r in site.releases}
    for case in site.cases:
        for before, after, rb, ra in transitions(case, site.releases):
            if (case.id, after) not in covered:
                unattributed[after].append({"id": case.id, "href": case_path(case.id),
                                            "difference": f"from torch {before}: "
                                            + describe_change(case.case, rb.trace, ra.trace)})
    releases = [{"release": r, "run": site.runs.get(r), "changes": by_release.get(r, []),
                 "unattributed": unattributed.get(r, [])} for r in site.releases]
    return releases, jobs


def _change_view(change: Change, site: SiteData, jobs: list) -> dict:
    from urllib.parse import urlparse

    cause_href = change.cause if urlparse(change.cause).scheme in ("http", "https") else ""
    items = []
    for case_id in change.cases:
        case = site.case(case_id)
        item = {"id": case_id, "anchor": _anchor(case_id), "href": case_path(case_id), "why": case.case.why,
                "note": "", "plot": None}
        after = case.record_for(change.release)
        earlier = [r for r in site.releases[:site.releases.index(change.release)] if case.record_for(r)]
        if after is None:
            item["note"] = f"torch {change.release} did not run this case: there is no trace to show."
        elif not earlier:
            item["note"] = f"No release before torch {change.release} ran this case: there is nothing to compare."
        else:
            previous = earlier[-1]
            before = case.record_for(previous)
            if before is after:
                item["note"] = (f"This case's trace is the same on torch {previous} and {change.release}: "
                                "it does not change at this release.")
            src = f"plots/changes/{change.id}/{case_id}.svg"
            curves = (plots.Curve(f"torch {change.release} (after): {_golden_path(after.file)}", after.trace, "after",
                                  "#0969da"),
                      plots.Curve(f"torch {previous} (before): {_golden_path(before.file)}", before.trace, "before",
                                  "#8c959f", events=True))
            plot = plots.Plot("change", curves, empty_note="no lr observed on either release",
                              alt=f"{case_id}: lr per step on torch {previous} and {change.release}")
            jobs.append((src, plot))
            item.update(plot=_figure(src, plot, [_legend(c) for c in curves]), before=previous,
                        after=change.release, events_before=_events(before.trace), events_after=_events(after.trace),
                        difference=("identical traces" if before is after else
                                    describe_change(case.case, before.trace, after.trace)))
        items.append(item)
    return {"id": change.id, "kind": change.kind, "summary": change.summary, "cause": change.cause,
            "cause_href": cause_href, "cause_title": change.cause_title, "searched": change.searched,
            "cases": items}


def _events(trace: Trace) -> list[Event]:
    return list(trace.events)


# --- Jinja2 -----------------------------------------------------------------------------------

_URL = re.compile(r"https?://[^\s<>()\"']+[^\s<>()\"'.,;:]")


def linkify(text: str) -> Markup:
    """Escape `text` and turn the http(s) URLs in it into links."""
    out, last = [], 0
    for match in _URL.finditer(str(text)):
        out.append(escape(text[last:match.start()]))
        out.append(Markup('<a href="{0}">{0}</a>').format(match.group(0)))
        last = match.end()
    out.append(escape(text[last:]))
    return Markup("").join(out)


class _SiteView:
    """What templates read of the SiteData, with display paths for the sources."""

    def __init__(self, site: SiteData):
        self.version = __version__
        self.reference = site.reference
        self.cases = site.cases
        self.libraries = site.libraries
        self.releases = site.releases
        self.runs = site.runs
        self.changes = site.changes
        self.notes = site.notes
        self.sources = SimpleNamespace(**{f.name: display_path(getattr(site.sources, f.name))
                                          for f in fields(site.sources)})


def _environment():
    from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

    env = Environment(loader=PackageLoader("conformance.site", "templates"),
                      autoescape=select_autoescape(["html"], default_for_string=True, default=True),
                      undefined=StrictUndefined, trim_blocks=False, lstrip_blocks=False, keep_trailing_newline=True)
    env.filters["linkify"] = linkify
    env.globals["categories"] = CATEGORIES
    return env
