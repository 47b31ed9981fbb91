"""What the site shows, read from the suite's files into frozen dataclasses (no HTML, no plotting here).

Inputs (each has a default in the checkout; every one but the cases and goldens may be absent, and the page
that needs it then says so):
  cases + goldens        golden/cases/*.toml, golden/traces/ (manifest: reference and release-scoped traces,
                         their PEP 440 `torch` ranges and the releases that generated them)
  library results        docs/results/*.json, written by tools/thirdparty.py (the compact summary) or full
                         `lr-conformance run --json` documents; a result that keeps its `traces` gets its
                         library's curve drawn, one without only its first divergence
  expectations           expectations/<variant>.toml: why each recorded difference exists
  release matrix         docs/matrix/results.json: each torch release's env run
  behaviour changes      docs/matrix/changes.toml: one [[change]] per torch change (see `load_changes`)

Problems with the data are collected and raised together as one SiteError, one line per problem.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from packaging.version import InvalidVersion, Version

from conformance import cases as cases_mod, golden, resources, traces
from conformance.cases import CaseError
from conformance.expectations import load_expectations
from conformance.model import Case, Tolerance, Trace
from conformance.snippet import torch_snippet

# How each result status is counted in the matrix (as docs/conformance-matrix.md counts them).
CATEGORY = {"pass": "pass", "xpass": "pass", "fail": "differs", "xfail": "differs", "error": "error",
            "timeout": "error", "crash": "error", "unsupported": "unsupported", "skip": "skip"}
# ungraded: a case of the current suite that a result file has no result for (it was graded against an older
# suite); counted so that a library's cells add up to the suite's cases, never shown as if it were graded
CATEGORIES = ("pass", "differs", "error", "unsupported", "skip", "ungraded")
RESULT_SCHEMAS = ("lr-conformance/thirdparty-summary/1", "lr-conformance/result/1")
CHANGE_KEYS = {"id": str, "release": str, "kind": str, "summary": str, "cause": str, "cause_title": str,
               "cases": list}
SLUG = re.compile(r"^[a-z0-9]+(?:[-.][a-z0-9]+)*$")
# The checkout this code runs from (or, installed from a wheel, the site-packages directory): paths inside it are
# shown relative to it.
CHECKOUT = Path(__file__).resolve().parents[2]


def regrade_command(origin: str, name: str) -> str:
    """How to re-grade a stale result, by where it came from. tools/ is only in a checkout: installed from a
    wheel, a shipped result is re-graded by running its adapter and passing the result in."""
    if origin == "yours":
        return "lr-conformance run --adapter ... --json FILE, then rebuild"
    if resources.is_checkout(CHECKOUT):
        return f"python tools/thirdparty.py --only {name}"
    return (f"lr-conformance run --adapter {name} --json FILE, then rebuild with --results FILE "
            f"(or, in a checkout of lr-conformance, python tools/thirdparty.py --only {name})")


class SiteError(ValueError):
    """The site's inputs are unusable. str() is one line per problem, each naming its file."""


@dataclass(frozen=True)
class Sources:
    """Where every input is read from."""

    cases: Path
    traces: Path
    results: Path | None  # the shipped library results (docs/results); None: show only `user_results`
    expectations: Path
    matrix: Path
    changes: Path
    user_results: tuple[Path, ...] = ()  # `--results`: the user's own result files or directories of them

    @classmethod
    def checkout(cls, root: Path | None = None) -> Sources:
        """The suite's own inputs (where conformance reads them: a checkout's files or a wheel's copy), or those
        of the checkout at `root`."""
        if root is None:
            return cls(cases=cases_mod.CASES_DIR, traces=golden.TRACES_DIR, results=resources.RESULTS_DIR,
                       expectations=resources.EXPECTATIONS_DIR, matrix=resources.MATRIX_DIR / "results.json",
                       changes=resources.MATRIX_DIR / "changes.toml")
        root = Path(root)
        return cls(
            cases=root / "golden" / "cases",
            traces=root / "golden" / "traces",
            results=root / "docs" / "results",
            expectations=root / "expectations",
            matrix=root / "docs" / "matrix" / "results.json",
            changes=root / "docs" / "matrix" / "changes.toml",
        )


@dataclass(frozen=True)
class GoldenRecord:
    """One golden trace of a case: the reference (torch == "") or a release-scoped variant."""

    file: str  # relative to the traces directory
    torch: str  # PEP 440 range; "" for the reference trace
    generated_by: tuple[str, ...]  # the releases whose run produced exactly this trace
    trace: Trace


