"""The conformance site without a browser: every page well-formed HTML5, every internal link and anchor
resolves, the matrix equals the result files, every case and torch change has its page and plots, text is
escaped, bad input is one line and exit 2, and the build is deterministic (built twice, compared byte for
byte - the second time in one process, so the plots cannot depend on which process drew what)."""

from __future__ import annotations

import json
import re
import shutil
from collections import Counter
from dataclasses import replace
from pathlib import Path
from xml.etree import ElementTree

import pytest

pytest.importorskip("matplotlib")
pytest.importorskip("jinja2")
pytest.importorskip("html5lib")

from site_helpers import (  # noqa: E402
    CHANGES_FIXTURE,
    COUNTED_AS,
    built_site,
    expected_matrix,
    ids,
    internal_target,
    parse_html,
    references,
    result_counts,
)

from conformance.cases import load_cases  # noqa: E402
from conformance.cli import main  # noqa: E402
from conformance.site import MARKER, SiteError, Sources, build_site, data, pages, plots  # noqa: E402

pytestmark = pytest.mark.release_independent

CATEGORIES = ("pass", "differs", "error", "unsupported", "skip", "ungraded")


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    return built_site(tmp_path_factory)[0]


@pytest.fixture(scope="module")
def checkout_data():
    return data.load(replace(Sources.checkout(), changes=CHANGES_FIXTURE))


@pytest.fixture(scope="module")
def checkout_plan(checkout_data):
    return pages.plan(checkout_data)


def _pages(root: Path) -> list[Path]:
    return sorted(root.rglob("*.html"))


def test_the_command_prints_what_it_built_and_how_long_it_took(tmp_path_factory):
    out, stdout = built_site(tmp_path_factory)
    line = stdout.strip().splitlines()[-1]
    assert re.match(r"site: \d+ pages, \d+ plots, \d+ badges, [\d.]+ MB in [\d.]+s \(inputs", line), line
    assert line.endswith(str(out / "index.html"))


def test_every_page_is_well_formed_html5_with_unique_ids(site):
    found = _pages(site)
    assert len(found) > 300
    for page in found:
        tree = parse_html(page)  # strict: any parse error raises
        page_ids = ids(tree)
        duplicated = [i for i, n in Counter(page_ids).items() if n > 1]
        assert not duplicated, f"{page}: duplicate ids {duplicated}"
        assert tree.find(".//title").text.strip(), page


def test_every_internal_link_and_anchor_resolves(site):
    anchors: dict[Path, set[str]] = {}
    checked = 0
    for page in _pages(site):
        for url in references(parse_html(page)):
            assert not url.startswith("/"), f"{page}: {url} is absolute: the site must work under any prefix"
            target = internal_target(page, url, site)
            if target is None:
                assert url.startswith(("https://", "http://", "data:")), f"{page}: {url}"
                continue
            path, fragment = target
            assert path.is_file(), f"{page}: broken link {url}"
            if fragment:
                if path not in anchors:
                    anchors[path] = set(ids(parse_html(path))) if path.suffix == ".html" else set()
                assert fragment in anchors[path], f"{page}: {url}: no id {fragment!r} in {path.name}"
            checked += 1
    assert checked > 5000


def test_matrix_cells_equal_the_result_files(site):
    expected = expected_matrix()
    tree = parse_html(site / "index.html")
    cells = [td for td in tree.iter("td") if "cell" in (td.get("class") or "").split()]
    shown = {(td.get("data-variant"), td.get("data-scheduler")): {c: int(td.get(f"data-{c}")) for c in CATEGORIES}
             for td in cells}
    variants = {v for v, _ in expected}
    schedulers = {s for _, s in expected}
    for variant in variants:
        for scheduler in schedulers:
            want = {c: expected.get((variant, scheduler), Counter())[c] for c in CATEGORIES}
            assert shown[(variant, scheduler)] == want, (variant, scheduler)
        totals = shown[(variant, "*")]
        stated = result_counts()[variant]
        ungraded = sum(expected.get((variant, s), Counter())["ungraded"] for s in schedulers)
        assert totals == {c: sum(n for s, n in stated.items() if COUNTED_AS[s] == c) for c in CATEGORIES[:-1]} | {
            "ungraded": ungraded}, variant


