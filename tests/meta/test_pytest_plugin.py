"""The pytest plugin as a third party runs it (pytest in a subprocess, in their project): the CLI's statuses
and messages, rerun lines that grade a case the way pytest did, one usage error for a bad configuration, and
option values that cannot be mistaken for test paths."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from project_helpers import disagreements, junit_outcomes, make_project, plugin_args

from conformance.cli import main

CASES = "steplr/*"


def run_pytest(root: Path, *args: str, bug: bool = False, cwd: Path | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("TINYSCHED_BUG", "LR_CONFORMANCE_ADAPTER")}
    if bug:
        env["TINYSCHED_BUG"] = "1"
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *plugin_args(), *args],
                          cwd=cwd or root, env=env, capture_output=True, text=True, timeout=300)


@pytest.fixture
def project(tmp_path):
    return make_project(tmp_path)


def grading_options(root: Path) -> list[str]:
    return [f"--lr-adapter={root / 'tinysched' / 'adapter.py'}", "--lr-expectations=tinysched/expectations.toml",
            "--lr-rtol=1e-9", f"--lr-case={CASES}"]


def cli_document(root: Path, argv: list[str], monkeypatch, capsys, bug: bool) -> dict:
    """`lr-conformance <argv> --format json` run in `root`, as the CLI."""
    monkeypatch.chdir(root)
    if bug:
        monkeypatch.setenv("TINYSCHED_BUG", "1")
    else:
        monkeypatch.delenv("TINYSCHED_BUG", raising=False)
    capsys.readouterr()
    main([*argv, "--format", "json"])
    return json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("bug", [True, False], ids=["fail-and-xfail", "xpass"])
def test_statuses_messages_and_rerun_lines_are_the_clis(project, monkeypatch, capsys, bug):
    junit = project / "junit.xml"
    done = run_pytest(project, *grading_options(project), f"--junitxml={junit}", bug=bug)
    assert done.returncode == 1, done.stdout + done.stderr
    reported = junit_outcomes(junit)

    adapter = str(project / "tinysched" / "adapter.py")
    document = cli_document(project, ["run", "--adapter", adapter, "--expectations", "tinysched/expectations.toml",
                                      "--rtol", "1e-9", "-k", CASES], monkeypatch, capsys, bug)
    assert disagreements(document, reported) == []
    failed = {case_id: message for case_id, (outcome, message) in reported.items() if outcome == "failed"}
    statuses = {r["id"]: r["status"] for r in document["results"]}
    assert {statuses[i] for i in failed} == ({"fail"} if bug else {"xpass"})

    for case_id, message in failed.items():
        (line,) = re.findall(r"rerun: (lr-conformance run .*)", message)
        argv = shlex.split(line)[1:]
        assert "--adapter" in argv and "--rtol" in argv and "--expectations" in argv, line
        rerun = cli_document(project, argv, monkeypatch, capsys, bug)
        assert [(r["id"], r["status"]) for r in rerun["results"]] == [(case_id, statuses[case_id])], line


def test_a_bad_adapter_string_is_one_usage_error(project):
    done = run_pytest(project, "--lr-adapter=no/such/adapter.py")
    assert done.returncode == 4, done.stdout + done.stderr
    lines = [line for line in (done.stdout + done.stderr).splitlines() if line.startswith("ERROR")]
    assert lines == ["ERROR: lr-conformance: --lr-adapter 'no/such/adapter.py': no such file 'no/such/adapter.py'"]
    assert "Traceback" not in done.stdout + done.stderr


def test_a_missing_expectations_file_is_one_usage_error(project):
    done = run_pytest(project, f"--lr-adapter={project / 'tinysched' / 'adapter.py'}", "--lr-expectations=nope.toml")
    assert done.returncode == 4, done.stdout + done.stderr
    (line,) = [line for line in (done.stdout + done.stderr).splitlines() if line.startswith("ERROR")]
    assert line.startswith("ERROR: lr-conformance: nope.toml: expectations file not found"), line


@pytest.mark.parametrize("value", ["nan", "-1", "inf"])
def test_a_tolerance_must_be_finite_and_not_negative(project, value):
    done = run_pytest(project, f"--lr-rtol={value}")
    assert done.returncode == 4 and "invalid tolerance value" in done.stderr, done.stdout + done.stderr


def test_an_adapter_in_another_project_works_given_with_equals(tmp_path):
    """The form the docs give: --lr-adapter=PATH, one argument, a space in the path; the rootdir and config stay
    the project's. As two arguments, pytest would read PATH as a test path first (the rootdir and config would
    come from the adapter's project): the plugin refuses that with one line naming the working form."""
    project = make_project(tmp_path)
    other = make_project(tmp_path, "their adapters")
    (other / "pyproject.toml").write_text('[tool.pytest.ini_options]\naddopts = "--strict-markers -x"\n')
    adapter = str(other / "tinysched" / "adapter.py")

    done = run_pytest(project, f"--lr-adapter={adapter}", f"--lr-case={CASES}")
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"rootdir: {project}" in done.stdout

    done = run_pytest(project, "--lr-adapter", adapter, f"--lr-case={CASES}")
    assert done.returncode == 4, done.stdout + done.stderr
    (line,) = [line for line in (done.stdout + done.stderr).splitlines() if "--lr-adapter" in line]
    assert line.startswith(f"ERROR: --lr-adapter {adapter}: pytest took {adapter} for a test path") and \
        line.endswith(f"--lr-adapter={adapter}"), line


def test_the_clis_own_rerun_lines_repeat_its_grading_options(project, monkeypatch, capsys):
    """The same contract for `lr-conformance run`: an XPASS under --expectations reruns as an XPASS."""
    argv = ["run", "--adapter", "tinysched/adapter.py", "--expectations", "tinysched/expectations.toml",
            "--atol", "1e-15", "-k", CASES]
    document = cli_document(project, argv, monkeypatch, capsys, bug=False)
    xpassed = [r for r in document["results"] if r["status"] == "xpass"]
    assert len(xpassed) == 2
    for result in xpassed:
        rerun = cli_document(project, shlex.split(result["reproduce"])[1:], monkeypatch, capsys, bug=False)
        assert [(r["id"], r["status"]) for r in rerun["results"]] == [(result["id"], "xpass")], result["reproduce"]
        assert "--atol 1e-15" in result["reproduce"]


def test_a_corrupt_golden_stops_the_session_before_any_case_with_one_line_naming_it(project, tmp_path):
    """The CLI's preflight, in the plugin: a golden whose bytes no longer match the manifest is one usage error
    (exit 4) naming the file, and no case runs — not an ERROR repeated in each case that reads it."""
    import shutil

    from conformance import resources

    goldens = shutil.copytree(resources.GOLDEN_DIR, tmp_path / "golden")
    csv = goldens / "traces" / "steplr" / "gamma-half-step3.csv"
    csv.write_bytes(csv.read_bytes().replace(b"\n", b"\r\n"))
    env = {**os.environ, resources.GOLDENS_ENV: str(goldens)}
    env.pop("LR_CONFORMANCE_ADAPTER", None)
    done = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *plugin_args(),
                           f"--lr-case={CASES}"], cwd=project, env=env, capture_output=True, text=True, timeout=300)
    output = done.stdout + done.stderr
    assert done.returncode == 4, output
    lines = [line for line in output.splitlines() if line.startswith("ERROR")]
    assert len(lines) == 1 and "steplr/gamma-half-step3.csv" in lines[0], lines
    assert "passed" not in output and "Traceback" not in output, output