@dataclass(frozen=True)
class CaseData:
    case: Case
    toml: str  # the case's [[case]] block as written in its file
    defaults_toml: str  # the file's [defaults] block, merged under it ("" when the file has none)
    snippet: str  # standalone torch code printing the reference values
    records: tuple[GoldenRecord, ...]  # the reference first, then the release-scoped ones in manifest order

    @property
    def id(self) -> str:
        return self.case.id

    @property
    def scheduler(self) -> str:
        return self.case.scheduler.name

    @property
    def golden(self) -> GoldenRecord:
        return self.records[0]

    def record_for(self, release: str) -> GoldenRecord | None:
        """The trace that `release` generated (None if that release did not run the case)."""
        return next((r for r in self.records if release in r.generated_by), None)


@dataclass(frozen=True)
class LibraryResult:
    case_id: str
    scheduler: str
    status: str
    detail: str = ""
    divergence: Mapping | None = None  # step, group, column, expected, actual[, ulps ...]
    missing: tuple[str, ...] = ()
    trace: Trace | None = None  # the library's own trace, when the result file kept it

    @property
    def category(self) -> str:
        return CATEGORY[self.status]


@dataclass(frozen=True)
class Library:
    """One adapter variant (a column of the matrix): its declaration, results and recorded reasons."""

    name: str  # "paddle-float64"
    library: str  # "paddle"
    version: str
    tolerance: Tolerance
    counts: Mapping[str, int]  # per status, as the result file states them
    results: tuple[LibraryResult, ...]
    reasons: Mapping[str, str]  # case id -> why it differs (expectations/<name>.toml, link appended)
    source: str  # the result file
    expectations_source: str = ""  # the expectations file, when there is one
    goldens: str = ""  # the digest of the goldens it was graded against (suite.goldens), "" when not recorded
    ungraded: tuple[tuple[str, str], ...] = ()  # (case id, scheduler) of current cases it has no result for
    stale: str = ""  # why this result is not a grading of the current suite ("" when it is, or cannot be told)
    origin: str = "shipped"  # "shipped" (the suite's docs/results) or "yours" (given with --results)

    _by_case: dict = field(default_factory=dict, init=False, compare=False, repr=False)  # filled on first use

    def result(self, case_id: str) -> LibraryResult | None:
        if not self._by_case:
            self._by_case.update({r.case_id: r for r in self.results})
        return self._by_case.get(case_id)

    def categories(self, scheduler: str | None = None) -> dict[str, int]:
        counts = dict.fromkeys(CATEGORIES, 0)
        for r in self.results:
            if scheduler is None or r.scheduler == scheduler:
                counts[r.category] += 1
        counts["ungraded"] = sum(1 for _, s in self.ungraded if scheduler is None or s == scheduler)
        return counts


@dataclass(frozen=True)
class Change:
    """One torch behaviour change (docs/matrix/changes.toml)."""

    id: str
    release: str  # the first tested release that shows it
    kind: str  # "lr values", "momentum/last_lr", "error raised", "warning", "message text"
    summary: str
    cause: str  # URL of the PR/issue/commit, or ""
    cause_title: str
    cases: tuple[str, ...]
    searched: str = ""  # when cause is "": what was searched


@dataclass(frozen=True)
class ReleaseRun:
    """One torch release's env run in the release matrix (docs/matrix/results.json)."""

    release: str
    env: str
    status: str
    run: str = ""
    pytest: str = ""
    install_seconds: float | None = None
    test_seconds: float | None = None


@dataclass(frozen=True)
class SiteData:
    reference: str  # the reference torch release
    cases: tuple[CaseData, ...]
    libraries: tuple[Library, ...]
    releases: tuple[str, ...]  # every tested torch release, oldest first
    runs: Mapping[str, ReleaseRun]
    changes: tuple[Change, ...] | None  # None: no behaviour-change file
    sources: Sources
    notes: tuple[str, ...] = ()  # inputs that were absent, for the pages to say so
    warnings: tuple[str, ...] = ()  # results graded against an older suite (each page they appear on says so)
    loaded: tuple[str, ...] = ()  # which results were read from where (the command says it on stderr)
    _index: dict = field(default_factory=dict, init=False, compare=False, repr=False)  # filled on first use

    def case(self, case_id: str) -> CaseData | None:
        if not self._index:
            self._index.update({c.id: c for c in self.cases})
        return self._index.get(case_id)

    @property
    def schedulers(self) -> tuple[str, ...]:
        """Top-level schedulers with cases, in the suite's canonical order."""
        present = {c.scheduler for c in self.cases}
        return tuple(s for s in cases_mod.SCHEDULER_CLASSES if s in present)

    def changes_of(self, case_id: str) -> tuple[Change, ...]:
        return tuple(c for c in self.changes or () if case_id in c.cases)


