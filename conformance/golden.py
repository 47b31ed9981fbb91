"""Golden traces on disk: the manifest, integrity checks, release-scoped selection and atomic rewrites.

golden/traces/
  manifest.json                        spec hash, CSV hash and producing torch release(s) of every trace
  <family>/<name>.csv                  the reference trace of case <family>/<name>
  <family>/<name>@<label>.csv          a release-scoped variant (its torch specifier is in the manifest)

A case's expected trace for torch release R is the first variant whose specifier admits R, else the
reference trace. Implementations that mirror no particular release are graded against the reference.

The whole traces/ directory is replaced in one rename (see `write_atomically`), so an interrupted
regeneration leaves the previous goldens intact.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from conformance import TRACE_FORMAT, resources, traces
from conformance.cases import spec_hash
from conformance.model import Case, Trace

TRACES_DIR = resources.TRACES_DIR  # the checkout's golden/traces, or the wheel's copy (conformance/resources.py)
MANIFEST = resources.MANIFEST
REFERENCE_RELEASE = "2.13.0"


class GoldenError(ValueError):
    """A golden is missing, corrupt or stale. str() is one line naming the file."""


def csv_hash(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def trace_file(case_id: str, label: str = "") -> str:
    return f"{case_id}@{label}.csv" if label else f"{case_id}.csv"


@dataclass(frozen=True)
class Goldens:
    """A loaded manifest plus the directory it describes. Traces are read lazily and cached."""

    root: Path
    manifest: Mapping
    _cache: dict = field(default_factory=dict, compare=False, repr=False)

    @property
    def reference(self) -> str:
        return self.manifest.get("reference", REFERENCE_RELEASE)

    @property
    def entries(self) -> Mapping[str, Mapping]:
        return self.manifest.get("cases", {})

    def entry(self, case_id: str) -> Mapping:
        entry = self.entries.get(case_id)
        if entry is None:
            raise GoldenError(f"{self.root / MANIFEST}: no golden for case {case_id!r} (run `lr-conformance regen`)")
        return entry

    def select(self, case_id: str, release: str | None) -> Mapping:
        """The manifest record of the trace that applies to `release` (None = reference)."""
        from packaging.specifiers import SpecifierSet

        records = self.entry(case_id)["traces"]
        if release is not None:
            for record in records:
                if record["torch"] and SpecifierSet(record["torch"]).contains(release, prereleases=True):
                    return record
        for record in records:
            if not record["torch"]:
                return record
        raise GoldenError(f"{self.root / MANIFEST}: case {case_id!r} has no reference trace")

    def expected(self, case: Case, release: str | None) -> tuple[Trace, str]:
        record = self.select(case.id, release)
        path = self.root / record["file"]
        if path not in self._cache:
            self._cache[path] = self.read_verified(path, record["sha256"])
        return self._cache[path], resources.display(path)

    def read_verified(self, path: Path, expected_hash: str) -> Trace:
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise GoldenError(f"{path}: listed in the manifest but missing") from None
        except UnicodeDecodeError:
            raise GoldenError(f"{path}: not UTF-8 text") from None
        if csv_hash(text) != expected_hash:
            raise GoldenError(
                f"{path}: content does not match its manifest hash (edited by hand? regenerate with `lr-conformance regen`)"
            )
        return traces.loads(text, str(path))


def load(root: Path = TRACES_DIR) -> Goldens:
    recover(root)
    path = root / MANIFEST
    if not path.exists():
        return Goldens(root, {"format": TRACE_FORMAT, "reference": REFERENCE_RELEASE, "cases": {}})
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise GoldenError(f"{path}: not valid JSON ({exc})") from None
    if manifest.get("format") != TRACE_FORMAT:
        raise GoldenError(f"{path}: trace format {manifest.get('format')!r}, this harness reads {TRACE_FORMAT}")
    return Goldens(root, manifest)


def problems(store: Goldens, cases: Iterable[Case]) -> list[str]:
    """Every inconsistency between cases, manifest and files, one line each (empty = consistent)."""
    found = []
    cases = list(cases)
    ids = {c.id for c in cases}
    referenced = set()
    for case in cases:
        entry = store.entries.get(case.id)
        if entry is None:
            found.append(f"{case.source}: {case.id}: has no golden (run `lr-conformance regen`)")
            continue
        if entry.get("spec") != spec_hash(case):
            found.append(f"{case.source}: {case.id}: spec changed since its golden was generated (run `lr-conformance regen`)")
        for record in entry["traces"]:
            referenced.add(record["file"])
            try:
                trace = store.read_verified(store.root / record["file"], record["sha256"])
            except (GoldenError, traces.TraceFormatError) as exc:
                found.append(str(exc))
                continue
            if not record["torch"]:
                found.extend(_expectation_problems(case, trace))
    for orphan in sorted(set(store.entries) - ids):
        found.append(f"{store.root / MANIFEST}: orphan golden {orphan!r} has no case")
    if store.root.exists():
        for path in sorted(store.root.rglob("*.csv")):
            rel = path.relative_to(store.root).as_posix()
            if rel not in referenced:
                found.append(f"{path}: orphan trace file, not in the manifest")
    return found


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


def recover(root: Path = TRACES_DIR) -> None:
    """Finish or undo an interrupted swap: if traces/ is gone but the backup exists, put it back."""
    backup = root.with_name("." + root.name + ".old")
    staging = root.with_name("." + root.name + ".new")
    if not root.exists() and backup.exists():
        os.replace(backup, root)
    for leftover in (backup, staging):
        if leftover.exists() and root.exists():
            shutil.rmtree(leftover)


def write_atomically(root: Path, files: Mapping[str, str | None], manifest: Mapping) -> None:
    """Write `files` (relative path -> text, or None to delete) and the manifest as one change.

    The current directory is copied to a staging directory, changed there, and swapped in with two renames;
    `recover` repairs the one window between them. Nothing is touched if anything fails before the swap.
    """
    recover(root)
    staging = root.with_name("." + root.name + ".new")
    backup = root.with_name("." + root.name + ".old")
    if staging.exists():
        shutil.rmtree(staging)
    if root.exists():
        shutil.copytree(root, staging)
    else:
        staging.mkdir(parents=True)
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
    if root.exists():
        os.replace(root, backup)
    os.replace(staging, root)
    shutil.rmtree(backup, ignore_errors=True)


def dump_manifest(manifest: Mapping) -> str:
    return json.dumps(manifest, indent=1, sort_keys=True, ensure_ascii=False) + "\n"
