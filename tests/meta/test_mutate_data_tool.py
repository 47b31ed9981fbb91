"""tools/mutate_data.py: the suite's data files, mutated, given to the commands that read them. A short seeded
campaign on the real commands finds nothing bad; and the tool itself can fail - a command that exits 0 on
everything is caught passing corrupted goldens, and one that prints a traceback is caught too. The full
campaign is `python tools/mutate_data.py` (its figures: README, "Hostile data")."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import pytest
from helpers import load_tool

ROOT = Path(__file__).resolve().parents[2]
FAKE = str(ROOT / "tests" / "meta" / "fakes" / "halving_reference.py")
mutate_data = load_tool("mutate_data", "mutate_data")

pytestmark = pytest.mark.release_independent


def test_a_short_campaign_on_the_real_commands_finds_nothing_bad(capsys):
    code = mutate_data.main(["--kinds", "golden", "manifest", "cases", "--trials", "2", "--seed", "5",
                             "--adapter", FAKE])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "6 trials" in out and ": 0 bad" in out, out


def test_a_command_that_always_exits_0_is_caught_passing_corrupted_goldens(capsys):
    always_ok = f"{shlex.quote(sys.executable)} -c pass"
    code = mutate_data.main(["--kinds", "golden", "--trials", "3", "--seed", "2", "--lr-conformance", always_ok])
    out = capsys.readouterr().out
    assert code == 1, out
    assert "false pass" in out and "(0 false pass" not in out, out


def test_a_traceback_is_caught(capsys):
    crashing = (f"{shlex.quote(sys.executable)} -c "
                + shlex.quote("import sys; sys.stderr.write('Traceback (most recent call last):\\n'); sys.exit(2)"))
    code = mutate_data.main(["--kinds", "cases", "--trials", "1", "--lr-conformance", crashing])
    out = capsys.readouterr().out
    assert code == 1 and "-> traceback" in out, out