def load(sources: Sources) -> SiteData:
    """Everything the site shows. Raises SiteError listing every problem found (one line each)."""
    problems: list[str] = []
    notes: list[str] = []
    all_cases = cases_mod.load_cases(sources.cases)
    store = golden.load(sources.traces)
    blocks = {family: case_blocks(sources.cases / f"{family}.toml") for family in {c.family for c in all_cases}}
    cases = tuple(_case_data(case, store, blocks[case.family], problems) for case in all_cases)
    known = {c.id for c in cases}

    libraries, loaded = _load_libraries(sources, problems)
    if not libraries:
        notes.append("no library results" + (f" in {display_path(sources.results)}" if sources.results else "")
                     + (f" nor in {', '.join(map(display_path, sources.user_results))}" if sources.user_results
                        else ""))
    current = resources.goldens_digest(sources.traces) or ""
    libraries = [_staleness(lib, cases, current, regrade_command(lib.origin, lib.name)) for lib in libraries]
    warnings = tuple(f"{lib.source}: {lib.stale}" for lib in libraries if lib.stale)
    for lib in libraries:
        stale = sorted({r.case_id for r in lib.results} - known)
        if stale:
            notes.append(f"{lib.source}: {len(stale)} result(s) for cases that no longer exist "
                         f"({', '.join(stale[:3])}{' ...' if len(stale) > 3 else ''}): counted, without a page")

    runs = _load_runs(sources.matrix, problems)
    if not runs:
        notes.append(f"no release matrix results in {display_path(sources.matrix)}")
    releases = sorted({r for c in cases for rec in c.records for r in rec.generated_by} | set(runs),
                      key=_release_key)
    changes = load_changes(sources.changes, known, problems)
    if changes is None:
        notes.append(f"no behaviour-change data: {display_path(sources.changes)} does not exist")
    else:
        unknown = sorted({c.release for c in changes} - set(releases), key=_release_key)
        problems += [f"{display_path(sources.changes)}: release {r} is not a tested release ({', '.join(releases)})"
                     for r in unknown]
    if problems:
        raise SiteError("\n".join(problems))
    return SiteData(store.reference, cases, tuple(libraries), tuple(releases), runs, changes, sources, tuple(notes),
                    warnings, loaded)


def _staleness(lib: Library, cases: tuple[CaseData, ...], current: str, regrade: str) -> Library:
    """The library with what its result file lacks against the current suite: the cases it has no result for,
    and, when its goldens digest is recorded and differs from the current one, that too."""
    have = {r.case_id for r in lib.results}
    ungraded = tuple((c.id, c.scheduler) for c in cases if c.id not in have)
    reasons = []
    if ungraded:
        reasons.append(f"{len(cases) - len(ungraded)} of the suite's {len(cases)} cases graded, "
                       f"{len(ungraded)} newer ones not")
    if lib.goldens and current and lib.goldens != current:
        reasons.append(f"graded against goldens {lib.goldens[:19]}, the suite's are {current[:19]}")
    stale = ""
    if reasons:
        stale = f"graded against an older suite ({'; '.join(reasons)}); re-grade it: {regrade}"
    return replace(lib, ungraded=ungraded, stale=stale)


# --- cases and goldens ------------------------------------------------------------------------


