"""Stress the golden store: concurrent writers and readers, and writers killed at random moments.

Everything runs on a scratch copy (a temporary golden/ with a few case files, made by `lr-conformance regen`
itself), never on the checkout's golden/: every command gets LR_CONFORMANCE_GOLDENS=<scratch>/golden.

    python tools/stress_goldens.py                        # 20 concurrent rounds, 50 kill rounds, real torch
    python tools/stress_goldens.py --concurrent 2 --kills 5 --adapter tests/meta/fakes/halving_reference.py

Two states of the scratch goldens: S0, what `regen` makes from the case files, and A, S0 with one golden
removed and one golden's values changed (its manifest hash updated, so only grading notices), so that a
`regen --accept` started on A must write S0. Every round starts from A.

Concurrent round: two `regen --accept` start at once while `check` and `run` run one after the other in a
loop, and another process re-reads the goldens in a loop (`golden.load`, as every command does). Passes when
both regens exit 0 and exactly one of them wrote; the tree is then S0 byte for byte with no leftovers; and
every reader saw A or S0 - its exit code and output are what `check`/`run` give on A or on S0, and each
snapshot the loop read is A or S0 - never a mixture, an error or a traceback.

Kill round: one `regen --accept` gets SIGKILL at a random moment: half of the rounds uniformly over a
regen's measured duration, half within its write phase (after golden/.traces.new appears, within the
measured duration of that phase). Passes when a reader then sees A or S0 exactly (`check` and a snapshot),
and the next `regen --accept` exits 0, leaving S0 byte for byte and no leftover directory.

Prints what it measured and exits 1 if any round failed. Each process imports torch: on a 2-core machine
shared with other jobs (load average 7-12) a concurrent round took about 130 s and a kill round 26 s; with
the torch-free adapter, about 5 s and 3 s.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from conformance import golden  # noqa: E402
from conformance.cases import load_cases  # noqa: E402
from conformance.resources import GOLDENS_ENV  # noqa: E402

DEFAULT_FAMILIES = ("steplr", "multisteplr")


@dataclass
class Scratch:
    """A scratch golden/ directory and the bytes of its two states."""

    golden_dir: Path
    adapter: str
    changed: str = ""  # the case whose golden A changes
    removed: str = ""  # the case whose golden A removes
    untouched: str = ""
    states: dict[str, dict[str, bytes]] = field(default_factory=dict)  # "A"/"S0" -> relative path -> bytes
    readers: dict[str, dict[str, tuple]] = field(default_factory=dict)  # reader -> state -> output
    digests: dict[str, str] = field(default_factory=dict)  # snapshot digest -> state

    @property
    def traces(self) -> Path:
        return self.golden_dir / "traces"

    def env(self) -> dict[str, str]:
        return {**os.environ, GOLDENS_ENV: str(self.golden_dir), "PYTHONPATH": str(ROOT)}

    def command(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "conformance", *args]

    def regen_command(self) -> list[str]:
        return self.command("regen", "--accept", "--adapter", self.adapter)

    def reader_commands(self) -> dict[str, list[str]]:
        return {"check": self.command("check"),
                "run": self.command("run", "--adapter", self.adapter, "--format", "json", "-q",
                                    "-k", self.changed, "-k", self.untouched)}

    def put(self, state: str) -> None:
        """Make the scratch traces/ exactly `state`, with no leftover directory (no process is running)."""
        for path in (self.traces, golden.staging_dir(self.traces), golden.backup_dir(self.traces)):
            if path.exists():
                shutil.rmtree(path)
        for rel, data in self.states[state].items():
            target = self.traces / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)


def tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def snapshot_digest(manifest: bytes | None, files: dict[str, bytes]) -> str:
    """One hash of what a reader reads: the manifest and every trace file."""
    digest = hashlib.sha256(manifest or b"")
    for name in sorted(files):
        if name.endswith(".csv"):
            digest.update(name.encode() + b"\0" + files[name])
    return digest.hexdigest()


def state_read(scratch: Scratch, store: golden.Goldens) -> str | None:
    """Which state a reader's snapshot is ("A" or "S0"), or None for anything else."""
    return scratch.digests.get(snapshot_digest(store.manifest_bytes, store.files))


