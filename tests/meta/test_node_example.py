"""The Node.js example (examples/node), an implementation written from docs/spec.md, graded through the
subprocess protocol exactly as a user would: `lr-conformance run --adapter 'cmd:node examples/node/adapter.js'`.
Skipped, saying so, where `node` is not on PATH."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from conformance.cli import main

ROOT = Path(__file__).resolve().parents[2]
ADAPTER = ROOT / "examples" / "node" / "adapter.js"
NODE = shutil.which("node")
pytestmark = pytest.mark.skipif(NODE is None, reason="node is not on PATH: the Node.js example (examples/node) "
                                                    "was not run; install Node.js >= 18 to run it")
SCHEDULERS = {"StepLR", "MultiStepLR", "ExponentialLR", "CosineAnnealingLR", "LinearLR", "ReduceLROnPlateau"}


def run(tmp_path, *extra) -> tuple[int, dict]:
    out = tmp_path / "result.json"
    code = main(["run", "--adapter", f"cmd:{NODE} {ADAPTER}", "--json", str(out), "-q", *extra])
    return code, json.loads(out.read_text())


def test_it_passes_every_case_it_declares(tmp_path):
    code, document = run(tmp_path)
    assert code == 0, [r["detail"] for r in document["results"] if r["status"] != "pass"][:5]
    assert set(document["adapter"]["schedulers"]) == SCHEDULERS
    graded = [r for r in document["results"] if r["status"] != "unsupported"]
    assert {r["status"] for r in graded} == {"pass"}
    assert {r["scheduler"] for r in graded} == SCHEDULERS
    # resume by state dict and by last_epoch, scheduler-first, step(epoch), warnings and errors are all graded
    ids = {r["id"] for r in graded}
    for needed in ("steplr/resume-state-dict-at-4", "reducelronplateau/resume-state-dict-in-cooldown",
                   "exponentiallr/last-epoch-without-initial-lr", "multisteplr/scheduler-first",
                   "linearlr/step-epoch", "cosineannealinglr/tmax-zero", "reducelronplateau/nan-metric"):
        assert needed in ids, needed


def test_its_tolerance_covers_only_the_stated_cosine_differences(tmp_path):
    """Bit-exact except where the stated reason applies: CosineAnnealingLR, at most 4 ULPs (V8's Math.cos vs
    glibc's cos, carried by the recursive form)."""
    code, document = run(tmp_path, "--rtol", "0", "--atol", "0", "--scheduler", "StepLR", "--scheduler",
                         "MultiStepLR", "--scheduler", "ExponentialLR", "--scheduler", "CosineAnnealingLR",
                         "--scheduler", "LinearLR", "--scheduler", "ReduceLROnPlateau")
    inexact = [r for r in document["results"] if r["status"] not in ("pass", "unsupported")]
    for result in inexact:
        assert result["scheduler"] == "CosineAnnealingLR" and result["status"] == "fail", result["detail"]
        assert result["divergence"]["column"] in ("lr", "last_lr") and result["divergence"]["ulps"] <= 4
    assert len(inexact) <= 3
    assert "V8's Math.cos" in document["adapter"]["tolerance"]["reason"]


def test_it_refuses_what_is_not_json_and_unknown_ops():
    requests = 'NaN\n{"op": "dance"}\n{"op": "hello", "protocol": 1}\n'
    out = subprocess.run([NODE, str(ADAPTER)], input=requests, capture_output=True, text=True, timeout=30, check=True)
    bare, unknown, hello = [json.loads(line) for line in out.stdout.splitlines()]
    assert "not JSON" in bare["error"] and "unknown op" in unknown["error"] and hello["name"] == "node-example"
