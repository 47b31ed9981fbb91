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
from conformance.cases import reference_module
from conformance.regenerate import describe_change
from conformance.report import controls_escaped
from conformance.site import plots
from conformance.site.data import (CATEGORIES, CATEGORY, CaseData, Change, Library, SiteData, display_path, file_slug,
                                   release_ranges)

TORCH_DOCS = "https://pytorch.org/docs/stable/generated/{}.html"  # the class's dotted name
BADGE_COLORS = {"clean": "brightgreen", "known": "yellow", "unexplained": "red", "none": "lightgrey"}
PASSING_NOTE = "matches the golden within its tolerance; its trace is not stored (a passing curve is the golden)"
# One vocabulary on every page: a result is named by its matrix category (data.CATEGORY), with its status beside
# it where the two differ - "differs" is a recorded difference (xfail) or an unexplained one (fail).
STATUS_NOTES = {"xfail": "xfail: recorded in the expectations", "fail": "fail: not in the expectations",
                "xpass": "xpass: recorded as differing, matches now", "timeout": "timeout", "crash": "crash"}


def status_text(status: str) -> str:
    """"differs (xfail: recorded in the expectations)", "pass", "error (timeout)"."""
    category = CATEGORY.get(status, status)
    return f"{category} ({STATUS_NOTES[status]})" if status in STATUS_NOTES else category


@dataclass(frozen=True)
class Plan:
    pages: dict[str, str]  # relative path -> HTML
    plots: list[tuple[str, plots.Plot]]  # relative path -> what to draw
    badges: dict[str, str]  # relative path -> JSON


def plan(site: SiteData, base_url: str = "") -> Plan:
    env = _environment()
    built = Plan({}, [], {})
    view = _SiteView(site)

    def render(path: str, template: str, **context) -> None:
        built.pages[path] = env.get_template(template).render(root=_root(path), site=view, **context)

    by_scheduler: dict[str, list[CaseData]] = {s: [] for s in site.schedulers}
    for case in site.cases:
        by_scheduler[case.scheduler].append(case)
    _case_pages(site, by_scheduler, render, built)
    _scheduler_pages(site, by_scheduler, render, built)
    _library_pages(site, base_url, render, built)
    render("index.html", "index.html", schedulers=site.schedulers, matrix=_matrix(site),
           totals=[_cell(lib, None) for lib in site.libraries],
           lib_href={lib.name: library_path(lib.name) for lib in site.libraries},
           badge_href={lib.name: badge_path(lib.name) for lib in site.libraries}, base_url=base_url,
           badge_example=_badge_markdown(site.libraries[0], base_url) if site.libraries else "",
           scheduler_rows=[{"scheduler": s, "href": f"schedulers/{s}.html", "cases": len(members),
                            "scoped": sum(len(c.records) > 1 for c in members),
                            "differs": sum(bool(_differing(c, site)) for c in members)}
                           for s, members in by_scheduler.items()])
    render("cases.html", "cases.html", rows=_case_rows(site), schedulers=site.schedulers,
           tags=sorted({t for c in site.cases for t in c.case.tags}))
    render("timeline.html", "timeline.html", releases=_timeline(site, built.plots))
    return built


def _root(path: str) -> str:
    """The relative prefix from a page back to the site's root."""
    return "../" * path.count("/")


def _case_pages(site: SiteData, by_scheduler, render, built: Plan) -> None:
    colors = {lib.name: plots.LIBRARY_COLORS[i % len(plots.LIBRARY_COLORS)] for i, lib in enumerate(site.libraries)}
    for scheduler, members in by_scheduler.items():
        for position, case in enumerate(members):
            path = case_path(case.id)
            root = _root(path)
            src = f"plots/cases/{case.id}.svg"
            plot, legend = _case_plot(case, site, colors)
            built.plots.append((src, plot))
            before = members[position - 1] if position else None
            after = members[position + 1] if position + 1 < len(members) else None
            render(path, "case.html", c=case, scheduler_href=f"{root}schedulers/{scheduler}.html",
                   position=position + 1, of=len(members), plot=_figure(root + src, plot, legend),
                   not_observed=_empty_note(case), library_rows=_library_rows(case, site, root),
                   scoped_rows=_scoped_rows(case, site),
                   golden_releases=release_ranges(case.golden.generated_by, site.releases) or "none recorded",
                   changes=site.changes_of(case.id), golden_file=_golden_path(case.golden.file),
                   golden_csv=traces.dumps(case.golden.trace),
                   prev={"id": before.id, "href": root + case_path(before.id)} if before else None,
                   next={"id": after.id, "href": root + case_path(after.id)} if after else None)


