"""tools/fuzz_releases.py, the adjacent-release fuzz campaign: the known changes it hands fuzz are exactly
docs/matrix/changes.toml's cases at the newer release (an expectations file the harness accepts), and it reads
the numbers it records from fuzz's own summary line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import load_tool

from conformance.cases import load_cases
from conformance.expectations import load_expectations

# The fuzzer's own machinery, calibrated on the reference torch 2.13.0: seeded draws, budgets and the known
# differences' diagnoses assume its signatures (on 1.13.1 the drawn ChainedScheduler(optimizer=...) is
# inexpressible and the attribution reads other traces). No release but the newest of a pair is ever fuzz's
# reference (tools/fuzz_releases.py): tox runs these in the reference env only.
pytestmark = pytest.mark.release_independent

ROOT = Path(__file__).resolve().parents[2]
fuzz_releases = load_tool("fuzz_releases")
matrix = fuzz_releases.matrix


def test_adjacent_pairs_in_the_order_given():
    assert fuzz_releases.pairs(["1.13.1", "2.0.1", "2.1.2"]) == [("1.13.1", "2.0.1"), ("2.0.1", "2.1.2")]
    assert len(fuzz_releases.pairs(list(matrix.RELEASES))) == 16


def test_known_changes_are_the_changes_cases_at_that_release_as_an_expectations_file(tmp_path):
    changes = matrix.load_changes()
    ids = {c.id for c in load_cases()}
    for release in matrix.RELEASES:
        listed = {case for change in changes if change["release"] == release for case in change["cases"]}
        path = tmp_path / f"known-{release}.toml"
        path.write_text(fuzz_releases.known_changes(release, changes), encoding="utf-8")
        assert set(load_expectations(path, ids)) == listed, release  # parses, names only real cases
    assert any(change["release"] == "2.2.2" for change in changes)
    assert fuzz_releases.known_changes("2.2.2", changes).count("[[differs]]") > 0


def test_the_summary_numbers_come_from_fuzz_s_own_line():
    done = subprocess.run([sys.executable, "-m", "conformance", "fuzz", "--adapter", "torch", "--max-examples", "5",
                           "--seed", "1", "-q"], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    numbers = fuzz_releases.summary(done.stdout + done.stderr)
    assert numbers["examples"] == 5 and numbers["compared"] == 5 and numbers["seed"] == 1, done.stdout
    assert numbers["examples_per_second"] > 0 and numbers["known"] == 0


def test_a_pair_is_searched_past_its_findings_until_the_budget_is_spent(tmp_path):
    """fuzz stops at its first divergence unless told to go on; the campaign runs it with --keep-going, so one
    early finding (a shape of a listed change) does not end a pair's ten minutes: later rounds count it as known
    and find the rest. Driven here with a deviant torch in place of the older release."""
    from fakes import deviants

    record = tmp_path / "findings.toml"
    command = [sys.executable, "-m", "conformance", "fuzz", "--adapter", f"{deviants.__file__}:CosineClamped",
               "--scheduler", "CosineAnnealingLR", "--seed", "0", "--record", str(record), "-q"]
    with open(tmp_path / "log", "w") as log:
        result = fuzz_releases.search_past_findings(command, 20, record, log, None)
    recorded = [line for line in record.read_text().splitlines() if line.startswith("id = ")]
    assert result["exit"] == 1 and result["outcome"] == "diverged", result
    assert result["rounds"] >= 2 and len(recorded) >= 2, result  # a later round went past the first finding
    assert result["findings"] == recorded, result  # each finding recorded once, in order
    assert result["examples"] > len(recorded) and result["examples_per_second"] > 0, result


def test_usage_errors_exit_2(capsys):
    assert fuzz_releases.main(["--releases", "2.13.0"]) == 2
    assert fuzz_releases.main(["--releases", "2.13.0", "9.9.9"]) == 2
    assert "unknown: 9.9.9" in capsys.readouterr().err


def test_a_pair_run_again_keeps_its_earlier_runs_in_the_record(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(fuzz_releases, "RECORD", tmp_path / "fuzz.json")
    monkeypatch.setattr(fuzz_releases, "WORK", tmp_path / "work")
    first = {"older": "2.8.0", "newer": "2.9.1", "budget_seconds": 600.0, "examples": 783, "exit": 1,
             "outcome": "diverged", "findings": ['id = "sequentiallr/fuzz-1"']}
    second = {**first, "examples": 20000, "exit": 0, "outcome": "no divergence", "findings": []}
    fuzz_releases.save(first)
    fuzz_releases.save(second)
    fuzz_releases.save({**second, "examples": 30000})
    saved = json.loads((tmp_path / "fuzz.json").read_text())["2.8.0->2.9.1"]
    assert saved["examples"] == 30000 and [run["examples"] for run in saved["earlier"]] == [783, 20000]
    rows = fuzz_releases.table(json.loads((tmp_path / "fuzz.json").read_text())).splitlines()[2:]
    assert [row.split("|")[4].strip() for row in rows] == ["783 (0)", "20000 (0)", "30000 (0)"], rows
    assert rows[0].startswith("| earlier run: 2.8.0 -> 2.9.1") and rows[2].startswith("| 2.8.0 -> 2.9.1")
