"""Group the findings of a staging file by likely cause (conformance/fuzz/groups.py), offline, and compare the
groups with the cause a reviewer named in each block's comment (`# covered by <case id>`).

    python tools/group_staging.py --adapter paddle64 --expectations paddle-float64 \
        golden/staging/covered-paddle-float64.toml [--only-keep-going]

Each block's case is diagnosed against the candidate as `fuzz --keep-going` diagnoses a finding (runs of the pair:
one, plus one per ingredient), so this needs the candidate's environment (`tox -e paddle`). It prints one line
per group (size, the named causes in it, the key) and the counts a design is judged by: groups with more than
one named cause (merged: bad), causes spread over more than one group (split: tolerable). With
--expectations, a group whose key is a listed case's key names that case too, and the hint is scored against
the reviewer's.
"""

from __future__ import annotations

import argparse
import re
import sys
import tomllib
from collections import Counter, defaultdict
from pathlib import Path

from conformance import resources
from conformance.adapters import AdapterLoadError, load_adapter
from conformance.cases import CaseError, parse_case
from conformance.fuzz import differential, groups, known

_COVERED = re.compile(r"^# covered by ([\w./-]+)", re.MULTILINE)


def blocks(path: Path, only_keep_going: bool) -> list[tuple[str, object]]:
    """(the cause the reviewer named - "?" if none -, the case) for each [[case]] block of a staging file.
    Raises ValueError naming the file, and the block's line, for what cannot be read."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: cannot be read ({exc})") from None
    chunks = re.split(r"^\[\[case\]\]\n", text, flags=re.MULTILINE)
    found, line = [], chunks[0].count("\n") + 1
    for comment, chunk in zip(chunks, chunks[1:]):
        comment = comment.rsplit("\n\n", 1)[-1]  # the comment lines just above this block
        named = _COVERED.search(comment)
        if not only_keep_going or "--keep-going" in comment:
            try:
                table = tomllib.loads(chunk.split("\n\n", 1)[0])
                case = parse_case(table, source=str(path), family=str(table.get("id", "")).split("/", 1)[0])
            except (tomllib.TOMLDecodeError, CaseError, TypeError, ValueError, KeyError) as exc:
                raise ValueError(f"{path}:{line}: this [[case]] block is not a case ({exc})") from None
            found.append((named.group(1) if named else "?", case))
        line += chunk.count("\n") + 1
    return found


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("staging", type=Path)
    parser.add_argument("--adapter", required=True)
    parser.add_argument("--expectations", type=resources.expectations_file)
    parser.add_argument("--only-keep-going", action="store_true",
                        help="only blocks whose reproduce line has --keep-going (one campaign's findings)")
    args = parser.parse_args(argv)
    try:
        named = blocks(args.staging, args.only_keep_going)
    except ValueError as exc:
        print(f"group_staging: {exc}", file=sys.stderr)
        return 2
    try:
        reference, candidate = load_adapter("torch"), load_adapter(args.adapter)
    except AdapterLoadError as exc:
        print(f"group_staging: {exc}", file=sys.stderr)
        return 2
    try:
        trace = lambda case: reference.trace(case)  # noqa: E731
        found = known.diagnosed([known.Known.of(case, _or_none(trace, case)) for _, case in named], reference,
                                candidate, differential.grading_info(reference.info, candidate.info))
        listed = {}
        if args.expectations:
            from conformance import golden
            from conformance.cases import load_cases

            store = golden.load()
            cases = known.load([args.expectations], load_cases(), lambda c: store.expected(c, store.reference)[0])
            for item in known.diagnosed(cases, reference, candidate):
                if item.difference is not None:
                    listed.setdefault(groups.key(item), []).append(item.id)
    finally:
        reference.close()
        candidate.close()
    causes_of: dict = defaultdict(list)
    for (cause, _), item in zip(named, found):
        causes_of[groups.key(item)].append(cause)
    merged = sum(len(set(causes)) > 1 for causes in causes_of.values())
    spread = Counter(cause for causes in causes_of.values() for cause in set(causes))
    hinted = right = 0
    for group, causes in sorted(causes_of.items(), key=lambda item: -len(item[1])):
        hint = listed.get(group, [])
        hinted += len(causes) if hint else 0
        right += sum(cause in hint for cause in causes)
        print(f"{len(causes):3}  {group.label}  {dict(Counter(causes))}  key: {group}"
              + (f"  listed: {', '.join(hint)}" if hint else ""))
    print(f"{len(found)} findings, {len(set(n for n, _ in named))} named causes, {len(causes_of)} groups; "
          f"{merged} group(s) with more than one named cause; "
          f"{sum(n > 1 for n in spread.values())} cause(s) split over more than one group "
          f"({', '.join(f'{c} {n}' for c, n in spread.most_common() if n > 1)})")
    if args.expectations:
        print(f"a listed case's key: {hinted} finding(s), {right} of them the case the reviewer named")
    return 0


def _or_none(trace, case):
    try:
        return trace(case)
    except Exception:  # noqa: BLE001 - as fuzz does: a case the reference cannot run still has a shape
        return None


if __name__ == "__main__":
    sys.exit(main())
