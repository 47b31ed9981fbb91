"""Fuzz adjacent torch releases against each other: every pair from 1.13.1 to 2.15.0 (or the releases given).

For each pair (older, newer), in the newer release's tox env:

    lr-conformance fuzz --adapter torch --reference 'cmd:<older env>/bin/python -m conformance.serve --adapter torch'
                        --expectations .matrix/fuzz/known-<newer>.toml --max-seconds S --seed N --record FILE

The newer torch runs in process, the older one behind the subprocess protocol. What changed between the two
is already known where docs/matrix/changes.toml lists it: the cases of every change at the newer release become
a generated expectations file, so a generated case with the traits of one of them (its schedulers, features,
callables) is counted as that known change and the search goes on; golden/staging/covered-torch-<newer>.toml, where
it exists, adds findings reviewed as one of those changes in another shape (--known). A divergence outside them
is a finding: printed as a ready-to-paste [[case]] block and appended to the pair's staging file
(.matrix/fuzz/findings-<older>-to-<newer>-<time>.toml, --findings DIR) for review. fuzz runs with --keep-going:
each finding counts as known from then on and the search goes past it, same seed, until the budget is spent. docs/matrix/fuzz.json records each pair's budget, rounds, examples, examples per
second, findings and exit status, so the campaign is written down release by release.

    python tools/fuzz_releases.py --seconds 600                      # all 16 pairs, 10 minutes each
    python tools/fuzz_releases.py --releases 2.12.1 2.13.0 --seconds 60

Envs are tools/matrix.py's: `.tox/torchXY`, created with `tox -e torchXY --notest` where missing and kept (uv
installs them from its cache by hard links; `--delete` removes each one once no later pair needs it).
`python tools/matrix.py --fuzz S` runs the same step inside the release matrix, one pair per release as its env
is made, the previous release's env kept until then.
Exit: 0 no pair diverged outside its known changes; 1 one did; 2 usage.
"""

from __future__ import annotations

import argparse
import json
import re
import shlex
import shutil
import signal
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))

import matrix  # noqa: E402
from filelock import FileLock  # noqa: E402

WORK = matrix.WORK / "fuzz"
RECORD = ROOT / "docs" / "matrix" / "fuzz.json"
SUMMARY = re.compile(r"(\d+) examples \((\d+) compared(?:, (\d+) of them known differences)?.*?"
                     r"in ([0-9.]+) s, ([0-9.]+) examples/s, seed (\d+)")
OUTCOMES = {0: "no divergence", 1: "diverged", 2: "usage error"}
COVERED = ROOT / "golden" / "staging" / "covered-torch-{release}.toml"


def pairs(releases: list[str]) -> list[tuple[str, str]]:
    return list(zip(releases, releases[1:]))


def known_changes(release: str, changes: list[dict]) -> str:
    """An expectations file (TOML) listing every case of every change docs/matrix/changes.toml places at
    `release`: what fuzzing the release before it against it may find without it being news."""
    blocks = []
    for change in changes:
        if change["release"] != release:
            continue
        for case_id in change["cases"]:
            reason = f"{change['id']}: {change['summary']}".replace("\\", "\\\\").replace('"', '\\"')
            blocks.append(f'[[differs]]\nid = "{case_id}"\nreason = "{reason}"\n')
    return "\n".join(blocks)


def summary(output: str) -> dict:
    """The numbers of fuzz's summary line (examples, compared, known, seconds, examples/s, seed)."""
    found = SUMMARY.search(output)
    if not found:
        return {}
    examples, compared, known, seconds, rate, seed = found.groups()
    return {"examples": int(examples), "compared": int(compared), "known": int(known or 0),
            "search_seconds": float(seconds), "examples_per_second": float(rate), "seed": int(seed)}


def python_of(release: str) -> Path:
    return ROOT / ".tox" / matrix.env_name(release) / "bin" / "python"


def ensure_env(release: str, tox: list[str], log, environ: dict[str, str], timeout: float) -> bool:
    if python_of(release).exists():
        return True
    code, _ = matrix.run([*tox, "-e", matrix.env_name(release), "--notest"], log, timeout, environ)
    return code == 0 and python_of(release).exists()


