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
from conformance.cases import CaseError


def load_expectations(path: Path, case_ids: Collection[str] | None = None) -> dict[str, str]:
    """The file's {case id: reason}. With `case_ids` (every case of the suite), an id outside them is a
    CaseError naming the file and line - all such ids at once."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        shipped = ", ".join(resources.expectations_names()) or "none"
        raise CaseError(f"{path}: expectations file not found (nor a shipped one by that name: {shipped})") from None
    except UnicodeDecodeError as exc:
        raise CaseError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except OSError as exc:  # a directory, an unreadable file
        raise CaseError(f"{path}: cannot read the expectations file ({exc.strerror or exc})") from None
    except tomllib.TOMLDecodeError as exc:
        raise CaseError(f"{path}: invalid TOML: {exc}") from None
    differs = data.get("differs", [])
    if not isinstance(differs, list):
        raise CaseError(f"{path}: `differs` must be an array of tables ([[differs]]), not a {type(differs).__name__}")
    found: dict[str, str] = {}
    for index, item in enumerate(differs, 1):
        # every value is text: a reason or link of another type would print as a Python repr, an id of another
        # type would be looked up as a case it can never name
        if not isinstance(item, dict) or not item.get("id") or not item.get("reason"):
            raise CaseError(f"{path}: [[differs]] #{index} needs an id and a reason")
        mistyped = [key for key in ("id", "reason", "link") if key in item and not isinstance(item[key], str)]
        if mistyped:
            raise CaseError(f"{path}: [[differs]] #{index}: {', '.join(mistyped)} must be a string")
        reason = item["reason"] + (f" ({item['link']})" if item.get("link") else "")
        found[item["id"]] = reason
    if case_ids is not None:
        unknown = [_unknown_id(path, case_id, case_ids) for case_id in found if case_id not in case_ids]
        if unknown:
            raise CaseError(*unknown)
    return found


def _unknown_id(path: Path, case_id: str, case_ids: Collection[str]) -> str:
    lines = path.read_text(encoding="utf-8").splitlines()
    assignment = re.compile(r"""^\s*id\s*=\s*["']""" + re.escape(case_id) + r"""["']""")
    line = next((n for n, text in enumerate(lines, 1) if assignment.match(text)), 0)
    near = difflib.get_close_matches(case_id, list(case_ids), n=1)
    hint = f"; did you mean {near[0]!r}?" if near else ""
    return f"{path}:{line}: [[differs]] id {case_id!r} names no case of the suite{hint}"