def _case_data(case: Case, store: golden.Goldens, blocks: Mapping[str, str], problems: list[str]) -> CaseData:
    records = []
    try:
        entry = store.entry(case.id)
    except golden.GoldenError as exc:
        problems.append(str(exc))
        entry = {"traces": []}
    for raw in entry["traces"]:
        try:
            trace = store.read_verified(store.root / raw["file"], raw["sha256"])
        except (golden.GoldenError, traces.TraceFormatError) as exc:
            problems.append(str(exc))
            trace = Trace()
        records.append(GoldenRecord(raw["file"], raw.get("torch", ""), tuple(raw.get("generated_by", ())), trace))
    records.sort(key=lambda r: r.torch != "")  # the reference first; scoped ones keep their manifest order
    if entry["traces"] and records[0].torch:
        problems.append(f"{store.root / golden.MANIFEST}: case {case.id!r} has no reference trace")
    if not records:
        records.append(GoldenRecord("", "", (), Trace()))  # reported above; keeps the other problems coming
    # A site is published: name the case file as the suite does (golden/cases/steplr.toml, as the goldens are
    # golden/traces/...), not by where this machine read it (a wheel's site-packages, a checkout elsewhere).
    case = replace(case, source=f"golden/cases/{Path(case.source).name}")
    return CaseData(case, blocks.get(case.id, ""), blocks.get("", ""), torch_snippet(case), tuple(records))


_HEADER = re.compile(r"^\[\[?\s*([A-Za-z0-9_.-]+)\s*\]\]?\s*(#.*)?$")


def case_blocks(path: Path) -> dict[str, str]:
    """The text of each `[[case]]` block of a case file, by case id, as written (comments included); the
    `[defaults]` block under the key "". Comment lines directly above a header belong to that header's block."""
    lines = path.read_text(encoding="utf-8").splitlines()
    headers = [i for i, line in enumerate(lines) if (m := _HEADER.match(line)) and m.group(1) in ("case", "defaults")]
    starts = []
    for n, start in enumerate(headers):
        while start > (headers[n - 1] + 1 if n else 0) and lines[start - 1].startswith("#"):
            start -= 1
        starts.append(start)
    blocks: dict[str, str] = {}
    for n, start in enumerate(starts):
        end = starts[n + 1] if n + 1 < len(starts) else len(lines)
        while end > start and not lines[end - 1].strip():
            end -= 1
        text = "\n".join(lines[start:end]) + "\n"
        data = tomllib.loads(text)
        if "defaults" in data:
            blocks[""] = text
        else:
            blocks[data["case"][0]["id"]] = text
    return blocks


# --- library results --------------------------------------------------------------------------


def _result_files(sources: Sources) -> list[tuple[str, Path]]:
    """(origin, file) of every result to show: the shipped ones, then the user's (files, or directories' *.json)."""
    files = []
    if sources.results is not None and sources.results.is_dir():
        files += [("shipped", path) for path in sorted(sources.results.glob("*.json"))]
    for given in sources.user_results:
        files += [("yours", path) for path in (sorted(given.glob("*.json")) if given.is_dir() else [given])]
    return files


def _load_libraries(sources: Sources, problems: list[str]) -> tuple[list[Library], tuple[str, ...]]:
    """The libraries to show - the user's first, then the shipped ones, each by name - and what was loaded from
    where (one line each). One of the user's results replaces the shipped one of the same name (a library author
    re-grading their library); two results of one origin with the same name (or names that make the same file
    name) would share a page and a badge, so they are refused, naming both files."""
    kept: dict[str, Library] = {}
    replaced = []
    for origin, path in _result_files(sources):
        lib = _read_library(path, origin, sources.expectations, problems)
        if lib is None:
            continue
        slug = file_slug(lib.name)
        other = kept.get(slug)
        if other is not None and not (other.origin == "shipped" and origin == "yours"):
            same = "the same name" if other.name == lib.name else f"names that make one file name ({other.name!r})"
            problems.append(f"{lib.source}: grades {lib.name!r}, {same} as {other.source}: one site entry (page, "
                            "badge) per name - set a distinct \"variant\" in one of them, or show them apart")
            continue
        if other is not None:
            replaced.append(f"{lib.name}: yours ({lib.source}) replaces the shipped {other.source}")
        kept[slug] = lib
    loaded = []
    for origin, where in (("shipped", [sources.results] if sources.results else []),
                          ("yours", list(sources.user_results))):
        names = [lib.name for lib in kept.values() if lib.origin == origin]
        if where:
            loaded.append(f"{len(names)} {'shipped result(s)' if origin == 'shipped' else 'of your results'} from "
                          f"{', '.join(map(display_path, where))}"
                          + (f": {', '.join(names)}" if names else ""))
    if sources.results is None:
        loaded.append("shipped results not shown (--results-only)")
    elif not sources.results.is_dir():
        loaded.append(f"no shipped results: {display_path(sources.results)} does not exist")
    libraries = sorted(kept.values(), key=lambda lib: (lib.origin != "yours", lib.name))
    return libraries, tuple(loaded + replaced)


