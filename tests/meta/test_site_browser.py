"""The conformance site in a real browser: headless Chromium (Debian's `chromium`, driven by playwright's Python
package through executable_path - playwright's own browser download is never used) loads the pages from a
localhost HTTP server: no console error, no failed request, no broken link or anchor, every plot rendered, the
matrix as the result files count it, and the filters working.

These tests need the `chromium` executable (or LR_CONFORMANCE_CHROMIUM=/path/to/it) and the playwright package;
without them they are skipped with the reason. .ci/run installs chromium (apt-get) so that CI runs them.
"""

from __future__ import annotations

import functools
import http.server
import os
import re
import shutil
import threading
from collections import Counter
from urllib.parse import urldefrag, urlsplit

import pytest

pytest.importorskip("matplotlib")
pytest.importorskip("jinja2")
pytest.importorskip("html5lib")

from site_helpers import CHANGES_FIXTURE, COUNTED_AS, built_site, expected_matrix  # noqa: E402

from conformance.cases import load_cases  # noqa: E402
from conformance.site import Sources, data  # noqa: E402

pytestmark = pytest.mark.release_independent

CATEGORIES = ("pass", "differs", "error", "unsupported", "skip", "ungraded")
# Flags that work in containers and keep the browser off the network (it only talks to 127.0.0.1 here).
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]


def _chromium() -> str | None:
    configured = os.environ.get("LR_CONFORMANCE_CHROMIUM")
    if configured:
        return configured
    return next((found for name in ("chromium", "chromium-browser") if (found := shutil.which(name))), None)


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    return built_site(tmp_path_factory)[0]


@pytest.fixture(scope="module")
def browser():
    executable = _chromium()
    if executable is None:
        pytest.skip("browser tests skipped: no `chromium` executable (apt-get install chromium, or set "
                    "LR_CONFORMANCE_CHROMIUM to a Chromium binary)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("browser tests skipped: the playwright package is not installed (pip install "
                    "'lr-conformance[test]')")
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_FLAGS)
        try:
            yield instance
        finally:
            instance.close()


