"""The fuzz campaign target (conformance/fuzz/campaign.py), run as its users run it: pytest collects it with its
options in LR_CONFORMANCE_FUZZ_ARGS; HypoFuzz fuzzes it (only where hypofuzz is installed: `tox -e campaign`).
And tools/fuzz_campaign.py's arithmetic."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import time

import pytest
from fakes import deviants
from helpers import load_tool

from conformance.fuzz import known

TOOL = load_tool("fuzz_campaign")  # the engines' command lines, the rate and the findings are the tool's
STEPLR_LATE = f"--adapter {deviants.__file__}:StepLRLate --scheduler StepLR"


def environment(tmp_path, args: str | None, **env) -> dict:
    """This process's environment without its own campaign settings, with a cache and a database in tmp_path."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("LR_CONFORMANCE_FUZZ")}
    environ.update(LR_CONFORMANCE_CACHE=str(tmp_path / "cache"), LR_CONFORMANCE_FUZZ_DATABASE=str(tmp_path / "db"),
                   **env)
    if args is not None:
        environ["LR_CONFORMANCE_FUZZ_ARGS"] = args
    return environ


def campaign(tmp_path, args: str | None, examples: int = 200, engine=None, timeout: float = 300, **env):
    tmp_path.mkdir(parents=True, exist_ok=True)
    environ = environment(tmp_path, args, LR_CONFORMANCE_FUZZ_EXAMPLES=str(examples), **env)
    command = engine or TOOL.plain()
    return subprocess.run(command, env=environ, cwd=tmp_path, capture_output=True, text=True, timeout=timeout)


def test_without_its_options_the_collection_fails_saying_what_to_set(tmp_path):
    done = campaign(tmp_path, None)
    assert done.returncode != 0
    assert "LR_CONFORMANCE_FUZZ_ARGS is not set" in done.stdout + done.stderr


def test_every_problem_of_its_options_is_reported_as_fuzz_reports_it(tmp_path):
    done = campaign(tmp_path, "--adapter torch --scheduler NoSuchLR --max-steps 0")
    out = done.stdout + done.stderr
    assert done.returncode != 0
    assert "lr-conformance: --scheduler NoSuchLR: not one of the 16 torch schedulers" in out
    assert "lr-conformance: --max-steps 0: must be between 1 and" in out


def test_a_planted_bug_fails_the_test_with_the_case_to_paste_and_is_replayed_from_the_database(tmp_path):
    fresh = campaign(tmp_path / "fresh", STEPLR_LATE, examples=1)  # one example of its own does not find it
    assert fresh.returncode == 0, fresh.stdout[-3000:]
    found = campaign(tmp_path, STEPLR_LATE)
    assert found.returncode == 1, found.stdout[-3000:]
    assert "DIVERGENCE  steplr/fuzz-" in found.stdout and "[[case]]" in found.stdout
    # the database the workers share keeps the finding: a run of one example replays it first
    shard = tmp_path / "shards" / "steplr"
    again = campaign(tmp_path, STEPLR_LATE, examples=1, engine=[*TOOL.plain(), f"--junitxml={shard / 'junit.xml'}"])
    assert again.returncode == 1 and "DIVERGENCE  steplr/fuzz-" in again.stdout
    # ... and the CI workflow's last job gathers it from the shard's JUnit report, as a file `fuzz --known` reads
    staging = tmp_path / "findings.toml"
    staging.write_text(TOOL.findings(tmp_path / "shards"))
    (case,) = known.load_staged([staging], lambda case: None)
    assert case.id in again.stdout and case.case.scheduler.name == "StepLR"


def test_torch_against_itself_passes_and_every_example_is_logged(tmp_path):
    log = tmp_path / "log"
    done = campaign(tmp_path, "--adapter torch --reference-in-process --scheduler StepLR", examples=60,
                    LR_CONFORMANCE_FUZZ_LOG=str(log))
    assert done.returncode == 0, done.stdout[-3000:]
    records = [json.loads(line) for path in log.glob("*.jsonl") for line in path.read_text().splitlines()]
    assert 30 <= len(records) <= 60  # hypothesis stops early when its choices run out
    assert {r["kind"] for r in records} == {"same"} and all(r["case"]["scheduler"] == "StepLR" for r in records)
    assert not (tmp_path / ".hypothesis").exists()  # hypothesis' files go to the fuzz cache


def test_a_rate_counts_only_the_examples_while_every_worker_runs():
    first = [{"pid": "1", "t": 100.0 + i} for i in range(10)]  # 100..109
    second = [{"pid": "2", "t": 105.0 + i / 2} for i in range(9)]  # starts at 105, ends at 109
    per_s, count, span = TOOL.rate(first + second)
    assert (count, span) == (5 + 9, 4.0) and per_s == 14 / 4


@pytest.mark.skipif(importlib.util.find_spec("hypofuzz") is None, reason="hypofuzz is not installed (tox -e campaign)")
def test_hypofuzz_finds_a_planted_bug_and_a_plain_run_replays_it(tmp_path):
    """HypoFuzz's worker keeps what it finds in the shared database, shrunk; pytest then replays it."""
    process = subprocess.Popen(TOOL.hypofuzz(1), env=environment(tmp_path, STEPLR_LATE), cwd=tmp_path, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.time() + 240
        while time.time() < deadline:
            time.sleep(5)
            replay = campaign(tmp_path, STEPLR_LATE, examples=1)  # the same database (tmp_path / "db")
            if replay.returncode == 1:
                break
    finally:
        os.killpg(process.pid, 9)
        process.wait()
    assert replay.returncode == 1 and "DIVERGENCE  steplr/fuzz-" in replay.stdout, replay.stdout[-3000:]
