"""The suite installed from a wheel, as a user gets it: `python -m build` (an sdist, then a wheel built from
that sdist) must carry every case file, every golden trace the manifest lists, the manifest, the schemas and
the recorded expectations; installed into a fresh virtualenv (with torch==2.13.0 and nothing else of this
checkout), it must grade from an empty directory exactly as the checkout does, and a third party's project
with only the 3-line test file must run every case through the pytest plugin with the CLI's statuses and
messages.

One build and one virtualenv serve every test here (about a minute on a 2-core machine, most of it installing
torch). The virtualenv gets `pip install --no-compile`: compiling torch's .py files would double that.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest
from project_helpers import TEST_FILE, disagreements, junit_outcomes, make_project

pytestmark = pytest.mark.release_independent

ROOT = Path(__file__).resolve().parents[2]
DATA = "conformance/_data"  # where the wheel carries the top-level data (pyproject.toml, conformance/resources.py)
CASE = "steplr/gamma-half-step3"


def shipped_files() -> list[str]:
    """Every data file the packages must carry, as a path relative to the repository root."""
    manifest = json.loads((ROOT / "golden" / "traces" / "manifest.json").read_text(encoding="utf-8"))
    traces = [f"golden/traces/{record['file']}" for entry in manifest["cases"].values() for record in entry["traces"]]
    assert len(traces) > len(manifest["cases"])  # reference and release-scoped traces
    listed = ["golden/traces/manifest.json", *traces]
    for pattern in ("golden/cases/*.toml", "schemas/*.json", "expectations/*.toml"):
        listed += [p.relative_to(ROOT).as_posix() for p in sorted(ROOT.glob(pattern))]
    return listed


@pytest.fixture(scope="module")
def dist(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run([sys.executable, "-m", "build", "--outdir", str(out), str(ROOT)], check=True,
                   capture_output=True, text=True, timeout=600)
    return out


def clean_env(**extra) -> dict:
    """The environment without this checkout's variables: no PYTHONPATH, no adapter, no pip constraint of the
    tox env (the test venv is its own); PIP_FIND_LINKS and the pip config stay (torch==2.13.0's wheel)."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "PIP_CONSTRAINT", "VIRTUAL_ENV", "TINYSCHED_BUG")
           and not k.startswith("LR_CONFORMANCE_")}
    return {**env, **extra}


@pytest.fixture(scope="module")
def venv(dist, tmp_path_factory) -> Path:
    """A fresh virtualenv with the built wheel ([test] extra) and torch==2.13.0: its bin directory."""
    home = tmp_path_factory.mktemp("venv")
    subprocess.run([sys.executable, "-m", "venv", str(home)], check=True, timeout=300)
    (wheel,) = dist.glob("*.whl")
    subprocess.run([str(home / "bin" / "python"), "-m", "pip", "install", "--quiet", "--no-compile",
                    f"{wheel}[test]", "torch==2.13.0"], check=True, env=clean_env(), timeout=900,
                   capture_output=True, text=True)
    return home / "bin"


def cli(venv: Path, cwd: Path, *args: str, **env) -> subprocess.CompletedProcess:
    return subprocess.run([str(venv / "lr-conformance"), *args], cwd=cwd, env=clean_env(**env),
                          capture_output=True, text=True, timeout=600)


def test_wheel_and_sdist_carry_every_case_trace_manifest_schema_and_expectations(dist):
    (wheel,) = dist.glob("*.whl")
    (sdist,) = dist.glob("*.tar.gz")
    with zipfile.ZipFile(wheel) as archive:
        in_wheel = {name: archive.read(name) for name in archive.namelist() if name.startswith(DATA + "/")}
    with tarfile.open(sdist) as archive:
        top = archive.getnames()[0].split("/")[0]
        in_sdist = {m.name.removeprefix(top + "/") for m in archive.getmembers() if m.isfile()}
    expected = shipped_files()
    missing = [rel for rel in expected if in_wheel.get(f"{DATA}/{rel}") != (ROOT / rel).read_bytes()]
    assert missing == [], f"missing or different in the wheel: {missing[:5]}"
    assert sorted(set(expected) - in_sdist) == []
    assert not [name for name in in_wheel if "/." in name or "__pycache__" in name]  # no staging, locks, caches


def test_wheel_carries_the_library_results_and_release_matrix_the_site_shows(dist):
    """`lr-conformance site` from a wheel shows the shipped library results (issue 20, item 10): the wheel holds
    docs/results and docs/matrix's data files, byte for byte, where conformance/resources.py looks for them."""
    (wheel,) = dist.glob("*.whl")
    with zipfile.ZipFile(wheel) as archive:
        in_wheel = {name: archive.read(name) for name in archive.namelist() if name.startswith(DATA + "/")}
    expected = {f"{DATA}/results/{p.name}": p for p in sorted((ROOT / "docs" / "results").glob("*.json"))}
    expected.update({f"{DATA}/matrix/{name}": ROOT / "docs" / "matrix" / name for name in ("results.json",
                                                                                       "changes.toml")})
    assert len(expected) > 2
    missing = [name for name, source in expected.items() if in_wheel.get(name) != source.read_bytes()]
    assert missing == [], f"missing or different in the wheel: {missing[:5]}"