def _read_library(path: Path, origin: str, expectations_dir: Path, problems: list[str]) -> Library | None:
    """One result file as a Library, or None with its problem appended (one line naming the file)."""
    where = display_path(path)
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        problems.append(f"{where}: no such result file")
        return None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        problems.append(f"{where}: not a JSON result file ({exc})")
        return None
    if not isinstance(document, dict) or document.get("schema") not in RESULT_SCHEMAS:
        found = document.get("schema") if isinstance(document, dict) else type(document).__name__
        problems.append(f"{where}: not an lr-conformance result (schema {found!r}, expected one of "
                        f"{', '.join(RESULT_SCHEMAS)})")
        return None
    shape = _shape_problem(document)
    if shape:
        problems.append(f"{where}: malformed result: {shape}")
        return None
    try:
        return replace(_library(document, path, expectations_dir), origin=origin)
    except CaseError as exc:  # its expectations file
        problems.append(str(exc))
    except (KeyError, TypeError, ValueError) as exc:
        problems.append(f"{where}: malformed result ({type(exc).__name__}: {exc})")
    return None


# What the site reads of a result file (a `run --json` result or tools/thirdparty.py's summary), by type: a
# hostile or broken file is refused with the first field that is wrong, before anything reads it.
_TEXT = {"type": "string"}
_NUMBER = {"type": "number"}
RESULT_SHAPE = {
    "type": "object",
    "required": ["adapter", "results"],
    "properties": {
        "variant": {"type": ["string", "null"]},
        "library": {"type": ["string", "null"]},
        "adapter": {"type": "object", "required": ["name"], "properties": {
            "name": _TEXT, "version": _TEXT,
            "tolerance": {"type": ["object", "null"], "properties": {"rel": _NUMBER, "abs": _NUMBER, "reason": _TEXT}},
        }},
        "counts": {"type": "object", "additionalProperties": {"type": "integer"}},
        "suite": {"type": ["object", "null"], "properties": {"goldens": {"type": ["string", "null"]}}},
        "results": {"type": "array", "items": {"type": "object", "required": ["id", "scheduler", "status"],
                                               "properties": {
            "id": _TEXT, "scheduler": _TEXT, "status": {"enum": sorted(CATEGORY)}, "detail": _TEXT,
            "divergence": {"type": ["object", "null"], "properties": {"step": {"type": "integer"},
                                                                     "column": _TEXT}},
            "missing": {"type": "array", "items": _TEXT},
            "traces": {"type": ["object", "null"], "properties": {"actual": {"type": ["object", "null"]}}},
        }}},
    },
}


def _shape_problem(document: Mapping) -> str:
    """Where `document` departs from RESULT_SHAPE (one line), or ""."""
    import jsonschema

    error = jsonschema.exceptions.best_match(jsonschema.Draft202012Validator(RESULT_SHAPE).iter_errors(document))
    if error is None:
        return ""
    where = "/".join(str(part) for part in error.absolute_path) or "the top level"
    return f"at {where}: {traces.short_message(error.message)}"


def _library(document: Mapping, path: Path, expectations_dir: Path) -> Library:
    adapter = document["adapter"]
    name = str(document.get("variant") or adapter["name"])
    results = []
    for item in document["results"]:
        if item["status"] not in CATEGORY:
            raise ValueError(f"case {item.get('id')!r}: unknown status {item['status']!r}")
        kept = item.get("traces")
        results.append(LibraryResult(
            case_id=str(item["id"]), scheduler=str(item["scheduler"]), status=item["status"],
            detail=str(item.get("detail", "")), divergence=item.get("divergence"),
            missing=tuple(item.get("missing", ())),
            trace=Trace.from_json(kept["actual"]) if kept and kept.get("actual") else None,
        ))
    tol = adapter.get("tolerance") or {}
    # the user's expectations file beside their result (mylib.json, mylib.toml), else the suite's recorded one
    # (one that exists but is not a readable file is reported, not passed over)
    expectations = next((p for p in (path.with_suffix(".toml"), expectations_dir / f"{name}.toml")
                         if p.exists()), None)
    reasons = load_expectations(expectations) if expectations else {}
    counts = {k: int(v) for k, v in document.get("counts", {}).items()}
    suite = document.get("suite") if isinstance(document.get("suite"), dict) else {}
    return Library(
        name=name, library=str(document.get("library") or name.split("-")[0]), version=str(adapter.get("version", "")),
        tolerance=Tolerance(float(tol.get("rel", 0.0)), float(tol.get("abs", 0.0)), str(tol.get("reason", "bit-exact"))),
        counts=counts, results=tuple(results), reasons=reasons, source=display_path(path),
        expectations_source=display_path(expectations) if expectations else "",
        goldens=str(suite.get("goldens") or ""),
    )


