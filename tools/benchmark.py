"""Run the benchmarks (tests/benchmarks, pytest-benchmark) under this Python and keep the figures that matter.

    python tools/benchmark.py                                # run them, print pytest-benchmark's tables and a summary
    python tools/benchmark.py --save docs/matrix/bench/2.13.0.json    # ... and keep a small JSON of them
    python tools/benchmark.py -m "not command"               # other arguments go to pytest (here: no commands)
    python tools/benchmark.py -m command --save docs/commands-bench.json && python tools/benchmark.py --readme
                                                             # README's speed table, measured and rendered

What is measured (tests/benchmarks says how): a full `lr-conformance run` against the installed torch in process,
in cases per second, and its ratio to the floor - bare torch stepping the same cases (target <= 1.5x); the same run
as a command, and `pytest tests/conformance`, against the command floor (starting Python, importing torch, building
one optimizer; targets <= 1.5x and <= 3x);
and the cost of `optimizer.step(); scheduler.step()` per scheduler in microseconds per step. The saved JSON keeps,
per benchmark, median, IQR and rounds, plus the machine, the torch release and the load average: tools/matrix.py
--bench saves one per torch release (without the commands) and renders docs/step-cost.md from them
(`render_step_cost` below). Benchmarks record; nothing here fails on a time.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCHMARKS = ROOT / "tests" / "benchmarks"
FORMAT = 1


def _stats(stats: dict, scale: float, unit: str) -> dict:
    # the fastest round beside the median: on a machine shared with other jobs it is the round least disturbed
    return {f"median_{unit}": round(stats["median"] * scale, 3), f"iqr_{unit}": round(stats["iqr"] * scale, 3),
            f"min_{unit}": round(stats["min"] * scale, 3), "rounds": stats["rounds"]}


def extract(report: dict) -> dict:
    """The small record of one pytest-benchmark JSON report: per scheduler the microseconds per step (a round's
    median over the steps of a round), per harness benchmark the seconds, cases per second and ratio to the
    floor, and where it was measured."""
    machine = report.get("machine_info", {})
    cpu = machine.get("cpu", {})
    step: dict[str, dict] = {}
    harness: dict[str, dict] = {}
    for bench in report["benchmarks"]:
        info = bench.get("extra_info", {})
        what = info.get("what")
        if what == "step":
            steps = info["steps_per_round"]
            step[info["scheduler"]] = {"case": info["case"], "steps_per_round": steps,
                                       **_stats(bench["stats"], 1e6 / steps, "us")}
        elif what:
            entry = harness[what] = _stats(bench["stats"], 1.0, "s")
            if "cases" in info:
                entry["cases"] = info["cases"]
                entry["cases_per_second"] = round(info["cases"] / bench["stats"]["median"], 1)
            if "target_ratio" in info:
                entry["target_ratio"] = info["target_ratio"]
                entry["floor"] = info.get("floor", "floor")
    for entry in harness.values():
        floor = harness.get(entry.get("floor", ""), {}).get("median_s")
        if floor and "target_ratio" in entry:
            entry["ratio_to_floor"] = round(entry["median_s"] / floor, 2)
    return {
        "format": FORMAT,
        "torch": machine.get("torch", "").split("+")[0],
        "datetime": report.get("datetime", ""),
        "machine": {"cpu": cpu.get("brand_raw", machine.get("processor", "")), "cores": machine.get("cpu_count"),
                    "system": f"{machine.get('system', '')} {machine.get('release', '')}".strip(),
                    "python": machine.get("python_version", "")},
        "load_average": machine.get("load_average", {}),
        "pytest_benchmark": report.get("version", ""),
        "step": step,
        "harness": harness,
    }


# --- README's table of the commands ---------------------------------------------------------------------

COMMANDS_RECORD = ROOT / "docs" / "commands-bench.json"  # `--save docs/commands-bench.json -m command`


def render_command_table(record: dict, suite_cases: int) -> str:
    """README's speed table from a saved record of the command benchmarks (`-m command --save FILE`): median
    seconds of each command and its ratio to the floor, with how many cases the runs graded (the suite's count
    at the time; said so when the suite has grown since) and the load average the figures were taken under."""
    harness = record["harness"]
    load = record.get("load_average", {})
    lines = ["| command | seconds (median) | fastest round | ratio to floor | target |", "| --- | --- | --- | --- | --- |"]
    floor = harness["command floor"]
    lines.append(f"| floor | {floor['median_s']:.2f} | {floor['min_s']:.2f} | 1.00 | |")
    for name, label in (("lr-conformance run", "`lr-conformance run`"),
                        ("pytest tests/conformance", "`pytest tests/conformance`")):
        entry = harness[name]
        cases = entry.get("cases")
        scope = ("" if cases is None else f" (all {cases} cases)" if cases == suite_cases else
                 f" ({cases} cases: the suite then; it has {suite_cases} now)")
        lines.append(f"| {label}{scope} | {entry['median_s']:.2f} | {entry['min_s']:.2f} | "
                     f"{entry['ratio_to_floor']:.2f} | <= {entry['target_ratio']:g} |")
    start, end = load.get("start"), load.get("end")
    where = (f"torch {record.get('torch', '?')}, {record['machine'].get('cores', '?')}-core {record['machine'].get('cpu', '')}"
             f", {record.get('datetime', '')[:10]}, median of {floor['rounds']} rounds after a warm-up")
    if start and end:
        where += f", load average {start[0]:.1f} at the start and {end[0]:.1f} at the end"
    return "\n".join(lines) + f"\n\n({where}; docs/commands-bench.json.)"


# --- docs/step-cost.md --------------------------------------------------------------------------------

SLOWER = 1.5  # a step this many times the reference release's cost or more is marked


def load_records(directory: Path) -> dict[str, dict]:
    """{torch release: record} of the saved records in a directory (<release>.json)."""
    return {path.stem: json.loads(path.read_text(encoding="utf-8")) for path in sorted(directory.glob("*.json"))}


def _ratio(record: dict | None, reference: dict | None, name: str, statistic: str) -> float | None:
    """A scheduler's `statistic` (median_us, min_us) on one release over the reference release's, or None."""
    value = ((record or {}).get("step", {}).get(name) or {}).get(statistic)
    base = ((reference or {}).get("step", {}).get(name) or {}).get(statistic)
    return value / base if value is not None and base else None


def _relative_rows(records: dict, releases: list, reference: str, schedulers: list, statistic: str,
                   confirm: str | None) -> list[str]:
    """One row per scheduler: `statistic` relative to the reference release, bold at SLOWER or more (and, with
    `confirm`, only where that statistic is SLOWER or more too); the reference's own cell in microseconds."""
    rows = []
    base = records.get(reference)
    for name in schedulers:
        case = next((records[r]["step"][name]["case"] for r in releases if name in records.get(r, {}).get("step", {})),
                    "")
        cells = []
        for release in releases:
            entry = records.get(release, {}).get("step", {}).get(name) or {}
            ratio = _ratio(records.get(release), base, name, statistic)
            if release == reference or (ratio is None and statistic in entry):
                cells.append(f"{entry[statistic]:.1f} us" if statistic in entry else "-")
            elif ratio is None:
                cells.append("-")
            else:
                confirming = None if confirm is None else _ratio(records.get(release), base, name, confirm)
                confirmed = confirming is None or confirming >= SLOWER  # a record without it: the median alone
                cells.append(f"**{ratio:.2f}x**" if ratio >= SLOWER and confirmed else f"{ratio:.2f}")
        rows.append(f"| {name} (`{case}`) | " + " | ".join(cells) + " |")
    return rows


