"""Markdown and self-contained HTML reports, rendered from the result document alone (report.result_document,
schemas/result.schema.json) - so a saved `--json` file can be re-rendered later with `lr-conformance report`.

Each divergent case (fail, error with a divergence, xfail) gets a plot of expected vs actual over the steps,
one line per param group, the first divergence marked, and below it |actual - expected| on a log scale (a
one-ULP drift is invisible in the top panel and obvious in the bottom one). Plots need matplotlib (the
`report` extra: pip install 'lr-conformance[report]'); without it the reports say so and omit them.
HTML embeds the PNGs (base64): one file to attach to a CI run. Markdown links them from `<stem>_plots/`.
"""

from __future__ import annotations

import base64
import html
import io
import json
import math
import re
from collections import Counter
from collections.abc import Mapping
from pathlib import Path

from conformance.model import Status
from conformance.report import (
    OBSERVATION_COLUMNS,
    RESULT_SCHEMA,
    STATUS_ORDER,
    divergence_window,
    applied_tolerance,
    controls_escaped,
    result_schema_problem,
    tolerance_text,
    windows,
)

# Titles of the tables of values around a divergence (report.windows: "around", "large").
_WINDOW_TITLES = {"around": "Around the first divergence", "large": "Around the first large difference"}
MAX_PLOTS = 60  # a report with hundreds of failures plots the first ones; the rest say so
PROBLEM_STATUSES = [s.value for s in Status if s.bad] + [Status.XFAIL.value]
COLORS = {"pass": "#1a7f37", "fail": "#cf222e", "error": "#bc4c00", "timeout": "#8250df", "crash": "#a40e26",
          "unsupported": "#57606a", "skip": "#8c959f", "xfail": "#9a6700", "xpass": "#cf222e"}


class ReportError(ValueError):
    """A result file cannot be read. str() is one line naming the file."""


def load_result(path: Path) -> dict:
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ReportError(f"{path}: no such result file") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ReportError(f"{path}: not a JSON result file ({exc})") from None
    if not isinstance(document, dict) or document.get("schema") != RESULT_SCHEMA:
        found = document.get("schema") if isinstance(document, dict) else type(document).__name__
        raise ReportError(f"{path}: not an lr-conformance result (schema {found!r}, expected {RESULT_SCHEMA!r})")
    problem = result_schema_problem(document)
    if problem:
        raise ReportError(f"{path}: not a valid lr-conformance result: {problem}")
    return document


