"""Fuzz adjacent torch releases against each other: every pair from 1.13.1 to 2.15.0 (or the releases given).

For each pair (older, newer), in the newer release's tox env:

    lr-conformance fuzz --adapter torch --reference 'cmd:<older env>/bin/python -m conformance.serve --adapter torch'
                        --expectations .matrix/fuzz/known-<newer>.toml --max-seconds S --seed N --record FILE

The newer torch runs in process, the older one behind the subprocess protocol. What changed between the two
is already known where docs/matrix/changes.toml lists it: the cases of every change at the newer release become
a generated expectations file, so a generated case with the traits of one of them (its schedulers, features,
callables) is counted as that known change and the search goes on; golden/staging/covered-torch-<newer>.toml, where
it exists, adds findings reviewed as one of those changes in another shape (--known). A divergence outside them
is a finding:
printed as a ready-to-paste [[case]] block, appended to the staging file (--record, default
.matrix/fuzz/findings.toml) for review, and recorded in docs/matrix/fuzz.json with the pair's budget, examples,
examples per second and exit status, so the campaign is written down release by release.

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
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))

import matrix  # noqa: E402

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


def fuzz_pair(older: str, newer: str, seconds: float, seed: int, record: Path, log, environ: dict[str, str]) -> dict:
    known_path = WORK / f"known-{newer}.toml"
    known = known_changes(newer, matrix.load_changes())
    command = [str(python_of(newer)), "-m", "conformance", "fuzz", "--adapter", "torch",
               "--reference", f"cmd:{shlex.quote(str(python_of(older)))} -m conformance.serve --adapter torch",
               "--max-seconds", str(seconds), "--seed", str(seed), "--record", str(record), "-q"]
    if known:
        known_path.write_text(known, encoding="utf-8")
        command += ["--expectations", str(known_path)]
    covered = COVERED.parent / COVERED.name.format(release=newer)
    if covered.exists():  # findings reviewed as that release's listed changes in other shapes
        command += ["--known", str(covered)]
    code, output = matrix.run(command, log, seconds * 4 + 600, environ)
    result = {"older": older, "newer": newer, "budget_seconds": seconds, "exit": code,
              "outcome": OUTCOMES.get(code, f"exit {code}"), "known_cases": known.count("[[differs]]"),
              **summary(output)}
    if code == 1:
        result["finding"] = matrix.last_line(output, r"^id = ") or matrix.last_line(output, r"diverg")
    return result


def save(result: dict) -> None:
    """Record one pair's result in docs/matrix/fuzz.json (re-read first: a matrix run may be writing too) and
    print its line."""
    record = json.loads(RECORD.read_text()) if RECORD.exists() else {}
    record[f"{result['older']}->{result['newer']}"] = result
    RECORD.parent.mkdir(parents=True, exist_ok=True)
    RECORD.write_text(json.dumps(record, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    print(f"fuzz_releases: torch {result['older']} -> {result['newer']}: {result['outcome']}, "
          f"{result.get('examples', '?')} examples ({result.get('known', 0)} of known changes) at "
          f"{result.get('examples_per_second', '?')}/s" + (f": {result['finding']}" if result.get("finding") else ""),
          flush=True)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--releases", nargs="+", default=list(matrix.RELEASES), metavar="X.Y.Z",
                        help="releases in order; each adjacent pair is fuzzed (default: all 17)")
    parser.add_argument("--seconds", type=float, default=600, help="budget per pair (default 600)")
    parser.add_argument("--seed", type=int, default=0, help="hypothesis seed (default 0: reproducible)")
    parser.add_argument("--record", type=Path, default=WORK / "findings.toml",
                        help="staging file the findings' [[case]] blocks are appended to")
    parser.add_argument("--delete", action="store_true", help="delete each env once no later pair needs it")
    parser.add_argument("--tox", default=f"{shlex.quote(sys.executable)} -m tox", help="how to run tox")
    args = parser.parse_args(argv)
    # a SIGTERM (kill, pkill) ends the run as Ctrl-C does: subprocess.run then kills the fuzz it waits for, which
    # would otherwise go on alone
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    unknown = [r for r in args.releases if r not in matrix.RELEASES]
    if unknown or len(args.releases) < 2 or not args.seconds > 0:
        print(f"fuzz_releases: give two or more of {', '.join(matrix.RELEASES)} and --seconds > 0"
              + (f" (unknown: {', '.join(unknown)})" if unknown else ""), file=sys.stderr)
        return 2
    WORK.mkdir(parents=True, exist_ok=True)
    environ = matrix.tox_environment(None)
    tox = shlex.split(args.tox)
    diverged = []
    with open(WORK / "fuzz.log", "a", encoding="utf-8") as log:
        for older, newer in pairs(args.releases):
            if not (ensure_env(older, tox, log, environ, 3600) and ensure_env(newer, tox, log, environ, 3600)):
                print(f"fuzz_releases: {older} -> {newer}: could not create the envs (see {WORK / 'fuzz.log'})")
                diverged.append(f"{older}->{newer}")
                continue
            result = fuzz_pair(older, newer, args.seconds, args.seed, args.record, log, environ)
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
