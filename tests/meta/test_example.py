"""examples/tinysched: an outsider's pure-Python implementation and its adapter pass every case they
support, and the suite catches the example's deliberate bug (TINYSCHED_BUG=1) exactly where it bites."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from conformance import cases as cases_mod, golden, runner
from conformance.adapters import load_adapter
from conformance.cli import main
from conformance.expectations import load_expectations
from conformance.model import Status

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "tinysched"
ADAPTER = str(EXAMPLE / "adapter.py")
CASE = "steplr/gamma-half-step3"


@pytest.fixture
def store():
    return golden.load()


def case(case_id):
    (found,) = cases_mod.select(cases_mod.load_cases(), [case_id])
    return found


def test_tinysched_passes_every_case_it_supports(store, monkeypatch):
    monkeypatch.delenv("TINYSCHED_BUG", raising=False)
    outcomes = runner.run_cases(load_adapter(ADAPTER), cases_mod.load_cases(), store)
    statuses = {o.case_id: o.status for o in outcomes}
    wrong = {o.case_id: f"{o.status.value}: {o.detail}" for o in outcomes
             if o.status not in (Status.PASS, Status.UNSUPPORTED, Status.SKIP)}
    assert not wrong, wrong
    assert statuses[CASE] is Status.PASS and statuses["steplr/resume-state-dict-at-4"] is Status.PASS
    assert statuses["steplr/step-size-zero"] is Status.UNSUPPORTED  # tinysched does not declare `errors`
    # a leftover initial_lr is torch's base lr, which a tinysched schedule (one base lr: its lr) cannot express
    assert statuses["cosineannealinglr/initial-lr-without-last-epoch"] is Status.UNSUPPORTED


def test_the_deliberate_bug_is_caught_where_it_bites(store, monkeypatch):
    monkeypatch.setenv("TINYSCHED_BUG", "1")
    outcome = runner.run_case(load_adapter(ADAPTER), case(CASE), store)
    d = outcome.divergence
    assert outcome.status is Status.FAIL
    assert (d.step, d.group, d.column, d.expected, d.actual) == (2, 0, "lr", 0.1, 0.05)


def test_expectations_file_turns_the_bug_into_xfail_and_is_strict(store, monkeypatch):
    expectations = load_expectations(EXAMPLE / "expectations.toml")
    options = runner.RunOptions(expectations=expectations)
    listed = [case(i) for i in expectations]
    monkeypatch.setenv("TINYSCHED_BUG", "1")
    assert {o.status for o in runner.run_cases(load_adapter(ADAPTER), listed, store, options)} == {Status.XFAIL}
    monkeypatch.delenv("TINYSCHED_BUG")
    assert {o.status for o in runner.run_cases(load_adapter(ADAPTER), listed, store, options)} == {Status.XPASS}


def test_readme_command_writes_summary_json_and_html_with_a_plot(tmp_path, monkeypatch, capsys):
    pytest.importorskip("matplotlib")
    monkeypatch.setenv("TINYSCHED_BUG", "1")
    html, result = tmp_path / "report.html", tmp_path / "result.json"
    assert main(["run", "--adapter", ADAPTER, "-k", "steplr/*", "--report", str(html), "--json", str(result)]) == 1
    assert "NOT CONFORMANT" in capsys.readouterr().out
    assert json.loads(result.read_text())["counts"]["fail"] >= 1
    assert html.read_text().count("data:image/png;base64,") >= 1


def test_tinysched_never_imports_torch():
    code = (f"import sys; from conformance.adapters import load_adapter; from conformance import cases; "
            f"a = load_adapter({ADAPTER!r}); (c,) = cases.select(cases.load_cases(), [{CASE!r}]); a.trace(c); "
            "assert 'torch' not in sys.modules, 'torch was imported'")
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, timeout=60)


def test_tinysched_says_unsupported_for_a_setting_it_lacks():
    """examples/README tells adapter authors to raise Unsupported (exported by conformance.adapters), not
    NotImplementedError, which the runner records as the implementation's behaviour (an error)."""
    from conformance.adapters import Unsupported

    odd = cases_mod.parse_case({"id": "steplr/odd", "why": "x", "scheduler": "StepLR", "groups": [{"lr": 0.1}],
                                "steps": 3, "kwargs": {"step_size": 3, "verbose": False}},
                               source="tests/meta", family="steplr")
    with pytest.raises(Unsupported, match=r"no tinysched equivalent for \['verbose'\]"):
        load_adapter(ADAPTER).trace(odd)


# --- examples/README.md, as an outsider follows it ------------------------------------------------------------

README = (ROOT / "examples" / "README.md").read_text(encoding="utf-8")


def section(title: str) -> str:
    start = README.index(f"## {title}")
    end = README.find("\n## ", start + 1)
    return README[start:] if end < 0 else README[start:end]


def test_section_7_works_as_written_outside_the_checkout(tmp_path):
    """The bash block of section 7, run literally from the checkout's root with HOME in a scratch directory,
    prints the summaries the text says it does."""
    import importlib.metadata
    import os
    import re

    if not any(ep.value == "conformance.pytest_plugin" for ep in importlib.metadata.entry_points(group="pytest11")):
        pytest.skip("the pytest plugin is registered by installing the package (pip install -e .)")
    text = section("7. From your own test suite")
    (script,) = re.findall(r"```bash\n(.*?)```", text, re.S)
    env = {**os.environ, "HOME": str(tmp_path), "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    env.pop("LR_CONFORMANCE_ADAPTER", None)
    env.pop("TINYSCHED_BUG", None)
    done = subprocess.run(["bash", "-e", "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    first, second = re.findall(r"ends with `([^`]+)`|second with `([^`]+)`", text)
    summaries = [line for line in done.stdout.splitlines() if re.search(r"\d+ (passed|xfailed)", line)]
    assert len(summaries) == 2, done.stdout[-2000:]
    assert summaries[0].startswith(first[0]) and summaries[1].startswith(second[1]), summaries
    assert (tmp_path / "lr-demo" / "report.xml").is_file()


def test_the_walkthroughs_outputs_are_ignored_by_git():
    import re
    import shutil

    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    outputs = set(re.findall(r"--(?:report|json|html|md) ([\w./-]+)", README)) | {"report_plots/x.png"}
    assert {"report.html", "result.json", "report.md"} <= outputs
    for path in sorted(outputs):
        done = subprocess.run(["git", "check-ignore", "-q", path], cwd=ROOT)
        assert done.returncode == 0, f"{path} is written by examples/README.md's commands but not in .gitignore"
