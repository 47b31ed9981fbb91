"""A third party's project, as the docs tell them to write it: their own scheduler package (here the example
tinysched, with its adapter and expectations) and the 3-line test file that runs every case through the
lr-conformance pytest plugin. Shared by the plugin tests and the installed-wheel test, which run it with
pytest in a subprocess and compare what pytest reports with what `lr-conformance run` reports."""

from __future__ import annotations

import importlib.metadata
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "tinysched"

# The file examples/README.md shows (test_packaging.py checks that it still does).
TEST_FILE = """\
from conformance.pytest_plugin import check_case

def test_lr_conformance(conformance_case, conformance_outcomes):
    check_case(conformance_case, conformance_outcomes)
"""

# How pytest reports each CLI status (conformance/pytest_plugin.py, check_case).
PYTEST_OUTCOME = {"pass": "passed", "fail": "failed", "error": "failed", "timeout": "failed", "crash": "failed",
                  "xpass": "failed", "xfail": "xfailed", "unsupported": "skipped", "skip": "skipped"}


def make_project(parent: Path, name: str = "my project") -> Path:
    """A project directory (with a space in its name) holding tinysched and tests/test_lr_conformance.py."""
    root = parent / name
    (root / "tests").mkdir(parents=True)
    (root / "tests" / "test_lr_conformance.py").write_text(TEST_FILE, encoding="utf-8")
    shutil.copytree(EXAMPLE, root / "tinysched", ignore=shutil.ignore_patterns("__pycache__"))
    return root


def plugin_args() -> list[str]:
    """`-p` for the plugin when this environment has no installed entry point for it (a bare checkout)."""
    installed = any(ep.value == "conformance.pytest_plugin" for ep in importlib.metadata.entry_points(group="pytest11"))
    return [] if installed else ["-p", "conformance.pytest_plugin"]


def junit_outcomes(path: Path) -> dict[str, tuple[str, str]]:
    """{case id: (pytest outcome, message)} from pytest's --junitxml file."""
    found = {}
    for testcase in ET.parse(path).getroot().iter("testcase"):
        case_id = testcase.get("name").partition("[")[2].rstrip("]")
        outcome, message = "passed", ""
        for child in testcase:
            if child.tag in ("failure", "error"):
                outcome, message = "failed", child.text or child.get("message", "")
            elif child.tag == "skipped":
                xfail = child.get("type") == "pytest.xfail"
                outcome, message = ("xfailed" if xfail else "skipped"), child.get("message", "")
        found[case_id] = (outcome, message)
    return found


def disagreements(document: dict, junit: dict[str, tuple[str, str]]) -> list[str]:
    """Where pytest's report of a run differs from the CLI's result document: another outcome for a status,
    a message without the CLI's detail, or a case only one of them has. Empty when they agree."""
    found = []
    cli = {r["id"]: r for r in document["results"]}
    for case_id in sorted(set(cli) | set(junit)):
        if case_id not in cli or case_id not in junit:
            found.append(f"{case_id}: only in {'pytest' if case_id in junit else 'the CLI result'}")
            continue
        result, (outcome, message) = cli[case_id], junit[case_id]
        if outcome != PYTEST_OUTCOME[result["status"]]:
            found.append(f"{case_id}: CLI {result['status']}, pytest {outcome}")
        elif result["status"] != "pass" and result["detail"] not in " ".join(message.split()):
            found.append(f"{case_id}: pytest's message lacks the CLI's detail {result['detail']!r}: {message!r}")
    return found
