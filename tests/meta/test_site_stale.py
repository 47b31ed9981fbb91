"""A library result graded against an older suite is never shown as whole (issue 20, item 2): the site counts
the current cases it lacks as `ungraded` (so a library's cells add up to the suite's cases), says so on every
page the library appears on, and `lr-conformance site` warns on stderr. A release run that graded fewer cases
than the suite has says so on the timeline."""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import replace
from pathlib import Path

import pytest

pytest.importorskip("matplotlib")
pytest.importorskip("jinja2")

from site_helpers import CHANGES_FIXTURE, RESULTS  # noqa: E402

from conformance.cli import main  # noqa: E402
from conformance.site import Sources, data, pages  # noqa: E402

pytestmark = pytest.mark.release_independent

DROPPED = 3  # cases dropped from one result file: "graded before they existed"


def missing_before(name: str) -> set[str]:
    """The current cases the shipped result file of `name` already lacks (graded before they existed): the
    stale fixture's counts are these plus what it drops."""
    from conformance.cases import load_cases

    document = json.loads((RESULTS / f"{name}.json").read_text(encoding="utf-8"))
    return {c.id for c in load_cases()} - {r["id"] for r in document["results"]}


def text(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


@pytest.fixture(scope="module")
def stale_results(tmp_path_factory):
    """A results directory with timm's file missing the results of the last DROPPED cases of one scheduler,
    and mmengine's file stamped with a goldens digest that is not the suite's."""
    out = tmp_path_factory.mktemp("results")
    timm = json.loads((RESULTS / "timm.json").read_text(encoding="utf-8"))
    scheduler = "StepLR"
    dropped = [r["id"] for r in timm["results"] if r["scheduler"] == scheduler][-DROPPED:]
    timm["results"] = [r for r in timm["results"] if r["id"] not in dropped]
    (out / "timm.json").write_text(json.dumps(timm), encoding="utf-8")
    mmengine = json.loads((RESULTS / "mmengine.json").read_text(encoding="utf-8"))
    mmengine["suite"] = {"version": "0.0.1", "reference": "2.13.0", "goldens": "sha256:" + "0" * 64}
    (out / "mmengine.json").write_text(json.dumps(mmengine), encoding="utf-8")
    return out, scheduler, dropped


@pytest.fixture(scope="module")
def stale_site(stale_results):
    results, _, _ = stale_results
    site = data.load(replace(Sources.checkout(), results=results, changes=CHANGES_FIXTURE))
    return site, pages.plan(site)


def test_the_missing_cases_are_counted_as_ungraded_and_cells_add_up(stale_site, stale_results):
    site, _ = stale_site
    _, scheduler, dropped = stale_results
    per_scheduler = Counter(c.scheduler for c in site.cases)
    timm = next(lib for lib in site.libraries if lib.name == "timm")
    before = missing_before("timm")
    by_id = {c.id: c.scheduler for c in site.cases}
    assert timm.categories(scheduler)["ungraded"] == DROPPED + sum(by_id[i] == scheduler for i in before)
    for name in per_scheduler:
        assert sum(timm.categories(name).values()) == per_scheduler[name], name
    assert sum(timm.categories().values()) == len(site.cases)
    graded = len(site.cases) - DROPPED - len(before)
    assert f"{graded} of the suite's {len(site.cases)} cases graded" in timm.stale


def test_a_different_goldens_digest_is_stale_too(stale_site):
    site, _ = stale_site
    mmengine = next(lib for lib in site.libraries if lib.name == "mmengine")
    assert {case_id for case_id, _ in mmengine.ungraded} == missing_before("mmengine")
    assert "graded against goldens sha256:000000000000" in mmengine.stale


def test_every_page_a_stale_library_appears_on_says_so(stale_site, stale_results):
    site, plan = stale_site
    _, scheduler, dropped = stale_results
    index = text(plan.pages["index.html"])
    assert "2 of them against an older suite" in index
    # one paragraph for all of them (twelve near-identical ones used to bury the matrix), each file listed in it
    assert index.count("Stale: ") == 1 and "Stale: 2 result files graded against an older suite" in index
    assert index.count(": graded against an older suite") == 2
    for name in ("timm", "mmengine"):
        assert "Stale: graded against an older suite" in text(plan.pages[pages.library_path(name)]), name
        assert "older suite" in text(plan.pages[f"schedulers/{scheduler}.html"])
    for case_id in dropped:
        page = plan.pages[pages.case_path(case_id)]
        assert re.search(r'data-variant="timm" data-status="ungraded"', page), case_id
    graded = next(r.case_id for r in next(lib for lib in site.libraries if lib.name == "timm").results
                  if r.case_id.startswith("steplr/") and r.case_id not in dropped)
    for name in ("timm", "mmengine"):  # a case a stale library does have a result for: its row says so too
        row = re.search(rf'<tr data-variant="{name}" data-status="[^"]*">(.*?)</tr>',
                        plan.pages[pages.case_path(graded)], re.S)
        assert row and "older suite" in text(row.group(1)), (name, graded)
    badge = json.loads(plan.badges[pages.badge_path("timm")])
    assert badge["message"].endswith(f"/ {DROPPED + len(missing_before('timm'))} not graded"), badge


def test_a_current_library_is_not_called_stale(stale_site):
    site, plan = stale_site
    assert {lib.name for lib in site.libraries if lib.stale} == {"timm", "mmengine"}
    assert "Stale" not in text(plan.pages["index.html"]).split("timm")[0].split("Conformance matrix")[-1]


def test_the_shipped_results_that_miss_cases_are_flagged():
    """Whatever docs/results holds: a file without a result for some current case is flagged on the index."""
    site = data.load(replace(Sources.checkout(), changes=CHANGES_FIXTURE))
    current = {c.id for c in site.cases}
    index = text(pages.plan(site).pages["index.html"])
    for path in sorted(RESULTS.glob("*.json")):
        document = json.loads(path.read_text(encoding="utf-8"))
        missing = current - {r["id"] for r in document["results"]}
        name = document.get("variant") or document["adapter"]["name"]
        flagged = f"docs/results/{path.name}: graded against an older suite" in index
        assert flagged == bool(missing), (name, len(missing))


def test_a_release_run_of_fewer_cases_says_so_on_the_timeline(stale_site):
    site, _ = stale_site
    run = data.ReleaseRun("2.13.0", "torch213", "passed", run="torch 2.13.0 vs torch 2.13.0 goldens: 7 pass, "
                                                            "2 unsupported in 0.9s - OK")
    note = pages._run_note(run, site)
    assert note.startswith("this run graded 9 cases, against an older suite") and str(len(site.cases)) in note
    whole = replace(run, run=f"torch 2.13.0 vs torch 2.13.0 goldens: {len(site.cases)} pass in 0.9s - OK")
    assert pages._run_note(whole, site) == ""
    shown = replace(site, runs={**site.runs, "2.13.0": run})
    assert "Stale: this run graded 9 cases" in text(pages.plan(shown).pages["timeline.html"])


def test_the_site_command_warns_on_stderr(stale_results, tmp_path, capsys, monkeypatch):
    from conformance.site import plots

    monkeypatch.setattr(plots, "render", lambda jobs, processes: 0)  # the pages are the point, not the plots
    results, _, _ = stale_results
    assert main(["site", str(tmp_path / "out"), "--results", str(results), "--results-only",
                 "--changes", str(CHANGES_FIXTURE)]) == 0
    err = capsys.readouterr().err
    warnings = [line for line in err.splitlines() if line.startswith("site: warning: ")]
    assert len(warnings) == 2 and all("graded against an older suite" in w for w in warnings), err


def test_the_regrade_instruction_fits_where_the_site_is_built(monkeypatch, tmp_path):
    """In a checkout, tools/thirdparty.py re-grades a shipped result; installed from a wheel there is no tools/,
    so the instruction is the adapter's own run passed back in with --results (outsider pass, issue 20)."""
    assert data.regrade_command("shipped", "timm") == "python tools/thirdparty.py --only timm"
    monkeypatch.setattr(data, "CHECKOUT", tmp_path)  # what CHECKOUT is from a wheel: site-packages, no golden/
    wheel = data.regrade_command("shipped", "timm")
    assert wheel.startswith("lr-conformance run --adapter timm --json FILE, then rebuild with --results FILE")
    assert data.regrade_command("yours", "mine").startswith("lr-conformance run --adapter ... --json FILE")
