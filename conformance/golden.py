"""Golden traces on disk: the manifest, integrity checks, release-scoped selection, and safe rewrites.

golden/traces/
  manifest.json                        spec hash, CSV hash and producing torch release(s) of every trace
  <family>/<name>.csv                  the reference trace of case <family>/<name>
  <family>/<name>@<label>.csv          a release-scoped variant (its torch specifier is in the manifest)

A case's expected trace for torch release R is the first variant whose specifier admits R, else the
reference trace. Implementations that mirror no particular release are graded against the reference.

Writers and readers (several processes may use one golden/ directory at once):
  * A writer (regen) holds golden/.traces.lock (a `filelock` lock) from before it reads the goldens it
    changes until its change is in place; a second writer waits up to `LOCK_TIMEOUT` seconds, then fails
    with one line naming the lock and its holder. Under the lock it copies traces/ to golden/.traces.new,
    changes the copy, renames traces/ to golden/.traces.old and the copy to traces/, and removes the old
    tree. Recovery from a writer killed half-way (a leftover .traces.new or .traces.old, or traces/ missing
    between the two renames) is done only by the next writer, under the lock.
  * A reader (`load`) never writes, renames or deletes anything. It reads the manifest and every trace file
    at once, as one snapshot, through a handle on the directory it opened (a rename does not change what
    that handle reads), and keeps the snapshot only if that directory is still the current one when it is
    done; otherwise a writer swapped it meanwhile and the reader reads again. When traces/ is missing (a
    writer between its two renames, or killed there) the current goldens are the complete .traces.old.
    Traces are parsed lazily from the snapshot's bytes, so a run never pairs one manifest with another
    generation's files.
"""

from __future__ import annotations

import contextlib
import datetime
import functools
import hashlib
import json
import os
import shutil
import socket
import stat
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from conformance import TRACE_FORMAT, resources, traces
from conformance.cases import DataError, spec_hash
from conformance.model import Case, Trace

TRACES_DIR = resources.TRACES_DIR  # the checkout's golden/traces, or the wheel's copy (conformance/resources.py)
MANIFEST = resources.MANIFEST
REFERENCE_RELEASE = "2.13.0"
LOCK_TIMEOUT = 60.0  # seconds a writer waits for another writer; a full regen takes seconds
SNAPSHOT_ATTEMPTS = 50  # reads of a snapshot before giving up on a directory that keeps being swapped


class GoldenError(DataError):
    """A golden is missing, corrupt or stale, or the golden directory cannot be written. Each problem is one
    line naming the file."""


def csv_hash(text: str | bytes) -> str:
    """The manifest's hash of a trace file: of its bytes exactly as on disk (a CRLF copy does not match)."""
    data = text.encode() if isinstance(text, str) else text
    return "sha256:" + hashlib.sha256(data).hexdigest()


def trace_file(case_id: str, label: str = "") -> str:
    return f"{case_id}@{label}.csv" if label else f"{case_id}.csv"


def staging_dir(root: Path) -> Path:
    return root.with_name("." + root.name + ".new")


def backup_dir(root: Path) -> Path:
    return root.with_name("." + root.name + ".old")


def lock_path(root: Path) -> Path:
    return root.with_name("." + root.name + ".lock")


def show(path: Path) -> str:
    """A path for messages that opens from the current directory (conformance.resources.display)."""
    return resources.display(path)