def test_every_cell_links_to_exactly_its_cases(site):
    expected = expected_matrix()
    tree = parse_html(site / "index.html")
    parsed = {}
    for td in tree.iter("td"):
        if "cell" not in (td.get("class") or "").split() or td.get("data-scheduler") == "*":
            continue
        href = td.find("a").get("href")
        path, fragment = internal_target(site / "index.html", href, site)
        if path not in parsed:
            parsed[path] = parse_html(path)
        page = parsed[path]
        section = next(e for e in page.iter() if e.get("id") == fragment)
        table = _following_table(page, section)
        rows = [] if table is None else [tr for tr in table.iter("tr") if tr.get("data-status")]
        counted = Counter(COUNTED_AS[tr.get("data-status")] for tr in rows)
        assert counted == expected.get((td.get("data-variant"), td.get("data-scheduler")), Counter()), href


def _following_table(tree, heading):
    body = list(tree.find(".//main"))
    index = body.index(heading)
    for element in body[index + 1:]:
        if element.tag == "table":
            return element
        if element.tag == "h2":
            return None
    return None


def test_every_case_has_a_page_with_its_plot(site):
    for case in load_cases():
        page = site / "cases" / f"{case.id}.html"
        tree = parse_html(page)
        text = "".join(tree.itertext())
        assert case.why in text and case.id in text
        images = [img for img in tree.iter("img")]
        assert len(images) == 1, page
        svg = internal_target(page, images[0].get("src"), site)[0]
        root = ElementTree.parse(svg).getroot()
        assert root.tag.endswith("svg") and float(root.get("width").rstrip("pt")) > 0, svg
        assert int(images[0].get("width")) > 0 and int(images[0].get("height")) > 0


def test_a_case_page_shows_every_overlay_and_reason(site, checkout_data, checkout_plan):
    case_id = "cosineannealinglr/last-epoch-resume"
    marks = dict(checkout_plan.plots)[f"plots/cases/{case_id}.svg"].marks
    text = _squash("".join(parse_html(site / "cases" / f"{case_id}.html").itertext()))
    case = checkout_data.case(case_id)
    assert len(case.records) > 1
    for record in case.records[1:]:
        assert _squash(f"release-scoped golden golden/traces/{record.file}") in text
    for lib in checkout_data.libraries:
        result = lib.result(case_id)
        if result is None:
            continue
        if result.category == "differs":
            step = result.divergence["step"]
            # its own mark and legend entry, or named in those of the first library that departs the same way
            mark = next(m for m in marks if lib.name in m.label.split(", "))
            first = mark.label.split(", ")[0]
            assert mark.step == step
            assert _squash(f"{first}: first differs at step {step} ({result.divergence['column']})") in text
            assert _squash(lib.reasons[case_id]) in text
        if result.category == "pass":
            assert re.search(rf"matchesthegolden\(\d+librar(y|ies)\):[^.]*{re.escape(lib.name)}\b", text)
    assert "Torchchangesthataffectit" in text


def _squash(text: str) -> str:
    """Text without whitespace: element boundaries in the page must not decide a comparison."""
    return re.sub(r"\s+", "", text)


def test_momentum_cases_get_a_momentum_panel(checkout_data, checkout_plan):
    momentum = [c for c in checkout_data.cases if c.case.drives_momentum and c.golden.trace.observations]
    assert momentum
    for case in momentum:
        plot = dict(checkout_plan.plots)[f"plots/cases/{case.id}.svg"]
        assert plots.has_momentum(plot.curves)
        assert plots.pixel_size(plot)[1] > round(plots.SIZES["case"][1] * 96)


def test_a_plot_does_not_depend_on_what_was_drawn_before(checkout_plan):
    sample = [plot for kind in ("case", "small", "change")
              for plot in [p for _, p in checkout_plan.plots if p.kind == kind][:6]]
    assert {plot.kind for plot in sample} == {"case", "small", "change"}
    forward = [plots.svg(plot) for plot in sample]
    plots._CANVASES.clear()
    backward = [plots.svg(plot) for plot in reversed(sample)][::-1]
    assert forward == backward


def test_lr_axis_is_logarithmic_when_it_spans_decades(checkout_data):
    def curve(values):
        from conformance.model import Observation, Trace

        return plots.Curve("", Trace(tuple(Observation(i, 0, v) for i, v in enumerate(values))), "golden", "#000")

    assert plots.log_scale([curve([0.1 * 0.5 ** i for i in range(10)])])  # 512x
    assert not plots.log_scale([curve([0.1, 0.05, 0.025])])  # 4x
    assert not plots.log_scale([curve([0.1, 0.0])])  # a zero cannot be drawn on a log axis
    exponential = checkout_data.case("exponentiallr/long-run")
    if exponential is not None:
        lrs = [o.lr for o in exponential.golden.trace.observations]
        assert plots.log_scale([curve(lrs)]) == (min(lrs) > 0 and max(lrs) / min(lrs) >= plots.LOG_SPAN)


