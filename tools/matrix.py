"""Run the suite on every torch release 1.13.1 ... 2.15.0, record release-scoped traces, write the tables.

For each release, one at a time so that disk stays bounded (each env is 3-7 GB: PyPI's Linux wheels carry
CUDA libraries):
  1. `tox -e torchXY --notest`                create the env and install that torch
  2. `lr-conformance regen --scoped`           inside it: record where this release differs from the
                                              reference (release-scoped variants; the reference release runs
                                              a plain `regen`, which must find nothing to change)
  3. `tox -e torchXY`                         the env's real run: check, conformance run, tests
  4. delete .tox/torchXY                      (--keep to keep it)
then writes docs/matrix/results.json (each env's result and times) and docs/behaviour-changes.md (every
case whose trace differs between releases: which releases agree with the reference, where it changed, the
first differing step and the torch change behind it). Golden values only ever come from step 2, real torch.

    python tools/matrix.py                        # all 17 releases (about 1-2 minutes each here)
    python tools/matrix.py --releases 2.8.0 2.9.1 # some
    python tools/matrix.py --tables-only          # rewrite the docs from the manifest and recorded results
Options: --accept (let step 2 change traces recorded before), --keep, --no-regen, --tox "python -m tox".
For CPU-only wheels export PIP_INDEX_URL=https://download.pytorch.org/whl/cpu and
PIP_EXTRA_INDEX_URL=https://pypi.org/simple first (tox passes PIP_* through).
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import re
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from conformance import cases as cases_mod  # noqa: E402
from conformance import golden  # noqa: E402
from conformance.regenerate import describe_change  # noqa: E402

RELEASES = ("1.13.1", "2.0.1", "2.1.2", "2.2.2", "2.3.1", "2.4.1", "2.5.1", "2.6.0", "2.7.1", "2.8.0",
            "2.9.1", "2.10.0", "2.11.0", "2.12.1", "2.13.0", "2.14.1", "2.15.0")
RESULTS = ROOT / "docs" / "matrix" / "results.json"
TABLE = ROOT / "docs" / "behaviour-changes.md"
LOGS = ROOT / ".matrix" / "logs"

# What is known about why a case differs: case-id glob -> (torch change, one line). Metadata for the table,
# never golden values. A differing case with no entry here is listed as "not yet traced to a change".
KNOWN_CAUSES: dict[str, tuple[str, str]] = {
    "*/last-epoch-resume": (
        "https://github.com/pytorch/pytorch/pull/149312",
        "2.8.0: constructing with last_epoch=k no longer applies one extra chainable step"),
    "cosineannealingwarmrestarts/last-epoch-resume-past-two-periods": (
        "https://github.com/pytorch/pytorch/pull/151289",
        "2.8.0: T_cur is reset by modulo when resuming by last_epoch (before: one subtraction of T_i)"),
    "cosineannealingwarmrestarts/last-epoch-resume": (
        "https://github.com/pytorch/pytorch/pull/151289",
        "2.8.0: T_cur is reset by modulo when resuming by last_epoch"),
    "cycliclr/adam-beta1": ("", "2.3.0: CyclicLR cycles Adam's beta1 (earlier: ValueError with cycle_momentum)"),
    "onecyclelr/adam-beta1": ("", "Adam's betas handling in the momentum-cycling schedulers"),
    "linearlr/start-factor-zero": ("", "2.0.0: start_factor=0 is rejected at construction (1.13: ZeroDivisionError "
                                       "on the first step)"),
    "*/last-epoch-without-initial-lr": (
        "https://github.com/pytorch/pytorch/issues/160626",
        "the KeyError's message was reworded to explain when it happens (issue 160626)"),
    "reducelronplateau/*": (
        "https://github.com/pytorch/pytorch/pull/108464",
        "2.2.0: ReduceLROnPlateau derives from LRScheduler and gains get_last_lr(), which raises AttributeError "
        "before the first step() until 2.3.0 (pytorch#119556)"),
    "cycliclr/resume-state-dict-mid-cycle": (
        "https://github.com/pytorch/pytorch/pull/91400",
        "2.0.0: CyclicLR's state_dict drops the unpicklable WeakMethod (1.13: TypeError saving the checkpoint)"),
    "cycliclr/resume-state-dict-scale-fn": (
        "https://github.com/pytorch/pytorch/pull/110931",
        "2.2.0: CyclicLR's state_dict leaves out a custom scale_fn that is a plain function (before: the "
        "checkpoint cannot be pickled)"),
    "chainedscheduler/plateau-member": (
        "https://github.com/pytorch/pytorch/pull/121633",
        "2.4.0: ChainedScheduler rejects ReduceLROnPlateau at construction (before: TypeError at the first step)"),
    "sequentiallr/milestone-zero": ("https://github.com/pytorch/pytorch/pull/185872",
                                    "2.13.0: SequentialLR with a milestone at 0 starts on the right scheduler"),
    "sequentiallr/tensor-lr": ("https://github.com/pytorch/pytorch/pull/162359",
                               "2.4-2.9: SequentialLR with a tensor lr aliases lr and initial_lr; fixed in 2.10"),
}


def env_name(release: str) -> str:
    major, minor = release.split(".")[:2]
    return f"torch{major}{minor}" if major != "1" else f"torch1{minor}"


def run(command: list[str], log, timeout: float) -> tuple[int, str]:
    """Run a command, append its output to the log, return (exit code, output)."""
    log.write(f"$ {shlex.join(command)}\n")
    log.flush()
    try:
        proc = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=timeout)
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


def matrix_release(release: str, args) -> dict:
    env = env_name(release)
    tox = shlex.split(args.tox)
    LOGS.mkdir(parents=True, exist_ok=True)
    result = {"release": release, "env": env}
    with open(LOGS / f"{env}.log", "w", encoding="utf-8") as log:
        start = time.perf_counter()
        code, output = run([*tox, "-e", env, "--notest"], log, args.timeout)
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
            code, output = run(regen, log, args.timeout)
            result["regen"] = last_line(output, r"^regen") or f"exit {code}"
        start = time.perf_counter()
        code, output = run([*tox, "-e", env], log, args.timeout)
        result["test_seconds"] = round(time.perf_counter() - start, 1)
        result["status"] = "pass" if code == 0 else "fail"
        result["run"] = last_line(output, r"goldens: ")
        result["pytest"] = last_line(output, r"(passed|failed|error).* in [0-9.]+s")
    if not args.keep:
        shutil.rmtree(ROOT / ".tox" / env, ignore_errors=True)
    return result


# --- tables --------------------------------------------------------------------------------


def ranges(releases: list[str], universe: list[str]) -> str:
    """'1.13.1-2.7.1, 2.13.0' style: consecutive runs (in `universe` order) joined by commas."""
    runs: list[list[str]] = []
    for release in universe:
        if release in releases:
            if runs and universe.index(release) == universe.index(runs[-1][-1]) + 1:
                runs[-1].append(release)
            else:
                runs.append([release])
    return ", ".join(r[0] if len(r) == 1 else f"{r[0]}-{r[-1]}" for r in runs) or "none"


def cause_of(case_id: str) -> tuple[str, str]:
    exact = KNOWN_CAUSES.get(case_id)
    if exact:
        return exact
    for pattern, cause in KNOWN_CAUSES.items():
        if fnmatch.fnmatchcase(case_id, pattern):
            return cause
    return ("", "not yet traced to a torch change")


def difference_kind(reference, variant) -> str:
    """What differs, coarsest first: the error (type, step or phase), lr values, warnings, message text only,
    or another column."""
    def lrs(trace):
        return [(o.step, o.group, repr(o.lr)) for o in trace.observations]

    def events(trace, kinds, with_message):
        return [(e.step, e.phase, e.kind, e.type) + ((e.message,) if with_message else ())
                for e in trace.events if e.kind in kinds]

    if events(reference, {"error"}, False) != events(variant, {"error"}, False):
        return "error"
    if lrs(reference) != lrs(variant):
        return "lr values"
    if events(reference, {"warning"}, False) != events(variant, {"warning"}, False):
        return "warnings"
    if events(reference, {"error", "warning"}, True) != events(variant, {"error", "warning"}, True):
        return "message text"
    return "momentum / last_lr"


def behaviour_rows(store: golden.Goldens, all_cases) -> list[dict]:
    rows = []
    for case in all_cases:
        entry = store.entries.get(case.id)
        if not entry or len(entry["traces"]) < 2:
            continue
        reference = entry["traces"][0]
        ref_trace = store.read_verified(store.root / reference["file"], reference["sha256"])
        observed = sorted({r for rec in entry["traces"] for r in rec["generated_by"]}, key=RELEASES.index)
        by_release = {r: i for i, rec in enumerate(entry["traces"]) for r in rec["generated_by"]}
        changed_in = [b for a, b in zip(observed, observed[1:]) if by_release[a] != by_release[b]]
        loaded = [store.read_verified(store.root / rec["file"], rec["sha256"]) for rec in entry["traces"]]
        transitions = [(b, difference_kind(loaded[by_release[a]], loaded[by_release[b]]))
                       for a, b in zip(observed, observed[1:]) if by_release[a] != by_release[b]]
        for record in entry["traces"][1:]:
            trace = store.read_verified(store.root / record["file"], record["sha256"])
            link, note = cause_of(case.id)
            rows.append({
                "case": case.id, "why": case.why, "releases": ranges(record["generated_by"], observed),
                "reference": ranges(reference["generated_by"], observed), "changed_in": ", ".join(changed_in),
                "kind": difference_kind(ref_trace, trace), "transitions": transitions,
                "difference": _shorten(describe_change(case, ref_trace, trace)), "link": link, "note": note,
                "file": record["file"],
            })
    return rows


def write_tables(results: dict) -> None:
    store = golden.load()
    all_cases = cases_mod.load_cases()
    rows = behaviour_rows(store, all_cases)
    out = ["# Behaviour changes across torch releases", "",
           "Generated by `python tools/matrix.py` from `golden/traces/manifest.json` and "
           "`docs/matrix/results.json`; do not edit by hand.", "",
           f"Cases ran on the releases in the second table; {len(all_cases) - len({r['case'] for r in rows})} of "
           f"{len(all_cases)} cases give the reference trace (torch {store.reference}) on every release that "
           "ran them. The cases below differ somewhere: each row is one release-scoped trace, generated under "
           "those releases. \"First difference\" compares it with the reference trace.", "",
           "## Where releases change behaviour", "",
           "Each release at which some case's trace changes, and what kind of change (a case can change at more "
           "than one release):", "",
           "| release | cases | lr values | error | warnings | message text | momentum / last_lr |",
           "| --- | --- | --- | --- | --- | --- | --- |"]
    kinds = ("lr values", "error", "warnings", "message text", "momentum / last_lr")
    by_release: dict[str, dict[str, set]] = {}
    for row in rows:
        for release, kind in row["transitions"]:
            by_release.setdefault(release, {k: set() for k in kinds})[kind].add(row["case"])
    for release in sorted(by_release, key=RELEASES.index):
        counts = by_release[release]
        total = len(set().union(*counts.values()))
        out.append(f"| {release} | {total} | " + " | ".join(str(len(counts[k]) or "") for k in kinds) + " |")
    out += ["", "## Every release-scoped trace", "",
            "| case | releases with this trace | same as reference | changed in | kind | first difference | cause |",
            "| --- | --- | --- | --- | --- | --- | --- |"]
    for row in rows:
        cause = f"[{row['note']}]({row['link']})" if row["link"] else row["note"]
        out.append(f"| `{row['case']}` | {row['releases']} | {row['reference']} | {row['changed_in']} | "
                   f"{row['kind']} | {_cell(row['difference'])} | {_cell(cause)} |")
    out += ["", "## Each release's tox env", "",
            "`tox -e <env>` on this machine: install time, then the env's run (check, conformance run, pytest).", "",
            "| release | env | result | install | run | conformance run | pytest |",
            "| --- | --- | --- | --- | --- | --- | --- |"]
    for release in RELEASES:
        r = results.get(release)
        if r is None:
            out.append(f"| {release} | `{env_name(release)}` | not run | | | | |")
            continue
        out.append(f"| {release} | `{r['env']}` | {r['status']} | {r.get('install_seconds', '')} s | "
                   f"{r.get('test_seconds', '')} s | {_cell(r.get('run') or r.get('detail', ''))} | "
                   f"{_cell(r.get('pytest', '').strip('= '))} |")
    TABLE.parent.mkdir(parents=True, exist_ok=True)
    TABLE.write_text("\n".join(out) + "\n", encoding="utf-8")


def _shorten(text: str, limit: int = 220) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--releases", nargs="+", default=list(RELEASES), metavar="X.Y.Z")
    parser.add_argument("--accept", action="store_true", help="let regen change traces recorded before")
    parser.add_argument("--keep", action="store_true", help="keep each .tox/torchXY env")
    parser.add_argument("--no-regen", action="store_true", help="only run each env's tests")
    parser.add_argument("--tables-only", action="store_true", help="only rewrite docs/ from recorded results")
    parser.add_argument("--tox", default=f"{sys.executable} -m tox", help="the tox command")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds per tox call")
    args = parser.parse_args(argv)
    unknown = [r for r in args.releases if r not in RELEASES]
    if unknown:
        parser.error(f"--releases: unknown {', '.join(unknown)}; known: {', '.join(RELEASES)}")
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    if not args.tables_only:
        for release in args.releases:
            print(f"matrix: torch {release} ({env_name(release)}) ...", flush=True)
            result = matrix_release(release, args)
            results[release] = result
            print(f"matrix: torch {release}: {result['status']} (install {result.get('install_seconds')} s, "
                  f"run {result.get('test_seconds', '-')} s) {result.get('regen', '')}", flush=True)
            RESULTS.parent.mkdir(parents=True, exist_ok=True)
            RESULTS.write_text(json.dumps(results, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    write_tables(results)
    print(f"matrix: wrote {TABLE.relative_to(ROOT)}")
    failed = [r for r in args.releases if results.get(r, {}).get("status") != "pass"]
    return 1 if failed and not args.tables_only else 0


if __name__ == "__main__":
    sys.exit(main())