def write_report(document: Mapping, path: Path) -> list[Path]:
    """Write a .md or .html report (by extension); returns every file written (the MD's plots too)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".md", ".html", ".htm"):
        raise ReportError(f"{path}: a report is .md or .html")
    if suffix == ".md":
        plots_dir = path.with_name(f"{path.stem}_plots")
        written, images = [], {}
        for result, png in _plots(document):
            plots_dir.mkdir(exist_ok=True)
            image = plots_dir / f"{_slug(result['id'])}.png"
            image.write_bytes(png)
            written.append(image)
            images[result["id"]] = image.relative_to(path.parent).as_posix()
        path.write_text(to_markdown(document, images), encoding="utf-8")
        return [path, *written]
    path.write_text(to_html(document), encoding="utf-8")
    return [path]


# --- plots ----------------------------------------------------------------------------------


def have_matplotlib() -> bool:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def plotted(document: Mapping) -> list[Mapping]:
    """The results that get a plot: those whose document entry carries both traces."""
    return [r for r in document["results"] if r.get("traces") and r.get("divergence")]


def _plots(document: Mapping):
    if not have_matplotlib():
        return
    for result in plotted(document)[:MAX_PLOTS]:
        yield result, plot_png(result)


def _float(value) -> float:
    return math.nan if value is None else float(value)  # "nan"/"inf"/"-inf" strings included


def _series(trace: Mapping, index: int) -> dict[int, list[tuple[int, float]]]:
    by_group: dict[int, list[tuple[int, float]]] = {}
    for row in trace["observations"]:
        by_group.setdefault(row[1], []).append((row[0], _float(row[index])))
    return by_group


def plot_png(result: Mapping, dpi: int = 80) -> bytes:
    """Expected vs actual for one divergent result, as PNG bytes."""
    from matplotlib.figure import Figure

    divergence = result["divergence"]
    column = divergence["column"] if divergence["column"] in OBSERVATION_COLUMNS else "lr"
    index = OBSERVATION_COLUMNS.index(column)
    expected = _series(result["traces"]["expected"], index)
    actual = _series(result["traces"]["actual"], index)

    fig = Figure(figsize=(7.5, 4.6), dpi=dpi)
    top, bottom = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 1.4]})
    any_error = any_nonfinite = False
    for group in sorted(set(expected) | set(actual)):
        color = f"C{group % 10}"
        if group in expected:
            steps, values = zip(*expected[group])
            top.plot(steps, values, "-", color=color, lw=3, alpha=0.35, drawstyle="steps-post",
                     label=f"expected (group {group})")
        if group in actual:
            steps, values = zip(*actual[group])
            finite = [v if math.isfinite(v) else math.nan for v in values]
            top.plot(steps, finite, "--", marker=".", color=color, lw=1.2, drawstyle="steps-post",
                     label=f"actual (group {group})")
            bad = [s for s, v in zip(steps, values) if not math.isfinite(v)]
            if bad:
                any_nonfinite = True
                top.plot(bad, [0.96] * len(bad), "x", color="red", ms=8, transform=top.get_xaxis_transform(),
                         label="actual not finite")
        exp_at, act_at = dict(expected.get(group, ())), dict(actual.get(group, ()))
        diffs = [(s, abs(act_at[s] - e)) for s, e in exp_at.items()
                 if s in act_at and math.isfinite(e) and math.isfinite(act_at[s]) and act_at[s] != e]
        if diffs:
            any_error = True
            bottom.plot(*zip(*diffs), "o", color=color, ms=3.5)
    marks = [(divergence, "first divergence", "red", -26)]
    if divergence.get("first_large"):
        marks.append((divergence["first_large"], "first large difference", "darkorange", -38))
    for mark, name, color, offset in marks:
        step = mark["step"]
        for axis in (top, bottom):
            axis.axvline(step, color=color, ls=":", lw=1.2)
        where = f"step {step}" + (f", group {mark['group']}" if mark.get("group") is not None else "")
        top.annotate(f"{name}: {where} ({mark['column']})", xy=(step, 1.0), xycoords=top.get_xaxis_transform(),
                     xytext=(4, offset), textcoords="offset points", color=color, fontsize=8)
    for axis in (top, bottom):
        axis.grid(alpha=0.3)
    top.set_ylabel(column)
    top.legend(fontsize=7, loc="best")
    top.set_title(f"{result['id']} - {result['status']}", fontsize=10)
    bottom.set_xlabel("step")
    bottom.set_ylabel("|actual - expected|", fontsize=8)
    if any_error:
        bottom.set_yscale("log")
    else:
        message = "the differences are not finite (see the top panel)" if any_nonfinite else "no difference in values"
        bottom.text(0.5, 0.5, message, ha="center", va="center",
                    transform=bottom.transAxes, fontsize=8, color="#57606a")
        bottom.set_yticks([])
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", bbox_inches="tight")
    return buffer.getvalue()


# --- shared pieces --------------------------------------------------------------------------


def _title(document: Mapping) -> str:
    adapter = document["adapter"]
    release = adapter.get("mirrors") or document["suite"]["reference"]
    return f"lr-conformance: {adapter['name']} {adapter['version']} vs torch {release} goldens"


def _verdict(document: Mapping) -> str:
    present = [s for s in STATUS_ORDER if document["counts"].get(s)]
    totals = ", ".join(f"{document['counts'][s]} {s}" for s in present) or "no cases"
    return f"{'OK' if document['ok'] else 'NOT CONFORMANT'} - {totals} in {document['seconds']:.2f}s"


def _tolerance(document: Mapping) -> str:
    reason = applied_tolerance(document).get("reason")
    return tolerance_text(document) + (f": {reason}" if reason and reason != "bit-exact" else "")


def _by_scheduler(document: Mapping) -> tuple[list[str], list[tuple[str, list[int]]]]:
    present = [s for s in STATUS_ORDER if document["counts"].get(s)]
    table: dict[str, Counter] = {}
    for r in document["results"]:
        table.setdefault(r["scheduler"], Counter())[r["status"]] += 1
    return present, [(name, [table[name].get(s, 0) for s in present]) for name in sorted(table)]


def _problems(document: Mapping) -> list[Mapping]:
    order = {s: i for i, s in enumerate(PROBLEM_STATUSES)}
    return sorted((r for r in document["results"] if r["status"] in order), key=lambda r: order[r["status"]])


def _cell(value) -> str:
    return "-" if value is None else str(value)


def _window_title(kind: str, divergence: Mapping) -> str:
    column = divergence["column"]
    return _WINDOW_TITLES[kind] + ("" if column in ("lr", "length") else f" ({column})")


def _slug(case_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", case_id).strip("-")


def _plot_note(document: Mapping) -> str | None:
    count = len(plotted(document))
    if not count:
        return None
    if not have_matplotlib():
        return "Plots omitted: matplotlib is not installed (pip install 'lr-conformance[report]')."
    if count > MAX_PLOTS:
        return f"Plots are drawn for the first {MAX_PLOTS} of {count} divergent cases."
    return None


# --- Markdown -------------------------------------------------------------------------------


def _md(text) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def to_markdown(document: Mapping, images: Mapping[str, str] | None = None) -> str:
    """The report as GitHub-flavoured Markdown; `images` maps case id -> relative PNG path."""
    images = images or {}
    adapter = document["adapter"]
    out = [f"# {_title(document)}", "", f"**{_verdict(document)}**", "",
           f"- adapter: `{adapter.get('spec', adapter['name'])}` ({adapter['name']} {adapter['version']})",
           f"- tolerance: {_tolerance(document)}",
           f"- suite: lr-conformance {document['suite']['version']}, reference torch {document['suite']['reference']}",
           ""]
    present, rows = _by_scheduler(document)
    out += ["| scheduler | " + " | ".join(present) + " |", "| --- |" + " ---: |" * len(present)]
    out += [f"| {name} | " + " | ".join(str(n) for n in counts) + " |" for name, counts in rows]
    out.append("")
    note = _plot_note(document)
    if note:
        out += [f"> {note}", ""]

    problems = _problems(document)
    if problems:
        out += ["## Problems and expected differences", ""]
    for r in problems:
        out += [f"### `{r['status'].upper()}` {r['id']}", "", f"- **why:** {_md(r['why'])}",
                f"- **what:** {_md(r['detail'])}"]
        if r.get("expected_file"):
            out.append(f"- **golden:** `{r['expected_file']}`")
        out += [f"- **rerun:** `{r['reproduce']}`", ""]
        for kind, divergence in windows(r):
            out += [f"{_window_title(kind, divergence)}:", "",
                    "| step | group | expected | actual |", "| ---: | ---: | --- | --- |"]
            for step, group, exp, act in divergence_window(r, divergence):
                mark = "**" if step == divergence["step"] else ""
                out.append(f"| {mark}{step}{mark} | {group} | {_md(_cell(exp))} | {_md(_cell(act))} |")
            out.append("")
        if r["id"] in images:
            out += [f"![{r['id']}: expected vs actual]({images[r['id']]})", ""]
        if r.get("snippet"):
            out += ["<details><summary>torch reproduction</summary>", "", "```python", r["snippet"].rstrip(),
                    "```", "", "</details>", ""]

    unsupported = [r for r in document["results"] if r["status"] == Status.UNSUPPORTED.value]
    if unsupported:
        out += ["## Unsupported", "", "Cases needing a capability the adapter does not declare (not failures).", "",
                "| case | needs |", "| --- | --- |"]
        out += [f"| {r['id']} | {_md(', '.join(r['missing']))} |" for r in unsupported]
        out.append("")
    out += ["## All cases", "", "<details><summary>every result</summary>", "", "| case | scheduler | status |",
            "| --- | --- | --- |"]
    out += [f"| {r['id']} | {r['scheduler']} | {r['status']} |" for r in document["results"]]
    out += ["", "</details>", ""]
    return "\n".join(out)


# --- HTML -----------------------------------------------------------------------------------

_CSS = """
body{font:14px/1.45 -apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:2em auto;max-width:1100px;
     color:#1f2328;padding:0 1em}
h1{font-size:1.5em}h2{font-size:1.2em;border-bottom:1px solid #d0d7de;padding-bottom:.2em;margin-top:2em}
table{border-collapse:collapse;margin:.6em 0}td,th{border:1px solid #d0d7de;padding:.2em .6em;text-align:left}
td.n{text-align:right;font-variant-numeric:tabular-nums}code,pre{font:12px ui-monospace,Menlo,Consolas,monospace}
pre{background:#f6f8fa;padding:.7em;overflow-x:auto;border-radius:6px}
.badge{display:inline-block;color:#fff;border-radius:4px;padding:0 .45em;font-size:.85em;font-weight:600}
.case{border:1px solid #d0d7de;border-radius:8px;padding:.2em 1em 1em;margin:1em 0}
.verdict{font-size:1.15em;font-weight:600}.ok{color:#1a7f37}.bad{color:#cf222e}
tr.first td{background:#ffebe9;font-weight:600}img{max-width:100%;border:1px solid #d0d7de;border-radius:6px}
.meta td:first-child{color:#57606a}.note{color:#57606a}
"""


def _e(text) -> str:
    return html.escape(controls_escaped(str(text)), quote=True)


def _badge(status: str) -> str:
    return f'<span class="badge" style="background:{COLORS.get(status, "#57606a")}">{_e(status)}</span>'


def to_html(document: Mapping, plots: bool = True) -> str:
    """The report as one self-contained HTML page (CSS inline, plots as data: URIs)."""
    images = {r["id"]: base64.b64encode(png).decode("ascii") for r, png in _plots(document)} if plots else {}
    adapter = document["adapter"]
    title = _title(document)
    parts = [f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{_e(title)}</title>"
             f"<style>{_CSS}</style></head><body>", f"<h1>{_e(title)}</h1>",
             f"<p class='verdict {'ok' if document['ok'] else 'bad'}'>{_e(_verdict(document))}</p>",
             "<table class='meta'>",
             f"<tr><td>adapter</td><td><code>{_e(adapter.get('spec', adapter['name']))}</code> "
             f"({_e(adapter['name'])} {_e(adapter['version'])})</td></tr>",
             f"<tr><td>tolerance</td><td>{_e(_tolerance(document))}</td></tr>",
             f"<tr><td>suite</td><td>lr-conformance {_e(document['suite']['version'])}, reference torch "
             f"{_e(document['suite']['reference'])}</td></tr></table>"]
    present, rows = _by_scheduler(document)
    parts.append("<table><tr><th>scheduler</th>" + "".join(f"<th>{_badge(s)}</th>" for s in present) + "</tr>")
    for name, counts in rows:
        parts.append(f"<tr><td>{_e(name)}</td>" + "".join(f"<td class='n'>{n or ''}</td>" for n in counts) + "</tr>")
    parts.append("</table>")
    note = _plot_note(document)
    if note:
        parts.append(f"<p class='note'>{_e(note)}</p>")

    problems = _problems(document)
    if problems:
        parts.append("<h2>Problems and expected differences</h2>")
    for r in problems:
        parts.append(f"<div class='case' id='{_e(_slug(r['id']))}'>"
                     f"<h3>{_badge(r['status'])} <code>{_e(r['id'])}</code></h3>")
        parts.append("<table class='meta'>"
                     f"<tr><td>why</td><td>{_e(r['why'])}</td></tr>"
                     f"<tr><td>what</td><td>{_e(r['detail'])}</td></tr>"
                     + (f"<tr><td>golden</td><td><code>{_e(r['expected_file'])}</code></td></tr>"
                        if r.get("expected_file") else "")
                     + f"<tr><td>rerun</td><td><code>{_e(r['reproduce'])}</code></td></tr></table>")
        for kind, divergence in windows(r):
            parts.append(f"<p class='note'>{_e(_window_title(kind, divergence))}</p>"
                         "<table><tr><th>step</th><th>group</th><th>expected</th><th>actual</th></tr>")
            for step, group, exp, act in divergence_window(r, divergence):
                first = " class='first'" if step == divergence["step"] else ""
                parts.append(f"<tr{first}><td class='n'>{step}</td><td class='n'>{group}</td>"
                             f"<td><code>{_e(_cell(exp))}</code></td><td><code>{_e(_cell(act))}</code></td></tr>")
            parts.append("</table>")
        if r["id"] in images:
            parts.append(f"<img alt='{_e(r['id'])}: expected vs actual' src='data:image/png;base64,{images[r['id']]}'>")
        if r.get("snippet"):
            parts.append(f"<details><summary>torch reproduction</summary><pre>{_e(r['snippet'])}</pre></details>")
        parts.append("</div>")

    unsupported = [r for r in document["results"] if r["status"] == Status.UNSUPPORTED.value]
    if unsupported:
        parts.append("<h2>Unsupported</h2><p class='note'>Cases needing a capability the adapter does not declare "
                     "(not failures).</p><table><tr><th>case</th><th>needs</th></tr>")
        parts += [f"<tr><td><code>{_e(r['id'])}</code></td><td>{_e(', '.join(r['missing']))}</td></tr>"
                  for r in unsupported]
        parts.append("</table>")
    parts.append("<h2>All cases</h2><details><summary>every result</summary><table>"
                 "<tr><th>case</th><th>scheduler</th><th>status</th><th>detail</th></tr>")
    parts += [f"<tr><td><code>{_e(r['id'])}</code></td><td>{_e(r['scheduler'])}</td><td>{_badge(r['status'])}</td>"
              f"<td>{_e(r['detail'])}</td></tr>" for r in document["results"]]
    parts.append("</table></details></body></html>\n")
    return "\n".join(parts)