@dataclass(frozen=True)
class Goldens:
    """One consistent snapshot of a golden directory: the manifest and the bytes of every trace file.

    `files` maps each *.csv path relative to the root to its bytes; `manifest_bytes` is None when there was
    no manifest. `notes` are one-line remarks for humans (a leftover of an interrupted writer, goldens read
    from the backup). Traces are parsed from the bytes on first use and cached.
    """

    root: Path
    manifest: Mapping
    files: Mapping[str, bytes] = field(default_factory=dict)
    manifest_bytes: bytes | None = None
    notes: tuple[str, ...] = ()
    _cache: dict = field(default_factory=dict, compare=False, repr=False)

    @property
    def reference(self) -> str:
        return self.manifest.get("reference", REFERENCE_RELEASE)

    @property
    def entries(self) -> Mapping[str, Mapping]:
        return self.manifest.get("cases", {})

    @property
    def manifest_path(self) -> Path:
        return self.root / MANIFEST

    def entry(self, case_id: str) -> Mapping:
        entry = self.entries.get(case_id)
        if entry is None:
            raise GoldenError(f"{show(self.manifest_path)}: no golden for case {case_id!r} (run `lr-conformance regen`)")
        return entry

    def select(self, case_id: str, release: str | None) -> Mapping:
        """The manifest record of the trace that applies to `release` (None = reference)."""
        records = self.entry(case_id)["traces"]
        if release is not None:
            for record in records:
                if record["torch"] and _specifier_contains(record["torch"], release):
                    return record
        for record in records:
            if not record["torch"]:
                return record
        raise GoldenError(f"{show(self.manifest_path)}: case {case_id!r} has no reference trace")

    def expected(self, case: Case, release: str | None) -> tuple[Trace, str]:
        record = self.select(case.id, release)
        return self.trace(record), self.shown(record["file"])

    def shown(self, name: str) -> str:
        """The display path of the trace file `name` (show), made once per file: a run names every case's."""
        key = ("shown", name)
        if key not in self._cache:
            self._cache[key] = show(self.root / name)
        return self._cache[key]

    def text(self, record: Mapping) -> str:
        """The verified text of a manifest record's file. Raises GoldenError (one line)."""
        name = record["file"]
        data = self.files.get(name)
        if data is None:
            raise GoldenError(f"{self.shown(name)}: listed in the manifest but missing (run `lr-conformance regen`)")
        if csv_hash(data) != record["sha256"]:
            crlf = " (it has CRLF line endings: restore LF, e.g. `git checkout`)" if b"\r\n" in data else ""
            raise GoldenError(f"{self.shown(name)}: content does not match its manifest hash{crlf}; edited by hand? "
                              "regenerate with `lr-conformance regen`")
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            raise GoldenError(f"{self.shown(name)}: not UTF-8 text") from None

    def read_verified(self, path: Path, expected_hash: str) -> Trace:
        """The verified trace of `path`, a file under `root`, from this snapshot (tools/matrix.py reads this way)."""
        return self.trace({"file": path.relative_to(self.root).as_posix(), "sha256": expected_hash})

    def trace(self, record: Mapping) -> Trace:
        """The parsed, verified trace of a manifest record. Raises GoldenError (one line)."""
        name = record["file"]
        if name not in self._cache:
            text = self.text(record)
            try:
                self._cache[name] = traces.loads(text, name)
            except traces.TraceFormatError as exc:
                # the message names the file by its display path, made only here: show() costs as much as
                # parsing a short trace, and a run reads every golden
                message = str(exc)
                raise GoldenError(self.shown(name) + message[len(name):]) from None
        return self._cache[name]


# --- reading --------------------------------------------------------------------------------


class _Swapped(Exception):
    """The directory being read stopped being the current goldens: read again."""


def load(root: Path = TRACES_DIR) -> Goldens:
    """A consistent snapshot of the goldens under `root`. Reads only; raises GoldenError (one line per problem)
    for a manifest that is not what this harness writes. A missing manifest gives an empty store."""
    for attempt in range(SNAPSHOT_ATTEMPTS):
        try:
            source, manifest_bytes, files = _read_snapshot(root)
        except _Swapped:
            time.sleep(min(0.001 * 2**attempt, 0.1))
            continue
        notes = _leftover_notes(root, source)
        if manifest_bytes is None:
            empty = {"format": TRACE_FORMAT, "reference": REFERENCE_RELEASE, "cases": {}}
            return Goldens(root, empty, files, None, notes)
        return Goldens(root, parse_manifest(manifest_bytes, root / MANIFEST), files, manifest_bytes, notes)
    raise GoldenError(f"{show(root)}: the goldens were replaced {SNAPSHOT_ATTEMPTS} times while being read "
                      "(a regen running in a loop?); try again")


