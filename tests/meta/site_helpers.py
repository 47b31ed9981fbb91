"""Shared by the site's tests (test_site.py without a browser, test_site_browser.py with one): one build of
the whole site per test session, an HTML reader that refuses malformed pages, and the matrix counted straight
from the result files (independently of conformance.site)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path
from urllib.parse import unquote, urlsplit

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "docs" / "results"
CHANGES_FIXTURE = Path(__file__).parent / "site_fixtures" / "changes.toml"

# How the matrix must count each status, written out here rather than imported from the code under test.
COUNTED_AS = {"pass": "pass", "xpass": "pass", "fail": "differs", "xfail": "differs", "error": "error",
              "timeout": "error", "crash": "error", "unsupported": "unsupported", "skip": "skip",
              "ungraded": "ungraded"}  # a page's row for a current case its result file has no result for

_BUILT: dict[str, tuple[Path, str]] = {}


def built_site(tmp_path_factory) -> tuple[Path, str]:
    """The site built once per session by the real command line (with the changes fixture): (OUT, its stdout)."""
    if "site" not in _BUILT:
        out = tmp_path_factory.mktemp("site") / "site"
        done = subprocess.run([sys.executable, "-m", "conformance", "site", str(out), "--changes", str(CHANGES_FIXTURE)],
                              cwd=ROOT, capture_output=True, text=True)
        assert done.returncode == 0, done.stdout + done.stderr
        _BUILT["site"] = (out, done.stdout)
    return _BUILT["site"]


def parse_html(path: Path):
    """The page's element tree; raises html5lib's ParseError on any HTML5 parse error (strict mode). Parsed once
    per session and path (html5lib is pure Python: the site's 300 pages take seconds); do not modify the tree."""
    key = (str(Path(path).resolve()), Path(path).stat().st_mtime_ns)
    if key not in _PARSED:
        import html5lib

        parser = html5lib.HTMLParser(strict=True, namespaceHTMLElements=False)
        _PARSED[key] = parser.parse(Path(path).read_bytes())
    return _PARSED[key]


_PARSED: dict = {}


def ids(tree) -> list[str]:
    return [element.get("id") for element in tree.iter() if element.get("id") is not None]


def references(tree) -> list[str]:
    """Every URL the page refers to: links, images, scripts, stylesheets."""
    found = []
    for element in tree.iter():
        for attribute in ("href", "src"):
            value = element.get(attribute)
            if value is not None and element.tag in ("a", "link", "img", "script"):
                found.append(value)
    return found


def internal_target(page: Path, url: str, root: Path) -> tuple[Path, str] | None:
    """(file, fragment) an internal URL points to, or None for an external one (http, https, mailto)."""
    parts = urlsplit(url)
    if parts.scheme or parts.netloc:
        return None
    target = (page.parent / unquote(parts.path)).resolve() if parts.path else page.resolve()
    assert root.resolve() in (target, *target.parents), f"{page}: {url} leaves the site"
    return target, unquote(parts.fragment)


def current_cases() -> dict[str, str]:
    """case id -> top-level scheduler, read from the case files with tomllib (not through conformance)."""
    import tomllib

    found = {}
    for path in sorted((ROOT / "golden" / "cases").glob("*.toml")):
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        default = data.get("defaults", {}).get("scheduler")
        for case in data.get("case", []):
            found[case["id"]] = case.get("scheduler", default)
    return found


def expected_matrix(results_dir: Path = RESULTS) -> dict[tuple[str, str], Counter]:
    """(variant, scheduler) -> Counter of categories, from the result files and the case files alone: a
    current case a result file has no result for is `ungraded` (the file predates it)."""
    cells: dict[tuple[str, str], Counter] = {}
    cases = current_cases()
    for path in sorted(results_dir.glob("*.json")):
        document = json.loads(path.read_text(encoding="utf-8"))
        variant = document.get("variant") or document["adapter"]["name"]
        for result in document["results"]:
            cells.setdefault((variant, result["scheduler"]), Counter())[COUNTED_AS[result["status"]]] += 1
        graded = {r["id"] for r in document["results"]}
        for case_id, scheduler in cases.items():
            if case_id not in graded:
                cells.setdefault((variant, scheduler), Counter())["ungraded"] += 1
    return cells


def result_counts(results_dir: Path = RESULTS) -> dict[str, dict[str, int]]:
    """variant -> the `counts` each result file states."""
    counts = {}
    for path in sorted(results_dir.glob("*.json")):
        document = json.loads(path.read_text(encoding="utf-8"))
        counts[document.get("variant") or document["adapter"]["name"]] = document["counts"]
    return counts