def fuzz_pair(older: str, newer: str, seconds: float, seed: int, findings_dir: Path, log,
              environ: dict[str, str]) -> dict:
    """Fuzz `newer` (in process) against `older` (behind cmd:) for `seconds` of wall clock, past its findings:
    fuzz goes past each finding (--keep-going, `search_past_findings`) - one shape of a listed change found early
    (a pair with changes finds one in seconds) must not end the pair's search. The result lists every finding. Each run of a
    pair appends to its own staging file in `findings_dir`, named by pair and start time: an earlier run's
    findings are neither overwritten nor handed over as known."""
    record = findings_dir / f"findings-{older}-to-{newer}-{time.strftime('%Y%m%d-%H%M%S')}.toml"
    known_path = WORK / f"known-{newer}.toml"
    known = known_changes(newer, matrix.load_changes())
    command = [str(python_of(newer)), "-m", "conformance", "fuzz", "--adapter", "torch",
               "--reference", f"cmd:{shlex.quote(str(python_of(older)))} -m conformance.serve --adapter torch",
               "--seed", str(seed), "--record", str(record), "-q"]
    if known:
        known_path.write_text(known, encoding="utf-8")
        command += ["--expectations", str(known_path)]
    covered = COVERED.parent / COVERED.name.format(release=newer)
    if covered.exists():  # findings reviewed as that release's listed changes in other shapes
        command += ["--known", str(covered)]
    result = {"older": older, "newer": newer, "budget_seconds": seconds, "known_cases": known.count("[[differs]]"),
              "date": time.strftime("%Y-%m-%d", time.gmtime())}
    result.update(search_past_findings(command, seconds, record, log, environ))
    if "findings" in result:
        result["record"] = str(record.relative_to(ROOT) if record.is_relative_to(ROOT) else record)
    return result


def search_past_findings(command: list[str], seconds: float, record: Path, log, environ: dict[str, str]) -> dict:
    """Run `command` (an `lr-conformance fuzz --record RECORD` without a budget) with `--keep-going` for a search
    budget of `seconds`: fuzz itself appends each finding to `record`, counts it as known and goes past it in the
    next round, same seed (docs/fuzzing.md, --keep-going), so one early finding (a shape of a listed change)
    does not end the pair's search and no startup is paid per round. Shrinking is not charged to the budget, so
    the run takes longer on the clock. Returns the numbers of fuzz's summary line, the findings' `id = ...`
    lines as recorded (in order), the rounds and the exit (1 if any round found something)."""
    rounds_line = re.compile(r"in (\d+) round\(s\)")
    code, output = matrix.run([*command, "--keep-going", "--max-seconds", f"{max(seconds, 1):.0f}"], log,
                              seconds * 4 + 600, environ)
    numbers = summary(output)
    found = rounds_line.search(output)
    findings = ([line for line in record.read_text(encoding="utf-8").splitlines() if line.startswith("id = ")]
                if record.exists() else [])
    result = {"examples": numbers.get("examples", 0), "compared": numbers.get("compared", 0),
              "known": numbers.get("known", 0), "search_seconds": round(numbers.get("search_seconds", 0.0), 1),
              "rounds": int(found.group(1)) if found else 1, "exit": code,
              "outcome": OUTCOMES.get(code, f"exit {code}"), "seed": numbers.get("seed"),
              "examples_per_second": numbers.get("examples_per_second", 0)}
    if findings:
        result["findings"] = findings
    return result


