"""What the site's pages and plots say can be read without guessing (issue 20, item 5): one vocabulary for
results on every page, libraries that depart alike drawn once and named together, the libraries that match
drawn unlike the golden, the differing libraries named on the scheduler pages, an lr axis that does not run
into negative lrs, and the resume step and every intervention marked on the plots."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest

pytest.importorskip("matplotlib")
pytest.importorskip("jinja2")

from site_helpers import COUNTED_AS  # noqa: E402

from conformance.model import Observation, Trace  # noqa: E402
from conformance.site import Sources, data, pages, plots  # noqa: E402

pytestmark = pytest.mark.release_independent

CATEGORIES = ("pass", "differs", "error", "unsupported", "skip", "ungraded")
PILL = re.compile(r'<span class="pill ([a-z]+)">([^<]*)</span>')


@pytest.fixture(scope="module")
def site():
    return data.load(Sources.checkout())


@pytest.fixture(scope="module")
def plan(site):
    return pages.plan(site)


def _differing(site, case_id):
    return [lib for lib in site.libraries if (r := lib.result(case_id)) and COUNTED_AS[r.status] == "differs"]


def test_results_are_named_by_the_matrix_categories_on_every_page(plan):
    """The index counts `differs`; a case or library page must not call the same result only `xfail`."""
    checked = 0
    for path, html in plan.pages.items():
        if not path.startswith(("cases/", "libraries/")):
            continue
        for css, text in PILL.findall(html):
            if css in ("tag", "kind", "yours", "warning"):  # not results: tags, change kinds, golden warnings
                continue
            assert text in CATEGORIES and css == text, (path, css, text)
            checked += 1
        for status in re.findall(r'data-status="([a-z]+)"', html):
            assert f'<span class="pill {COUNTED_AS[status]}">{COUNTED_AS[status]}</span>' in html, (path, status)
    assert checked > 1000
    index = plan.pages["index.html"]
    assert all(f"<code>{status}</code>" in index for status in ("xfail", "fail", "timeout", "crash", "xpass"))


def test_status_text_qualifies_each_category_by_its_status():
    assert pages.status_text("xfail") == "differs (xfail: recorded in the expectations)"
    assert pages.status_text("fail") == "differs (fail: not in the expectations)"
    assert pages.status_text("pass") == "pass" and pages.status_text("timeout") == "error (timeout)"


def test_libraries_that_depart_alike_are_drawn_once_and_named_together(site):
    """A twin of a differing library: the same divergence in another colour would hide under the first's mark."""
    case_id = next(c.id for c in site.cases if len(_differing(site, c.id)) == 1)
    (lib,) = _differing(site, case_id)
    twin = replace(lib, name=f"{lib.name}-twin")
    alone = dict(pages.plan(replace(site, libraries=(lib,))).plots)[f"plots/cases/{case_id}.svg"]
    both_plan = pages.plan(replace(site, libraries=(lib, twin)))
    both = dict(both_plan.plots)[f"plots/cases/{case_id}.svg"]
    assert len(both.marks) == len(alone.marks) == 1 and len(both.curves) == len(alone.curves)
    assert both.marks[0].label == f"{lib.name}, {twin.name}"
    html = both_plan.pages[pages.case_path(case_id)]
    assert f"{lib.name}: first differs at step" in html and f"; the same for {twin.name}" in html
    # a different departure is still drawn on its own
    other = lib.result(case_id)
    moved = replace(other, divergence={**other.divergence, "step": other.divergence["step"] + 1})
    apart = replace(twin, results=tuple(moved if r.case_id == case_id else r for r in twin.results))
    split = dict(pages.plan(replace(site, libraries=(lib, apart))).plots)[f"plots/cases/{case_id}.svg"]
    assert [m.label for m in split.marks] == [lib.name, apart.name]