def _scheduler_pages(site: SiteData, by_scheduler, render, built: Plan) -> None:
    for scheduler, members in by_scheduler.items():
        items = []
        for case in members:
            src = f"plots/small/{case.id}.svg"
            plot = plots.Plot("small", _torch_curves(case, site), empty_note=_empty_note(case, short=True),
                              alt=f"{case.id}: golden lr per step", milestones=milestones(case))
            built.plots.append((src, plot))
            scoped = "; ".join(release_ranges(r.generated_by, site.releases) for r in case.records)
            items.append({"anchor": _anchor(case.id), "href": "../" + case_path(case.id), "name": case.id,
                          "why": case.case.why, "text": " ".join((case.id, case.case.why, *case.case.tags)),
                          "plot": _figure("../" + src, plot), "differs": _differing(case, site),
                          "scoped": f"{len(case.records)} traces: {scoped}" if len(case.records) > 1 else ""})
        libraries = [{"variant": lib.name, "href": f"../{library_path(lib.name)}#{scheduler}",
                      "counts": lib.categories(scheduler), "total": sum(lib.categories(scheduler).values()),
                      "stale": lib.stale}
                     for lib in site.libraries]
        render(f"schedulers/{scheduler}.html", "scheduler.html", scheduler=scheduler, cases=items,
               libraries=libraries, qualified=f"{reference_module(scheduler)}.{scheduler}",
               torch_docs=TORCH_DOCS.format(f"{reference_module(scheduler)}.{scheduler}"))


def _library_pages(site: SiteData, base_url: str, render, built: Plan) -> None:
    for lib in site.libraries:
        badge = badge_json(lib)
        built.badges[badge_path(lib.name)] = json.dumps(badge, indent=1) + "\n"
        sections = []
        for scheduler in list(site.schedulers) + sorted({r.scheduler for r in lib.results} - set(site.schedulers)):
            rows = [{"id": r.case_id, "href": f"../{case_path(r.case_id)}" if site.case(r.case_id) else "",
                     "status": r.status, "divergence": divergence_text(r), "reason": lib.reasons.get(r.case_id, "")}
                    for r in lib.results if r.scheduler == scheduler]
            rows += [{"id": case_id, "href": f"../{case_path(case_id)}", "status": "ungraded",
                      "divergence": "no result: the result file predates this case", "reason": ""}
                     for case_id, of in lib.ungraded if of == scheduler]
            sections.append({"scheduler": scheduler, "counts": lib.categories(scheduler), "rows": rows})
        totals = lib.categories()
        render(library_path(lib.name), "library.html", lib=lib, sections=sections, totals=totals,
               total=sum(totals.values()), badge=badge, badge_href=f"../{badge_path(lib.name)}",
               badge_markdown=_badge_markdown(lib, base_url))


# --- paths ------------------------------------------------------------------------------------


def case_path(case_id: str) -> str:
    return f"cases/{case_id}.html"


def library_path(name: str) -> str:
    return f"libraries/{file_slug(name)}.html"


def badge_path(name: str) -> str:
    return f"badges/{file_slug(name)}.json"


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


def _empty_note(case: CaseData, short: bool = False) -> str:
    """What a plot says when torch raises before any lr is observed."""
    error = case.golden.trace.error
    if case.golden.trace.observations or error is None:
        return ""
    if short:
        return f"{error.type} ({error.phase})"
    return f"torch raises {error.type} at step {error.step} ({error.phase}): no lr is observed"