def test_scheduler_pages_show_every_case_as_a_small_multiple(site):
    by_scheduler = Counter(c.scheduler.name for c in load_cases())
    for scheduler, count in by_scheduler.items():
        tree = parse_html(site / "schedulers" / f"{scheduler}.html")
        figures = [f for f in tree.iter("figure")]
        assert len(figures) == count, scheduler
        for figure in figures:
            src = figure.find(".//img").get("src")
            assert internal_target(site / "schedulers" / "x.html", src, site)[0].stat().st_size > 1000


def test_timeline_shows_each_change_with_before_and_after_curves(site, checkout_data):
    tree = parse_html(site / "timeline.html")
    page_ids = set(ids(tree))
    for change in checkout_data.changes:
        assert f"change-{change.id}" in page_ids
        for case_id in change.cases:
            anchor = f"change-{change.id}--{case_id.replace('/', '--')}"
            assert anchor in page_ids
            assert (site / "plots" / "changes" / change.id / f"{case_id}.svg").is_file()
    text = _squash("".join(tree.itertext()))
    assert _squash("Fix the extra step taken when resuming with last_epoch <fixture & title>") in text  # escaped
    assert _squash("searched: pytorch history of torch/optim/lr_scheduler.py") in text
    links = [a.get("href") for a in tree.iter("a")]
    assert "https://github.com/pytorch/pytorch/pull/149312" in links


def test_timeline_without_change_data_says_so(checkout_data):
    plan = pages.plan(replace(checkout_data, changes=None))
    tree_text = plan.pages["timeline.html"]
    assert 'id="no-changes"' in tree_text and "does not exist" in tree_text
    assert "Cases whose trace changes at this release" in tree_text  # the manifest's transitions instead


def test_badges_are_shields_endpoints_with_the_result_counts(site):
    counts = result_counts()
    assert sorted(p.stem for p in (site / "badges").glob("*.json")) == sorted(counts)
    for variant, stated in counts.items():
        badge = json.loads((site / "badges" / f"{variant}.json").read_text())
        passed = sum(n for s, n in stated.items() if COUNTED_AS[s] == "pass")
        differ = sum(n for s, n in stated.items() if COUNTED_AS[s] == "differs")
        assert badge["schemaVersion"] == 1 and badge["label"] == variant
        assert badge["message"].startswith(f"{passed} pass / {differ} differ")
        unexplained = sum(stated.get(s, 0) for s in ("fail", "error", "timeout", "crash", "xpass"))
        assert badge["color"] == ("red" if unexplained else "yellow" if differ else "brightgreen")


def test_text_is_escaped_everywhere(checkout_data):
    hostile = '<script>alert("x")</script> & <b>bold</b> \'quoted\''
    first = checkout_data.cases[0]
    cases = (replace(first, case=replace(first.case, why=hostile), toml=hostile, snippet=hostile),
             *checkout_data.cases[1:])
    lib = checkout_data.libraries[0]
    differing = next(r for r in lib.results if r.category == "differs")
    lib = replace(lib, reasons={**lib.reasons, differing.case_id: hostile + " see https://example.org/a?b=1&c=2"})
    site = replace(checkout_data, cases=cases, libraries=(lib, *checkout_data.libraries[1:]))
    plan = pages.plan(site)
    for path, html in plan.pages.items():
        assert "<script>alert" not in html and "<b>bold</b>" not in html, path
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; &lt;b&gt;bold&lt;/b&gt;" in plan.pages[
        pages.case_path(first.id)]
    assert '<a href="https://example.org/a?b=1&amp;c=2">' in plan.pages[pages.case_path(differing.case_id)]


def test_a_library_trace_kept_in_its_result_is_drawn(tmp_path, checkout_data):
    source = json.loads((Sources.checkout().results / "timm.json").read_text())
    differing = next(r for r in source["results"] if r["status"] == "xfail" and r["divergence"]["column"] == "lr")
    case = checkout_data.case(differing["id"])
    golden = case.golden.trace.to_json()
    actual = json.loads(json.dumps(golden))
    actual["observations"] = [[s, g, lr * 1.5, *rest] for s, g, lr, *rest in actual["observations"]]
    differing["traces"] = {"expected": golden, "actual": actual}
    (tmp_path / "timm.json").write_text(json.dumps(source))
    site = data.load(replace(Sources.checkout(), results=tmp_path))
    plan = pages.plan(site)
    plot = dict(plan.plots)[f"plots/cases/{case.id}.svg"]
    drawn = [c for c in plot.curves if c.style == "library"]
    assert [c.label for c in drawn] == ["timm: differs (xfail: recorded in the expectations)"]
    assert drawn[0].trace.observations[0].lr == actual["observations"][0][2]
    assert "timm: differs (xfail: recorded in the expectations)" in plan.pages[pages.case_path(case.id)]