def leftovers(traces: Path) -> list[str]:
    return [p.name for p in (golden.staging_dir(traces), golden.backup_dir(traces)) if p.exists()]


def reader_output(name: str, proc: subprocess.CompletedProcess) -> tuple:
    """What must not change between two reads of one state: exit code and output without timings."""
    if name == "run" and proc.returncode in (0, 1):
        try:
            document = json.loads(proc.stdout)
            return proc.returncode, tuple(sorted((o["id"], o["status"]) for o in document["results"]))
        except (ValueError, KeyError, TypeError):
            pass
    return proc.returncode, re.sub(r"\d+\.\d+s", "<t>", proc.stdout), proc.stderr.count("Traceback")


def make_scratch(directory: Path, families: list[str], adapter: str) -> Scratch:
    cases_dir = directory / "golden" / "cases"
    cases_dir.mkdir(parents=True)
    for family in families:
        shutil.copy(ROOT / "golden" / "cases" / f"{family}.toml", cases_dir)
    if Path(adapter).is_file():  # the commands run in other directories
        adapter = str(Path(adapter).resolve())
    scratch = Scratch(directory / "golden", adapter)
    done = subprocess.run(scratch.command("regen", "--adapter", adapter), env=scratch.env(), capture_output=True,
                          text=True)
    if done.returncode != 0:
        raise SystemExit(f"stress: making the scratch goldens failed:\n{done.stdout}{done.stderr}")
    scratch.states["S0"] = tree(scratch.traces)

    ids = [c.id for c in load_cases(cases_dir)]
    store = golden.load(scratch.traces)
    usable = [i for i in ids if len(store.trace(store.entry(i)["traces"][0]).observations) > 1]
    scratch.changed, scratch.removed, scratch.untouched = usable[0], usable[1], usable[2]
    manifest = json.loads(store.manifest_bytes)
    record = manifest["cases"][scratch.changed]["traces"][0]
    lines = store.files[record["file"]].decode().splitlines(keepends=True)
    fields = lines[-1].split(",")  # the last lr row: the value doubled, the hash updated
    fields[2] = repr(float(fields[2]) * 2)
    lines[-1] = ",".join(fields)
    changed_text = "".join(lines).encode()
    record["sha256"] = golden.csv_hash(changed_text)
    removed_file = manifest["cases"].pop(scratch.removed)["traces"][0]["file"]
    state_a = dict(scratch.states["S0"])
    state_a[record["file"]] = changed_text
    del state_a[removed_file]
    state_a[golden.MANIFEST] = golden.dump_manifest(manifest).encode()
    scratch.states["A"] = state_a
    scratch.digests = {snapshot_digest(files.get(golden.MANIFEST), files): state
                       for state, files in scratch.states.items()}

    for state in ("A", "S0"):  # what each reader gives on each state, read alone
        scratch.put(state)
        for name, command in scratch.reader_commands().items():
            proc = subprocess.run(command, env=scratch.env(), capture_output=True, text=True)
            scratch.readers.setdefault(name, {})[state] = reader_output(name, proc)
    for name, outputs in scratch.readers.items():
        if outputs["A"] == outputs["S0"]:
            raise SystemExit(f"stress: `{name}` gives the same output on A and S0; it would see nothing")
    return scratch


# --- a reader that re-reads the goldens in a loop (a subprocess) ----------------------------


def read_loop(traces: Path, stop: Path, report: Path) -> None:
    """Read snapshots until `stop` exists; write how many were read, retried, and their digests."""
    retried = 0
    original = golden._read_snapshot

    def counting(root):
        nonlocal retried
        try:
            return original(root)
        except golden._Swapped:
            retried += 1
            raise

    golden._read_snapshot = counting
    digests: Counter = Counter()
    errors: list[str] = []
    while not stop.exists():
        try:
            store = golden.load(traces)
            for entry in store.entries.values():  # every hash must verify within one snapshot
                for record in entry["traces"]:
                    store.text(record)
            digests[snapshot_digest(store.manifest_bytes, store.files)] += 1
        except Exception as exc:  # noqa: BLE001 - any error is a finding, reported to the parent
            errors.append(f"{type(exc).__name__}: {exc}")
    report.write_text(json.dumps({"digests": digests, "retried": retried, "errors": errors[:5]}))


