"""Regenerate golden traces from the reference implementation (real torch), and say what changed.

Rules (the golden data is the product, so they are strict):
  * only an adapter mirroring the manifest's reference release writes reference traces;
  * new cases get goldens; a golden whose trace would change, or one whose case was deleted, is only
    rewritten or removed with accept=True - otherwise the changes are printed and nothing is written;
  * all traces are computed first, then written in one swap under the writers' lock
    (golden.write_atomically); the caller should read `store` under that lock too (golden.writer), so that
    no other writer changes the goldens in between - write_atomically refuses if one did;
  * a second run writes no byte (CSV and manifest are deterministic).
"""

from __future__ import annotations

import copy
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from conformance import TRACE_FORMAT, __version__, compare, golden, traces
from conformance.cases import applies_to, spec_hash
from conformance.model import FEATURES, AdapterInfo, Case, Trace

GENERATOR = f"lr-conformance {__version__}"


@dataclass(frozen=True)
class Change:
    case_id: str
    kind: str  # "new", "changed", "removed", "spec" (spec edited, trace identical)
    detail: str = ""


def describe_change(case: Case, old: Trace, new: Trace) -> str:
    """First differing step/group/column and the largest lr difference, for humans."""
    strict = AdapterInfo("golden", "", frozenset(), frozenset(FEATURES), frozenset({"last_lr", "messages"}))
    _, detail, divergence = compare.compare(case, old, new, strict)
    old_lr = {(o.step, o.group): o.lr for o in old.observations}
    diffs = [abs(o.lr - old_lr[(o.step, o.group)]) for o in new.observations if (o.step, o.group) in old_lr]
    finite = [d for d in diffs if d == d]
    return f"{detail}; max |lr diff| {max(finite, default=0.0):.3g}" if divergence else "identical values"


def _describe_old(case: Case, path, old_bytes: bytes | None, text: str) -> str:
    if old_bytes is None:
        return "old golden missing"
    if old_bytes.replace(b"\r\n", b"\n") == text.encode():
        return "same rows, but the old golden has CRLF line endings (rewritten by an editor or git's autocrlf?)"
    try:
        return describe_change(case, traces.loads(old_bytes.decode("utf-8"), str(path)), traces.loads(text))
    except (UnicodeDecodeError, traces.TraceFormatError) as exc:
        return f"old golden unreadable: {str(exc).splitlines()[0]}"


def regenerate(
    adapter,
    cases: Iterable[Case],
    store: golden.Goldens,
    accept: bool = False,
    prune: bool = True,
    out: Callable[[str], None] = print,
) -> int:
    """Regenerate reference goldens for `cases`. Returns a process exit code (0 ok, 1 refused, 2 misuse)."""
    cases = list(cases)
    release = adapter.info.mirrors
    if release != store.reference:
        out(f"regen: the reference release is torch {store.reference} but the adapter runs {release}; "
            "install the reference release (see README) - other releases get scoped traces via tools/matrix.py")
        return 2
    manifest = copy.deepcopy(dict(store.manifest))
    manifest.update({"format": TRACE_FORMAT, "reference": store.reference, "generator": GENERATOR})
    entries = manifest.setdefault("cases", {})
    files: dict[str, str | None] = {}
    changes: list[Change] = []
    for index, case in enumerate(cases, 1):
        if not applies_to(case, release):
            out(f"regen: {case.source}: {case.id}: torch{case.torch} excludes the reference release {release}")
            return 2
        text = traces.dumps(adapter.trace(case))
        record = {"file": golden.trace_file(case.id), "torch": "", "sha256": golden.csv_hash(text),
                  "generated_by": [release]}
        entry = entries.get(case.id)
        old = next((r for r in entry["traces"] if not r["torch"]), None) if entry else None
        # bytes, not text: a golden rewritten with CRLF line endings must not read back as unchanged
        old_bytes = store.files.get(old["file"]) if old is not None else None
        if old is None:
            changes.append(Change(case.id, "new"))
        elif old_bytes != text.encode():
            changes.append(Change(case.id, "changed", _describe_old(case, store.root / old["file"], old_bytes, text)))
        else:
            record["generated_by"] = sorted(set(old.get("generated_by", [])) | {release}, key=_release_key)
            if entry.get("spec") != spec_hash(case):
                changes.append(Change(case.id, "spec"))
        if old_bytes != text.encode():
            files[record["file"]] = text
        variants = [r for r in (entry or {}).get("traces", []) if r["torch"]]
        entries[case.id] = {"spec": spec_hash(case), "traces": [record, *variants]}
        if index % 50 == 0:
            print(f"  regen: {index}/{len(cases)} cases", file=sys.stderr)
    if prune:
        known = {c.id for c in cases}
        for case_id in sorted(set(entries) - known):
            changes.append(Change(case_id, "removed"))
            for r in entries.pop(case_id)["traces"]:
                files[r["file"]] = None

    for change in changes:
        out(f"  {change.kind:8} {change.case_id}" + (f": {change.detail}" if change.detail else ""))
    refused = [c for c in changes if c.kind in ("changed", "removed")]
    if refused and not accept:
        out(f"regen: {len(refused)} existing golden(s) would change or be removed; nothing written. "
            "Review the changes above, then rerun with --accept.")
        return 1
    if not files and golden.dump_manifest(manifest).encode() == store.manifest_bytes:
        out(f"regen: {len(cases)} cases, goldens up to date; nothing written")
        return 0
    golden.write_atomically(store, files, manifest)
    counts = {k: sum(c.kind == k for c in changes) for k in ("new", "changed", "removed", "spec")}
    out(f"regen: wrote {len(files)} file(s) for {len(cases)} cases: "
        + ", ".join(f"{v} {k}" for k, v in counts.items() if v))
    return 0


