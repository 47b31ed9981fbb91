"""Manifest integrity, regeneration (refusal, accept, idempotence) and atomic writes, on a scratch directory."""

import hashlib
import json
import math
import os

import pytest
from helpers import HalvingAdapter, lock_held_elsewhere, make_case, snapshot

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
    assert found == ["tests/meta: steplr/one: case changed since its golden: run `lr-conformance regen`"]


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


def _edit_provenance(store_dir, edit):
    path = store_dir / golden.MANIFEST
    manifest = json.loads(path.read_text())
    edit(manifest["cases"]["steplr/two"]["traces"], manifest)
    path.write_text(json.dumps(manifest, indent=1))


def _scoped_copy(records, manifest):
    records.append({**records[0], "torch": ">=2.4,<2.8", "generated_by": ["2.4.1"]})


# generated_by says which releases produced which file - the matrix and the site report it as each release's
# behaviour - so an edited one is refused like an edited hash (tools/mutate_data.py found these passing)
@pytest.mark.parametrize("edit, message", [
    (lambda r, m: r[0].__setitem__("generated_by", ["<script>"]), "'generated_by' holds '<script>', not a torch release"),
    (lambda r, m: r[0].__setitem__("generated_by", r[0]["generated_by"] * 2), "each release once, oldest first"),
    (lambda r, m: r[0].__setitem__("generated_by", ["9.0", *r[0]["generated_by"]]), "each release once, oldest first"),
    (lambda r, m: r[0].__setitem__("generated_by", []), "does not list the reference release"),
    (lambda r, m: (_scoped_copy(r, m), r[1].__setitem__("generated_by", ["2.9.1"])), "'2.9.1', outside its 'torch'"),
    (lambda r, m: (_scoped_copy(r, m), r[0]["generated_by"].insert(0, "2.4.1")), "already listed by traces[0]"),
])
def test_an_edited_generated_by_is_one_line(store_dir, edit, message):
    _edit_provenance(store_dir, edit)
    with pytest.raises(golden.GoldenError) as info:
        golden.load(store_dir)
    assert message in str(info.value) and "steplr/two" in str(info.value) and "\n" not in str(info.value)


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
    assert not golden.staging_dir(store_dir).exists()  # the writer cleaned up after itself


def test_readers_read_the_complete_backup_between_the_renames_and_never_move_it(store_dir):
    before = snapshot(store_dir)
    expected = golden.load(store_dir).files
    backup = golden.backup_dir(store_dir)
    os.replace(store_dir, backup)  # the state right after the first rename (a writer killed there)
    store = golden.load(store_dir)
    assert store.files == expected and golden.problems(store, CASES) == []
    assert any(".traces.old" in note and "missing" in note for note in store.notes)
    assert not store_dir.exists() and snapshot(backup) == before  # the reader moved nothing
    with golden.writer(store_dir) as store:  # the next writer restores it, under the lock
        assert store.files == expected
    assert snapshot(store_dir) == before and not backup.exists()


def test_readers_leave_a_writers_leftovers_alone_and_name_them(store_dir):
    staging, backup = golden.staging_dir(store_dir), golden.backup_dir(store_dir)
    staging.mkdir()
    (staging / "half-written.csv").write_text("step")
    backup.mkdir()
    store = golden.load(store_dir)
    assert golden.problems(store, CASES) == []
    assert staging.exists() and backup.exists()
    assert sum(".traces.new" in n for n in store.notes) == 1 and sum(".traces.old" in n for n in store.notes) == 1
    notes = []
    with golden.writer(store_dir, out=notes.append):
        pass
    assert not staging.exists() and not backup.exists()
    assert len(notes) == 2 and all("removed" in n and "interrupted regen" in n for n in notes)


def test_a_store_keeps_reading_the_goldens_it_loaded_after_a_swap(store_dir):
    """A run loads the goldens, then a regen replaces them: the run must keep grading against the manifest and
    files it loaded together, never the old manifest with the new files (a hash mismatch)."""
    store = golden.load(store_dir)
    assert regenerate(HalvingAdapter(0.25), CASES, golden.load(store_dir), accept=True, out=lambda s: None) == 0
    trace, _ = store.expected(CASES[0], None)
    assert trace.observations[2].lr == 0.05  # the old golden, consistently
    assert golden.preflight(store, CASES) == []


def test_a_swap_in_the_middle_of_a_read_is_read_again(store_dir, monkeypatch):
    real_read_at = golden._read_at
    swapped = []

    def read_then_swap(name, handle):
        data = real_read_at(name, handle)
        if not swapped and name.endswith(".csv"):  # after the manifest and one file of the old goldens
            swapped.append(name)
            assert regenerate(HalvingAdapter(0.25), CASES, golden.load(store_dir), accept=True,
                              out=lambda s: None) == 0
        return data

    monkeypatch.setattr(golden, "_read_at", read_then_swap)
    store = golden.load(store_dir)
    assert swapped and golden.preflight(store, CASES) == []
    assert store.expected(CASES[0], None)[0].observations[2].lr == 0.1 * 0.25  # the new goldens, whole


