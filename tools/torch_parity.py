"""The parity map: every test in torch's test/optim/test_lrscheduler.py, with the cases that pin it or the reason
none can, generated into docs/torch-parity.md from the reviewed mapping docs/parity/mapping.toml.

    python tools/torch_parity.py --tests ~/src/pytorch --ref v2.14.0   # read a newer checkout (or the file itself)
    python tools/torch_parity.py                                        # rewrite docs/torch-parity.md
    python tools/torch_parity.py --check                                # CI: the committed map is what this writes

`--tests PATH` (a pytorch checkout, or the test file's own path) reads the test names with `ast` - methods named
test_* of the module's classes, and module-level test_* functions, with the parameters of their `@parametrize`
decorators - and records them, with the ref they were read at, in the mapping file's recorded block, so that
the map can be checked offline. Without `--tests` the recorded names are used. `--ref` names the torch tag or
commit; for a git checkout it defaults to `git describe --tags --exact-match`, else the commit.

Each `[tests.<Class>.<test>]` entry of the mapping holds `cases` (case ids that pin the test), with `partly`
(what they leave unpinned) when they pin only part of it, or, when no case can, `reason` (one line) and `gap`
(a short name for what is missing: a behaviour outside the suite's scope, or what the case language cannot say).

Exit codes: 0 the map is complete (and written, or up to date with --check); 1 tests without a mapping (listed,
one a line) or a committed map that differs from what the tool writes; 2 a bad input - an unreadable test file
or mapping, a mapping entry naming a case id that does not exist or a test the source does not have - one line
naming the file and line.
"""

from __future__ import annotations

import argparse
import ast
import re
import subprocess
import sys
import tomllib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from conformance import cases

ROOT = Path(__file__).resolve().parents[1]
MAPPING = ROOT / "docs" / "parity" / "mapping.toml"
OUT = ROOT / "docs" / "torch-parity.md"
TEST_FILE = Path("test") / "optim" / "test_lrscheduler.py"
TORCH_REPO = "pytorch/pytorch"
ISSUE_URL = "https://github.com/pytorch/pytorch/issues/{}"
# The tool owns this block of the mapping file; everything outside it is reviewed by hand.
BLOCK_START = "# --- recorded by tools/torch_parity.py --tests: do not edit by hand ---"
BLOCK_END = "# --- end of recorded block ---"
ENTRY_KEYS = {"cases", "partly", "reason", "gap"}
# The gap of a test the case language can say but no case pins yet: counted apart from the inexpressible ones.
ABSENT = "expressible, no case yet"
# `pytorch#123`, a bare `#123` (cases cite "fix proposed in #196242" after a pytorch#), or an issue/PR URL.
ISSUE_REF = re.compile(r"(?:(?<![\w/])(?:pytorch)?#|github\.com/pytorch/pytorch/(?:issues|pull)/)(\d+)")


class Usage(Exception):
    """A bad input: one line for stderr, exit 2."""


@dataclass(frozen=True)
class TorchTest:
    key: str  # "Class.test_name", or "test_name" at module level: the name torch's unittest runner shows
    parametrized: str  # "" or the parametrize arguments and their counts, e.g. "T_mult (3)"


@dataclass(frozen=True)
class Entry:
    key: str
    line: int
    cases: tuple[str, ...]
    partly: str
    reason: str
    gap: str

    @property
    def status(self) -> str:
        if not self.cases:
            return "absent" if self.gap == ABSENT else "not expressible"
        return "partly" if self.partly else "pinned"


@dataclass(frozen=True)
class Mapping:
    path: Path
    text: str
    ref: str
    source_path: str
    tests: tuple[TorchTest, ...]
    entries: dict[str, Entry]


def _parametrize_args(function: ast.FunctionDef) -> str:
    """torch's `@parametrize("name", [values])`: one test per value, named after the method. Counted when the
    values are a literal list."""
    args = []
    for decorator in function.decorator_list:
        if not isinstance(decorator, ast.Call):
            continue
        called = decorator.func
        name = called.attr if isinstance(called, ast.Attribute) else getattr(called, "id", "")
        if name != "parametrize" or not decorator.args or not isinstance(decorator.args[0], ast.Constant):
            continue
        values = decorator.args[1] if len(decorator.args) > 1 else None
        count = f" ({len(values.elts)})" if isinstance(values, (ast.List, ast.Tuple)) else ""
        args.append(f"{decorator.args[0].value}{count}")
    return ", ".join(args)


def read_tests(source: str, filename: str) -> tuple[TorchTest, ...]:
    """The tests unittest would collect from this file's top level, in source order."""
    try:
        module = ast.parse(source, filename=filename)
    except SyntaxError as error:
        raise Usage(f"{filename}:{error.lineno}: not Python: {error.msg}") from None
    tests = []
    for node in module.body:
        functions = [(node.name + ".", item) for item in node.body] if isinstance(node, ast.ClassDef) else [("", node)]
        tests += [TorchTest(prefix + item.name, _parametrize_args(item)) for prefix, item in functions
                  if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)) and item.name.startswith("test")]
    return tuple(tests)


