"""Per-adapter expectations: cases an implementation is known to differ on, each with a reason.

    # mylib-expectations.toml (`--expectations FILE`; the suite ships the library adapters' recorded ones,
    # named by the adapter's info.name: `--expectations paddle-float64`)
    [[differs]]
    id = "steplr/gamma-one"
    reason = "mylib clamps gamma to (0, 1)"
    link = "https://github.com/me/mylib/issues/12"   # optional

Strict: a listed case that fails is XFAIL; a listed case that now matches is XPASS, which fails the run,
so the file cannot go stale silently.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from conformance import resources
from conformance.cases import CaseError


def load_expectations(path: Path) -> dict[str, str]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        shipped = ", ".join(resources.expectations_names()) or "none"
        raise CaseError(f"{path}: expectations file not found (nor a shipped one by that name: {shipped})") from None
    except tomllib.TOMLDecodeError as exc:
        raise CaseError(f"{path}: invalid TOML: {exc}") from None
    found: dict[str, str] = {}
    for index, item in enumerate(data.get("differs", []), 1):
        if not isinstance(item, dict) or not item.get("id") or not item.get("reason"):
            raise CaseError(f"{path}: [[differs]] #{index} needs an id and a reason")
        reason = item["reason"] + (f" ({item['link']})" if item.get("link") else "")
        found[item["id"]] = reason
    return found