def test_a_writer_refuses_goldens_changed_since_it_read_them(store_dir):
    stale = golden.load(store_dir)
    assert regenerate(HalvingAdapter(0.25), CASES, golden.load(store_dir), accept=True, out=lambda s: None) == 0
    after = snapshot(store_dir)
    with pytest.raises(golden.GoldenError, match="changed since these goldens were read"):
        regenerate(HalvingAdapter(), CASES[:1], stale, accept=True, out=lambda s: None)
    assert snapshot(store_dir) == after


def test_a_second_writer_waits_then_fails_naming_the_lock_and_its_holder(store_dir):
    waited = []
    with lock_held_elsewhere(store_dir) as pid:
        with pytest.raises(golden.GoldenError) as info:
            with golden.writer(store_dir, timeout=0.3, out=waited.append):
                pass
    text = str(info.value)
    assert ".traces.lock" in text and f"pid {pid}" in text and "still held after 0.3 s" in text and "\n" not in text
    assert len(waited) == 1 and f"pid {pid}" in waited[0]
    with golden.writer(store_dir, timeout=5):  # the holder is gone: the lock is free again
        pass


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


# --- integrity: bytes, rows, manifest -----------------------------------------------------------


def rewrite(store_dir, rel, data: bytes, update_hash=True):
    """Replace a golden's bytes, and (as someone covering their tracks would) its manifest hash."""
    (store_dir / rel).write_bytes(data)
    if update_hash:
        manifest = json.loads((store_dir / golden.MANIFEST).read_text())
        for entry in manifest["cases"].values():
            for record in entry["traces"]:
                if record["file"] == rel:
                    record["sha256"] = "sha256:" + hashlib.sha256(data).hexdigest()  # the manifest's format
        (store_dir / golden.MANIFEST).write_text(golden.dump_manifest(manifest))


def test_a_crlf_golden_fails_its_hash(store_dir):
    path = store_dir / "steplr/one.csv"
    path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))  # what an editor or git's autocrlf does
    store = golden.load(store_dir)
    (problem,) = golden.problems(store, CASES)
    assert "one.csv: content does not match its manifest hash" in problem and "CRLF" in problem
    assert golden.preflight(store, CASES) == [problem]
    lines = []
    assert regenerate(HalvingAdapter(), CASES, store, out=lines.append) == 1  # regen sees it too
    assert any("changed  steplr/one" in line and "CRLF" in line for line in lines)


def _rows(store_dir, rel):
    return (store_dir / rel).read_text().splitlines(keepends=True)


@pytest.mark.parametrize("edit, message", [
    (lambda rows: rows[:-2], "5 of the case's 6 steps, and no error event ends it early"),
    (lambda rows: rows[:-1], "step 5 has lr rows for 1 of the case's 2 groups"),
    (lambda rows: rows[:3] + [rows[4], rows[3]] + rows[5:], "lr row 3 is step 1 group 1, the case has step 1 group 0"),
    (lambda rows: [r.replace("1,1,", "1,2,", 1) if r.startswith("1,1,") else r for r in rows],
     "lr row 4 is step 1 group 2"),
    (lambda rows: rows[:2] + ["0,1,nan,,0.05,,,\n"] + rows[3:], "step 0 group 1 lr is NaN, but the case's data"),
    (lambda rows: rows + ["6,0,0.1,,0.1,,,\n"], "13 lr rows, more than the case's 6 step(s) x 2 group(s)"),
    (lambda rows: rows[:1] + [_set(r, 5, "0.5") for r in rows[1:]], "step 0 step_arg is 0.5"),
    (lambda rows: rows[:1] + [_set(r, 3, "0.9") for r in rows[1:]], "has a momentum value"),
    (lambda rows: rows[:5] + ["1,,,,,,scheduler.step:error:ValueError,boom\n", "1,,,,,,scheduler.step:warning:W,w\n"],
     "events follow the error event"),
    (lambda rows: rows[:5] + ["3,,,,,,scheduler.step:error:ValueError,boom\n"],
     "the lr rows stop after 2 step(s) but its error is at step 3"),
])
def test_check_and_preflight_catch_rows_that_do_not_fit_the_case_even_with_a_matching_hash(store_dir, edit, message):
    rel = "steplr/one.csv"  # 6 steps x 2 groups
    rewrite(store_dir, rel, "".join(edit(_rows(store_dir, rel))).encode())
    store = golden.load(store_dir)
    found = golden.problems(store, CASES)  # (with an error event, also: the case does not declare it)
    assert message in found[0] and rel in found[0] and "\n" not in found[0], found
    assert golden.preflight(store, CASES) == found[:1]


def _set(row: str, column: int, value: str) -> str:
    fields = row.rstrip("\n").split(",")
    fields[column] = value
    return ",".join(fields) + "\n"