# --- rounds -----------------------------------------------------------------------------------


@dataclass
class Tally:
    rounds: int = 0
    failures: list[str] = field(default_factory=list)
    seen: Counter = field(default_factory=Counter)  # what readers saw / states found after a kill
    seconds: float = 0.0


def concurrent_round(scratch: Scratch, index: int, tally: Tally) -> None:
    scratch.put("A")
    env = scratch.env()
    with tempfile.TemporaryDirectory() as work:
        stop, report = Path(work, "stop"), Path(work, "report.json")
        loop = subprocess.Popen([sys.executable, __file__, "--read-loop", str(scratch.traces), str(stop),
                                 str(report)], env=env)
        regens = [subprocess.Popen(scratch.regen_command(), env=env, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True) for _ in range(2)]
        outputs: list[tuple[str, tuple]] = []
        while any(r.poll() is None for r in regens):
            for name, command in scratch.reader_commands().items():
                outputs.append((name, reader_output(name, subprocess.run(command, env=env, capture_output=True,
                                                                         text=True))))
        results = [(r.returncode, *r.communicate()) for r in regens]
        stop.touch()
        loop.wait()
        loop_report = json.loads(report.read_text())

    where = f"concurrent round {index}"
    if [code for code, *_ in results] != [0, 0]:
        tally.failures.append(f"{where}: regen exit codes {[c for c, *_ in results]}: "
                              + " | ".join((o + e).strip().splitlines()[-1] for _, o, e in results if o + e))
    wrote = sum("regen: wrote" in out for _, out, _ in results)
    if wrote != 1:
        tally.failures.append(f"{where}: {wrote} regens wrote (expected exactly 1)")
    if tree(scratch.traces) != scratch.states["S0"] or leftovers(scratch.traces):
        tally.failures.append(f"{where}: goldens after both regens differ from S0 (leftovers "
                              f"{leftovers(scratch.traces)})")
    for name, output in outputs:
        state = next((s for s, o in scratch.readers[name].items() if o == output), None)
        tally.seen[f"`{name}` saw {state or 'something else'}"] += 1
        if state is None:
            tally.failures.append(f"{where}: `{name}` gave neither A's nor S0's output: {output!r:.300}")
    for digest, count in loop_report["digests"].items():
        tally.seen[f"snapshot loop read {scratch.digests.get(digest, 'something else')}"] += count
        if digest not in scratch.digests:
            tally.failures.append(f"{where}: the snapshot loop read a mixture of A and S0 ({count} time(s))")
    tally.seen["snapshot reads retried after a swap"] += loop_report["retried"]
    for error in loop_report["errors"]:
        tally.failures.append(f"{where}: the snapshot loop raised {error}")


