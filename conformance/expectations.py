"""Per-adapter expectations: cases an implementation is known to differ on, each with a reason.

    # mylib-expectations.toml (`--expectations FILE`; the suite ships the library adapters' recorded ones,
    # named by the adapter's info.name: `--expectations paddle-float64`)
    [[differs]]
    id = "steplr/gamma-one"
    reason = "mylib clamps gamma to (0, 1)"
    link = "https://github.com/me/mylib/issues/12"   # optional

Strict: a listed case that fails is XFAIL; a listed case that now matches is XPASS, which fails the run,
so the file cannot go stale silently. For the same reason an id that names no case of the suite (a typo, a
case renamed or removed) is refused before grading, each one on its own line.
"""

from __future__ import annotations

import difflib
import re
import tomllib
from collections.abc import Collection
from pathlib import Path

from conformance import resources
from conformance.cases import CaseError, read_text


def load_expectations(path: Path, case_ids: Collection[str] | None = None) -> dict[str, str]:
    """The file's {case id: reason}. With `case_ids` (every case of the suite), an id outside them is a
    CaseError naming the file and line - all such ids at once."""
    if not path.exists():
        shipped = ", ".join(resources.expectations_names()) or "none"
        raise CaseError(f"{path}: expectations file not found (nor a shipped one by that name: {shipped})")
    text = read_text(path)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise CaseError(f"{path}: invalid TOML: {exc}") from None
    entries = data.get("differs", [])
    if not isinstance(entries, list):
        raise CaseError(f"{path}: 'differs' must be [[differs]] tables, got {type(entries).__name__}")
    found: dict[str, str] = {}
    for index, item in enumerate(entries, 1):
        if not isinstance(item, dict) or not item.get("id") or not item.get("reason"):
            raise CaseError(f"{path}: [[differs]] #{index} needs an id and a reason")
        wrong = [key for key in ("id", "reason", "link") if key in item and not isinstance(item[key], str)]
        if wrong:
            raise CaseError(f"{_line_of(text, index, path)}: [[differs]] #{index}: {wrong[0]!r} must be a string, "
                            f"got {type(item[wrong[0]]).__name__}")
        reason = item["reason"] + (f" ({item['link']})" if item.get("link") else "")
        found[item["id"]] = reason
    if case_ids is not None:
        unknown = [_unknown_id(path, case_id, case_ids) for case_id in found if case_id not in case_ids]
        if unknown:
            raise CaseError(*unknown)
    return found


def _line_of(text: str, index: int, path: Path) -> str:
    """`file:line` of the index-th (from 1) [[differs]] table's header."""
    headers = [n for n, line in enumerate(text.splitlines(), 1) if re.match(r"^\s*\[\[\s*differs\s*\]\]", line)]
    return f"{path}:{headers[index - 1]}" if index <= len(headers) else str(path)


def _unknown_id(path: Path, case_id: str, case_ids: Collection[str]) -> str:
    lines = path.read_text(encoding="utf-8").splitlines()
    assignment = re.compile(r"""^\s*id\s*=\s*["']""" + re.escape(case_id) + r"""["']""")
    line = next((n for n, text in enumerate(lines, 1) if assignment.match(text)), 0)
    near = difflib.get_close_matches(case_id, list(case_ids), n=1)
    hint = f"; did you mean {near[0]!r}?" if near else ""
    return f"{path}:{line}: [[differs]] id {case_id!r} names no case of the suite{hint}"