def _current(root: Path) -> Path | None:
    """The directory holding the current goldens: traces/, or its complete backup while traces/ is missing."""
    for path in (root, backup_dir(root)):
        if path.is_dir():
            return path
    return None


def _identity(st: os.stat_result) -> tuple[int, int]:
    return st.st_dev, st.st_ino


def _read_snapshot(root: Path) -> tuple[Path | None, bytes | None, dict[str, bytes]]:
    source = _current(root)
    if source is None:
        return None, None, {}
    if not _HAVE_DIR_FD:
        return _read_snapshot_by_path(root, source)
    try:
        handle = os.open(source, os.O_RDONLY | os.O_DIRECTORY)
    except FileNotFoundError:
        raise _Swapped from None
    try:
        manifest_bytes = _read_at(MANIFEST, handle)
        files = {}
        for directory, _dirs, names, dir_handle in os.fwalk(".", dir_fd=handle):
            prefix = "" if directory == "." else directory.removeprefix("./") + "/"
            for name in names:
                if name.endswith(".csv"):
                    data = _read_at(name, dir_handle)
                    if data is not None:
                        files[prefix + name] = data
        # Writers never change a directory while it is the current one; they swap it out, then delete it.
        # So a snapshot whose directory is still current was read whole from one generation.
        current = _current(root)
        if current is None or _identity(os.stat(current)) != _identity(os.fstat(handle)):
            raise _Swapped
        return source, manifest_bytes, files
    except FileNotFoundError:
        raise _Swapped from None
    finally:
        os.close(handle)


def _read_at(name: str, dir_handle: int) -> bytes | None:
    try:
        fd = os.open(name, os.O_RDONLY, dir_fd=dir_handle)
    except FileNotFoundError:
        return None
    with os.fdopen(fd, "rb") as handle:
        return handle.read()


_HAVE_DIR_FD = hasattr(os, "O_DIRECTORY") and os.open in os.supports_dir_fd and hasattr(os, "fwalk")


def _read_snapshot_by_path(root: Path, source: Path):  # pragma: no cover - platforms without dir_fd (Windows)
    """Best effort where directories cannot be held open: read by path, then check the manifest and the
    directory did not change meanwhile."""
    before = source.stat()
    manifest_path = source / MANIFEST
    manifest_bytes = manifest_path.read_bytes() if manifest_path.exists() else None
    files = {p.relative_to(source).as_posix(): p.read_bytes() for p in source.rglob("*.csv")}
    after = _current(root)
    if after is None or _identity(after.stat()) != _identity(before):
        raise _Swapped
    if manifest_bytes != (manifest_path.read_bytes() if manifest_path.exists() else None):
        raise _Swapped
    return source, manifest_bytes, files


def _leftover_notes(root: Path, source: Path | None) -> tuple[str, ...]:
    notes = []
    if source is not None and source != root:
        notes.append(f"{show(root)} is missing: read the complete previous goldens in {show(source)}, left by a "
                     "regen that is running or was interrupted between its two renames (the next regen restores it)")
    for leftover, what in ((staging_dir(root), "staging"), (backup_dir(root), "backup")):
        if leftover != source and leftover.exists():
            notes.append(f"{show(leftover)}: {what} directory of a regen that is running or was interrupted; "
                         "readers ignore it, the next regen removes it")
    return tuple(notes)