def test_missing_inputs_are_said_plainly(tmp_path, checkout_data):
    empty = tmp_path / "none"
    empty.mkdir()
    site = data.load(replace(Sources.checkout(), results=empty, matrix=tmp_path / "no.json",
                             changes=tmp_path / "no.toml"))
    assert not site.libraries and not site.runs and site.changes is None
    index = pages.plan(site).pages["index.html"]
    assert "No library results to show" in index
    assert "no behaviour-change data" in index


CHANGE = ("[[change]]\nid = '{id}'\nrelease = '{release}'\nkind = 'lr values'\nsummary = 's'\ncause = '{cause}'\n"
          "cause_title = ''\ncases = [{cases}]\n")
RESUME = "'cosineannealinglr/last-epoch-resume'"


@pytest.mark.parametrize("content, fragment", [
    ("[[change]]\nid = 'x'\n", "missing or mistyped release (str), kind (str), summary (str)"),
    (CHANGE.format(id="a", release="2.8.0", cause="", cases="'steplr/no-such-case'"), "unknown case(s) steplr/no-such"),
    (CHANGE.format(id="a", release="2.8.0", cause="", cases=RESUME), "cause is empty and no `searched`"),
    (CHANGE.format(id="a", release="2.8.0", cause="x", cases="") + CHANGE.format(
        id="a", release="2.8.0", cause="x", cases=RESUME), "lists no case"),
    (CHANGE.format(id="Not A Slug", release="2.8.0", cause="x", cases=RESUME), "id must be a unique slug"),
    ("[[change]\n", "invalid TOML"),
])
def test_bad_change_data_is_named_one_line_each(tmp_path, content, fragment):
    changes = tmp_path / "changes.toml"
    changes.write_text(content)
    problems: list[str] = []
    data.load_changes(changes, {c.id for c in load_cases()}, problems)
    assert problems and all(str(changes) in p and "\n" not in p for p in problems), problems
    assert any(fragment in p for p in problems), problems