def test_installed_wheel_grades_from_an_empty_directory_like_the_checkout(venv, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    done = cli(venv, empty, "run", "--json", "wheel.json", "-q")
    assert done.returncode == 0, done.stdout + done.stderr
    wheel = json.loads((empty / "wheel.json").read_text())
    # The same interpreter and torch, the checkout's code and data: the counts to match.
    checkout = subprocess.run([str(venv / "python"), "-m", "conformance", "run", "--json", str(tmp_path / "co.json"),
                               "-q"], cwd=ROOT, env=clean_env(PYTHONPATH=str(ROOT)), capture_output=True, text=True,
                              timeout=600)
    assert checkout.returncode == 0, checkout.stdout + checkout.stderr
    reference = json.loads((tmp_path / "co.json").read_text())
    assert wheel["counts"] == reference["counts"] and wheel["counts"]["pass"] == len(reference["results"])
    assert {r["id"]: r["status"] for r in wheel["results"]} == {r["id"]: r["status"] for r in reference["results"]}
    assert wheel["suite"] == reference["suite"]  # version, reference release and goldens digest
    assert "/site-packages/conformance/_data/golden/traces/" in wheel["results"][0]["expected_file"]
    assert list(empty.iterdir()) == [empty / "wheel.json"]  # reading the packaged goldens wrote nothing here


def test_installed_wheel_lists_shows_checks_reports_and_refuses_to_regen(venv, tmp_path):
    from conformance import cases

    listed = cli(venv, tmp_path, "list")
    assert listed.returncode == 0 and len(listed.stdout.splitlines()) == len(cases.load_cases())
    shown = cli(venv, tmp_path, "show", "-k", CASE)
    golden_lines = (ROOT / "golden" / "traces" / f"{CASE}.csv").read_text().splitlines()
    assert shown.returncode == 0 and [line for line in shown.stdout.splitlines() if not line.startswith("#")] == \
        golden_lines
    checked = cli(venv, tmp_path, "check")
    assert checked.returncode == 0 and checked.stdout.splitlines()[-1].endswith("0 problem(s)"), checked.stdout
    assert cli(venv, tmp_path, "run", "-k", "steplr/*", "--json", "r.json", "-q").returncode == 0
    reported = cli(venv, tmp_path, "report", "r.json")
    assert reported.returncode == 0 and "OK" in reported.stdout
    regen = cli(venv, tmp_path, "regen")
    assert regen.returncode == 2 and regen.stderr.count("\n") == 1 and "regen needs a checkout" in regen.stderr
    adapters = cli(venv, tmp_path, "adapters")
    from conformance.adapters import BUILTIN

    assert adapters.returncode == 0 and len(adapters.stdout.splitlines()) == len(BUILTIN)  # one line per name
    assert "importable: torch 2.13.0" in adapters.stdout
    # a library adapter by name (its library is not installed there), and its recorded expectations by name
    paddle = cli(venv, tmp_path, "run", "--adapter", "paddle64", "--expectations", "paddle-float64")
    assert paddle.returncode == 2 and paddle.stderr.startswith("lr-conformance: --adapter 'paddle64': "), paddle.stderr
    shipped = subprocess.run([str(venv / "python"), "-c", "from conformance import resources, expectations; "
                              "print(len(expectations.load_expectations(resources.expectations_file('paddle-float64'))))"],
                             cwd=tmp_path, env=clean_env(), capture_output=True, text=True, timeout=120)
    assert shipped.returncode == 0 and int(shipped.stdout) > 0, shipped.stderr


def test_a_third_partys_three_line_test_file_runs_every_case_as_the_cli_does(venv, tmp_path):
    readme = (ROOT / "examples" / "README.md").read_text(encoding="utf-8")
    assert TEST_FILE in readme  # the file the docs show is the one tested here
    project = make_project(tmp_path)
    junit = project / "junit.xml"
    options = ["--lr-adapter=tinysched/adapter.py", "--lr-expectations=tinysched/expectations.toml"]
    done = subprocess.run([str(venv / "python"), "-m", "pytest", "-q", f"--junitxml={junit}", *options],
                          cwd=project, env=clean_env(TINYSCHED_BUG="1"), capture_output=True, text=True, timeout=600)
    assert done.returncode == 1, done.stdout + done.stderr  # the deliberate bug fails some cases
    ran = cli(venv, project, "run", "--adapter", "tinysched/adapter.py", "--expectations",
              "tinysched/expectations.toml", "--format", "json", TINYSCHED_BUG="1")
    assert ran.returncode == 1, ran.stderr
    document = json.loads(ran.stdout)
    reported = junit_outcomes(junit)
    assert len(reported) == len(document["results"]) == document["counts"]["pass"] + sum(
        n for status, n in document["counts"].items() if status != "pass")
    assert {"pass", "fail", "xfail", "unsupported"} <= {s for s, n in document["counts"].items() if n}
    assert disagreements(document, reported) == []