def _case_plot(case: CaseData, site: SiteData, colors: Mapping[str, str]) -> tuple[plots.Plot, list[dict]]:
    """The case's plot - the golden, every release-scoped torch trace, each differing library (its own trace when
    its result kept one, and a mark at its first divergence) - and the legend the page shows under it.
    Libraries that depart the same way (the same kept trace, the same first divergence) are drawn once, in the
    first one's colour, and named together: drawn one over another, only the last colour would show."""
    curves = list(_torch_curves(case, site))
    scoped = [_legend(curve, note=f"release-scoped golden {_golden_path(record.file)} (torch {record.torch})")
              for curve, record in zip(curves[1:], case.records[1:])]
    libraries, marks, passing = [], [], []
    differing = []
    for lib in site.libraries:
        result = lib.result(case.id)
        if result is None or result.category in ("unsupported", "skip"):
            continue
        if result.category == "pass":
            passing.append(lib.name)
        else:
            differing.append((lib, result))
    # kept traces and first divergences are grouped apart: float32 and float64 variants draw the same curve
    # but may first depart at different steps
    for members in _alike(differing, lambda r: _drawn(r.trace) if r.trace is not None else None):
        lib, result = members[0]
        curve = plots.Curve(_names_and_statuses(members), result.trace, "library", colors[lib.name], events=True)
        curves.append(curve)
        libraries.append(_legend(curve, note="its own trace" + (", drawn once: the same curve for each"
                                                                 if len(members) > 1 else "")))
    for members in _alike(differing, lambda r: _first_departure(r.divergence) if r.divergence else None):
        lib, result = members[0]
        d = result.divergence
        value = _number(d.get("actual")) if d.get("column") in ("lr", "momentum") else None
        marks.append(plots.Mark(", ".join(other.name for other, _ in members), int(d["step"]), str(d["column"]),
                                value, colors[lib.name]))
        same = "; the same for " + ", ".join(other.name for other, _ in members[1:]) if len(members) > 1 else ""
        libraries.append({"label": f"{lib.name}: first differs at step {d['step']} ({d['column']}){same}",
                          "note": divergence_text(result) if result.trace is None else "",
                          "swatch": {"color": colors[lib.name], "width": 0, "dash": "",
                                     "marker": "X" if value is not None else "v"}})
    for lib, result in differing:
        if result.trace is None and not result.divergence:
            libraries.append({"label": f"{lib.name}: {status_text(result.status)}", "note": result.detail,
                              "swatch": {"color": colors[lib.name], "width": 1, "dash": "2 2", "marker": ""}})
    plot = plots.Plot("case", tuple(curves), tuple(marks), empty_note=_empty_note(case),
                      alt=f"{case.id}: lr per step of the golden trace and its overlays", milestones=milestones(case))
    legend = _golden_legend(case, site, curves[0], plots.log_scale(plot.curves, plot.marks))
    if plot.milestones:
        legend.append({"label": "grey dash-dot lines: " + "; ".join(f"step {step}: {what}" for step, what in
                                                                   plot.milestones),
                       "note": "where the loop resumes or intervenes (the case's resume_at and interventions)",
                       "swatch": plots.swatch("milestone", plots.MILESTONE_COLOR)})
    if passing:
        # a check mark, not a line: a line in the golden's colour would read as one more curve
        legend.append({"label": f"matches the golden ({len(passing)} librar{'y' if len(passing) == 1 else 'ies'}): "
                                + ", ".join(passing), "note": PASSING_NOTE,
                       "swatch": {"color": plots.PASS_COLOR, "width": 0, "dash": "", "marker": "check"}})
    return plot, legend + scoped + libraries


def _alike(differing: list, key) -> list[list]:
    """The (library, result) pairs whose key(result) is not None, grouped by it, in first-seen order."""
    groups: dict = {}
    for lib, result in differing:
        if (found := key(result)) is not None:
            groups.setdefault(found, []).append((lib, result))
    return list(groups.values())


# Values equal to this many significant digits draw the same line (a plot is a few hundred pixels tall)
DRAWN_DIGITS = 6


def _drawn(trace: Trace) -> tuple:
    """What a plot shows of a trace: each lr and momentum to DRAWN_DIGITS, and the events' steps."""
    def shown(value):
        return None if value is None else f"{value:.{DRAWN_DIGITS}g}"
    return (tuple((o.step, o.group, shown(o.lr), shown(o.momentum)) for o in trace.observations),
            tuple((e.step, e.kind) for e in trace.events))


def _first_departure(d: Mapping) -> tuple:
    value = _number(d.get("actual"))
    return d.get("step"), d.get("column"), f"{value:.{DRAWN_DIGITS}g}" if value is not None else repr(d.get("actual"))