def test_a_nan_lr_is_fine_where_the_case_has_a_non_finite_number(store_dir):
    case = make_case("steplr/nan-lr", groups=[{"lr": math.nan}])
    assert regenerate(HalvingAdapter(), [case], golden.load(store_dir), prune=False, out=lambda s: None) == 0
    assert golden.preflight(golden.load(store_dir), [case]) == []


def test_an_error_event_may_end_the_trace_early(store_dir):
    rel = "steplr/one.csv"
    rows = _rows(store_dir, rel)
    rewrite(store_dir, rel, "".join(rows[:5] + ["2,,,,,,scheduler.step:error:ValueError,boom\n"]).encode())
    found = golden.problems(golden.load(store_dir), CASES)
    assert found == ["tests/meta: steplr/one: golden raises ValueError at step 2 (scheduler.step); "
                     "declare expect_error if that is intended"]  # an expectation, not a row problem


def test_a_non_utf8_golden_is_one_line_and_regen_replaces_it(store_dir):
    rewrite(store_dir, "steplr/one.csv", b"step,group\xff\n")
    (problem,) = golden.problems(golden.load(store_dir), CASES)
    assert problem.endswith("one.csv: not UTF-8 text")
    lines = []
    assert regenerate(HalvingAdapter(), CASES, golden.load(store_dir), out=lines.append) == 1
    assert any("changed  steplr/one: old golden unreadable" in line for line in lines), lines


def test_preflight_reports_every_problem_at_once(store_dir):
    (store_dir / "steplr/one.csv").write_text("edited")
    rewrite(store_dir, "steplr/two.csv", b"step,group\nnot,a,trace\n")
    stale = make_case("steplr/two", steps=4)
    found = golden.preflight(golden.load(store_dir), [CASES[0], stale, make_case("steplr/three")])
    assert len(found) == 4, found
    assert "one.csv: content does not match its manifest hash" in found[0]
    assert found[1] == "tests/meta: steplr/two: case changed since its golden: run `lr-conformance regen`"
    assert "two.csv:1: header must be" in found[2]
    assert found[3] == "tests/meta: steplr/three: has no golden (run `lr-conformance regen`)"


def test_a_missing_manifest_is_one_problem_not_one_per_case(store_dir):
    (store_dir / golden.MANIFEST).unlink()
    store = golden.load(store_dir)
    for found in (golden.preflight(store, CASES), golden.problems(store, CASES)):
        assert len(found) == 1 and "manifest.json: missing" in found[0]


def _manifest(store_dir):
    return json.loads((store_dir / golden.MANIFEST).read_text())


@pytest.mark.parametrize("edit, message", [
    (lambda m: [m], "the top level must be a JSON object, got a list"),
    (lambda m: {k: v for k, v in m.items() if k != "cases"}, "'cases' must be an object"),
    (lambda m: {**m, "cases": {**m["cases"], "steplr/one": {"spec": "sha256:0"}}}, "'steplr/one': entry has no 'traces' list"),
    (lambda m: {**m, "cases": {**m["cases"], "steplr/one": [1]}}, "'steplr/one': entry must be an object, got a list"),
    (lambda m: _edit_record(m, lambda r: r.pop("sha256")), "traces[0]: no 'sha256' hash"),
    (lambda m: _edit_record(m, lambda r: r.update(torch=">=banana")), "'torch' '>=banana' is not a PEP 440 specifier"),
    (lambda m: _edit_record(m, lambda r: r.update(file="../../etc/passwd.csv")), "'file' must be a relative path"),
    (lambda m: _edit_record(m, lambda r: r.update(torch=">=2.0")), "needs exactly one reference trace"),
])
def test_a_malformed_manifest_is_one_line_naming_it(store_dir, edit, message):
    (store_dir / golden.MANIFEST).write_text(json.dumps(edit(_manifest(store_dir))))
    with pytest.raises(golden.GoldenError) as info:
        golden.load(store_dir)
    assert all("\n" not in p and "manifest.json: " in p for p in info.value.problems)
    assert message in str(info.value), str(info.value)


def _edit_record(manifest, change):
    change(manifest["cases"]["steplr/one"]["traces"][0])
    return manifest


def test_every_malformed_entry_is_reported_at_once(store_dir):
    manifest = _manifest(store_dir)
    for entry in manifest["cases"].values():
        del entry["traces"][0]["sha256"]
    (store_dir / golden.MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(golden.GoldenError) as info:
        golden.load(store_dir)
    assert len(info.value.problems) == 2 and "(and 1 more problem(s))" in str(info.value)


def test_a_non_utf8_manifest_is_one_line(store_dir):
    (store_dir / golden.MANIFEST).write_bytes(b'{"format": 1, "cases": {}, "x": "\xff"}')
    with pytest.raises(golden.GoldenError, match="manifest.json: not UTF-8 text"):
        golden.load(store_dir)