def parse_manifest(data: bytes, path: Path) -> dict:
    """The manifest, checked to be what `regen` writes. Raises GoldenError with one line per problem."""
    where = show(path)
    try:
        manifest = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise GoldenError(f"{where}: not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise GoldenError(f"{where}: not valid JSON ({exc})") from None
    if not isinstance(manifest, dict):
        raise GoldenError(f"{where}: the top level must be a JSON object, got {_kind(manifest)}")
    if manifest.get("format") != TRACE_FORMAT:
        raise GoldenError(f"{where}: trace format {manifest.get('format')!r}, this harness reads {TRACE_FORMAT}")
    if not isinstance(manifest.get("reference", ""), str):
        raise GoldenError(f"{where}: 'reference' must be a torch release string")
    entries = manifest.get("cases")
    if not isinstance(entries, dict):
        raise GoldenError(f"{where}: 'cases' must be an object of case id -> entry, got {_kind(entries)}")
    reference = manifest.get("reference", "")
    problems = [f"{where}: case {case_id!r}: {problem}"
                for case_id, entry in entries.items() for problem in _entry_problems(entry, reference)]
    if problems:
        raise GoldenError(*problems)
    return manifest


def _entry_problems(entry, reference: str = "") -> list[str]:
    if not isinstance(entry, dict):
        return [f"entry must be an object, got {_kind(entry)}"]
    found = []
    if not isinstance(entry.get("spec"), str):
        found.append("entry has no 'spec' hash")
    records = entry.get("traces")
    if not isinstance(records, list) or not records:
        return found + ["entry has no 'traces' list"]
    for index, record in enumerate(records):
        found += [f"traces[{index}]: {p}" for p in _record_problems(record)]
    if not found and sum(1 for r in records if r["torch"] == "") != 1:
        found.append("needs exactly one reference trace (a record with \"torch\": \"\")")
    if not found:
        found += _provenance_problems(records, reference)
    return found


def _provenance_problems(records: list[dict], reference: str) -> list[str]:
    """`generated_by` is the record of which releases produced which file - what the matrix and the site
    report as the behaviour of each release - so it is held to what regen writes: one release in one record
    at most, a scoped record's releases inside its specifier, the reference record holding the reference."""
    found, owner = [], {}
    for index, record in enumerate(records):
        for release in record.get("generated_by", []):
            if release in owner:
                found.append(f"traces[{index}]: 'generated_by' lists {release!r}, already listed by "
                             f"traces[{owner[release]}]: a release produces one trace")
            owner.setdefault(release, index)
            if record["torch"] and not _specifier_contains(record["torch"], release):
                found.append(f"traces[{index}]: 'generated_by' lists {release!r}, outside its 'torch' "
                             f"{record['torch']!r}")
    if reference and _is_release(reference):
        (index, main), = [(i, r) for i, r in enumerate(records) if r["torch"] == ""]
        if reference not in main.get("generated_by", []):
            found.append(f"traces[{index}]: the reference trace's 'generated_by' does not list the reference "
                         f"release {reference!r}")
    return found


@functools.lru_cache(maxsize=None)  # a run asks about a few specifiers and one release, case after case
def _specifier_contains(specifier: str, release: str) -> bool:
    from packaging.specifiers import SpecifierSet

    return SpecifierSet(specifier).contains(release, prereleases=True)


def _record_problems(record) -> list[str]:
    if not isinstance(record, dict):
        return [f"must be an object, got {_kind(record)}"]
    found = []
    name = record.get("file")
    if not isinstance(name, str) or not _safe_relative(name):
        found.append(f"'file' must be a relative path to a .csv file inside the traces directory, got {name!r}")
    sha = record.get("sha256")
    if not isinstance(sha, str) or not sha.startswith("sha256:"):
        found.append(f"no 'sha256' hash (got {sha!r})")
    specifier = record.get("torch")
    if not isinstance(specifier, str):
        found.append(f"'torch' must be a PEP 440 specifier string or \"\", got {specifier!r}")
    elif specifier and not _valid_specifier(specifier):
        found.append(f"'torch' {specifier!r} is not a PEP 440 specifier like '>=2.4,<2.8'")
    generated_by = record.get("generated_by", [])
    if not isinstance(generated_by, list) or not all(isinstance(r, str) for r in generated_by):
        found.append("'generated_by' must be a list of torch releases")
    elif bad := [r for r in generated_by if not _is_release(r)]:
        found.append(f"'generated_by' holds {bad[0]!r}, not a torch release like '2.13.0'")
    elif generated_by != sorted(set(generated_by), key=_release_order):
        found.append("'generated_by' must list each release once, oldest first (as regen writes it)")
    return found


@functools.lru_cache(maxsize=None)
def _is_release(text: str) -> bool:
    from packaging.version import InvalidVersion, Version

    try:
        Version(text)
    except InvalidVersion:
        return False
    return True


@functools.lru_cache(maxsize=None)  # every record's generated_by is sorted by it: the same 17 releases
def _release_order(release: str):
    from packaging.version import Version

    return Version(release)


@functools.lru_cache(maxsize=None)  # a manifest repeats a few specifiers many times
def _valid_specifier(text: str) -> bool:
    from packaging.specifiers import InvalidSpecifier, SpecifierSet

    try:
        SpecifierSet(text)
    except InvalidSpecifier:
        return False
    return True


def _safe_relative(name: str) -> bool:
    parts = name.split("/")
    return name.endswith(".csv") and "" not in parts and "." not in parts and ".." not in parts and "\\" not in name


def _kind(value) -> str:
    return {dict: "an object", list: "a list", str: "a string", type(None): "null"}.get(type(value), type(value).__name__)


# --- integrity ------------------------------------------------------------------------------


def preflight(store: Goldens, cases: Iterable[Case]) -> list[str]:
    """Every problem that would make grading `cases` against `store` meaningless, one line each (empty = none):
    no manifest, no golden, a case changed since its golden, a trace file missing, not matching its hash, not
    parsing, or whose rows do not fit its case. `run` reports them all and grades nothing (exit 2)."""
    if store.manifest_bytes is None:
        return [f"{show(store.manifest_path)}: missing, so no case has a golden (restore it, e.g. "
                "`git checkout golden/traces`, or run `lr-conformance regen`)"]
    found = []
    for case in cases:
        found += _case_problems(store, case, expectations=False)
    return found


def problems(store: Goldens, cases: Iterable[Case]) -> list[str]:
    """Every inconsistency between cases, manifest and files, one line each (empty = consistent): what
    `preflight` finds for every case, plus expectations the reference golden contradicts and orphans."""
    cases = list(cases)
    found = preflight(store, [])
    if found:
        return found
    for case in cases:
        found += _case_problems(store, case, expectations=True)
    for orphan in sorted(set(store.entries) - {c.id for c in cases}):
        found.append(f"{show(store.manifest_path)}: orphan golden {orphan!r} has no case")
    referenced = {record["file"] for entry in store.entries.values() for record in entry["traces"]}
    for name in sorted(set(store.files) - referenced):
        found.append(f"{show(store.root / name)}: orphan trace file, not in the manifest")
    return found


def _case_problems(store: Goldens, case: Case, expectations: bool) -> list[str]:
    entry = store.entries.get(case.id)
    if entry is None:
        return [f"{case.source}: {case.id}: has no golden (run `lr-conformance regen`)"]
    found = []
    stale = entry["spec"] != spec_hash(case)
    if stale:
        found.append(f"{case.source}: {case.id}: case changed since its golden: run `lr-conformance regen`")
    for record in entry["traces"]:
        try:
            trace = store.trace(record)
        except GoldenError as exc:
            found += exc.problems
            continue
        if not stale:  # a stale golden was recorded for other case data: its rows need not fit this one
            found += row_problems(case, trace, store.root / record["file"])
        if expectations and not record["torch"]:
            found += _expectation_problems(case, trace)
    return found


def row_problems(case: Case, trace: Trace, where: Path) -> list[str]:
    """Whether a trace's rows can be what the runner records for `case` (at most one line): one lr row per
    step and group, in order, all steps unless an error event ends the trace, events in step order with the
    error last, momentum exactly where the case drives it, the step arguments the case gives, and no NaN lr
    unless the case's data has a non-finite number. `where` (the trace file) is shown only in a problem: making
    its display path for every golden was a third of an in-process run."""
    groups = len(case.groups)
    # rows run step by step, groups in order; param groups added mid-run (add-param-group) count from their step
    grid = [(step, group) for step in range(case.steps) for group in range(case.groups_at(step))]
    rows = [(o.step, o.group) for o in trace.observations]
    for index, (got, want) in enumerate(zip(rows, grid)):
        if got != want:
            return [f"{show(where)}: lr row {index + 1} is step {got[0]} group {got[1]}, the case has step {want[0]} "
                    f"group {want[1]} there (rows run step by step, groups 0-{groups - 1} in order)"]
    if len(rows) > len(grid):
        return [f"{show(where)}: {len(rows)} lr rows, more than the case's {case.steps} step(s) x {groups} group(s)"]
    error = trace.error
    steps_done = grid[len(rows)][0] if len(rows) < len(grid) else case.steps
    if len(rows) < len(grid) and grid[len(rows)][1]:
        return [f"{show(where)}: step {rows[-1][0]} has lr rows for {grid[len(rows)][1]} of the case's "
                f"{case.groups_at(steps_done)} groups"]
    if len(rows) < len(grid) and error is None:
        return [f"{show(where)}: {steps_done} of the case's {case.steps} steps, and no error event ends it early"]
    if error is not None and steps_done not in (error.step, error.step + 1):
        return [f"{show(where)}: the lr rows stop after {steps_done} step(s) but its error is at step {error.step}"]
    event_steps = [e.step for e in trace.events]
    if event_steps != sorted(event_steps) or any(not 0 <= s < case.steps for s in event_steps):
        return [f"{show(where)}: event steps {event_steps} are not in order within the case's {case.steps} steps"]
    if error is not None and trace.events[-1] is not error:
        return [f"{show(where)}: events follow the error event at step {error.step}; an error ends the trace"]
    step_args = case.step_args
    observes_momentum = case.observes_momentum  # walks the scheduler tree: once per trace, not per row
    for o in trace.observations:
        if (o.momentum is not None) != observes_momentum:
            has = "has" if o.momentum is not None else "lacks"
            return [f"{show(where)}: step {o.step} group {o.group} {has} a momentum value; the case "
                    + ("observes" if observes_momentum else "does not observe") + " momentum"]
        want = None if step_args is None else float(step_args[o.step])
        if not _same(want, o.step_arg):
            return [f"{show(where)}: step {o.step} step_arg is {o.step_arg!r}, the case gives {want!r}"]
        if o.lr != o.lr and not _has_nonfinite(case.raw):
            return [f"{show(where)}: step {o.step} group {o.group} lr is NaN, but the case's data has no nan or inf"]
    return []


def _same(a: float | None, b: float | None) -> bool:
    return a == b or (a is not None and b is not None and a != a and b != b)


def _has_nonfinite(value) -> bool:
    if isinstance(value, float):
        return value != value or value in (float("inf"), float("-inf"))
    if isinstance(value, Mapping):
        return any(_has_nonfinite(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(_has_nonfinite(v) for v in value)
    return False


def _expectation_problems(case: Case, trace: Trace) -> list[str]:
    found = []
    error = trace.error
    if case.expect_error and (error is None or error.type != case.expect_error):
        got = f"{error.type} at step {error.step}" if error else "no error"
        found.append(f"{case.source}: {case.id}: expect_error = {case.expect_error!r} but the golden has {got}")
    if not case.expect_error and error is not None:
        found.append(f"{case.source}: {case.id}: golden raises {error.type} at step {error.step} ({error.phase}); "
                     "declare expect_error if that is intended")
    if case.expect_warning and not any(
        e.kind == "warning" and e.type == case.expect_warning for e in trace.events
    ):
        found.append(f"{case.source}: {case.id}: expect_warning = {case.expect_warning!r} but the golden has none")
    return found


# --- writing ------------------------------------------------------------------------------

_locks: dict[tuple[Path, int], object] = {}  # one lock object per path and process: re-entrant, fork-safe


@contextlib.contextmanager
def locked(root: Path, timeout: float = LOCK_TIMEOUT, out: Callable[[str], None] | None = None) -> Iterator[list[str]]:
    """Hold the writers' lock of `root` (re-entrant in one process). Waits up to `timeout` seconds for another
    writer, saying so through `out`, then raises GoldenError naming the lock and its holder. Under the lock,
    first recovers from an interrupted writer; yields the one-line notes of what recovery did."""
    import filelock

    path = lock_path(root)
    key = (path, os.getpid())
    if key not in _locks:
        _locks[key] = filelock.FileLock(str(path))
    lock = _locks[key]
    holder_file = path.with_name(path.name + ".holder")
    outermost = not lock.is_locked
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            lock.acquire(timeout=0)
        except filelock.Timeout:
            if out is not None:
                out(f"regen: waiting up to {timeout:g} s for {show(path)}, held by {_holder(holder_file)}")
            lock.acquire(timeout=timeout)
    except filelock.Timeout:
        raise GoldenError(f"{show(path)}: still held after {timeout:g} s by {_holder(holder_file)}: another regen "
                          "is writing these goldens; wait for it, then rerun") from None
    except OSError as exc:
        raise GoldenError(f"{show(path)}: cannot take the writers' lock ({exc.strerror}); writing goldens needs "
                          f"write access to {show(path.parent)}") from None
    try:
        notes = []
        if outermost:
            _write_holder(holder_file)
            notes = _recover(root)
        yield notes
    finally:
        if outermost:
            with contextlib.suppress(OSError):
                holder_file.unlink()
        lock.release()


def _write_holder(holder_file: Path) -> None:
    """Say who holds the lock, for a writer that times out waiting (the lock file itself says nothing)."""
    command = " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]) if sys.argv and sys.argv[0] else "python"
    since = datetime.datetime.now().isoformat(timespec="seconds")
    text = f"pid {os.getpid()} on {socket.gethostname()} ({command}, since {since})"
    temporary = holder_file.with_name(holder_file.name + f".{os.getpid()}")
    try:
        temporary.write_text(text + "\n", encoding="utf-8")
        os.replace(temporary, holder_file)
    except OSError:
        # a full disk creates the file and then fails to fill it: leave no empty temporary behind (the note is
        # a courtesy to a waiting writer; the lock itself is what protects the goldens)
        with contextlib.suppress(OSError):
            temporary.unlink()


def _holder(holder_file: Path) -> str:
    try:
        return holder_file.read_text(encoding="utf-8").strip() or "an unknown process"
    except OSError:
        return "an unknown process"


@contextlib.contextmanager
def writer(root: Path = TRACES_DIR, timeout: float = LOCK_TIMEOUT,
           out: Callable[[str], None] | None = None) -> Iterator[Goldens]:
    """The goldens to change, read under the writers' lock, which is held until the block ends, so that no
    other writer changes them between this read and `write_atomically`. Recovery notes go to `out`."""
    with locked(root, timeout, out) as notes:
        for note in notes:
            if out is not None:
                out(f"regen: {note}")
        yield load(root)


def _recover(root: Path) -> list[str]:
    """Undo what an interrupted writer left, under the lock: if traces/ is gone, put the complete backup back;
    then remove the staging and backup directories. Returns one line per action."""
    staging, backup = staging_dir(root), backup_dir(root)
    done = []
    if not root.exists() and backup.exists():
        try:
            os.replace(backup, root)
        except OSError as exc:
            raise GoldenError(f"{show(backup)}: cannot restore it as {show(root)} ({exc.strerror})") from None
        done.append(f"restored {show(root)} from {show(backup)}, left by an interrupted regen")
    for leftover in (staging, backup):
        if leftover.exists():
            _remove_tree(leftover)
            done.append(f"removed {show(leftover)}, left by an interrupted regen")
    return done


def _remove_tree(path: Path) -> None:
    """Delete a directory tree this module created, even if it was made read-only (a copy of a read-only
    tree by an older version). Raises GoldenError naming the path."""

    def make_writable_and_retry(function, name, _exc_info):
        parent = os.path.dirname(name)
        os.chmod(parent, os.stat(parent).st_mode | stat.S_IWUSR | stat.S_IXUSR)
        function(name)

    try:
        if sys.version_info >= (3, 12):
            shutil.rmtree(path, onexc=make_writable_and_retry)
        else:
            shutil.rmtree(path, onerror=make_writable_and_retry)
    except OSError as exc:
        raise GoldenError(f"{show(path)}: cannot remove this leftover of an interrupted regen ({exc.strerror}); "
                          "remove it by hand") from None


def write_atomically(store: Goldens, files: Mapping[str, str | None], manifest: Mapping) -> None:
    """Write `files` (relative path -> text, or None to delete) and the manifest as one change to the goldens
    `store` was read from, under the writers' lock.

    The current directory is copied to a staging directory, changed there, and swapped in with two renames.
    Raises GoldenError (one line, nothing changed) if the goldens changed on disk since `store` was read, if
    the tree is not writable, or if writing fails; a failure leaves the old goldens in place and no staging
    directory behind.
    """
    root = store.root
    with locked(root):
        current = _manifest_on_disk(root)
        if current != store.manifest_bytes:
            raise GoldenError(f"{show(root / MANIFEST)}: changed since these goldens were read (another regen?); "
                              "nothing written, rerun")
        _check_writable(root)
        staging, backup = staging_dir(root), backup_dir(root)
        try:
            _stage(root, staging, files, manifest)
            if root.exists():
                os.replace(root, backup)
            os.replace(staging, root)
        except OSError as exc:
            _undo(root, staging, backup)
            where = show(Path(exc.filename)) if exc.filename else show(root)
            raise GoldenError(f"{where}: {exc.strerror or exc}; nothing written, the goldens are as before") from None
        except BaseException:
            _undo(root, staging, backup)
            raise
        if backup.exists():
            with contextlib.suppress(GoldenError):  # the change is in place; the next writer removes what is left
                _remove_tree(backup)


def _manifest_on_disk(root: Path) -> bytes | None:
    try:
        return (root / MANIFEST).read_bytes()
    except FileNotFoundError:
        return None


def _check_writable(root: Path) -> None:
    """A writer needs to create beside traces/ and to delete every file of the old tree after the swap: check
    before staging anything, so that a read-only tree is refused with one line and nothing left behind."""
    parent = root.parent
    parent.mkdir(parents=True, exist_ok=True)
    if not os.access(parent, os.W_OK | os.X_OK):
        raise GoldenError(f"{show(parent)}: not writable; regen writes nothing into a read-only golden directory")
    if root.exists():
        for directory in [root, *(p for p in root.rglob("*") if p.is_dir())]:
            if not os.access(directory, os.W_OK | os.X_OK):
                raise GoldenError(f"{show(directory)}: not writable; regen writes nothing into a read-only "
                                  "golden directory (make it writable, e.g. chmod -R u+w, to regenerate)")


def _stage(root: Path, staging: Path, files: Mapping[str, str | None], manifest: Mapping) -> None:
    # Plain copies with fresh permissions: a copy of a file left read-only by hand must still be writable here.
    staging.mkdir()
    if root.exists():
        for directory, dirnames, filenames in os.walk(root):
            target_dir = staging / Path(directory).relative_to(root)
            for name in dirnames:
                (target_dir / name).mkdir()
            for name in filenames:
                shutil.copyfile(Path(directory, name), target_dir / name)
    for rel, text in files.items():
        target = staging / rel
        if text is None:
            target.unlink(missing_ok=True)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8", newline="\n")
    for directory in sorted((p for p in staging.rglob("*") if p.is_dir()), reverse=True):
        if not any(directory.iterdir()):
            directory.rmdir()
    (staging / MANIFEST).write_text(dump_manifest(manifest), encoding="utf-8", newline="\n")


def _undo(root: Path, staging: Path, backup: Path) -> None:
    """After a failed write: the old tree back in place, no staging directory."""
    with contextlib.suppress(GoldenError, OSError):
        if not root.exists() and backup.exists():
            os.replace(backup, root)
        if staging.exists():
            _remove_tree(staging)


def dump_manifest(manifest: Mapping) -> str:
    return json.dumps(manifest, indent=1, sort_keys=True, ensure_ascii=False) + "\n"