def test_the_libraries_that_match_are_not_drawn_in_the_goldens_colour(site, plan):
    case_id = next(c.id for c in site.cases
                   if any((r := lib.result(c.id)) and r.category == "pass" for lib in site.libraries))
    html = plan.pages[pages.case_path(case_id)]
    entry = re.search(r"<li>(<svg(?:(?!<li>).)*?</svg>)matches the golden", html)
    assert entry, case_id
    assert plots.GROUP_COLORS[0] not in entry.group(1) and plots.PASS_COLOR in entry.group(1)


def test_scheduler_pages_name_the_libraries_that_differ(site, plan):
    named = 0
    for case in site.cases:
        differing = [lib.name for lib in site.libraries
                     if (r := lib.result(case.id)) and r.category in ("differs", "error")]
        if not differing:
            continue
        page = plan.pages[f"schedulers/{case.scheduler}.html"]
        figure = page[page.index(f'id="{case.id.replace("/", "--")}"'):]
        figure = figure[:figure.index("</figure>")]
        assert f">differs: {', '.join(differing)}</span>" in figure, case.id
        named += 1
    assert named > 10


@pytest.mark.parametrize("values", [[0.0], [0.0, 0.0], [0.0, 0.1], [1e-3, 1e-3], [0.5]])
def test_an_axis_of_non_negative_lrs_stays_non_negative(values):
    low, high = plots._limits(values, log=False)
    assert 0.0 <= low <= min(values) and high > max(values)


def test_a_drawn_plot_of_zero_lrs_has_no_negative_axis():
    zero = Trace(observations=tuple(Observation(step, 0, 0.0) for step in range(3)))
    plots.svg(plots.Plot("case", (plots.Curve("golden", zero, "golden", "#000"),)))
    _, axes = plots._CANVASES[("case", False)]
    assert axes[0].get_ylim()[0] >= 0.0


def test_the_resume_step_and_every_intervention_are_marked(site, plan):
    drawn = dict(plan.plots)
    resumed = [c for c in site.cases if c.case.resume_at is not None]
    intervened = [c for c in site.cases if c.case.interventions]
    assert resumed and intervened
    for case in resumed:
        plot = drawn[f"plots/cases/{case.id}.svg"]
        assert (case.case.resume_at, "resume") in [(s, w.split(",")[0]) for s, w in plot.milestones], case.id
        assert drawn[f"plots/small/{case.id}.svg"].milestones == plot.milestones
    for case in intervened:
        plot = drawn[f"plots/cases/{case.id}.svg"]
        assert sorted({a.at for a in case.case.interventions}) <= [s for s, _ in plot.milestones], case.id
        assert f"step {case.case.interventions[0].at}: " in plan.pages[pages.case_path(case.id)]
    svg = plots.svg(drawn[f"plots/cases/{resumed[0].id}.svg"])
    assert ">resume<" in svg  # drawn as text on the plot (svg.fonttype none)


def test_curves_that_look_the_same_are_drawn_once_even_if_they_first_depart_apart(site):
    """A float32 twin: its curve differs from the float64 one in the 9th digit (one line on the plot) and it
    first departs a step earlier (a mark of its own)."""
    case_id, lib = next((c.id, lib) for c in site.cases for lib in _differing(site, c.id)
                        if lib.result(c.id).trace is not None and lib.result(c.id).divergence["step"] > 0)
    result = lib.result(case_id)
    nudged = replace(result.trace, observations=tuple(replace(o, lr=o.lr * (1 + 1e-9))
                                                      for o in result.trace.observations))
    earlier = replace(result, trace=nudged, divergence={**result.divergence, "step": result.divergence["step"] - 1})
    twin = replace(lib, name=f"{lib.name}-32", results=tuple(earlier if r.case_id == case_id else r
                                                             for r in lib.results))
    plan = pages.plan(replace(site, libraries=(lib, twin)))
    plot = dict(plan.plots)[f"plots/cases/{case_id}.svg"]
    drawn = [c for c in plot.curves if c.style == "library"]
    assert [c.label.split(":")[0] for c in drawn] == [f"{lib.name}, {twin.name}"]
    assert [m.label for m in plot.marks] == [lib.name, twin.name]
    assert "drawn once: the same curve for each" in plan.pages[pages.case_path(case_id)]