@pytest.fixture(scope="module")
def base_url(site):
    handler = functools.partial(_QuietHandler, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - the stdlib's signature
        pass


@pytest.fixture(scope="module")
def context(browser):
    ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    yield ctx
    ctx.close()


class Visit:
    """One page loaded in the browser, with every problem it reported."""

    def __init__(self, context, url: str):
        self.problems: list[str] = []
        self.page = context.new_page()
        self.page.on("console", lambda m: m.type == "error" and self.problems.append(f"console error: {m.text}"))
        self.page.on("pageerror", lambda e: self.problems.append(f"page error: {e}"))
        self.page.on("requestfailed", lambda r: self.problems.append(f"request failed: {r.url} {r.failure}"))
        self.page.on("response", lambda r: r.status >= 400 and self.problems.append(f"HTTP {r.status}: {r.url}"))
        response = self.page.goto(url, wait_until="load")
        assert response is not None and response.status == 200, url

    def images(self) -> list[dict]:
        return self.page.evaluate("""() => Array.from(document.images).map(i => ({
            src: i.currentSrc, complete: i.complete, natural: i.naturalWidth,
            width: i.getBoundingClientRect().width, height: i.getBoundingClientRect().height}))""")

    def links(self) -> list[str]:
        return self.page.evaluate("() => Array.from(document.querySelectorAll('a[href]')).map(a => a.href)")

    def close(self):
        self.page.close()


def _check_page(context, url: str, base_url: str, seen: dict[str, str]) -> Visit:
    """Load `url`: no problem reported, every plot rendered with a nonzero size, every internal link and anchor
    resolves (each target fetched once per session, `seen` caches their HTML)."""
    visit = Visit(context, url)
    assert not visit.problems, (url, visit.problems)
    for image in visit.images():
        assert image["complete"] and image["natural"] > 0, (url, image)
        assert image["width"] > 0 and image["height"] > 0, (url, image)
        assert image["src"].endswith(".svg"), image
    for link in visit.links():
        if not link.startswith(base_url):
            assert urlsplit(link).scheme in ("http", "https"), (url, link)
            continue
        target, fragment = urldefrag(link)
        if target not in seen:
            response = context.request.get(target)
            assert response.status == 200, (url, link, response.status)
            seen[target] = response.text()
        if fragment:
            assert re.search(rf'\bid="{re.escape(fragment)}"', seen[target]), (url, link)
    return visit


@pytest.fixture(scope="module")
def fetched():
    return {}


def test_index_loads_cleanly_with_every_link_resolving(context, base_url, fetched):
    visit = _check_page(context, base_url + "index.html", base_url, fetched)
    assert len(visit.links()) > 150
    visit.close()


def test_matrix_in_the_browser_equals_the_result_files(context, base_url):
    visit = Visit(context, base_url + "index.html")
    cells = visit.page.evaluate("""() => Array.from(document.querySelectorAll('#matrix-table td.cell')).map(td => ({
        variant: td.dataset.variant, scheduler: td.dataset.scheduler, text: td.innerText,
        counts: Object.fromEntries(%s.map(c => [c, Number(td.dataset[c])]))}))""" % list(CATEGORIES))
    expected = expected_matrix()
    seen = set()
    for cell in cells:
        if cell["scheduler"] == "*":
            continue
        want = expected.get((cell["variant"], cell["scheduler"]), Counter())
        assert cell["counts"] == {c: want[c] for c in CATEGORIES}, cell
        shown = {label: int(n) for n, label in re.findall(r"(\d+) (\w+)", cell["text"])}
        assert shown == {c: n for c, n in want.items() if n}, cell  # what the reader sees, too
        seen.add((cell["variant"], cell["scheduler"]))
    assert seen == {key for key in expected}
    visit.close()


def _sample_cases() -> list[str]:
    """A deterministic sample: the first case of every scheduler, the cases of the changes fixture, and cases
    with momentum, several param groups, an error at construction, release-scoped traces, differing libraries."""
    site = data.load(Sources.checkout())
    chosen: dict[str, None] = {}
    firsts: dict[str, str] = {}
    for case in site.cases:
        firsts.setdefault(case.scheduler, case.id)
    chosen.update(dict.fromkeys(firsts.values()))
    changes = data.load_changes(CHANGES_FIXTURE, {c.id for c in site.cases}, [])
    chosen.update(dict.fromkeys(case_id for change in changes for case_id in change.cases))
    for predicate in (lambda c: c.case.drives_momentum, lambda c: len(c.case.groups) > 1,
                      lambda c: not c.golden.trace.observations, lambda c: len(c.records) > 2,
                      lambda c: sum(1 for lib in site.libraries if (r := lib.result(c.id)) and
                                    COUNTED_AS[r.status] == "differs") >= 3):
        chosen.setdefault(next(c.id for c in site.cases if predicate(c)))
    return list(chosen)


@pytest.mark.parametrize("case_id", _sample_cases())
def test_case_page_renders_its_plot_and_links(context, base_url, fetched, case_id):
    visit = _check_page(context, f"{base_url}cases/{case_id}.html", base_url, fetched)
    images = visit.images()
    assert len(images) == 1 and images[0]["src"].endswith(f"plots/cases/{case_id}.svg")
    assert visit.page.locator("h1").inner_text() == case_id
    visit.close()


def test_every_scheduler_page_renders_all_its_small_multiples(context, base_url, fetched):
    counts = Counter(c.scheduler.name for c in load_cases())
    for scheduler, count in counts.items():
        visit = _check_page(context, f"{base_url}schedulers/{scheduler}.html", base_url, fetched)
        assert len(visit.images()) == count, scheduler
        visit.close()


def test_timeline_renders_every_before_and_after_plot(context, base_url, fetched):
    visit = _check_page(context, base_url + "timeline.html", base_url, fetched)
    changes = data.load_changes(CHANGES_FIXTURE, {c.id for c in load_cases()}, [])
    assert len(visit.images()) == sum(len(change.cases) for change in changes)
    visit.close()


def test_case_filters_narrow_the_list(context, base_url):
    cases = load_cases()
    visit = Visit(context, base_url + "cases.html")
    page = visit.page
    shown = page.locator("[data-count-of]")

    def visible_rows() -> int:
        return page.locator("#case-table tr.case:not(.hidden)").count()

    assert int(shown.inner_text()) == visible_rows() == len(cases)
    page.fill("input[type=search]", "plateau cooldown")
    want = sum(1 for c in cases if all(w in f"{c.id} {c.why}".lower() for w in ("plateau", "cooldown")))
    assert 0 < want < len(cases) and visible_rows() == want == int(shown.inner_text())
    page.fill("input[type=search]", "")
    page.select_option("select[data-key=scheduler]", "StepLR")
    assert visible_rows() == sum(1 for c in cases if c.scheduler.name == "StepLR")
    page.check("input[data-key=scoped]")
    site = data.load(Sources.checkout())
    assert visible_rows() == sum(1 for c in site.cases if c.scheduler == "StepLR" and len(c.records) > 1)
    assert not visit.problems, visit.problems
    visit.close()


def test_resume_and_interventions_are_named_under_their_plots(context, base_url, fetched):
    """Issue 20, item 5: the legend a reader sees names the step of the resume and of each intervention."""
    cases = load_cases()
    resumed = next(c for c in cases if c.resume_at is not None)
    intervened = next(c for c in cases if c.interventions)
    for case, said in ((resumed, f"step {resumed.resume_at}: resume"),
                       (intervened, f"step {intervened.interventions[0].at}: ")):
        visit = _check_page(context, f"{base_url}cases/{case.id}.html", base_url, fetched)
        assert said in visit.page.locator("figure.plot figcaption").inner_text(), case.id
        visit.close()


def test_scheduler_pages_name_the_differing_libraries_as_shown(context, base_url, fetched):
    site = data.load(Sources.checkout())
    case = next(c for c in site.cases
                if sum(1 for lib in site.libraries if (r := lib.result(c.id)) and r.category == "differs") >= 2)
    differing = [lib.name for lib in site.libraries
                 if (r := lib.result(case.id)) and r.category in ("differs", "error")]
    visit = _check_page(context, f"{base_url}schedulers/{case.scheduler}.html", base_url, fetched)
    pill = visit.page.locator(f'figure[id="{case.id.replace("/", "--")}"] .pill.differs')
    assert pill.inner_text() == "differs: " + ", ".join(differing)
    visit.close()
