"""Run the suite on every torch release 1.13.1 ... 2.15.0, record release-scoped traces, write what changed.

For each release, one at a time:
  1. `tox -e torchXY --notest`                create the env and install that torch (uv, through tox-uv)
  2. `lr-conformance regen --scoped`           inside it: record where this release differs from the
                                              reference (release-scoped variants; the reference release runs
                                              a plain `regen`, which must find nothing to change)
  3. `tox -e torchXY`                         the env's real run: check, conformance run, tests (--no-tests:
                                              skipped, the last run's results kept in results.json)
  4. with --bench: `tools/benchmark.py`       inside it: the benchmarks (tests/benchmarks), their figures saved
                                              as docs/matrix/bench/<release>.json
  5. with --fuzz S: `tools/fuzz_releases.py`  this release fuzzed against the one before it for S seconds, the
                                              changes changes.toml lists at this release known (docs/matrix/fuzz.json)
  6. delete .tox/torchXY                      (--keep to keep it; with --fuzz once the next release was fuzzed)
then writes docs/matrix/results.json (each env's result and times), docs/step-cost.md (each scheduler's step cost on
each release, relative to the reference, from docs/matrix/bench/) and docs/behaviour-changes.md: one row per
torch change - release, what changed, kind, upstream cause, cases - from docs/matrix/changes.toml, checked
against the recorded traces (every change of every case's trace between two releases must be covered by
exactly one change there), then each case's traces release by release. Golden values only ever come from
step 2, real torch.

    python tools/matrix.py                        # all 17 releases
    python tools/matrix.py --releases 2.8.0 2.9.1 # some
    python tools/matrix.py --bench                # ... and the benchmarks of every release
    python tools/matrix.py --bench --no-tests     # traces and benchmarks only: install, regen, bench (minutes less
                                                  # per release: the tests are the bulk of a release's time)
    python tools/matrix.py --no-regen --no-tests --fuzz 600   # the 16 adjacent pairs fuzzed, 10 minutes each
    python tools/matrix.py --tables-only          # rewrite the docs from the manifest and recorded results
Options: --accept (let step 2 change traces recorded before), --keep, --no-regen, --no-tests, --bench, --fuzz S
(--fuzz-seed N), --cold,
--tox "python -m tox". Releases run in the order given. --bench runs the benchmarks without the command ones
(`-m "not command"`: each of their rounds starts Python and imports torch), about a minute per release.

Disk and speed. uv installs each env from its cache (hard links where the cache is on the same file system),
so an env costs little beyond the cache, and the cache keeps every release's wheels (CUDA wheels from PyPI:
3-7 GB a release) for the next run. --cold gives each release an empty cache of its own, deleted with its env:
disk then holds one release at a time, and every release downloads its wheels. uv does not read pip's
configuration: the uv settings equivalent to pip's (tools/uv_env.py) are passed to tox unless UV_* variables
say otherwise. For CPU-only wheels see tox.ini.
Exit: 0 all envs pass and every trace change is attributed; 1 an env, its regen (a recorded trace would change:
rerun with --accept only once the change is understood) or its benchmarks failed; 2 usage, or
changes.toml does not match the recorded traces (each problem printed on one line; the tables are written anyway).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
import tomllib
from dataclasses import dataclass
from itertools import zip_longest
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tools"))

import benchmark  # noqa: E402
import uv_env  # noqa: E402

from conformance import cases as cases_mod  # noqa: E402
from conformance import compare, golden  # noqa: E402
from conformance.model import FEATURES, AdapterInfo, Case, Trace  # noqa: E402
from conformance.regenerate import describe_change  # noqa: E402

RELEASES = ("1.13.1", "2.0.1", "2.1.2", "2.2.2", "2.3.1", "2.4.1", "2.5.1", "2.6.0", "2.7.1", "2.8.0",
            "2.9.1", "2.10.0", "2.11.0", "2.12.1", "2.13.0", "2.14.1", "2.15.0")
RESULTS = ROOT / "docs" / "matrix" / "results.json"
CHANGES = ROOT / "docs" / "matrix" / "changes.toml"
TABLE = ROOT / "docs" / "behaviour-changes.md"
BENCH = ROOT / "docs" / "matrix" / "bench"
STEP_COST = ROOT / "docs" / "step-cost.md"
WORK = ROOT / ".matrix"
LOGS = WORK / "logs"

# What a change's first visible effect is, judged from the first difference between the traces before and
# after it (the earliest step; at one step an event before the values it explains).
KINDS = ("lr values", "momentum/last_lr", "error raised", "warning", "message text")
REQUIRED_KEYS = ("id", "release", "kind", "summary", "cause", "cause_title", "cases")


def env_name(release: str) -> str:
    major, minor = release.split(".")[:2]
    return f"torch{major}{minor}" if major != "1" else f"torch1{minor}"


def run(command: list[str], log, timeout: float, env: dict[str, str]) -> tuple[int, str]:
    """Run a command, append its output to the log, return (exit code, output)."""
    log.write(f"$ {shlex.join(command)}\n")
    log.flush()
    try:
        proc = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        log.write(f"timed out after {timeout:.0f}s\n")
        return 124, ""
    output = proc.stdout + proc.stderr
    log.write(output + f"[exit {proc.returncode}]\n")
    log.flush()
    return proc.returncode, output


def last_line(output: str, pattern: str) -> str:
    lines = [line.strip() for line in output.splitlines() if re.search(pattern, line)]
    return lines[-1] if lines else ""


def tox_environment(cache_dir: Path | None) -> dict[str, str]:
    """This process's environment plus uv's equivalent of pip's settings (and a cache of its own if given)."""
    env = {**os.environ, **uv_env.from_pip()}
    if cache_dir is not None:
        env["UV_CACHE_DIR"] = str(cache_dir)
    return env