def save(result: dict) -> None:
    """Record one pair's result in docs/matrix/fuzz.json (re-read first: a matrix run may be writing too) and
    print its line."""
    RECORD.parent.mkdir(parents=True, exist_ok=True)
    WORK.mkdir(parents=True, exist_ok=True)
    with FileLock(WORK / "fuzz.json.lock"):  # two matrix runs (halves of the releases) may save at once
        record = json.loads(RECORD.read_text()) if RECORD.exists() else {}
        key = f"{result['older']}->{result['newer']}"
        if key in record:  # a pair run again keeps its earlier runs: the campaign's history is the record
            earlier = dict(record[key])
            result = {**result, "earlier": [*earlier.pop("earlier", []), earlier]}
        record[key] = result
        RECORD.write_text(json.dumps(record, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    print(f"fuzz_releases: torch {result['older']} -> {result['newer']}: {result['outcome']}, "
          f"{result.get('examples', '?')} examples ({result.get('known', 0)} of known changes) at "
          f"{result.get('examples_per_second', '?')}/s" + (f": {'; '.join(result['findings'])}" if result.get("findings") else ""),
          flush=True)


def reviews(newer: str) -> dict[str, str]:
    """finding id -> the change it was reviewed as, from golden/staging/covered-torch-<newer>.toml (each block's
    `# covered by the change <id>` comment), and -> the case it became, for a finding named in a case's `why`
    or in a covered block's comment."""
    covered = COVERED.parent / COVERED.name.format(release=newer)
    found = {}
    if covered.exists():
        change = ""
        for line in covered.read_text(encoding="utf-8").splitlines():
            if match := re.match(r"# covered by the change (\S+)", line):
                change = match.group(1)
            elif match := re.match(r'id = "([^"]+)"', line):
                found[match.group(1)] = f"covered: {change}"
    return found


def table(record: dict) -> str:
    """The campaign as a Markdown table (docs/fuzzing.md): each pair of docs/matrix/fuzz.json, release order, its
    numbers, and each finding with its review - the listed change golden/staging/covered-torch-<newer>.toml
    files it under, or 'not reviewed'."""
    order = {release: i for i, release in enumerate(matrix.RELEASES)}
    rows = ["| pair | budget | rounds | examples (of them known changes) | examples/s | findings: review |",
            "| --- | --- | --- | --- | --- | --- |"]
    runs = [(run, "earlier run: " if run is not latest else "")
            for latest in record.values() for run in [*latest.get("earlier", []), latest]]
    for result, which in sorted(runs, key=lambda item: order.get(item[0]["older"], 99)):
        reviewed = reviews(result["newer"])
        listed = result.get("findings") or ([result["finding"]] if result.get("finding") else [])  # older records
        findings = [re.sub(r'^id = "|"$', "", finding) for finding in listed]
        kinds: dict[str, int] = {}
        for finding in findings:
            review = reviewed.get(finding, "not reviewed")
            kinds[review] = kinds.get(review, 0) + 1
        said = "; ".join(f"{n} {review}" for review, n in kinds.items()) if findings else "none"
        rows.append(f"| {which}{result['older']} -> {result['newer']} | {result['budget_seconds']:.0f} s | "
                    f"{result.get('rounds', 1)} | {result.get('examples', '?')} ({result.get('known', 0)}) | "
                    f"{result.get('examples_per_second', '?')} | {len(findings)}: {said} |")
    return "\n".join(rows) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--releases", nargs="+", default=list(matrix.RELEASES), metavar="X.Y.Z",
                        help="releases in order; each adjacent pair is fuzzed (default: all 17)")
    parser.add_argument("--seconds", type=float, default=600, help="budget per pair (default 600)")
    parser.add_argument("--seed", type=int, default=0, help="hypothesis seed (default 0: reproducible)")
    parser.add_argument("--findings", type=Path, default=WORK,
                        help="directory of the staging files the findings' [[case]] blocks are appended to, one per "
                             "pair and run (default .matrix/fuzz)")
    parser.add_argument("--delete", action="store_true", help="delete each env once no later pair needs it")
    parser.add_argument("--tox", default=f"{shlex.quote(sys.executable)} -m tox", help="how to run tox")
    parser.add_argument("--table", action="store_true",
                        help="only print docs/matrix/fuzz.json as a Markdown table, each finding with its review")
    args = parser.parse_args(argv)
    if args.table:
        print(table(json.loads(RECORD.read_text()) if RECORD.exists() else {}), end="")
        return 0
    # a SIGTERM (kill, pkill) ends the run as Ctrl-C does: subprocess.run then kills the fuzz it waits for, which
    # would otherwise go on alone
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    unknown = [r for r in args.releases if r not in matrix.RELEASES]
    if unknown or len(args.releases) < 2 or not args.seconds > 0:
        print(f"fuzz_releases: give two or more of {', '.join(matrix.RELEASES)} and --seconds > 0"
              + (f" (unknown: {', '.join(unknown)})" if unknown else ""), file=sys.stderr)
        return 2
    tox = shlex.split(args.tox)
    if problem := matrix.tox_problem(tox):
        print(f"fuzz_releases: {problem}", file=sys.stderr)
        return 2
    WORK.mkdir(parents=True, exist_ok=True)
    environ = matrix.tox_environment(None)
    diverged = []
    with open(WORK / "fuzz.log", "a", encoding="utf-8") as log:
        for older, newer in pairs(args.releases):
            if not (ensure_env(older, tox, log, environ, 3600) and ensure_env(newer, tox, log, environ, 3600)):
                print(f"fuzz_releases: {older} -> {newer}: could not create the envs (see {WORK / 'fuzz.log'})")
                diverged.append(f"{older}->{newer}")
                continue
            result = fuzz_pair(older, newer, args.seconds, args.seed, args.findings, log, environ)
            save(result)
            if result["exit"] != 0:
                diverged.append(f"{older}->{newer}")
            if args.delete:
                shutil.rmtree(ROOT / ".tox" / matrix.env_name(older), ignore_errors=True)
    print(f"fuzz_releases: {len(args.releases) - 1} pair(s), {len(diverged)} diverged outside their known changes"
          f"{': ' + ', '.join(diverged) if diverged else ''}; recorded in {RECORD.relative_to(ROOT)}")
    return 1 if diverged else 0


if __name__ == "__main__":
    sys.exit(main())