# --- releases and changes ---------------------------------------------------------------------


def _release_key(release: str):
    try:
        return (0, Version(release))
    except InvalidVersion:
        return (1, release)


def _load_runs(path: Path, problems: list[str]) -> dict[str, ReleaseRun]:
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return {release: ReleaseRun(release, str(r.get("env", "")), str(r.get("status", "")), str(r.get("run", "")),
                                    str(r.get("pytest", "")).strip("= "), r.get("install_seconds"),
                                    r.get("test_seconds"))
                for release, r in sorted(data.items(), key=lambda item: _release_key(item[0]))}
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, AttributeError) as exc:
        problems.append(f"{display_path(path)}: not the release matrix's results ({type(exc).__name__}: {exc})")
        return {}


def load_changes(path: Path, known_cases: set[str], problems: list[str]) -> tuple[Change, ...] | None:
    """docs/matrix/changes.toml, or None when it does not exist. Its minimum shape, one table per change:

        [[change]]
        id = "last-epoch-no-extra-step"       # unique slug
        release = "2.8.0"                     # the first tested release that shows the new behaviour
        kind = "lr values"                    # lr values | momentum/last_lr | error raised | warning | message text
        summary = "one sentence"
        cause = "https://github.com/pytorch/pytorch/pull/149312"   # "" when not found: then `searched` says
        cause_title = "the PR's / issue's title"                   # what was searched
        cases = ["cosineannealinglr/last-epoch-resume", ...]

    Other keys are allowed (and ignored). Problems are appended to `problems`, one line each."""
    if not path.is_file():
        return None
    where = display_path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        problems.append(f"{where}: invalid TOML: {exc}")
        return ()
    changes, seen = [], set()
    for index, item in enumerate(data.get("change", []), 1):
        label = f"{where}: [[change]] #{index}" + (f" {item.get('id')!r}" if isinstance(item, dict) else "")
        if not isinstance(item, dict):
            problems.append(f"{label}: not a table")
            continue
        bad = [f"{key} ({kind.__name__})" for key, kind in CHANGE_KEYS.items() if not isinstance(item.get(key), kind)]
        if bad:
            problems.append(f"{label}: missing or mistyped {', '.join(bad)}")
            continue
        if not SLUG.match(item["id"]) or item["id"] in seen:
            problems.append(f"{label}: id must be a unique slug")
            continue
        seen.add(item["id"])
        unknown = [c for c in item["cases"] if c not in known_cases]
        if unknown or not item["cases"]:
            problems.append(f"{label}: " + (f"unknown case(s) {', '.join(map(str, unknown))}" if unknown
                                            else "lists no case"))
            continue
        if not item["cause"] and not str(item.get("searched", "")).strip():
            problems.append(f"{label}: cause is empty and no `searched` says what was searched")
            continue
        changes.append(Change(item["id"], item["release"], item["kind"], item["summary"], item["cause"],
                              item["cause_title"], tuple(item["cases"]), str(item.get("searched", ""))))
    changes.sort(key=lambda c: (_release_key(c.release), c.id))
    return tuple(changes)


def release_ranges(releases: tuple[str, ...] | list[str], universe: tuple[str, ...]) -> str:
    """'1.13.1–2.7.1, 2.13.0': consecutive runs of `releases` in `universe` order."""
    runs: list[list[str]] = []
    for i, release in enumerate(universe):
        if release in releases:
            if runs and universe.index(runs[-1][-1]) == i - 1:
                runs[-1].append(release)
            else:
                runs.append([release])
    return ", ".join(r[0] if len(r) == 1 else f"{r[0]}–{r[-1]}" for r in runs)


def file_slug(name: str) -> str:
    """A library variant's name as a file name (its page and badge): two names with one slug would collide."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-.") or "unnamed"


def display_path(path: Path) -> str:
    """The path relative to the checkout when it is inside it, for messages and pages."""
    try:
        return str(Path(path).resolve().relative_to(CHECKOUT))
    except ValueError:
        return str(path)