def _git_ref(checkout: Path) -> str:
    for command in (["describe", "--tags", "--exact-match"], ["rev-parse", "HEAD"]):
        done = subprocess.run(["git", "-C", str(checkout), *command], capture_output=True, text=True)
        if done.returncode == 0:
            return done.stdout.strip()
    return ""


def read_source(path: Path, ref: str | None) -> tuple[str, tuple[TorchTest, ...]]:
    """(ref, tests) of a pytorch checkout or of the test file itself."""
    test_file = path / TEST_FILE if path.is_dir() else path
    try:
        source = test_file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise Usage(f"{test_file}: cannot read the torch test file: {error}") from None
    ref = ref or _git_ref(test_file.parent)
    if not ref:
        raise Usage(f"{test_file}: not in a git checkout: name the torch tag or commit with --ref")
    return ref, read_tests(source, str(test_file))


def _line_of(lines: list[str], text: str, start: int = 0) -> int:
    """1-based number of the first line from `start` holding `text` (tomllib gives no positions)."""
    return next((n + 1 for n in range(start, len(lines)) if text in lines[n]), start + 1)


def _entry(path: Path, lines: list[str], key: str, value: dict) -> Entry:
    line = _line_of(lines, f"[tests.{key}]")
    where = f"{path}:{line}: [tests.{key}]"
    unknown = set(value) - ENTRY_KEYS
    if unknown:
        raise Usage(f"{where}: unknown key {sorted(unknown)[0]!r} (expected {', '.join(sorted(ENTRY_KEYS))})")
    ids = value.get("cases", [])
    strings = {name: value.get(name, "") for name in ("partly", "reason", "gap")}
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        raise Usage(f"{where}: cases must be a list of case ids")
    if not all(isinstance(text, str) for text in strings.values()):
        raise Usage(f"{where}: partly, reason and gap must be strings")
    if ids and (strings["reason"] or strings["gap"]):
        raise Usage(f"{where}: an entry with cases says what they leave out in `partly`, not `reason`/`gap`")
    if not ids and not (strings["reason"] and strings["gap"]):
        raise Usage(f"{where}: needs cases, or a reason and a gap saying why no case can pin it")
    return Entry(key, line, tuple(ids), **strings)


def _flatten(table: dict, prefix: str = "") -> list[tuple[str, dict]]:
    """`[tests.Class.test]` parses as nested tables; an entry is a table holding an entry key."""
    found = []
    for name, value in table.items():
        if isinstance(value, dict):
            key = prefix + name
            found += [(key, value)] if ENTRY_KEYS & set(value) else _flatten(value, key + ".")
    return found


def load_mapping(path: Path) -> Mapping:
    try:
        text = path.read_text(encoding="utf-8")
        data = tomllib.loads(text)
    except (OSError, UnicodeDecodeError) as error:
        raise Usage(f"{path}: cannot read the mapping: {error}") from None
    except tomllib.TOMLDecodeError as error:
        raise Usage(f"{path}: not TOML: {error}") from None
    lines = text.splitlines()
    source = data.get("source", {})
    parametrized = source.get("parametrized", {})
    tests = tuple(TorchTest(key, parametrized.get(key, "")) for key in source.get("tests", []))
    entries = {key: _entry(path, lines, key, value) for key, value in _flatten(data.get("tests", {}))}
    return Mapping(path, text, source.get("ref", ""), source.get("path", str(TEST_FILE)), tests, entries)


def _toml_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def recorded_block(ref: str, tests: tuple[TorchTest, ...]) -> str:
    names = "".join(f"    {_toml_string(test.key)},\n" for test in tests)
    params = "".join(f"{_toml_string(t.key)} = {_toml_string(t.parametrized)}\n" for t in tests if t.parametrized)
    return (f"{BLOCK_START}\n[source]\nrepo = {_toml_string(TORCH_REPO)}\npath = {_toml_string(str(TEST_FILE))}\n"
            f"ref = {_toml_string(ref)}\ntests = [\n{names}]\n\n[source.parametrized]\n{params}{BLOCK_END}\n")


def record(mapping: Mapping, ref: str, tests: tuple[TorchTest, ...]) -> Mapping:
    """Write what was read into the mapping file's recorded block (appended when the file has none yet)."""
    block = recorded_block(ref, tests)
    if BLOCK_START in mapping.text and BLOCK_END in mapping.text:
        before, rest = mapping.text.split(BLOCK_START, 1)
        text = before + block + rest.split(BLOCK_END, 1)[1].lstrip("\n")
    else:
        text = mapping.text.rstrip("\n") + "\n\n" + block
    mapping.path.write_text(text, encoding="utf-8")
    return load_mapping(mapping.path)


def validate(mapping: Mapping, case_ids: set[str]) -> list[str]:
    """Bad entries raise Usage; returns the tests the mapping does not cover."""
    lines = mapping.text.splitlines()
    known = {test.key for test in mapping.tests}
    for entry in mapping.entries.values():
        if entry.key not in known:
            raise Usage(f"{mapping.path}:{entry.line}: [tests.{entry.key}] is not a test of {mapping.source_path} "
                        f"at {mapping.ref}")
        for case_id in entry.cases:
            if case_id not in case_ids:
                line = _line_of(lines, _toml_string(case_id), entry.line - 1)
                raise Usage(f"{mapping.path}:{line}: [tests.{entry.key}] names case id {case_id!r}, which does not "
                            "exist (lr-conformance list)")
    return [test.key for test in mapping.tests if test.key not in mapping.entries]


