"""tools/thirdparty.py: the compact saved results, the generated matrix and porting guides, and that the
committed docs are exactly what the saved results generate (no library needed: adapter modules import
their libraries lazily)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers import load_tool

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def tool():
    return load_tool("thirdparty")


DOCUMENT = {
    "adapter": {"name": "optax-float64", "version": "0.2.8", "schedulers": ["StepLR"], "features": [],
                "tolerance": {"rel": 1e-14, "abs": 0.0, "reason": "r"}, "spec": "optax64"},
    "suite": {"reference": "2.13.0"},
    "counts": {"pass": 1, "xfail": 1, "unsupported": 1, "fail": 0},
    "results": [
        {"id": "steplr/a", "scheduler": "StepLR", "status": "pass", "detail": "", "divergence": None, "missing": [],
         "seconds": 0.1},
        {"id": "steplr/b", "scheduler": "StepLR", "status": "xfail", "detail": "step 3 group 0 lr: ...",
         "divergence": {"step": 3, "group": 0, "column": "lr", "expected": 0.05, "actual": 0.1, "ulps": 7,
                        "abs_error": 0.05}, "missing": [], "seconds": 0.1,
         "traces": {"expected": {}, "actual": {}}, "snippet": "import torch"},
        {"id": "cycliclr/a", "scheduler": "CyclicLR", "status": "unsupported", "detail": "needs scheduler:CyclicLR",
         "divergence": None, "missing": ["scheduler:CyclicLR"], "seconds": 0.0},
    ],
}


def test_summary_keeps_statuses_first_divergence_and_the_differing_trace_only(tool):
    variant = tool.variant_for_result(DOCUMENT, tool.REGISTRY)
    assert variant.name == "optax-float64"
    summary = tool.summarize(DOCUMENT, variant)
    assert summary["counts"] == {"pass": 1, "xfail": 1, "unsupported": 1}
    b = summary["results"][1]
    assert b["divergence"] == {"step": 3, "group": 0, "column": "lr", "expected": 0.05, "actual": 0.1, "ulps": 7}
    assert b["traces"] == {"actual": {}}  # the library's own trace; the expected one is the golden
    assert not {"snippet", "seconds"} & set(b)
    assert all("traces" not in r for r in summary["results"][::2])


def test_a_differing_library_trace_survives_the_summary_and_is_drawn_by_the_site(tool, tmp_path):
    """The site draws a library's curve over the golden when its saved result keeps the trace: round trip a run
    document through summarize/save_summary and load it the way `lr-conformance site` does."""
    from dataclasses import replace

    from conformance.model import json_safe
    from conformance.site import data, pages

    checkout = data.Sources.checkout()
    site = data.load(replace(checkout, results=tmp_path / "none"))
    case = next(c for c in site.cases if c.scheduler == "StepLR" and len(c.golden.trace.observations) > 4)
    golden = case.golden.trace.to_json()
    actual = {"observations": [[s, g, lr * 2, *rest] for s, g, lr, *rest in golden["observations"]],
              "events": [[1, "scheduler.step", "warning", "UserWarning", "a warning, with a \"quote\""]]}
    actual["observations"][-1][2] = "nan"  # non-finite values travel as strings (report.json_safe)
    divergence = {"step": 0, "group": 0, "column": "lr", "expected": golden["observations"][0][2],
                  "actual": actual["observations"][0][2], "ulps": None}
    passing = next(c for c in site.cases if c.scheduler == "StepLR" and c.id != case.id)
    document = {**DOCUMENT, "results": [
        {"id": case.id, "scheduler": "StepLR", "status": "fail", "detail": "d", "divergence": divergence,
         "missing": [], "traces": {"expected": golden, "actual": actual}},
        {"id": passing.id, "scheduler": "StepLR", "status": "pass", "detail": "", "divergence": None,
         "missing": [], "traces": {"expected": golden, "actual": golden}},
    ]}
    variant = tool.variant_for_result(document, tool.REGISTRY)
    path = tool.save_summary(tool.summarize(document, variant), tmp_path / "results")
    text = path.read_text(encoding="utf-8")
    assert json.loads(text)["results"][0]["traces"] == {"actual": actual}
    assert "traces" not in json.loads(text)["results"][1]
    rows = [line for line in text.splitlines() if line.lstrip().startswith("[0, 0,")]
    assert len(rows) == 1  # one line per observation row, not one per number

    site = data.load(replace(checkout, results=tmp_path / "results"))
    result = site.libraries[0].result(case.id)
    assert json_safe(result.trace.to_json()) == actual  # nan included, so compared in the wire format
    plot = dict(pages.plan(site).plots)[f"plots/cases/{case.id}.svg"]
    drawn = [c for c in plot.curves if c.style == "library"]
    assert [c.label for c in drawn] == ["optax-float64: differs (fail: not in the expectations)"]
    assert drawn[0].trace == result.trace
    assert site.libraries[0].result(passing.id).trace is None


def test_matrix_and_porting_guide(tool, tmp_path, monkeypatch):
    monkeypatch.setattr(tool, "EXPECTATIONS_DIR", tmp_path)
    (tmp_path / "optax-float64.toml").write_text(
        '[[differs]]\nid = "steplr/b"\nreason = "a known reason"\nlink = "https://example.org/1"\n')
    registry = [v for v in tool.REGISTRY if v.library == "optax"]
    summaries = {"optax-float64": tool.summarize(DOCUMENT, registry[0])}
    files = {p.relative_to(tool.ROOT).as_posix(): text for p, text in tool.render(registry, summaries).items()}
    matrix = files["docs/conformance-matrix.md"]
    assert matrix.startswith(tool.HEADER)
    assert "| StepLR | 1 pass, 1 differs |" in matrix
    assert "| CyclicLR | 1 unsupported |" in matrix
    assert "step 3 group 0 lr: expected 0.05, got 0.1 (7 ulp) | a known reason ([link](https://example.org/1))" in matrix
    porting = files["docs/porting/optax.md"]
    assert porting.startswith(tool.HEADER)
    assert "optax.exponential_decay(init_value=lr, transition_steps=step_size" in porting
    assert "## CyclicLR\n\n**No equivalent.**" in porting
    assert "- `steplr/b` (optax-float64): a known reason" in porting


def test_committed_docs_are_what_the_saved_results_generate(tool):
    assert tool.main(["--no-run", "--check"]) == 0
