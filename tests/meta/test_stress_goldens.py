"""tools/stress_goldens.py, a few rounds on a scratch copy with the torch-free reference stand-in: concurrent
regens with readers running, and regens killed with SIGKILL, lose nothing and leave nothing stuck. The full
campaign (20 concurrent rounds, 50 kills, real torch) is `python tools/stress_goldens.py`."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest
from helpers import load_tool

from conformance import golden

ROOT = Path(__file__).resolve().parents[2]
FAKE = str(ROOT / "tests" / "meta" / "fakes" / "halving_reference.py")
stress = load_tool("stress_goldens", "stress_goldens")

pytestmark = [pytest.mark.release_independent,
              pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")]


def test_concurrent_regens_and_killed_regens_lose_nothing():
    lines = []
    failures = stress.stress(["steplr"], FAKE, concurrent=1, kills=2, seed=1, out=lines.append)
    assert failures == [], "\n".join(lines)
    text = "\n".join(lines)
    assert "1 concurrent round(s)" in text and "2 kill round(s)" in text


def test_the_oracle_tells_a_mixture_from_either_state(tmp_path):
    scratch = stress.Scratch(tmp_path / "golden", FAKE)
    a = {"manifest.json": b"A", "x.csv": b"old"}
    s0 = {"manifest.json": b"S0", "x.csv": b"new"}
    scratch.states = {"A": a, "S0": s0}
    scratch.digests = {stress.snapshot_digest(f["manifest.json"], f): name for name, f in scratch.states.items()}

    def read(files):
        return golden.Goldens(scratch.traces, {}, {"x.csv": files["x.csv"]}, files["manifest.json"])

    assert stress.state_read(scratch, read(a)) == "A" and stress.state_read(scratch, read(s0)) == "S0"
    assert stress.state_read(scratch, read({"manifest.json": b"A", "x.csv": b"new"})) is None
