"""Fuzz campaigns on HypoFuzz, measured: examples/s with N workers against one, and the branches of torch's
lr_scheduler.py that the fixed cases, plain hypothesis and coverage-guided HypoFuzz reach in the same time.

    python tools/fuzz_campaign.py --args "--adapter torch --reference-in-process" --seconds 120 --workers 1 2
    python tools/fuzz_campaign.py --args "--adapter torch --reference-in-process" --seconds 120 --coverage
    python tools/fuzz_campaign.py --findings shards/ > findings.toml    # the CI shards' findings, merged

Each run is the campaign target conformance/fuzz/campaign.py (the same options as `lr-conformance fuzz`, in
`--args`) with a fresh example database and a log of every case run (LR_CONFORMANCE_FUZZ_LOG): HypoFuzz as
`hypothesis fuzz -n N --no-dashboard`, plain hypothesis as `pytest` of the same test, both stopped with SIGINT
after `--seconds`. A rate counts the examples the workers logged while all of them were running: from the
last worker's first example to the end (start-up - importing torch, checking the reference against the
goldens - is not in it). `--coverage` replays each way's cases, and the suite's cases, through the torch
adapter in this process under coverage.py (branch coverage of the installed torch/optim/lr_scheduler.py only).
Needs the `campaign` extra (hypofuzz, coverage). Prints one line per run, with the load average beside it; a
figure from a loaded machine says so.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET = ["-p", "no:cacheprovider", "-p", "no:benchmark", "--pyargs", "conformance.fuzz.campaign"]


def _run(engine: list[str], args: str, seconds: float, work: Path, split: str = "scheduler") -> list[dict]:
    """Run `engine` (a command line ending in pytest's arguments) on the campaign for `seconds`; its log.
    `split`: "none" makes the campaign one test (a plain pytest run stopped by time would otherwise spend its
    time on the first scheduler's test alone)."""
    log, db = work / "log", work / "db"
    env = dict(os.environ, LR_CONFORMANCE_FUZZ_ARGS=args, LR_CONFORMANCE_FUZZ_DATABASE=str(db),
               LR_CONFORMANCE_FUZZ_LOG=str(log), LR_CONFORMANCE_FUZZ_EXAMPLES=str(10**9),
               LR_CONFORMANCE_FUZZ_SPLIT=split, LR_CONFORMANCE_CACHE=str(work / "cache"))
    with open(work / "output.txt", "w") as out:
        process = subprocess.Popen(engine, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=work,
                                   start_new_session=True)
        started = time.time()
        while process.poll() is None and time.time() - started < seconds:
            time.sleep(0.5)
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGINT)  # HypoFuzz runs until stopped; hypothesis stops on Ctrl-C
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
    records = []
    for path in sorted(log.glob("*.jsonl")) if log.is_dir() else ():
        for line in path.read_text().splitlines():
            try:
                records.append({**json.loads(line), "pid": path.stem})
            except json.JSONDecodeError:  # the last line of a worker stopped while writing it
                pass
    if not records:
        tail = (work / "output.txt").read_text()[-2000:]
        raise SystemExit(f"fuzz_campaign: {' '.join(engine)} ran no example in {seconds:g} s:\n{tail}")
    return records


def rate(records: list[dict]) -> tuple[float, int, float]:
    """(examples/s, examples, seconds) while every worker was running."""
    firsts = {}
    for r in records:
        firsts[r["pid"]] = min(firsts.get(r["pid"], r["t"]), r["t"])
    start, end = max(firsts.values()), max(r["t"] for r in records)
    inside = sum(1 for r in records if r["t"] >= start)
    return (inside / (end - start) if end > start else 0.0), inside, end - start


def hypofuzz(workers: int) -> list[str]:
    # hypothesis' command line (its `hypothesis` script) from this interpreter, wherever its scripts are
    return [sys.executable, "-c", "import sys; from hypothesis.extra.cli import main; sys.exit(main())",
            "fuzz", "-n", str(workers), "--no-dashboard", "--", *TARGET]


def plain() -> list[str]:
    return [sys.executable, "-m", "pytest", "-q", *TARGET]


def branch_coverage(cases) -> tuple[int, int, list]:
    """(branches covered, branches, the branches missed as [from line, to line]) of torch/optim/lr_scheduler.py
    when the torch adapter runs `cases` (a negative line: the branch leaves the function)."""
    import coverage
    import torch.optim.lr_scheduler as module

    cov = coverage.Coverage(branch=True, include=[module.__file__], data_file=None)
    cov.start()
    try:
        from conformance.adapters.torch_reference import TorchAdapter

        adapter = TorchAdapter()
        for case in cases:
            try:
                adapter.trace(case)
            except Exception:  # noqa: BLE001 - an unsupported or raising case still ran torch's code
                pass
    finally:
        cov.stop()
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        cov.json_report(outfile=out.name, include=[module.__file__])
        (report,) = json.loads(Path(out.name).read_text())["files"].values()
    return report["summary"]["covered_branches"], report["summary"]["num_branches"], report["missing_branches"]


def logged_cases(records: list[dict]):
    from conformance.cases import CaseError, parse_case

    for r in records:
        try:
            yield parse_case(r["case"], source="<fuzz>")
        except CaseError:
            continue


def findings(root: Path) -> str:
    """The [[case]] blocks of the campaign failures in every JUnit report under `root` (what a shard's pytest
    replay writes), once each, as one staging file - for review, and for `fuzz --known`."""
    from xml.etree import ElementTree

    blocks, seen = [], set()
    for report in sorted(root.rglob("*.xml")):
        try:
            tree = ElementTree.parse(report)
        except ElementTree.ParseError as exc:
            raise SystemExit(f"fuzz_campaign: {report}: not a JUnit report ({exc})") from None
        for failure in tree.iter("failure"):
            block = _case_block(failure.text or "")
            if block is None:
                continue
            case_id = next(line.split("=", 1)[1].strip().strip('"') for line in block.splitlines()
                           if line.startswith("id = "))
            if case_id not in seen:
                seen.add(case_id)
                blocks.append(f"# from {report.relative_to(root)}\n{block}\n")
    header = f"# {len(blocks)} finding(s) of a fuzz campaign (tools/fuzz_campaign.py --findings {root})\n"
    return header + "\n".join(blocks)


def _case_block(text: str) -> str | None:
    """The [[case]] block (with its comment lines) of the campaign's AssertionError in a pytest failure report,
    whose lines pytest writes as `E` and an indentation; None if the failure is no campaign finding."""
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if "AssertionError: DIVERGENCE  " in line), None)
    if start is None:
        return None
    cut = lines[start].index("AssertionError")
    message = [line[cut:] for line in lines[start + 1:] if line.startswith("E")]
    first = next((i for i, line in enumerate(message) if line.startswith(("#", "[[case]]"))), None)
    if first is None or "[[case]]" not in message:
        return None
    end = message.index("", message.index("[[case]]")) if "" in message[message.index("[[case]]"):] else len(message)
    return "\n".join(message[first:end])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--args", help="options of `lr-conformance fuzz` for the campaign (required but with "
                        "--findings)")
    parser.add_argument("--findings", type=Path, metavar="DIR", help="print the findings in the JUnit reports "
                        "under DIR (the shards of .github/workflows/fuzz-campaign.yml) as one staging file, and stop")
    parser.add_argument("--seconds", type=float, default=120.0, help="each run's wall time (default 120)")
    parser.add_argument("--workers", type=int, nargs="*", default=[], help="HypoFuzz runs with these numbers "
                        "of workers; the ratio of each to the first is printed")
    parser.add_argument("--coverage", action="store_true", help="branch coverage of lr_scheduler.py: the suite's "
                        "cases, plain hypothesis and HypoFuzz (1 worker), each way run for --seconds")
    parser.add_argument("--keep", type=Path, help="keep each run's logs, databases and output under this directory")
    options = parser.parse_args(argv)
    if options.findings is not None:
        print(findings(options.findings), end="")
        return 0
    if not options.args:
        parser.error("--args is required (the options of `lr-conformance fuzz` for the campaign)")
    shlex.split(options.args)  # a quoting mistake is a usage error now, not in every worker
    root = options.keep or Path(tempfile.mkdtemp(prefix="lrc-campaign-"))

    def work(name: str) -> Path:
        path = root / name
        path.mkdir(parents=True, exist_ok=True)
        return path

    first = None
    for n in options.workers:
        load = os.getloadavg()[0]
        per_s, count, span = rate(_run(hypofuzz(n), options.args, options.seconds, work(f"hypofuzz-{n}")))
        first = first or per_s
        print(f"hypofuzz -n {n}: {count} examples in {span:.1f} s with every worker running: {per_s:.1f} examples/s, "
              f"{per_s / first:.2f}x the first (load average {load:.2f} at the start, "
              f"{os.getloadavg()[0]:.2f} at the end)", flush=True)
    if options.coverage:
        from conformance.cases import load_cases

        import torch

        covered, total, missed = branch_coverage(load_cases())
        print(f"the suite's cases: {covered} of {total} branches of lr_scheduler.py (torch {torch.__version__}); "
              f"missed (line -> line): {', '.join(f'{a} -> {b}' for a, b in missed)}", flush=True)
        for name, engine, split in (("plain hypothesis", plain(), "none"), ("hypofuzz -n 1", hypofuzz(1), "scheduler")):
            load = os.getloadavg()[0]
            records = _run(engine, options.args, options.seconds, work(name.replace(" ", "-")), split)
            covered, total, _ = branch_coverage(logged_cases(records))
            print(f"{name}, {options.seconds:g} s: {len(records)} examples, {covered} of {total} branches "
                  f"(load average {load:.2f} at the start)", flush=True)
    if not options.keep:
        import shutil

        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