def _load_cell(record: dict) -> str:
    load = record.get("load_average", {})
    start, end = load.get("start"), load.get("end")
    return f"{start[0]:.1f} -> {end[0]:.1f}" if start and end else "-"


def _seconds_cell(record: dict, name: str) -> str:
    """'1.14 (2.91x)': a harness benchmark's median seconds and its ratio to its floor, '-' if not measured."""
    entry = record.get("harness", {}).get(name)
    if not entry:
        return "-"
    ratio = f" ({entry['ratio_to_floor']:.2f}x)" if "ratio_to_floor" in entry else ""
    return f"{entry['median_s']:.2f}{ratio}"


def render_step_cost(records: dict[str, dict], releases, reference: str) -> str:
    """The Markdown page: every scheduler's step cost on every release relative to `reference` - the median (>= SLOWER
    marked where the fastest round agrees) and the fastest round -, the medians in microseconds, and the harness's figures per release, with where and under what load."""
    releases = list(releases)
    measured = [r for r in releases if r in records]
    schedulers: list[str] = []
    for release in measured:
        schedulers += [name for name in records[release]["step"] if name not in schedulers]
    machines = sorted({"{cpu}, {cores} cores, {system}, Python {python}".format(**records[r]["machine"]) for r in measured})

    out = ["# Step cost of each scheduler, release by release", "",
           "Generated by `python tools/matrix.py --bench` (or `--tables-only`) from `docs/matrix/bench/<release>.json`, "
           "one record per torch release saved by `tools/benchmark.py --save` in that release's tox env; do not edit by "
           "hand.", "",
           "**What is measured** (`tests/benchmarks/test_step_cost.py`): for each scheduler, one existing case's loop "
           "(the case is named below) - `optimizer.step(); scheduler.step()` once per step of the case, "
           "`scheduler.step(metric)` for ReduceLROnPlateau - on a freshly built SGD and scheduler each round, one "
           "1-element parameter without a gradient (the optimizer updates nothing: what is left is the bookkeeping of "
           "both calls). Microseconds per step = a round's time over its steps, median over the rounds. "
           "`optimizer.step() alone` is the same loop without the scheduler: part of every other row.", "",
           f"**Measured on** {'; '.join(machines) or 'nothing yet'}, one release after another, with other jobs "
           "running: the load average at the start and the end of each release's benchmarks is in the last table. "
           "On a 2-core machine a load above 2 means the benchmarks shared the cores; every figure is then slower and "
           "noisier (compare the IQR in the second table), so treat a single marked cell with suspicion until a "
           "quieter run repeats it.", "",
           "**To measure again**: `python tools/matrix.py --bench --no-tests` (every release: install, regen, "
           "benchmarks; `--releases X.Y.Z ...` for some), or in any env with the project and a torch installed: "
           "`python tools/benchmark.py` (prints the figures) and `--save docs/matrix/bench/<release>.json` (keeps "
           "them), `tox -e bench` for the reference torch.", "",
           f"## Relative to torch {reference}", "",
           f"Each release's median microseconds per step over torch {reference}'s ({reference}'s column: "
           f"microseconds). **Bold**: {SLOWER}x or more in the median and in the fastest round alike (next table), a "
           "release that made this step slower; a median alone that slow is more likely other jobs on the machine.",
           "", "| scheduler (case) | " + " | ".join(releases) + " |", "| --- |" + " --- |" * len(releases),
           *_relative_rows(records, releases, reference, schedulers, "median_us", confirm="min_us"),
           "", f"## Fastest round, relative to torch {reference}", "",
           "The same ratio for each benchmark's fastest round (microseconds per step): the round other jobs disturbed "
           f"least, so the steadiest figure on a shared machine. **Bold**: {SLOWER}x or more. `-`: not recorded (a record "
           "saved before the fastest round was kept has only the median).", "",
           "| scheduler (case) | " + " | ".join(releases) + " |", "| --- |" + " --- |" * len(releases),
           *_relative_rows(records, releases, reference, schedulers, "min_us", confirm=None)]
    out += ["", "## Microseconds per step", "", "Median (IQR) over the rounds; `-`: not measured.", "",
            "| scheduler | " + " | ".join(releases) + " |", "| --- |" + " --- |" * len(releases)]
    for name in schedulers:
        cells = []
        for release in releases:
            entry = records.get(release, {}).get("step", {}).get(name)
            cells.append(f"{entry['median_us']:.1f} ({entry['iqr_us']:.1f})" if entry else "-")
        out.append(f"| {name} | " + " | ".join(cells) + " |")
    out += ["", "## The harness on each release", "",
            "Seconds (median over the rounds) of every case the release grades in process: bare torch stepping them "
            "(the floor: building each case's optimizer and scheduler, stepping it, reading the lrs) and a full "
            "`lr-conformance run` against that torch, its ratio to the floor in brackets (target <= 1.5x), and the "
            "run in cases per second. The commands (Python's start and torch's import in every round; targets <= 1.5x "
            "and <= 3x the command floor) only where `tools/benchmark.py` was run with them: the matrix leaves them "
            "out.", "",
            "| release | cases | floor: bare torch (s) | `lr-conformance run` in process (s) | cases/s "
            "| command floor (s) | `lr-conformance run` command (s) | `pytest tests/conformance` command (s) "
            "| load average | measured |",
            "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for release in releases:
        record = records.get(release)
        if record is None:
            out.append(f"| {release} | - | - | - | - | - | - | - | - | not measured |")
            continue
        in_process = record.get("harness", {}).get("run in process", {})
        out.append(f"| {release} | {in_process.get('cases', '-')} | {_seconds_cell(record, 'floor')} | "
                   f"{_seconds_cell(record, 'run in process')} | {in_process.get('cases_per_second', '-')} | "
                   f"{_seconds_cell(record, 'command floor')} | {_seconds_cell(record, 'lr-conformance run')} | "
                   f"{_seconds_cell(record, 'pytest tests/conformance')} | "
                   f"{_load_cell(record)} | {record.get('datetime', '')[:16]} |")
    return "\n".join(out) + "\n"


def run(pytest_args: list[str], save: Path | None) -> int:
    """pytest tests/benchmarks under this interpreter; with `save`, its report's record written there."""
    with tempfile.TemporaryDirectory() as tmp:
        report_path = Path(tmp) / "benchmark.json"
        code = subprocess.call([sys.executable, "-m", "pytest", str(BENCHMARKS), "-p", "no:cacheprovider",
                                f"--benchmark-json={report_path}", *pytest_args], cwd=ROOT)
        if code != 0:
            return code
        if save is not None:
            record = extract(json.loads(report_path.read_text(encoding="utf-8")))
            save.parent.mkdir(parents=True, exist_ok=True)
            partial = save.with_name(f".{save.name}.{os.getpid()}")
            partial.write_text(json.dumps(record, indent=1, sort_keys=True) + "\n", encoding="utf-8")
            partial.replace(save)  # whole or not at all: a reader never sees half a record
            print(f"benchmark: saved {save}")
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--save", type=Path, metavar="FILE", help="write the small JSON record of this run there")
    parser.add_argument("--readme", action="store_true",
                        help="run nothing: rewrite README's speed table from docs/commands-bench.json")
    args, pytest_args = parser.parse_known_args(argv)
    if args.readme:
        return write_readme_table()
    return run(pytest_args, args.save)


def write_readme_table(readme: Path = ROOT / "README.md") -> int:
    """Replace the generated block of README's speed table with `render_command_table` of the saved record."""
    import re

    sys.path.insert(0, str(ROOT))
    from conformance.cases import load_cases

    record = json.loads(COMMANDS_RECORD.read_text(encoding="utf-8"))
    text = readme.read_text(encoding="utf-8")
    begin, end = "<!-- generated from docs/commands-bench.json -->\n", "\n<!-- end generated -->"
    new, n = re.subn(re.escape(begin) + ".*?" + re.escape(end),
                     lambda _: begin + render_command_table(record, len(load_cases())) + end, text, flags=re.S)
    if n != 1:
        print(f"{readme}: no generated speed table to replace", file=sys.stderr)
        return 2
    readme.write_text(new, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
