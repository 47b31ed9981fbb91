"""The outputs and counts the docs quote are what the commands print today (issue 20, item 4).

Each `console` block of examples/README.md that shows an `lr-conformance run` is run as written (from the
checkout's root, its environment assignments applied, files it writes redirected to a scratch directory) and
every line it quotes must appear in the real output, in order; only the wall time (`in 0.32s`) is free.
Counts that stand for the whole suite ("all N cases", "most of the N cases") must be the suite's count, and
README's cross-release sentence must agree with docs/behaviour-changes.md, which tools/matrix.py generates.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conformance import cases as cases_mod
from conformance.golden import REFERENCE_RELEASE

ROOT = Path(__file__).resolve().parents[2]
DOCS = {name: (ROOT / name).read_text(encoding="utf-8") for name in ("README.md", "examples/README.md")}
WRITES = ("--report", "--json", "--html", "--md")


def console_runs(text: str) -> list[tuple[str, list[str]]]:
    """(command, quoted output lines) of every `$ lr-conformance run` in the ```console blocks of `text`."""
    runs = []
    for block in re.findall(r"```console\n(.*?)```", text, re.S):
        command, lines = None, []
        for line in block.splitlines():
            if line.startswith("$ "):
                if command:
                    runs.append((command, lines))
                command, lines = line[2:], []
            elif command is not None:
                lines.append(line)
        if command and " lr-conformance run" in f" {command}":
            runs.append((command, lines))
    return runs


def normalise(line: str) -> str:
    line = re.sub(r" in \d+(\.\d+)?s - ", " in <time>s - ", line)
    return " ".join(line.split())


def run_as_written(command: str, scratch: Path) -> str:
    words = shlex.split(command)
    env = {k: v for k, v in os.environ.items() if k not in ("TINYSCHED_BUG", "LR_CONFORMANCE_ADAPTER")}
    while "=" in words[0]:
        key, value = words.pop(0).split("=", 1)
        env[key] = value
    assert words[0] == "lr-conformance", command
    argv = words[1:]
    for i, word in enumerate(argv[:-1]):
        if word in WRITES:
            argv[i + 1] = str(scratch / argv[i + 1])
    done = subprocess.run([sys.executable, "-m", "conformance", *argv], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, timeout=300)
    return done.stdout.replace(f"{scratch}{os.sep}", "")


def assert_quoted_in_order(quoted: list[str], actual: str, command: str) -> None:
    real = [normalise(line) for line in actual.splitlines()]
    at = 0
    for line in quoted:
        want = normalise(line)
        if not want or want == "...":
            continue
        try:
            at = real.index(want, at) + 1
        except ValueError:
            near = "\n".join(actual.splitlines()[-6:])
            pytest.fail(f"docs quote a line `{command}` no longer prints (in that order):\n  {line}\n"
                        f"its output ends:\n{near}")


EXAMPLE_RUNS = console_runs(DOCS["examples/README.md"])


def test_the_walkthrough_quotes_its_runs():
    assert len(EXAMPLE_RUNS) >= 5, [c for c, _ in EXAMPLE_RUNS]  # sections 2, 3 (twice), 4, 5


@pytest.mark.parametrize(("command", "quoted"), EXAMPLE_RUNS, ids=[c[-60:] for c, _ in EXAMPLE_RUNS])
def test_examples_readme_runs_print_what_it_quotes(command, quoted, tmp_path):
    assert_quoted_in_order(quoted, run_as_written(command, tmp_path), command)


@pytest.mark.skipif(not __import__("importlib.util").util.find_spec("torch"), reason="torch is not installed")
def test_readme_command_1_prints_the_line_it_quotes(tmp_path):
    import torch

    if torch.__version__.split("+")[0] != REFERENCE_RELEASE:
        pytest.skip(f"README quotes the reference torch {REFERENCE_RELEASE}'s run; torch {torch.__version__} is here")
    start = DOCS["README.md"].index("## The two commands")
    (quoted,) = re.findall(r"```\n(torch .*? - OK)\n```", DOCS["README.md"][start:start + 4000])
    assert_quoted_in_order([quoted], run_as_written("lr-conformance run", tmp_path), "lr-conformance run")


def test_counts_that_stand_for_the_whole_suite_are_its_count():
    cases = cases_mod.load_cases()
    total, files = len(cases), len({c.family for c in cases})
    patterns = [r"\ball (\d+) cases\b", r"\bmost of the (\d+) cases\b", r"\bof the (\d+) cases\b",
                r"\bgrade all (\d+)\b", r"^(\d+) cases in \d+ files"]
    found = 0
    for name, text in DOCS.items():
        for pattern in patterns:
            for match in re.finditer(pattern, text, re.M):
                found += 1
                line = text.count("\n", 0, match.start()) + 1
                assert int(match.group(1)) == total, f"{name}:{line}: {match.group(0)!r}, the suite has {total} cases"
    assert found >= 5
    assert re.search(rf"^{total} cases in {files} files", DOCS["README.md"], re.M)


def test_readmes_cross_release_sentence_is_the_generated_one():
    generated = (ROOT / "docs" / "behaviour-changes.md").read_text(encoding="utf-8")
    same, total, other, times, changes = map(int, re.search(
        r"(\d+) of (\d+) cases give the reference trace .*? the other (\d+) change (\d+) times, through the (\d+) "
        r"torch changes", generated).groups())
    text = " ".join(DOCS["README.md"].split())
    quoted = re.search(r"(\d+) of the (\d+) cases give the same trace on all 17 releases; the other (\d+) change "
                       r"(\d+) times in all, through (\d+) torch changes", text)
    assert quoted, "README's cross-release sentence changed shape; keep it checkable"
    assert tuple(map(int, quoted.groups())) == (same, total, other, times, changes)
    last_full = re.search(r"the last full pass with each env's tests had (\d+) cases .*? the (\d+) cases since", text)
    assert last_full and int(last_full.group(1)) + int(last_full.group(2)) == total


def test_readmes_speed_table_is_rendered_from_the_saved_record():
    """The table of the commands' times is `render_command_table` of docs/commands-bench.json (which
    `python tools/benchmark.py -m command --save docs/commands-bench.json` writes), the case count included."""
    import json

    sys.path.insert(0, str(ROOT / "tools"))
    try:
        import benchmark
    finally:
        sys.path.remove(str(ROOT / "tools"))
    record = json.loads(benchmark.COMMANDS_RECORD.read_text(encoding="utf-8"))
    block = re.search(r"<!-- generated from docs/commands-bench.json -->\n(.*?)\n<!-- end generated -->",
                      DOCS["README.md"], re.S)
    assert block, "README's speed table lost its generated markers"
    assert block.group(1) == benchmark.render_command_table(record, len(cases_mod.load_cases()))


def pytest_summary(project: Path, *argv: str, **env: str) -> str:
    """pytest's last line (without its wall time) for `pytest -q ARGV` run in `project`, as a user runs it."""
    environ = {k: v for k, v in os.environ.items()
               if k not in ("TINYSCHED_BUG", "LR_CONFORMANCE_ADAPTER", "PYTEST_ADDOPTS")} | env
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *argv], cwd=project,
                          env=environ, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=600)
    return re.sub(r" in \d+(\.\d+)?s.*$", "", done.stdout.strip().splitlines()[-1].strip("= "))


def test_examples_readmes_pytest_runs_end_as_it_says(tmp_path):
    """Sections 7 and 8 quote how their pytest runs end; run them as written, with section 8's test file."""
    text = " ".join(DOCS["examples/README.md"].split())
    first, second = re.search(r"The first run ends with `([^`]+)`.*? the second with `([^`]+)`", text).groups()
    (in_ci,) = re.search(r"--lr-expectations=tinysched/expectations\.toml` ends with `([^`]+)`", text).groups()
    (test_file,) = re.findall(r"```python\n(from conformance\.pytest_plugin import check_case\n.*?)```",
                              DOCS["examples/README.md"], re.S)[-1:]
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_lr_conformance.py").write_text(test_file, encoding="utf-8")
    shutil.copytree(ROOT / "examples" / "tinysched", tmp_path / "tinysched",
                    ignore=shutil.ignore_patterns("__pycache__"))
    adapter, expectations = ROOT / "examples/tinysched/adapter.py", ROOT / "examples/tinysched/expectations.toml"
    assert pytest_summary(tmp_path, "tests/test_lr_conformance.py", LR_CONFORMANCE_ADAPTER=str(adapter)) == first
    assert pytest_summary(tmp_path, "tests/test_lr_conformance.py", f"--lr-expectations={expectations}",
                          "--lr-case=steplr/gamma-half-step3", "--lr-case=steplr/resume-state-dict-at-4",
                          LR_CONFORMANCE_ADAPTER=str(adapter), TINYSCHED_BUG="1") == second
    assert pytest_summary(tmp_path, "--lr-adapter=tinysched/adapter.py",
                          "--lr-expectations=tinysched/expectations.toml") == in_ci
