"""Manifest integrity, regeneration (refusal, accept, idempotence) and atomic writes, on a scratch directory."""

import os

import pytest
from helpers import HalvingAdapter, make_case, snapshot

from conformance import golden, runner, traces
from conformance.model import Status
from conformance.regenerate import regenerate

CASES = [make_case("steplr/one"), make_case("steplr/two", steps=3)]


@pytest.fixture
def store_dir(tmp_path):
    root = tmp_path / "traces"
    assert regenerate(HalvingAdapter(), CASES, golden.load(root), out=lambda s: None) == 0
    return root


def test_regen_writes_manifest_and_traces(store_dir):
    store = golden.load(store_dir)
    assert set(store.entries) == {"steplr/one", "steplr/two"}
    assert golden.problems(store, CASES) == []
    trace, _ = store.expected(CASES[0], None)
    assert [o.lr for o in trace.observations[:4]] == [0.1, 0.05, 0.05, 0.025]


def test_second_regen_changes_no_byte(store_dir):
    before = snapshot(store_dir)
    lines = []
    assert regenerate(HalvingAdapter(), CASES, golden.load(store_dir), out=lines.append) == 0
    assert snapshot(store_dir) == before
    assert "nothing written" in lines[-1]


def test_changed_trace_is_refused_without_accept(store_dir):
    before = snapshot(store_dir)
    lines = []
    assert regenerate(HalvingAdapter(0.25), CASES, golden.load(store_dir), out=lines.append) == 1
    assert snapshot(store_dir) == before
    text = "\n".join(lines)
    assert "changed  steplr/one" in text and "step 1 group 0 lr" in text and "max |lr diff|" in text


def test_accept_rewrites(store_dir):
    assert regenerate(HalvingAdapter(0.25), CASES, golden.load(store_dir), accept=True, out=lambda s: None) == 0
    trace, _ = golden.load(store_dir).expected(CASES[0], None)
    assert trace.observations[2].lr == 0.1 * 0.25


def test_removed_case_needs_accept(store_dir):
    assert regenerate(HalvingAdapter(), CASES[:1], golden.load(store_dir), out=lambda s: None) == 1
    assert regenerate(HalvingAdapter(), CASES[:1], golden.load(store_dir), accept=True, out=lambda s: None) == 0
    assert not (store_dir / "steplr/two.csv").exists()
    assert golden.problems(golden.load(store_dir), CASES[:1]) == []


def test_regen_refuses_a_non_reference_release(store_dir):
    lines = []
    assert regenerate(HalvingAdapter(mirrors="2.7.1"), CASES, golden.load(store_dir), out=lines.append) == 2
    assert "reference release is torch 2.13.0" in lines[0]


def test_hand_edited_golden_is_detected(store_dir):
    path = store_dir / "steplr/one.csv"
    path.write_text(path.read_text().replace("0.025", "0.0250000001", 1))
    store = golden.load(store_dir)
    assert any("does not match its manifest hash" in p and "one.csv" in p for p in golden.problems(store, CASES))
    outcome = runner.run_case(HalvingAdapter(), CASES[0], store)
    assert outcome.status is Status.ERROR and "one.csv" in outcome.detail


def test_changed_spec_is_detected(store_dir):
    edited = [make_case("steplr/one", steps=7), CASES[1]]
    found = golden.problems(golden.load(store_dir), edited)
    assert found == ["tests/meta: steplr/one: spec changed since its golden was generated (run `lr-conformance regen`)"]


def test_missing_and_orphan_goldens_are_detected(store_dir):
    (store_dir / "steplr/stray.csv").write_text("x")
    found = golden.problems(golden.load(store_dir), [CASES[0], make_case("steplr/three")])
    assert any("steplr/three: has no golden" in p for p in found)
    assert any("orphan golden 'steplr/two'" in p for p in found)
    assert any("stray.csv: orphan trace file" in p for p in found)


def test_corrupt_manifest_is_one_line(store_dir):
    (store_dir / golden.MANIFEST).write_text("{not json")
    with pytest.raises(golden.GoldenError) as info:
        golden.load(store_dir)
    assert "manifest.json: not valid JSON" in str(info.value) and "\n" not in str(info.value)


def test_interrupted_write_leaves_old_goldens_intact(store_dir, monkeypatch):
    before = snapshot(store_dir)
    real_write = type(store_dir).write_text
    calls = {"n": 0}

    def dying_write(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt  # Ctrl-C halfway through writing the new files
        return real_write(self, *args, **kwargs)

    monkeypatch.setattr(type(store_dir), "write_text", dying_write)
    with pytest.raises(KeyboardInterrupt):
        regenerate(HalvingAdapter(0.25), CASES, golden.load(store_dir), accept=True, out=lambda s: None)
    monkeypatch.undo()
    assert snapshot(store_dir) == before
    golden.load(store_dir)  # the next run cleans the staging directory
    assert not store_dir.with_name(".traces.new").exists()


def test_interruption_between_the_renames_is_recovered(store_dir):
    before = snapshot(store_dir)
    backup = store_dir.with_name(".traces.old")
    os.replace(store_dir, backup)  # the state right after the first rename
    golden.load(store_dir)
    assert snapshot(store_dir) == before and not backup.exists()


def test_trace_files_use_the_documented_csv(store_dir):
    text = (store_dir / "steplr/two.csv").read_text()
    assert text.splitlines()[0] == ",".join(traces.COLUMNS)
