"""Feed every command the suite's own data files, mutated: never a traceback, never an undocumented exit code,
never a problem spread over several lines, and never a pass on corrupted goldens.

Everything runs on a scratch copy: golden/ (case files, traces, manifest) is copied to a temporary directory
and every command gets LR_CONFORMANCE_GOLDENS=<scratch>/golden; expectations and result files are copied
there too. Each trial mutates one file, runs the commands that read that kind of file, and puts the file back.

    python tools/mutate_data.py                          # 40 trials of each kind, seed 0
    python tools/mutate_data.py --trials 200 --seed 3 --kinds golden manifest
    python tools/mutate_data.py --json /tmp/lrc/mutate.json

Kinds, and what each trial runs and requires (exit codes are spec 9's: 0 ok, 1 not conformant, 2 a data
problem, 5 nothing graded):

- `golden`: a golden CSV (golden/traces/<family>/<case>.csv). `check`, then `run -k <case>` with the
  reference adapter. The manifest holds each golden's hash, so any byte changed must be refused: a *false
  pass* is either command exiting 0 on changed bytes.
- `manifest`: golden/traces/manifest.json. `check`. A false pass is exit 0 when the mutated file no longer
  parses to the same JSON (whitespace-only changes may pass).
- `cases`: a case file (golden/cases/<family>.toml). `check`. No false pass is defined (a changed `tags`
  or comment is legitimately fine); counted: how many trials `check` still passed.
- `expectations`: an expectations file (expectations/<library>.toml). `run --expectations FILE -k '<family>/*'`.
- `result`: a saved result (docs/results/<library>.json). `report FILE`, then `site --results DIR OUT`.

Mutations: cut the file at a random byte, flip a byte, delete / duplicate / swap a line, prepend a UTF-8 BOM,
insert a hostile string (markup, a NUL, invalid UTF-8, 1e309, a 100 kB line); for JSON files also structural
ones: a random value replaced by a value of another type (list, object, string, number, null, a huge
integer), or a random key removed. A trial is *bad* when any command it runs prints a traceback, exits with a
code not listed for that kind, exits 2 with more than one line on stderr that is not a problem line, or passes
falsely. Prints a table per kind and the first bad trials (file, mutation, command, exit code, output), exits 1
if any trial was bad.

`--adapter` (default torch) is the reference used by `run`; `--lr-conformance` replaces the command run (to
check the tool itself against a command that always exits 0, as tests/meta/test_mutate_data_tool.py does).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from conformance.resources import GOLDENS_ENV  # noqa: E402

KINDS = ("golden", "manifest", "cases", "expectations", "result")
HOSTILE = ('"<script>alert(1)</script>', "\x00", "1e309", '"', "]]", "x" * 100_000, "\u202e", "{{", "NaN")
TIMEOUT = 300


@dataclass(frozen=True)
class Mutation:
    name: str
    data: bytes


@dataclass(frozen=True)
class Outcome:
    """One command run on one mutated file."""

    command: tuple[str, ...]
    code: int
    output: str
    problem: str  # "" when acceptable; else why the trial is bad


@dataclass
class Tally:
    trials: int = 0
    bad: int = 0
    false_pass: int = 0
    tracebacks: int = 0
    codes: Counter = field(default_factory=Counter)
    passed_anyway: int = 0  # cases: check still exited 0


# --- mutations ----------------------------------------------------------------------------------------------

def byte_mutations(data: bytes, rng: random.Random) -> Mutation:
    lines = data.splitlines(keepends=True) or [b""]
    choice = rng.randrange(7)
    if choice == 0:
        cut = rng.randrange(len(data)) if data else 0
        return Mutation(f"cut at byte {cut} of {len(data)}", data[:cut])
    if choice == 1 and data:
        at = rng.randrange(len(data))
        bit = 1 << rng.randrange(8)
        return Mutation(f"byte {at} xor {bit:#04x}", data[:at] + bytes([data[at] ^ bit]) + data[at + 1:])
    if choice == 2:
        at = rng.randrange(len(lines))
        return Mutation(f"line {at + 1} deleted", b"".join(lines[:at] + lines[at + 1:]))
    if choice == 3:
        at = rng.randrange(len(lines))
        return Mutation(f"line {at + 1} duplicated", b"".join(lines[:at + 1] + lines[at:]))
    if choice == 4 and len(lines) > 1:
        a, b = sorted(rng.sample(range(len(lines)), 2))
        swapped = list(lines)
        swapped[a], swapped[b] = swapped[b], swapped[a]
        return Mutation(f"lines {a + 1} and {b + 1} swapped", b"".join(swapped))
    if choice == 5:
        return Mutation("UTF-8 BOM prepended", b"\xef\xbb\xbf" + data)
    hostile = rng.choice([*HOSTILE, "\udcff"])
    encoded = hostile.encode("utf-8", "surrogateescape") if hostile != "\udcff" else b"\xff\xfe"
    at = rng.randrange(len(data) + 1)
    return Mutation(f"{hostile[:12]!r} inserted at byte {at}", data[:at] + encoded + data[at:])


def _paths(value, prefix=()):
    yield prefix
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _paths(item, (*prefix, index))


def json_mutations(data: bytes, rng: random.Random) -> Mutation:
    """A structural change: one value replaced by one of another type, or one key removed."""
    try:
        document = json.loads(data)
    except ValueError:
        return byte_mutations(data, rng)
    paths = [p for p in _paths(document) if p]
    if not paths:
        return byte_mutations(data, rng)
    path = rng.choice(paths)
    parent = document
    for step in path[:-1]:
        parent = parent[step]
    replacement = rng.choice([[], {}, "x", "<script>", 0, -1, 1.5, None, True, 10 ** 400, [1, "a"], {"a": 1}])
    if isinstance(parent, dict) and rng.random() < 0.3:
        del parent[path[-1]]
        name = f"key {'/'.join(map(str, path))} removed"
    else:
        parent[path[-1]] = replacement
        name = f"{'/'.join(map(str, path))} = {json.dumps(replacement)[:20]}"
    return Mutation(name, json.dumps(document).encode())


def mutate(path: Path, rng: random.Random) -> Mutation:
    data = path.read_bytes()
    if path.suffix == ".json" and rng.random() < 0.5:
        return json_mutations(data, rng)
    return byte_mutations(data, rng)


# --- running ------------------------------------------------------------------------------------------------

def judge(command: list[str], code: int, output: str, allowed: set[int], must_fail: bool) -> str:
    if "Traceback (most recent call last)" in output:
        return "traceback"
    if code not in allowed:
        return f"exit {code}, not one of {sorted(allowed)}"
    if must_fail and code == 0:
        return "false pass"
    if code == 2:
        stderr_lines = [line for line in output.splitlines() if line.strip()]
        unnamed = [line for line in stderr_lines if not (line.startswith("lr-conformance") or ":" in line)]
        if unnamed:
            return f"exit 2 with a line naming nothing: {unnamed[0][:80]!r}"
    return ""


class Runner:
    def __init__(self, scratch: Path, base: list[str], adapter: str):
        self.scratch = scratch
        self.base = base
        self.adapter = adapter
        self.env = {**os.environ, GOLDENS_ENV: str(scratch / "golden"), "PYTHONPATH": str(ROOT)}

    def __call__(self, *args: str, allowed: set[int], must_fail: bool = False) -> Outcome:
        command = [*self.base, *args]
        try:
            done = subprocess.run(command, env=self.env, capture_output=True, text=True, errors="replace",
                                  timeout=TIMEOUT, cwd=self.scratch, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            return Outcome(tuple(args), -1, "", f"no exit within {TIMEOUT} s")
        # stdout carries verdicts and tables; a problem line or a traceback goes to stderr
        output = done.stderr if done.returncode == 2 else done.stderr + done.stdout
        return Outcome(tuple(args), done.returncode, output, judge(command, done.returncode, output, allowed,
                                                                   must_fail))


def trial(kind: str, path: Path, mutation: Mutation, original: bytes, run: Runner, scratch: Path,
          tally: Tally) -> list[Outcome]:
    changed = mutation.data != original
    if kind == "golden":
        case_id = f"{path.parent.name}/{path.stem}"
        return [run("check", allowed={0, 1, 2}, must_fail=changed),
                run("run", "-q", "--adapter", run.adapter, "-k", case_id, allowed={0, 1, 2, 5}, must_fail=changed)]
    if kind == "manifest":
        try:
            same = json.loads(mutation.data) == json.loads(original)
        except ValueError:
            same = False
        return [run("check", allowed={0, 1, 2}, must_fail=not same)]
    if kind == "cases":
        outcome = run("check", allowed={0, 1, 2})
        tally.passed_anyway += outcome.code == 0 and changed
        return [outcome]
    if kind == "expectations":
        return [run("run", "-q", "--adapter", run.adapter, "--expectations", str(path), "-k", "steplr/*",
                    allowed={0, 1, 2, 5})]
    site_out = scratch / "site-out"
    shutil.rmtree(site_out, ignore_errors=True)
    return [run("report", str(path), allowed={0, 2}),
            run("site", "--jobs", "1", "--results", str(path.parent), str(site_out), allowed={0, 2})]


def targets(scratch: Path, kind: str) -> list[Path]:
    golden_dir = scratch / "golden"
    if kind == "golden":
        return sorted((golden_dir / "traces").glob("*/*.csv"))
    if kind == "manifest":
        return [golden_dir / "traces" / "manifest.json"]
    if kind == "cases":
        return sorted((golden_dir / "cases").glob("*.toml"))
    if kind == "expectations":
        return sorted((scratch / "expectations").glob("*.toml"))
    return sorted((scratch / "results").glob("*.json"))


def make_scratch(root: Path) -> Path:
    scratch = Path(tempfile.mkdtemp(prefix="lr-mutate-data-"))
    shutil.copytree(root / "golden", scratch / "golden", ignore=shutil.ignore_patterns("staging", ".*"))
    shutil.copytree(root / "expectations", scratch / "expectations")
    # one result file per trial directory: `site --results DIR` reads every file there
    (scratch / "results").mkdir()
    for result in sorted((root / "docs" / "results").glob("*.json")):
        shutil.copy2(result, scratch / "results" / result.name)
    return scratch


def campaign(kinds: list[str], trials: int, seed: int, base: list[str], adapter: str,
             out=print) -> tuple[dict[str, Tally], list[tuple]]:
    rng = random.Random(seed)
    scratch = make_scratch(ROOT)
    run = Runner(scratch, base, adapter)
    tallies: dict[str, Tally] = {}
    bad: list[tuple] = []
    try:
        for kind in kinds:
            tally = tallies[kind] = Tally()
            files = targets(scratch, kind)
            if kind == "result":
                # site reads the whole directory: mutate one file in a directory of its own
                lone = scratch / "lone-result"
                lone.mkdir(exist_ok=True)
            for _ in range(trials):
                path = rng.choice(files)
                if kind == "result":
                    for stale in lone.iterdir():
                        stale.unlink()
                    path = Path(shutil.copy2(path, lone / path.name))
                original = path.read_bytes()
                mutation = mutate(path, rng)
                path.write_bytes(mutation.data)
                try:
                    outcomes = trial(kind, path, mutation, original, run, scratch, tally)
                finally:
                    path.write_bytes(original)
                tally.trials += 1
                problems = [o for o in outcomes if o.problem]
                for outcome in outcomes:
                    tally.codes[outcome.code] += 1
                tally.tracebacks += sum(o.problem == "traceback" for o in outcomes)
                tally.false_pass += sum(o.problem == "false pass" for o in outcomes)
                if problems:
                    tally.bad += 1
                    bad.append((kind, path.relative_to(scratch).as_posix(), mutation.name, problems[0]))
            out(f"{kind:<13} {tally.trials:>4} trials  {tally.bad} bad  ({tally.false_pass} false pass, "
                f"{tally.tracebacks} tracebacks)  exit codes {dict(sorted(tally.codes.items()))}"
                + (f"  check passed {tally.passed_anyway} changed case files" if kind == "cases" else ""))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return tallies, bad


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=40, help="trials per kind (default 40)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the mutations (default 0)")
    parser.add_argument("--kinds", nargs="+", choices=KINDS, default=list(KINDS), help="which files to mutate")
    parser.add_argument("--adapter", default="torch", help="the reference adapter `run` uses (default torch)")
    parser.add_argument("--lr-conformance", default=f"{shlex.quote(sys.executable)} -m conformance",
                        help="the command to run (default: this Python's -m conformance)")
    parser.add_argument("--json", type=Path, help="write the tallies and bad trials here")
    args = parser.parse_args(argv)
    if args.trials < 1:
        parser.error("--trials must be at least 1")
    started = time.monotonic()
    tallies, bad = campaign(args.kinds, args.trials, args.seed, shlex.split(args.lr_conformance), args.adapter)
    load = os.getloadavg()[0]
    total = sum(t.trials for t in tallies.values())
    print(f"{total} trials in {time.monotonic() - started:.0f} s (load average {load:.1f}): "
          f"{sum(t.bad for t in tallies.values())} bad")
    for kind, where, mutation, outcome in bad[:10]:
        first = outcome.output.strip().splitlines()[-1][:200] if outcome.output.strip() else ""
        print(f"  BAD {kind} {where} ({mutation}): {' '.join(outcome.command)[:80]} -> {outcome.problem}; {first}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({
            "seed": args.seed, "trials": args.trials,
            "tallies": {k: {**vars(t), "codes": dict(t.codes)} for k, t in tallies.items()},
            "bad": [{"kind": k, "file": w, "mutation": m, "command": list(o.command), "code": o.code,
                     "problem": o.problem, "output": o.output[-2000:]} for k, w, m, o in bad]}, indent=1))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