def tox_problem(tox: list[str]) -> str:
    """Why the tox command cannot run, or '': checked before any release, so that a Python without tox (its
    `-m tox` is the default) is one line and exit 2, not every release recorded as install-failed."""
    try:
        done = subprocess.run([*tox, "--version"], capture_output=True, text=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"--tox {shlex.join(tox)!r} does not run: {error}"
    if done.returncode != 0:
        why = (done.stderr or done.stdout).strip().splitlines()
        return (f"--tox {shlex.join(tox)!r} does not run ({why[-1] if why else f'exit {done.returncode}'}): "
                "install tox and tox-uv into this Python, or give --tox")
    return ""


def matrix_release(release: str, args) -> dict:
    env = env_name(release)
    tox = shlex.split(args.tox)
    LOGS.mkdir(parents=True, exist_ok=True)
    cache = WORK / "uv-cache" / env if args.cold else None
    if cache is not None:
        shutil.rmtree(cache, ignore_errors=True)
    environ = tox_environment(cache)
    result = {"release": release, "env": env}
    with open(LOGS / f"{env}.log", "w", encoding="utf-8") as log:
        start = time.perf_counter()
        code, output = run([*tox, "-e", env, "--notest"], log, args.timeout, environ)
        result["install_seconds"] = round(time.perf_counter() - start, 1)
        if code != 0:
            result.update(status="install-failed", detail=last_line(output, r"ERROR|error") or f"exit {code}")
            return result
        if not args.no_regen:
            bin_dir = ROOT / ".tox" / env / "bin"
            regen = [str(bin_dir / "lr-conformance"), "regen"]
            if release != golden.REFERENCE_RELEASE:
                regen.append("--scoped")
            if args.accept:
                regen.append("--accept")
            start = time.perf_counter()
            code, output = run(regen, log, args.timeout, environ)
            result["regen_seconds"] = round(time.perf_counter() - start, 1)
            # its summary line, not the lock-wait notice a concurrent writer makes it print on stderr
            result["regen"] = last_line(output, r"^regen(?: --scoped)?: (?!waiting)") or f"exit {code}"
            result["regen_exit"] = code
            # the docs follow the traces just recorded before the env's tests read both
            write_tables(json.loads(RESULTS.read_text()) if RESULTS.exists() else {})
        if not args.no_tests:
            start = time.perf_counter()
            code, output = run([*tox, "-e", env], log, args.timeout, environ)
            result["test_seconds"] = round(time.perf_counter() - start, 1)
            result["status"] = "pass" if code == 0 else "fail"
            result["run"] = last_line(output, r"goldens: ")
            result["pytest"] = last_line(output, r"(passed|failed|error).* in [0-9.]+s")
        if args.bench:
            result.update(bench_release(release, env, log, environ, args.timeout))
    if not args.keep and not args.fuzz:  # with --fuzz the env is deleted once the next release is fuzzed against it
        shutil.rmtree(ROOT / ".tox" / env, ignore_errors=True)
    if cache is not None:
        shutil.rmtree(cache, ignore_errors=True)
    return result


TEST_KEYS = ("status", "test_seconds", "run", "pytest")


def keep_earlier(result: dict, earlier: dict, args) -> dict:
    """This run's result of a release, plus what an earlier run recorded of the steps this one skipped (the traces
    with --no-regen, the tests with --no-tests, the benchmarks without --bench). A failed install skips them all
    and says so in its own status."""
    skipped = [key for key in earlier if (args.no_regen and key.startswith("regen"))
               or (args.no_tests and key in TEST_KEYS) or (not args.bench and key.startswith("bench"))]
    return {**{key: earlier[key] for key in skipped}, **result}


def release_problem(result: dict, args) -> str:
    """Why this release failed in this run, or '' (the steps an earlier run did are not judged again)."""
    if result.get("status") == "install-failed":
        return f"install failed: {result.get('detail', '')}"
    if not args.no_regen and result.get("regen_exit", 0) != 0:
        return f"regen failed (exit {result['regen_exit']}): {result.get('regen', '')}"
    if not args.no_tests and result.get("status") != "pass":
        return f"tests failed: {result.get('run', '')} {result.get('pytest', '')}".strip()
    if args.bench and result.get("bench") != "saved":
        return f"benchmarks failed: {result.get('bench', '')}"
    return ""


def bench_release(release: str, env: str, log, environ: dict[str, str], timeout: float) -> dict:
    """Step 4 (--bench): the benchmarks under the release's env, their record saved as docs/matrix/bench/<release>.json
    (an earlier record of the release is replaced only by a complete one)."""
    python = ROOT / ".tox" / env / "bin" / "python"
    start = time.perf_counter()
    code, output = run([str(python), str(ROOT / "tools" / "benchmark.py"), "--save", str(BENCH / f"{release}.json"),
                        "-m", "not command"], log, timeout, environ)
    outcome = "saved" if code == 0 else last_line(output, r"(passed|failed|error)") or f"exit {code}"
    return {"bench_seconds": round(time.perf_counter() - start, 1), "bench": outcome}


# --- what changed, release to release ---------------------------------------------------------------


@dataclass(frozen=True)
class Transition:
    """A case whose trace under `release` differs from its trace under `before`, the release tested before."""

    case: str
    before: str
    release: str
    kind: str  # one of KINDS
    detail: str  # the first difference, for humans


@dataclass(frozen=True)
class Segment:
    """A run of consecutive tested releases sharing one recorded trace of a case."""

    releases: tuple[str, ...]
    record: dict


def ranges(releases, universe) -> str:
    """'1.13.1-2.7.1, 2.13.0' style: consecutive runs (in `universe` order) joined by commas."""
    universe = list(universe)
    runs: list[list[str]] = []
    for release in universe:
        if release in releases:
            if runs and universe.index(release) == universe.index(runs[-1][-1]) + 1:
                runs[-1].append(release)
            else:
                runs.append([release])
    return ", ".join(r[0] if len(r) == 1 else f"{r[0]}-{r[-1]}" for r in runs) or "none"


def segments(entry) -> list[Segment]:
    """A case's manifest entry as runs of consecutive tested releases (RELEASES order) sharing one trace."""
    by_release = {r: record for record in entry["traces"] for r in record.get("generated_by", [])}
    out: list[Segment] = []
    for release in (r for r in RELEASES if r in by_release):
        record = by_release[release]
        if out and out[-1].record["file"] == record["file"]:
            out[-1] = Segment(out[-1].releases + (release,), record)
        else:
            out.append(Segment((release,), record))
    return out


_STRICT = AdapterInfo("golden", "", frozenset(), frozenset(FEATURES), frozenset({"last_lr", "messages"}))


def first_difference_kind(case: Case, before: Trace, after: Trace) -> str:
    """The kind (KINDS) of the first difference between two traces of a case, as the strict comparison finds
    it: every column, every event, messages included."""
    _, _, divergence = compare.compare(case, before, after, _STRICT)
    if divergence is None:
        raise ValueError(f"{case.id}: the two traces do not differ")
    if divergence.column in ("momentum", "last_lr"):
        return "momentum/last_lr"
    if divergence.column != "event":
        return "lr values"  # "lr", or "length": observations one trace has and the other has not
    for old, new in zip_longest(before.events, after.events):
        if old == new:
            continue
        if old is not None and new is not None and old.key == new.key:
            return "message text"
        first = min((e for e in (old, new) if e is not None), key=lambda e: e.step)
        at_first = [e for e in (old, new) if e is not None and e.step == first.step]
        return "error raised" if any(e.kind == "error" for e in at_first) else "warning"
    raise AssertionError("compare found an event divergence the events do not show")


def transitions(store: golden.Goldens, all_cases) -> list[Transition]:
    """Every change of a case's recorded trace from one tested release to the next, in case order."""
    found = []
    for case in all_cases:
        entry = store.entries.get(case.id)
        if not entry:
            continue
        runs = segments(entry)
        for previous, current in zip(runs, runs[1:]):
            old = store.read_verified(store.root / previous.record["file"], previous.record["sha256"])
            new = store.read_verified(store.root / current.record["file"], current.record["sha256"])
            found.append(Transition(case.id, previous.releases[-1], current.releases[0],
                                    first_difference_kind(case, old, new), describe_change(case, old, new)))
    return found


def load_changes(path: Path = CHANGES) -> list[dict]:
    if not path.exists():
        return []
    try:
        return list(tomllib.loads(path.read_text(encoding="utf-8")).get("change", []))
    except tomllib.TOMLDecodeError as exc:
        raise SystemExit(f"matrix: {path}: {exc}") from None


def change_problems(changes: list[dict], found: list[Transition], path: str = "docs/matrix/changes.toml") -> list[str]:
    """Every disagreement between the curated changes and the recorded traces, one line each (empty: none).

    Each change must be well formed; each case it lists must change at its release with a first difference of
    its kind; each recorded change of a case's trace must be listed by exactly one change."""
    problems = []
    at = {(t.case, t.release): t for t in found}
    listed: dict[tuple[str, str], list[str]] = {}
    seen_ids = set()
    for index, change in enumerate(changes, 1):
        name = change.get("id") or f"change #{index}"
        missing = [key for key in REQUIRED_KEYS if key not in change]
        if missing:
            problems.append(f"{path}: {name}: missing {', '.join(missing)}")
            continue
        if name in seen_ids:
            problems.append(f"{path}: {name}: id used twice")
        seen_ids.add(name)
        if change["release"] not in RELEASES:
            problems.append(f"{path}: {name}: release {change['release']!r} is not a tested release "
                            f"({RELEASES[0]} ... {RELEASES[-1]})")
        if change["kind"] not in KINDS:
            problems.append(f"{path}: {name}: kind {change['kind']!r} is not one of {', '.join(KINDS)}")
        if not change["cause"] and not change.get("searched"):
            problems.append(f"{path}: {name}: no cause and no `searched` saying what was searched")
        if not change["cases"]:
            problems.append(f"{path}: {name}: lists no case")
        for case_id in change["cases"]:
            listed.setdefault((case_id, change["release"]), []).append(name)
            transition = at.get((case_id, change["release"]))
            if transition is None:
                problems.append(f"{path}: {name}: {case_id} does not change at {change['release']} in the "
                                "recorded traces")
            elif transition.kind != change["kind"]:
                problems.append(f"{path}: {name}: {case_id}'s first difference at {change['release']} is "
                                f"{transition.kind}, not {change['kind']} ({transition.detail})")
    for transition in found:
        names = listed.get((transition.case, transition.release), [])
        if not names:
            problems.append(f"{path}: no change lists {transition.case} at {transition.release} (from "
                            f"{transition.before}: {transition.kind}: {transition.detail})")
        elif len(names) > 1:
            problems.append(f"{path}: {transition.case} at {transition.release} is listed by {len(names)} "
                            f"changes: {', '.join(names)}")
    return problems


# --- tables --------------------------------------------------------------------------------


def _cases_cell(case_ids) -> str:
    """Case ids grouped by family: 'reducelronplateau: `cooldown`, `max-abs`; steplr: `x`'."""
    families: dict[str, list[str]] = {}
    for case_id in case_ids:
        family, _, name = case_id.partition("/")
        families.setdefault(family, []).append(name)
    return "; ".join(f"{family}: " + ", ".join(f"`{n}`" for n in names) for family, names in families.items())


def _cause_cell(change: dict) -> str:
    if not change["cause"]:
        return f"not found (searched: {change.get('searched', '')})"
    number = re.search(r"/(?:pull|issues|commit)/([0-9a-f]+)", change["cause"])
    label = f"#{number.group(1)}" if number and "/commit/" not in change["cause"] else "commit"
    return f"[{label}]({change['cause']}) {change['cause_title']}"


def render(store: golden.Goldens, all_cases, changes: list[dict], found: list[Transition], results: dict) -> str:
    by_id = {c["id"]: c for c in changes}
    change_of = {(case, c["release"]): c["id"] for c in changes for case in c["cases"]}
    changing = {t.case for t in found}
    recorded = {r for entry in store.entries.values() for rec in entry["traces"] for r in rec.get("generated_by", [])}
    out = ["# Behaviour changes across torch releases", "",
           "Generated by `python tools/matrix.py` from `docs/matrix/changes.toml` (what each torch change is and "
           "its upstream cause, curated), `golden/traces/manifest.json` (the traces each release recorded) and "
           "`docs/matrix/results.json`; do not edit by hand. `tests/meta/test_matrix_tool.py` checks every change "
           "against the recorded traces: each listed case's trace changes at that release, its first difference "
           "is of that kind, and every change of every case's trace is listed exactly once.", "",
           f"Releases recorded: {ranges(recorded, RELEASES)}. {len(all_cases) - len(changing)} of {len(all_cases)} "
           f"cases give the reference trace (torch {store.reference}) on every release; the other {len(changing)} "
           f"change {len(found)} times, through the {len(changes)} torch changes below.", "",
           "## Changes", "",
           "*release*: the first tested release that shows the change (it landed after the release tested "
           "before it). *kind*: the first difference between the traces before and after it - lr values, "
           "momentum/last_lr (`get_last_lr()` or the momentum the scheduler drives), error raised (a different "
           "error, or one at another step or phase, or none), warning, message text (same error or warning, "
           "reworded).", "",
           "| release | change | what changed | kind | cause | cases |",
           "| --- | --- | --- | --- | --- | --- |"]
    for change in sorted(changes, key=lambda c: (RELEASES.index(c["release"]) if c["release"] in RELEASES else 0,
                                                 c["id"])):
        out.append(f"| {change['release']} | `{change['id']}` | {_cell(change['summary'])} | {change['kind']} | "
                   f"{_cell(_cause_cell(change))} | {len(change['cases'])}: {_cases_cell(change['cases'])} |")
    unlisted = [t for t in found if (t.case, t.release) not in change_of]
    if unlisted:
        out += ["", "## Not yet attributed", "",
                "Recorded changes no entry of `docs/matrix/changes.toml` lists:", "",
                "| case | release | kind | first difference |", "| --- | --- | --- | --- |"]
        out += [f"| `{t.case}` | {t.release} | {t.kind} | {_cell(_shorten(t.detail))} |" for t in unlisted]
    out += ["", "## Each case, release by release", "",
            "Every case whose trace is not the same on every release: its traces in release order, the change "
            "that leads to each, and the first difference from the trace of the releases before (\"expected\" is "
            "theirs, \"got\" this one's).", ""]
    transition_at = {(t.case, t.release): t for t in found}
    for case in all_cases:
        if case.id not in changing:
            continue
        out += [f"### {case.id}", "", case.why, "",
                "| releases | trace | change | first difference from the releases before |",
                "| --- | --- | --- | --- |"]
        for segment in segments(store.entries[case.id]):
            reference = " (reference)" if not segment.record["torch"] else ""
            transition = transition_at.get((case.id, segment.releases[0]))
            change_id = change_of.get((case.id, segment.releases[0]), "")
            change = f"`{change_id}`" if change_id in by_id else ("not attributed" if transition else "")
            out.append(f"| {ranges(segment.releases, RELEASES)} | `{segment.record['file']}`{reference} | {change} | "
                       f"{_cell(_shorten(transition.detail)) if transition else ''} |")
        out.append("")
    out += ["## Each release's tox env", "",
            "As the last `python tools/matrix.py` run measured it (README, \"Speed\", says how): creating the env "
            "(`tox --notest`: uv installs torch and the project), `regen --scoped`, the env's run (check, "
            "conformance run, pytest; a run with `--no-tests` keeps the run before it's figures), then the "
            "benchmarks (`--bench`, docs/step-cost.md).", "",
            "| release | env | result | install | regen | run | bench | conformance run | pytest |",
            "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for release in RELEASES:
        r = results.get(release)
        if r is None:
            out.append(f"| {release} | `{env_name(release)}` | not run | | | | | | |")
            continue
        seconds = {k: f"{r[k]} s" if k in r else "" for k in ("install_seconds", "regen_seconds", "test_seconds",
                                                               "bench_seconds")}
        out.append(f"| {release} | `{r['env']}` | {r.get('status', 'not tested')} | {seconds['install_seconds']} | "
                   f"{seconds['regen_seconds']} | {seconds['test_seconds']} | {seconds['bench_seconds']} | "
                   f"{_cell(r.get('run') or r.get('detail', ''))} | {_cell(r.get('pytest', '').strip('= '))} |")
    return "\n".join(out) + "\n"


def write_tables(results: dict) -> list[str]:
    """Write docs/behaviour-changes.md; return the problems between changes.toml and the traces."""
    store = golden.load()
    all_cases = cases_mod.load_cases()
    changes = load_changes()
    found = transitions(store, all_cases)
    problems = change_problems(changes, found)
    well_formed = [c for c in changes if all(k in c for k in REQUIRED_KEYS)]
    TABLE.parent.mkdir(parents=True, exist_ok=True)
    TABLE.write_text(render(store, all_cases, well_formed, found, results), encoding="utf-8")
    return problems


def write_step_cost() -> None:
    """docs/step-cost.md from the benchmark records of docs/matrix/bench/."""
    text = benchmark.render_step_cost(benchmark.load_records(BENCH), RELEASES, golden.REFERENCE_RELEASE)
    STEP_COST.write_text(text, encoding="utf-8")


def _shorten(text: str, limit: int = 220) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def fuzz_step(older: str, newer: str, args) -> bool:
    """--fuzz: the newer release fuzzed against the older (tools/fuzz_releases.py), its result recorded in
    docs/matrix/fuzz.json. True when nothing diverged outside the changes changes.toml lists at `newer`."""
    import fuzz_releases

    fuzz_releases.WORK.mkdir(parents=True, exist_ok=True)
    if not (fuzz_releases.python_of(older).exists() and fuzz_releases.python_of(newer).exists()):
        print(f"matrix: fuzz {older} -> {newer}: an env is missing (its install failed?)", flush=True)
        return False
    with open(LOGS / f"fuzz-{env_name(older)}-{env_name(newer)}.log", "w", encoding="utf-8") as log:
        result = fuzz_releases.fuzz_pair(older, newer, args.fuzz, args.fuzz_seed, fuzz_releases.WORK, log,
                                          tox_environment(None))
    fuzz_releases.save(result)
    return result["exit"] == 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--releases", nargs="+", default=list(RELEASES), metavar="X.Y.Z")
    parser.add_argument("--accept", action="store_true", help="let regen change traces recorded before")
    parser.add_argument("--keep", action="store_true", help="keep each .tox/torchXY env")
    parser.add_argument("--no-regen", action="store_true", help="only run each env's tests")
    parser.add_argument("--no-tests", action="store_true",
                        help="skip each env's tests (tox -e torchXY); results.json keeps the last run's")
    parser.add_argument("--bench", action="store_true",
                        help="also run the benchmarks in each env: docs/matrix/bench/<release>.json, docs/step-cost.md")
    parser.add_argument("--fuzz", type=float, metavar="SECONDS",
                        help="also fuzz each release against the one before it for SECONDS (tools/fuzz_releases.py): "
                             "docs/matrix/fuzz.json")
    parser.add_argument("--fuzz-seed", type=int, default=0, help="the hypothesis seed of --fuzz (default 0)")
    parser.add_argument("--cold", action="store_true",
                        help="an empty uv cache per release, deleted with its env: disk bounded by one release")
    parser.add_argument("--tables-only", action="store_true", help="only rewrite docs/ from recorded results")
    parser.add_argument("--tox", default=f"{sys.executable} -m tox", help="the tox command")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds per tox call")
    args = parser.parse_args(argv)
    unknown = [r for r in args.releases if r not in RELEASES]
    if unknown:
        parser.error(f"--releases: unknown {', '.join(unknown)}; known: {', '.join(RELEASES)}")
    if not args.tables_only and (problem := tox_problem(shlex.split(args.tox))):
        print(f"matrix: {problem}", file=sys.stderr)
        return 2
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    failed = []
    if not args.tables_only:
        start = time.perf_counter()
        previous = None  # with --fuzz: the release before, whose env is kept until it is fuzzed against this one
        for release in args.releases:
            print(f"matrix: torch {release} ({env_name(release)}) ...", flush=True)
            result = matrix_release(release, args)
            # re-read before writing: another matrix run (other releases) may have recorded since we started
            results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
            # what this run did not redo (the traces, the benchmarks) an earlier run recorded: keep what it said
            result = keep_earlier(result, results.get(release, {}), args)
            results[release] = result
            if problem := release_problem(result, args):
                failed.append(release)
                print(f"matrix: torch {release}: {problem}", flush=True)
            status = result.get("status", "not tested")
            status = f"tests skipped (last run: {status})" if args.no_tests and status != "install-failed" else status
            print(f"matrix: torch {release}: {status} (install "
                  f"{result.get('install_seconds')} s, regen {result.get('regen_seconds', '-')} s, run "
                  f"{'skipped' if args.no_tests else result.get('test_seconds', '-')} s, bench "
                  f"{result.get('bench_seconds', '-') if args.bench else 'skipped'} s) {result.get('regen', '')}",
                  flush=True)
            RESULTS.parent.mkdir(parents=True, exist_ok=True)
            RESULTS.write_text(json.dumps(results, indent=1, sort_keys=True) + "\n", encoding="utf-8")
            if args.fuzz:
                if previous is not None and not fuzz_step(previous, release, args):
                    failed.append(f"{previous}->{release} (fuzz)")
                if previous is not None and not args.keep:
                    shutil.rmtree(ROOT / ".tox" / env_name(previous), ignore_errors=True)
                previous = release
        if args.fuzz and previous is not None and not args.keep:
            shutil.rmtree(ROOT / ".tox" / env_name(previous), ignore_errors=True)
        print(f"matrix: {len(args.releases)} release(s) in {(time.perf_counter() - start) / 60:.1f} min, "
              f"{len(failed)} failed{': ' + ', '.join(failed) if failed else ''}", flush=True)
    problems = write_tables(results)
    print(f"matrix: wrote {TABLE.relative_to(ROOT)}")
    write_step_cost()
    print(f"matrix: wrote {STEP_COST.relative_to(ROOT)}")
    for problem in problems:
        print(f"matrix: {problem}", file=sys.stderr)
    if failed:
        return 1
    return 2 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