def calibrate(scratch: Scratch) -> tuple[float, float]:
    """(duration of a whole regen --accept from A, duration of its write phase: from the staging directory
    appearing until the staging and backup directories are both gone), measured once."""
    scratch.put("A")
    start = time.perf_counter()
    proc = subprocess.Popen(scratch.regen_command(), env=scratch.env(), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    staging, backup = golden.staging_dir(scratch.traces), golden.backup_dir(scratch.traces)
    write_start = write_end = None
    while proc.poll() is None:
        if write_start is None and staging.exists():
            write_start = time.perf_counter()
        elif write_start is not None and write_end is None and not staging.exists() and not backup.exists():
            write_end = time.perf_counter()
        time.sleep(0.0002)
    end = time.perf_counter()
    if write_start is None:
        return end - start, 0.01
    return end - start, (write_end or end) - write_start


def kill_round(scratch: Scratch, index: int, tally: Tally, rng: random.Random, total: float, write: float) -> None:
    scratch.put("A")
    env = scratch.env()
    staging = golden.staging_dir(scratch.traces)
    targeted = index % 2 == 1
    proc = subprocess.Popen(scratch.regen_command(), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if targeted:  # within the write phase: after the staging directory appears
        deadline = time.perf_counter() + 10 * total
        while not staging.exists() and proc.poll() is None and time.perf_counter() < deadline:
            time.sleep(0.0002)
        time.sleep(rng.uniform(0, write))
    else:
        time.sleep(rng.uniform(0, total))
    finished = proc.poll() is not None
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    where = f"kill round {index}"
    found = leftovers(scratch.traces) + ([] if scratch.traces.exists() else ["no traces/"])
    tally.seen["killed " + ("after it finished" if finished else "while running")
               + (f", leaving {', '.join(found)}" if found else ", no leftover")] += 1

    state = state_read(scratch, golden.load(scratch.traces))
    tally.seen[f"reader after the kill saw {state or 'something else'}"] += 1
    if state is None:
        tally.failures.append(f"{where}: after the kill the goldens read as neither A nor S0 ({found})")
    check = reader_output("check", subprocess.run(scratch.command("check"), env=env, capture_output=True, text=True))
    if check not in (scratch.readers["check"]["A"], scratch.readers["check"]["S0"]):
        tally.failures.append(f"{where}: `check` after the kill gave neither A's nor S0's output: {check!r:.300}")
    again = subprocess.run(scratch.regen_command(), env=env, capture_output=True, text=True)
    if again.returncode != 0:
        tally.failures.append(f"{where}: the next regen exited {again.returncode}: {again.stderr.strip()[-300:]}")
    if tree(scratch.traces) != scratch.states["S0"] or leftovers(scratch.traces):
        tally.failures.append(f"{where}: after the next regen the goldens differ from S0 (leftovers "
                              f"{leftovers(scratch.traces)})")


def stress(families: list[str], adapter: str, concurrent: int, kills: int, seed: int, out=print) -> list[str]:
    """Run the rounds; print what was measured; return the failures (empty = nothing lost, nothing stuck)."""
    rng = random.Random(seed)
    with tempfile.TemporaryDirectory(prefix="lr-stress-") as directory:
        scratch = make_scratch(Path(directory), families, adapter)
        out(f"stress: scratch goldens of {len(load_cases(scratch.golden_dir / 'cases'))} cases "
            f"({', '.join(families)}), adapter {adapter}; A = S0 without {scratch.removed}'s golden and with "
            f"{scratch.changed}'s last lr doubled")
        failures: list[str] = []
        for kind, rounds in (("concurrent", concurrent), ("kill", kills)):
            if not rounds:
                continue
            tally = Tally()
            start = time.perf_counter()
            if kind == "kill":
                total, write = calibrate(scratch)
                out(f"stress: one regen --accept from A takes {total:.2f} s, its write phase {write * 1000:.1f} ms")
            for index in range(1, rounds + 1):
                if kind == "concurrent":
                    concurrent_round(scratch, index, tally)
                else:
                    kill_round(scratch, index, tally, rng, total, write)
                tally.rounds += 1
            tally.seconds = time.perf_counter() - start
            out(f"stress: {tally.rounds} {kind} round(s) in {tally.seconds:.1f} s, {len(tally.failures)} failure(s)")
            for what, count in sorted(tally.seen.items()):
                out(f"  {count:6}  {what}")
            for failure in tally.failures:
                out(f"  FAIL {failure}")
            failures += tally.failures
    return failures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concurrent", type=int, default=20, help="rounds of two concurrent regens (default 20)")
    parser.add_argument("--kills", type=int, default=50, help="rounds of a regen killed with SIGKILL (default 50)")
    parser.add_argument("--families", nargs="+", default=list(DEFAULT_FAMILIES),
                        help=f"case files copied into the scratch (default: {' '.join(DEFAULT_FAMILIES)})")
    parser.add_argument("--adapter", default="torch", help="the reference adapter regen uses (default torch)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the kill moments")
    parser.add_argument("--read-loop", nargs=3, metavar=("TRACES", "STOP", "REPORT"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.read_loop:
        read_loop(*(Path(p) for p in args.read_loop))
        return 0
    failures = stress(args.families, args.adapter, args.concurrent, args.kills, args.seed)
    print("stress: nothing lost, nothing stuck" if not failures else f"stress: {len(failures)} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