def _names_and_statuses(members: list) -> str:
    """"a, b: differs (xfail: ...)" when they share a status, else each name with its own."""
    statuses = {result.status for _, result in members}
    if len(statuses) == 1:
        return f"{', '.join(lib.name for lib, _ in members)}: {status_text(statuses.pop())}"
    return ", ".join(f"{lib.name} ({status_text(result.status)})" for lib, result in members)


def milestones(case: CaseData) -> tuple[tuple[int, str], ...]:
    """(step, what happens there) for the resume step and each intervention (spec 4.3, 4.5), in step order."""
    found = [(case.case.resume_at, "resume")] if case.case.resume_at is not None else []
    for action in case.case.interventions:
        what = {"set": f"set group {action.group} {action.key} = {action.value!r}", "call": f"call {action.method}()",
                "read-scheduler": f"read scheduler.{action.attribute}",
                "set-scheduler": f"set scheduler.{action.attribute} = "
                                 f"{list(action.value) if isinstance(action.value, tuple) else action.value!r}",
                "change-argument": f"the user's {action.argument}"
                                   + (f"[{action.group}]" if action.group is not None else "")
                                   + (f" *= {action.multiply!r}" if action.multiply is not None
                                      else f" filled with {action.value!r}"),
                "scheduler-steps": f"{action.count} scheduler steps",
                "resume": "resume (" + ", ".join(action.load) + ")"}.get(action.do, action.do)
        found.append((action.at, what))
        if action.do == "add-scheduler" and (action.first_stepped > action.at or action.replace):  # spec 4.5
            found.append((action.first_stepped, "switch to the added scheduler" if action.replace
                          else "the added scheduler stepped from here"))
    merged: dict[int, list[str]] = {}
    for step, what in found:
        merged.setdefault(step, []).append(what)
    return tuple((step, ", ".join(dict.fromkeys(whats))) for step, whats in sorted(merged.items()))


def _golden_legend(case: CaseData, site: SiteData, golden: plots.Curve, log: bool) -> list[dict]:
    """One entry per param group of the reference golden (each group has its colour)."""
    where = release_ranges(case.golden.generated_by, site.releases)
    notes = [_golden_path(case.golden.file) + (f", generated by torch {where}" if where else "")]
    if log:
        notes.append("lr on a log scale")
    if case.golden.trace.events:
        notes.append("red lines: errors, dashed amber lines: warnings")
    groups = sorted({o.group for o in case.golden.trace.observations}) or [0]
    if len(groups) == 1:
        return [_legend(golden, note="; ".join(notes))]
    return [{"label": f"{golden.label}, param group {g}", "note": "; ".join(notes) if g == groups[0] else "",
             "swatch": plots.swatch("golden", plots.GROUP_COLORS[g % len(plots.GROUP_COLORS)])} for g in groups]


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
            if lib.stale:
                rows.append({"variant": lib.name, "href": f"{root}{library_path(lib.name)}", "status": "ungraded",
                             "divergence": "no result: " + lib.stale, "reason": "", "differs": False,
                             "expectations": lib.expectations_source, "stale": ""})  # the row says why
            continue
        detail = divergence_text(result) if result.category != "unsupported" else (
            "needs " + ", ".join(result.missing) if result.missing else result.detail)
        rows.append({"variant": lib.name, "href": f"{root}{library_path(lib.name)}#{case.scheduler}",
                     "status": result.status, "divergence": detail if result.category != "pass" else "",
                     "reason": lib.reasons.get(case.id, "") if result.category != "pass" else "",
                     "differs": result.category in ("differs", "error"),
                     "expectations": lib.expectations_source,
                     # graded against older goldens: this status may not hold against the current ones
                     "stale": lib.stale})
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


def _differing(case: CaseData, site: SiteData) -> list[str]:
    """The library variants whose result on this case differs from the golden (or errs)."""
    return [lib.name for lib in site.libraries
            if (r := lib.result(case.id)) is not None and r.category in ("differs", "error")]