# --- release-scoped traces ------------------------------------------------------------------
#
# Every trace record lists the releases that produced it (`generated_by`). Regenerating under another
# release R adds R to the record whose text R reproduces, or creates a variant for it. Variant specifiers are
# then rebuilt from those lists alone: each run of consecutive releases (in the order of the releases that
# produced any trace of the case) sharing one text becomes one variant, bounded tightly by the first and
# last minor release observed (">=2.4,<2.10"). A release nobody ran falls back to the reference trace.


def _minor(release: str) -> tuple[int, int]:
    from packaging.version import Version

    v = Version(release)
    return v.major, v.minor


def _release_key(release: str):
    from packaging.version import Version

    return Version(release)


def variant_scope(releases: list[str]) -> tuple[str, str]:
    """(specifier, file label) of a run of consecutive releases, e.g. (">=2.4,<2.10", "torch2.4-2.9")."""
    first, last = _minor(releases[0]), _minor(releases[-1])
    specifier = f">={first[0]}.{first[1]},<{last[0]}.{last[1] + 1}"
    label = f"torch{first[0]}.{first[1]}" + (f"-{last[0]}.{last[1]}" if first != last else "")
    return specifier, label


def scoped_records(
    case_id: str, reference: dict, reference_text: str, texts: dict[str, str]
) -> tuple[list[dict], dict[str, str]]:
    """Rebuild a case's trace records from the text each release produced.

    `reference` is the reference record (kept as is but for its generated_by) and `reference_text` its CSV;
    `texts` maps every release with data to its CSV text. Returns the records and the variant files.
    """
    ordered = sorted(texts, key=_release_key)
    records = [{**reference, "generated_by": [r for r in ordered if texts[r] == reference_text]}]
    files: dict[str, str] = {}
    run: list[str] = []
    for release in ordered + [None]:
        if run and (release is None or texts[release] != texts[run[0]]):
            specifier, label = variant_scope(run)
            text = texts[run[0]]
            record = {"file": golden.trace_file(case_id, label), "torch": specifier,
                      "sha256": golden.csv_hash(text), "generated_by": run}
            records.append(record)
            files[record["file"]] = text
            run = []
        if release is not None and texts[release] != reference_text:
            run.append(release)
    return records, files


def regenerate_scoped(
    adapter,
    cases: Iterable[Case],
    store: golden.Goldens,
    accept: bool = False,
    out: Callable[[str], None] = print,
) -> int:
    """Record what a non-reference release does for every case, as release-scoped traces.

    Exit codes as `regenerate`: a release whose trace for a case changed since it was last recorded is
    refused without accept=True (printed with the first difference); new variants need no acceptance.
    """
    release = adapter.info.mirrors
    if release is None or release == store.reference:
        out(f"regen --scoped: torch {release} is the reference release; use `lr-conformance regen`")
        return 2
    manifest = copy.deepcopy(dict(store.manifest))
    entries = manifest.setdefault("cases", {})
    files: dict[str, str | None] = {}
    changes: list[Change] = []
    for case in cases:
        if not applies_to(case, release):
            continue
        entry = entries.get(case.id)
        reference = next((r for r in (entry or {}).get("traces", []) if not r["torch"]), None)
        if reference is None or entry.get("spec") != spec_hash(case):
            out(f"regen --scoped: {case.source}: {case.id}: no up-to-date reference golden; "
                f"run `lr-conformance regen` under torch {store.reference} first")
            return 2
        reference_text = store.text(reference)  # GoldenError if missing or corrupt: restore or regen it first
        texts = {}
        for record in entry["traces"]:
            text = store.text(record)
            texts.update({r: text for r in record.get("generated_by", [])})
        new_text = traces.dumps(adapter.trace(case))
        old_text = texts.get(release)
        if old_text is None:
            if new_text != reference_text:
                changes.append(Change(case.id, "new", f"torch {release} differs from the reference"))
        elif old_text != new_text:
            changes.append(Change(case.id, "changed", f"torch {release}: " + describe_change(
                case, traces.loads(old_text), traces.loads(new_text))))
        texts[release] = new_text
        records, variant_files = scoped_records(case.id, reference, reference_text, texts)
        for record in entry["traces"]:
            if record["torch"] and record["file"] not in variant_files:
                files[record["file"]] = None
        for name, text in variant_files.items():
            if store.files.get(name) != text.encode():
                files[name] = text
        entries[case.id] = {**entry, "traces": records}
    for change in changes:
        out(f"  {change.kind:8} {change.case_id}: {change.detail}")
    if any(c.kind == "changed" for c in changes) and not accept:
        out("regen --scoped: recorded traces would change; nothing written. Review, then rerun with --accept.")
        return 1
    if not files and golden.dump_manifest(manifest).encode() == store.manifest_bytes:
        out(f"regen --scoped: torch {release}: goldens up to date; nothing written")
        return 0
    golden.write_atomically(store, files, manifest)
    variants = sum(1 for c in changes if c.kind == "new")
    out(f"regen --scoped: torch {release}: recorded; {variants} case(s) newly differ from the reference")
    return 0