def test_every_problem_is_reported_at_once_with_exit_2(tmp_path, capsys):
    changes = tmp_path / "changes.toml"
    changes.write_text(CHANGE.format(id="a", release="9.9.9", cause="https://x.org", cases=RESUME)
                       + CHANGE.format(id="b", release="2.8.0", cause="", cases=RESUME))
    out = tmp_path / "out"
    assert main(["site", str(out), "--changes", str(changes)]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 2 and all(line.startswith(f"lr-conformance: {changes}: ") for line in err), err
    assert "cause is empty" in err[0] and "release 9.9.9 is not a tested release" in err[1]
    assert not out.exists()


def test_a_bad_result_file_is_reported_with_its_name(tmp_path, capsys):
    (tmp_path / "broken.json").write_text("{not json")
    (tmp_path / "other.json").write_text('{"schema": "something/else"}')
    assert main(["site", str(tmp_path / "out"), "--results", str(tmp_path)]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 2 and "broken.json: not a JSON result file" in err[0] and "other.json" in err[1], err


def test_out_that_is_not_a_site_is_never_touched(tmp_path, capsys):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "precious.txt").write_text("keep me")
    assert main(["site", str(out)]) == 2
    assert "not empty and not a site built by `lr-conformance site`" in capsys.readouterr().err
    assert (out / "precious.txt").read_text() == "keep me"
    with pytest.raises(SiteError):
        build_site(out)


def test_rebuilding_replaces_the_previous_site_and_is_byte_identical(site, tmp_path):
    """The second build spreads the plots over three processes (the session's build used the default): a plot
    must not depend on which process drew it or on what that process drew before (each process reuses its
    figures)."""
    again = tmp_path / "again"
    shutil.copytree(site, again)
    (again / "cases" / "stale-page.html").write_text("left over from an older build")
    report = build_site(again, replace(Sources.checkout(), changes=CHANGES_FIXTURE), processes=3)
    assert report.processes == 3
    first = {p.relative_to(site).as_posix(): p.read_bytes() for p in sorted(site.rglob("*")) if p.is_file()}
    second = {p.relative_to(again).as_posix(): p.read_bytes() for p in sorted(again.rglob("*")) if p.is_file()}
    assert sorted(first) == sorted(second)  # the stale page is gone
    differing = [name for name in first if first[name] != second[name]]
    assert not differing, differing[:5]
    assert MARKER in first


@pytest.mark.parametrize("argv, message", [
    (["--jobs", "0"], "--jobs 0: must be at least 1"),
    (["--results", "no/such/dir"], "--results no/such/dir: no such file or directory"),
])
def test_bad_options_are_one_line_and_exit_2(tmp_path, capsys, argv, message):
    assert main(["site", str(tmp_path / "out"), *argv]) == 2
    assert capsys.readouterr().err == f"lr-conformance: {message}\n"
    assert not (tmp_path / "out").exists()


def test_cases_without_goldens_are_all_reported(tmp_path):
    traces = tmp_path / "traces"
    shutil.copytree(Sources.checkout().traces, traces)
    manifest = json.loads((traces / "manifest.json").read_text())
    dropped = sorted(manifest["cases"])[:2]
    for case_id in dropped:
        del manifest["cases"][case_id]
    (traces / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(SiteError) as raised:
        data.load(replace(Sources.checkout(), traces=traces))
    lines = str(raised.value).splitlines()
    # one line per dropped case, in case order (which need not be the ids' sorted order)
    assert len(lines) == 2 and sorted(next(c for c in dropped if c in line) for line in lines) == dropped, lines


def test_a_template_writes_control_characters_as_their_escape_and_keeps_a_filters_html():
    """HTML5 forbids C0 controls (but tab, newline, CR), DEL and C1 controls in a page; torch >= 2.5's
    weights_only refusal holds ESC [1m. The site's templates print each as its Python escape, also inside the
    HTML a filter (linkify) made, without escaping that HTML a second time."""
    from markupsafe import Markup

    env = pages._environment()
    shown = env.from_string("{{ m }}|{{ h }}").render(m="\x1b[1mrefused\x1b[0m <b>", h=Markup("<a>\x1b</a>"))
    assert shown == "\\x1b[1mrefused\\x1b[0m &lt;b&gt;|<a>\\x1b</a>"


def test_a_case_page_names_the_attributes_read_and_set():
    """read-scheduler and set-scheduler (spec 4.5) as a case page's milestones say them."""
    from types import SimpleNamespace

    from conformance.cases import load_cases
    from conformance.site.pages import milestones

    case = next(c for c in load_cases() if c.id == "reducelronplateau/add-param-group-with-min-lrs-appended")
    assert milestones(SimpleNamespace(case=case)) == (
        (0, "read scheduler.min_lrs"), (1, "add-param-group, set scheduler.min_lrs = [0.01, 0.02, 0.05]"),
        (2, "read scheduler.min_lrs"))


def test_a_case_page_shows_where_the_loop_switches_schedulers():
    """add-scheduler's from and replace (spec 4.5): the milestones name the iteration the added scheduler starts
    stepping, and whether the case's scheduler stops there."""
    from types import SimpleNamespace

    from conformance.cases import load_cases
    from conformance.site.pages import milestones

    by_id = {c.id: c for c in load_cases()}
    assert milestones(SimpleNamespace(case=by_id["swalr/switched-from-multiplicative-cosine"])) == (
        (0, "add-scheduler"), (5, "switch to the added scheduler"))
    assert milestones(SimpleNamespace(case=by_id["exponentiallr/second-scheduler-built-up-front-stepped-later"])) == (
        (0, "add-scheduler"), (4, "the added scheduler stepped from here"))
    assert milestones(SimpleNamespace(case=by_id["steplr/second-scheduler-added-mid-run"])) == ((2, "add-scheduler"),)


def test_a_case_page_names_the_user_tensors_changed():
    """change-argument (spec 4.5) as a case page's milestones say it: whose tensor, by what or to what."""
    from types import SimpleNamespace

    from conformance.cases import load_cases
    from conformance.site.pages import milestones

    case = next(c for c in load_cases() if c.id == "cycliclr/tensor-args-changed-after-a-resume")
    assert milestones(SimpleNamespace(case=case)) == (
        (4, "resume, the user's max_lr filled with 0.3, the user's lr[0] *= 0.5"), (6, "the user's lr[0] *= 0.5"))