def _case_rows(site: SiteData) -> list[dict]:
    return [{"id": case.id, "href": case_path(case.id), "scheduler": case.scheduler, "why": case.case.why,
             "tags": case.case.tags, "text": f"{case.id} {case.case.why}",
             "scoped": len(case.records) if len(case.records) > 1 else 0, "differs": _differing(case, site),
             "passes": sum(1 for lib in site.libraries if (r := lib.result(case.id)) and r.category == "pass")}
            for case in site.cases]


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
    if counts["ungraded"]:
        message += f" / {counts['ungraded']} not graded"
    unexplained = sum(statuses[s] for s in ("fail", "error", "timeout", "crash", "xpass"))
    color = ("none" if not lib.results else "unexplained" if unexplained
             else "known" if counts["differs"] else "clean")
    return {"schemaVersion": 1, "label": lib.name, "message": message, "color": BADGE_COLORS[color]}


def _badge_markdown(lib: Library, base_url: str) -> str:
    """The Markdown that shows the badge, once the site's URL is known."""
    if not base_url:
        return ""
    from urllib.parse import quote

    url = base_url.rstrip("/") + "/" + badge_path(lib.name)
    return f"![{lib.name}](https://img.shields.io/endpoint?url={quote(url, safe='')})"


# --- the release timeline ---------------------------------------------------------------------


def transitions(case: CaseData, releases: tuple[str, ...]) -> list[tuple[str, str, object, object]]:
    """(previous release, release, record before, record after) wherever the case's trace changes between two
    consecutive releases that ran it."""
    ran = [(r, case.record_for(r)) for r in releases if case.record_for(r) is not None]
    return [(a, b, ra, rb) for (a, ra), (b, rb) in zip(ran, ran[1:]) if ra is not rb]


def _timeline(site: SiteData, jobs: list[tuple[str, plots.Plot]]) -> list[dict]:
    """Each tested release: its env run, the changes it brought (their before/after plots appended to `jobs`),
    and the trace changes no listed change covers."""
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
    return [{"release": r, "run": site.runs.get(r), "run_note": _run_note(site.runs.get(r), site),
             "changes": by_release.get(r, []), "first": i == 0,
             "unattributed": unattributed.get(r, [])} for i, r in enumerate(site.releases)]


_RUN_COUNT = re.compile(r"(\d+) (pass|fail|error|timeout|crash|unsupported|skip|xfail|xpass)\b")


def _run_note(run, site: SiteData) -> str:
    """'' when a release's recorded env run graded as many cases as the suite has; else what it covered."""
    if run is None or not run.run:
        return ""
    graded = sum(int(n) for n, _ in _RUN_COUNT.findall(run.run))
    if not graded or graded == len(site.cases):
        return ""
    return (f"this run graded {graded} cases, against an older suite: the suite has {len(site.cases)} now, "
            f"{len(site.cases) - graded} of them not graded in it" if graded < len(site.cases) else
            f"this run graded {graded} cases; the suite has {len(site.cases)}")


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
        self.warnings = site.warnings
        self.stale = [lib for lib in site.libraries if lib.stale]
        self.sources = SimpleNamespace(**{f.name: _display(getattr(site.sources, f.name))
                                          for f in fields(site.sources)})


def _display(source) -> str:
    """A source as the pages name it: a path, "none", or several paths."""
    if source is None:
        return "none"
    if isinstance(source, tuple):
        return ", ".join(map(display_path, source)) or "none"
    return display_path(source)


def visible_controls(value):
    """What a template prints, with each control character a page may not hold written as its Python escape
    (ESC as \\x1b), so the message reads as the recorded text, and the page stays well-formed."""
    if isinstance(value, str):
        from markupsafe import Markup

        shown = controls_escaped(value)
        return Markup(shown) if isinstance(value, Markup) else shown  # a filter's HTML stays HTML
    return value


def _environment():
    from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

    env = Environment(loader=PackageLoader("conformance.site", "templates"),
                      autoescape=select_autoescape(["html"], default_for_string=True, default=True),
                      undefined=StrictUndefined, trim_blocks=False, lstrip_blocks=False, keep_trailing_newline=True,
                      finalize=visible_controls)
    env.filters["linkify"] = linkify
    env.globals["categories"] = CATEGORIES
    env.globals["category_of"] = CATEGORY
    env.globals["status_notes"] = STATUS_NOTES
    return env