def cited_issues(all_cases) -> dict[int, list[str]]:
    cited: dict[int, list[str]] = {}
    for case in all_cases:
        for number in dict.fromkeys(int(n) for n in ISSUE_REF.findall(case.why)):
            cited.setdefault(number, []).append(case.id)
    return dict(sorted(cited.items()))


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def render(mapping: Mapping, issues: dict[int, list[str]]) -> str:
    entries = [mapping.entries[test.key] for test in mapping.tests]
    status = Counter(entry.status for entry in entries)
    gaps = Counter(entry.gap for entry in entries if entry.status == "not expressible")
    gap_lines = "".join(f"  - {gap}: {n}\n" for gap, n in sorted(gaps.items(), key=lambda item: (-item[1], item[0])))
    rows = []
    for test, entry in zip(mapping.tests, entries):
        name = f"`{test.key}`" + (f" (parametrized: {test.parametrized})" if test.parametrized else "")
        ids = ", ".join(f"`{case_id}`" for case_id in entry.cases)
        note = entry.partly or f"{entry.gap}: {entry.reason}"
        rows.append(f"| {name} | {entry.status} | {ids} | {_cell(note if entry.status != 'pinned' else '')} |")
    issue_rows = [f"| [#{n}]({ISSUE_URL.format(n)}) | {', '.join(f'`{i}`' for i in ids)} |"
                  for n, ids in issues.items()]
    return (
        "# torch's own scheduler tests, and the cases that pin them\n\n"
        "Generated by `python tools/torch_parity.py` from `docs/parity/mapping.toml` (reviewed by hand): do not edit\n"
        "this file; `python tools/torch_parity.py --check` fails when it is out of date.\n\n"
        f"Tests read from {TORCH_REPO} `{mapping.source_path}` at **{mapping.ref}**.\n\n"
        f"- tests read: {len(entries)} ({sum(1 for t in mapping.tests if t.parametrized)} of them parametrized)\n"
        f"- pinned: {status['pinned']}\n"
        f"- partly pinned: {status['partly']}\n"
        f"- not expressible: {status['not expressible']}\n{gap_lines}"
        f"- absent ({ABSENT}): {status['absent']}\n"
        f"- pytorch issues and PRs cited in the cases' `why`: {len(issues)}\n\n"
        "*Pinned*: the cases check what the test checks, bit for bit against torch's goldens (torch's own test allows\n"
        "atol=1e-5; the cases' arguments may differ where the behaviour checked is the same).\n"
        "*Partly*: they pin some of it; the last column says what is left. *Not expressible*: no case can, and why.\n"
        "*Absent*: the case language can say it, no case does yet. Torch's fixture gives its second group a tensor\n"
        "lr; most cases run float groups (or, with the case-wide `tensor_lr`, tensor groups), and the\n"
        "`*/mixed-float-and-tensor-groups` cases mix them as the fixture does (a group's own `tensor_lr`).\n\n"
        "| torch test | status | cases | not pinned |\n| --- | --- | --- | --- |\n" + "\n".join(rows) + "\n\n"
        "## pytorch issues and PRs cited in the cases' `why`\n\n"
        "| issue | cases |\n| --- | --- |\n" + "\n".join(issue_rows) + "\n"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tests", type=Path, metavar="PATH",
                        help="a pytorch checkout or its test/optim/test_lrscheduler.py: read and record its tests")
    parser.add_argument("--ref", help="the torch tag or commit the tests are read at (default: from git)")
    parser.add_argument("--mapping", type=Path, default=MAPPING, help=f"default {MAPPING.relative_to(ROOT)}")
    parser.add_argument("--out", type=Path, default=OUT, help=f"default {OUT.relative_to(ROOT)}")
    parser.add_argument("--check", action="store_true",
                        help="write nothing: fail if --out is not what would be written")
    args = parser.parse_args(argv)
    try:
        mapping = load_mapping(args.mapping)
        if args.tests is not None:
            mapping = record(mapping, *read_source(args.tests, args.ref))
        if not mapping.tests:
            raise Usage(f"{args.mapping}: no recorded torch tests: run with --tests PATH first")
        all_cases = cases.load_cases()
        unmapped = validate(mapping, {case.id for case in all_cases})
    except Usage as problem:
        print(problem, file=sys.stderr)
        return 2
    if unmapped:
        print(f"{len(unmapped)} torch tests have no mapping in {args.mapping}:", file=sys.stderr)
        print("\n".join(unmapped), file=sys.stderr)
        return 1
    text = render(mapping, cited_issues(all_cases))
    if args.check:
        current = args.out.read_text(encoding="utf-8") if args.out.is_file() else None
        if current != text:
            print(f"{args.out} is out of date: run python tools/torch_parity.py", file=sys.stderr)
            return 1
        return 0
    args.out.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
