"""A finding as a case people can act on: a `[[case]]` TOML block, ready to paste into
golden/cases/<family>.toml (or appended to a staging file with `fuzz --record FILE`), that the case loader
accepts as is. After review - fill in `why`, maybe trim it - `lr-conformance regen` records its golden from
the reference torch, like any hand-written case.

The block is written in the case files' style (inline tables, one child per line) by a small emitter for
the few TOML value types a case holds; `case_block` checks that the text parses back into the identical
Case before anyone sees it.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import textwrap
import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path

from conformance.cases import parse_case
from conformance.model import Case

# The order keys are written in (the order golden/cases/*.toml use).
KEY_ORDER = ("id", "why", "scheduler", "kwargs", "children", "on", "optimizer", "groups", "steps", "protocol",
             "resume_at", "epochs", "metrics", "tensor_lr", "observe_momentum", "interventions", "torch", "tags",
             "expect_error", "expect_warning")
# Keys always written even at their default value: a family file's [defaults] may set them, and a pasted
# block must not inherit anything from there (every family file sets scheduler, groups and steps; two set
# optimizer).
ALWAYS = frozenset({"scheduler", "optimizer", "groups", "steps"})
# A block stays readable at a glance: `why` is a short statement to replace (shortened at a word: what fuzz
# saw is in full in the comments above it), and comments wrap at the same width - except a command line,
# which is copied whole.
WHY_LIMIT = 100
COMMENT_WIDTH = 100
COMMAND_COMMENTS = ("reproduce:",)
_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def family(case: Case) -> str:
    """The case file a case belongs in: golden/cases/<family>.toml (the top-level scheduler, lowercased)."""
    return case.scheduler.name.lower()


def finding_id(data: Mapping) -> str:
    """`<family>/fuzz-<10 hex digits of the case data>`: the same case always gets the same id."""
    content = {k: v for k, v in data.items() if k not in ("id", "why", "tags", "expect_error")}
    digest = hashlib.sha256(json.dumps(content, sort_keys=True, default=repr).encode()).hexdigest()[:10]
    return f"{str(data['scheduler']).lower()}/fuzz-{digest}"


def finding_case(case: Case, what: str, expect_error: str | None = None) -> Case:
    """The drawn case with its real id, a `why` to fill in that says what fuzz saw, the `fuzz` tag, and
    `expect_error` when the reference raised (so that `lr-conformance check` accepts its golden)."""
    data = {k: v for k, v in case.raw.items() if k not in ("id", "why", "expect_error")}
    data["id"] = finding_id(data)
    data["why"] = _one_line(f"TODO say what this pins; fuzz saw: {what}")
    data["tags"] = sorted(set(data.get("tags", [])) | {"fuzz"})
    if expect_error:
        data["expect_error"] = expect_error
    return parse_case(data, source="", family=family(case))


def finding(verdict, pair: str) -> tuple[Case, str]:
    """A divergent verdict (differential.Verdict) as a finding: its case (finding_case, expecting the error the
    reference raised, if it did) and what fuzz saw, `pair` ("candidate vs reference") first."""
    expected_error = verdict.expected.error if verdict.expected is not None else None
    what = f"{pair}: {verdict.reason}"
    return finding_case(verdict.case, what, expected_error.type if expected_error else None), what


def case_block(case: Case, comments: Iterable[str] = ()) -> str:
    """The `[[case]]` block for `case` (comment lines first), checked to parse back into the same case."""
    lines = [line for comment in comments for line in _comment_lines(comment)]
    lines.append("[[case]]")
    data = case.raw
    for key in KEY_ORDER:
        if key not in data or (key not in ALWAYS and _is_default(key, data[key])):
            continue
        if key == "children":
            lines.append("children = " + _children(data[key], ""))
        elif key == "interventions":
            lines.append("interventions = " + _rows(value(action) for action in data[key]))
        else:
            lines.append(f"{key} = {value(data[key])}")
    block = "\n".join(lines) + "\n"
    _check_round_trip(case, block)
    return block


def record(path: Path, block: str) -> None:
    """Append a block to a staging file (created if missing), a blank line between blocks."""
    existing = path.read_text(encoding="utf-8") if path.exists() else ""
    separator = "" if not existing else ("\n" if existing.endswith("\n") else "\n\n")
    with path.open("a", encoding="utf-8", newline="\n") as out:
        out.write(separator + block)


def parse_block(text: str, defaults: Mapping | None = None) -> Case:
    """The case a block (one `[[case]]`) stands for once pasted into a file with these [defaults]."""
    tables = tomllib.loads(text).get("case", [])
    if len(tables) != 1:
        raise ValueError(f"expected one [[case]] table, got {len(tables)}")
    merged = {**(defaults or {}), **tables[0]}
    return parse_case(merged, source="", family=str(merged["id"]).split("/", 1)[0])


def _check_round_trip(case: Case, block: str) -> None:
    try:
        parsed = parse_block(block)
    except (tomllib.TOMLDecodeError, ValueError) as exc:
        raise RuntimeError(f"lr-conformance fuzz wrote a block that does not parse ({exc}):\n{block}") from None
    # repr, not ==: nan metrics are never equal to themselves, yet are the same case
    if repr(parsed) != repr(case):
        raise RuntimeError(f"lr-conformance fuzz wrote a block that reads back as another case:\n{block}")


def _is_default(key: str, val) -> bool:
    return {"kwargs": val == {}, "protocol": val == "standard", "tensor_lr": val is False,
            "observe_momentum": val is False, "tags": val == [], "torch": val == "",
            "interventions": val == []}.get(key, False)


def _rows(tables: Iterable[str], indent: str = "") -> str:
    """A list of inline tables, one per line, as the case files write children and interventions."""
    rows = [f"{indent}  {table}," for table in tables]
    return "[\n" + "\n".join(rows) + f"\n{indent}]" if rows else "[]"


def _children(children: list, indent: str) -> str:
    """A children list, one child per line (nested ones indented further), as in the case files."""
    inner = indent + "  "
    rows = []
    for child in children:
        if "scheduler" not in child:  # a `{ none = true }` child (spec 2.5)
            rows.append(value(child))
            continue
        parts = [f"scheduler = {value(child['scheduler'])}"]
        if child.get("kwargs"):
            parts.append(f"kwargs = {value(child['kwargs'])}")
        if "children" in child:
            parts.append("children = " + _children(child["children"], inner))
        if "on" in child:
            parts.append(f"on = {value(child['on'])}")
        rows.append(f"{{ {', '.join(parts)} }}")
    return _rows(rows, indent)


def value(val) -> str:
    """A TOML value for the types a case holds: str, bool, int, float (nan/inf too), list, table (inline)."""
    if isinstance(val, bool):
        return "true" if val else "false"
    if isinstance(val, int):
        return str(val)
    if isinstance(val, float):
        if math.isnan(val):
            return "nan"
        if math.isinf(val):
            return "inf" if val > 0 else "-inf"
        return repr(val)  # the shortest repr reading back to the same double; valid TOML (1e-08, 0.1, 2.0)
    if isinstance(val, str):
        return json.dumps(val)  # JSON's string escapes are a subset of TOML's basic-string escapes
    if isinstance(val, (list, tuple)):
        return "[" + ", ".join(value(v) for v in val) + "]"
    if isinstance(val, Mapping):
        if not val:
            return "{}"
        return "{ " + ", ".join(f"{_key(k)} = {value(v)}" for k, v in val.items()) + " }"
    raise TypeError(f"no TOML form for {type(val).__name__} {val!r}")


def _key(key: str) -> str:
    return key if _BARE_KEY.match(key) else json.dumps(key)


def _one_line(text: str) -> str:
    return textwrap.shorten(str(text), WHY_LIMIT, placeholder=" ...")


def _comment_lines(text: str) -> list[str]:
    """A comment in full, wrapped at COMMENT_WIDTH, its continuation lines indented (a command stays on one
    line, to paste). Words are never split: a path or a number stays whole even where a line runs longer."""
    text = " ".join(str(text).split())
    if text.startswith(COMMAND_COMMENTS):
        return [f"# {text}"]
    wrapped = textwrap.wrap(text, COMMENT_WIDTH - 2, subsequent_indent="  ", break_long_words=False,
                            break_on_hyphens=False)
    return [f"# {line}" for line in wrapped or [""]]
