"""Manifest integrity, regeneration (refusal, accept, idempotence) and atomic writes, on a scratch directory."""

import os

import pytest
from helpers import HalvingAdapter, make_case, snapshot

from conformance import golden, runner, traces
from conformance.model import Status
from conformance.regenerate import regenerate, regenerate_scoped

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


# --- release-scoped traces (regen --scoped) ---------------------------------------------------


def _scoped(store_dir, factor, release, accept=False):
    lines = []
    code = regenerate_scoped(HalvingAdapter(factor, mirrors=release), CASES, golden.load(store_dir),
                             accept=accept, out=lines.append)
    return code, "\n".join(lines)


def test_a_differing_release_gets_a_tightly_scoped_variant(store_dir):
    assert _scoped(store_dir, 0.25, "2.7.1")[0] == 0
    store = golden.load(store_dir)
    records = store.entry("steplr/one")["traces"]
    assert [(r["torch"], r["file"], r["generated_by"]) for r in records[1:]] == [
        (">=2.7,<2.8", "steplr/one@torch2.7.csv", ["2.7.1"])]
    assert golden.problems(store, CASES) == []
    # the release is graded against its own variant, its neighbours against the reference
    assert runner.run_case(HalvingAdapter(0.25, mirrors="2.7.1"), CASES[0], store).status is Status.PASS
    assert runner.run_case(HalvingAdapter(0.25, mirrors="2.8.0"), CASES[0], store).status is Status.FAIL
    assert runner.run_case(HalvingAdapter(0.5, mirrors="2.8.0"), CASES[0], store).status is Status.PASS


def test_consecutive_releases_with_one_behaviour_share_one_variant(store_dir):
    for release in ("2.9.1", "2.7.1", "2.8.0"):
        assert _scoped(store_dir, 0.25, release)[0] == 0
    assert _scoped(store_dir, 0.5, "2.10.0")[0] == 0
    records = golden.load(store_dir).entry("steplr/one")["traces"]
    assert records[0]["generated_by"] == ["2.10.0", "2.13.0"]
    assert [(r["torch"], r["generated_by"]) for r in records[1:]] == [(">=2.7,<2.10", ["2.7.1", "2.8.0", "2.9.1"])]
    assert sorted(p.name for p in (store_dir / "steplr").iterdir()) == [
        "one.csv", "one@torch2.7-2.9.csv", "two.csv", "two@torch2.7-2.9.csv"]


def test_a_release_agreeing_in_between_splits_the_variant(store_dir):
    for factor, release in ((0.25, "2.7.1"), (0.5, "2.8.0"), (0.25, "2.9.1")):
        assert _scoped(store_dir, factor, release)[0] == 0
    records = golden.load(store_dir).entry("steplr/one")["traces"]
    assert [r["torch"] for r in records[1:]] == [">=2.7,<2.8", ">=2.9,<2.10"]


def test_scoped_regen_is_idempotent_and_refuses_a_changed_release(store_dir):
    assert _scoped(store_dir, 0.25, "2.7.1")[0] == 0
    before = snapshot(store_dir)
    code, text = _scoped(store_dir, 0.25, "2.7.1")
    assert code == 0 and "nothing written" in text and snapshot(store_dir) == before
    code, text = _scoped(store_dir, 0.125, "2.7.1")
    assert code == 1 and "changed  steplr/one: torch 2.7.1: step 1 group 0 lr" in text
    assert snapshot(store_dir) == before
    assert _scoped(store_dir, 0.125, "2.7.1", accept=True)[0] == 0
    assert _scoped(store_dir, 0.5, "2.7.1", accept=True)[0] == 0  # back to the reference: the variant goes
    assert not list(store_dir.rglob("*@*.csv"))


def test_scoped_regen_refuses_the_reference_release(store_dir):
    code, text = _scoped(store_dir, 0.5, golden.REFERENCE_RELEASE)
    assert code == 2 and "is the reference release" in text
