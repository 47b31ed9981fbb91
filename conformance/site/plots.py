"""The site's plots: matplotlib figures written as SVG, byte-identical for identical input.

A plot is described by a `Plot` (plain data, so it can be sent to a worker process) and drawn by `svg`. What
makes the output deterministic: a fixed `svg.hashsalt` (the ids of clip paths and markers), no `Date` in the
metadata, text kept as text (`svg.fonttype = none`: no glyph paths whose ids depend on the font cache), and
a fixed layout instead of bbox_inches="tight". The legend is not drawn: pages render it in HTML from the same
`Curve`s (`swatch` gives the line's look), which is cheaper to draw and keeps labels as escaped text.

Drawing is the cost of building the site (several hundred SVGs); `render` spreads it over processes.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from conformance.model import Trace

# One look per kind of line: matplotlib's (dash pattern in points or None, width, marker, alpha).
STYLES = {
    "golden": (None, 2.6, "", 0.9),  # the reference golden
    "scoped": ((5, 2), 1.5, "", 0.95),  # a release-scoped torch golden
    "library": ((1.5, 1.5), 1.4, "o", 0.95),  # a library's own trace (when its result file kept it)
    "before": ((5, 2), 1.8, "", 0.9),  # a torch change: the release before it
    "after": (None, 1.8, "", 0.9),  # ... and the release that shows it
    "milestone": ((4, 1.5, 1, 1.5), 0.9, "", 0.8),  # a step where the loop resumes or intervenes
}
GROUP_COLORS = ("#1f2328", "#0969da", "#8250df", "#bf3989")  # golden, per param group
TORCH_COLORS = ("#d1242f", "#1a7f37", "#9a6700", "#0550ae", "#6639ba", "#bc4c00")
LIBRARY_COLORS = ("#e16f24", "#2da44e", "#8250df", "#0969da", "#bf3989", "#a40e26", "#57606a", "#4d2d00",
                  "#116329", "#1b7c83")
EVENT_COLORS = {"error": "#cf222e", "warning": "#bf8700"}
MILESTONE_COLOR = "#6e7781"
PASS_COLOR = "#1a7f37"  # the legend's check mark of the libraries that match the golden
LOG_SPAN = 100.0  # a y axis whose positive values span this ratio or more is drawn in log scale
SIZES = {"case": (7.6, 3.5), "small": (2.5, 1.45), "change": (5.6, 2.7)}  # inches, without a momentum panel
MOMENTUM_HEIGHT = 1.45  # a plot with a momentum panel is this much taller


@dataclass(frozen=True)
class Curve:
    """One trace drawn on a plot: its lr (and momentum, when the plot has a momentum panel)."""

    label: str
    trace: Trace
    style: str  # a key of STYLES
    color: str
    events: bool = False  # mark this trace's warnings/errors at the top of the plot


@dataclass(frozen=True)
class Mark:
    """The first divergence of a library from the golden: a cross at (step, value) or, when the value is not
    a number on a drawn column (an event, a length, last_lr), a triangle on the top edge at that step."""

    label: str
    step: int
    column: str
    value: float | None
    color: str


@dataclass(frozen=True)
class Plot:
    kind: str  # a key of SIZES
    curves: tuple[Curve, ...]  # the first is the one the axes are about (its events are drawn as lines)
    marks: tuple[Mark, ...] = ()
    empty_note: str = ""  # said in the plot when no curve has an observation
    alt: str = ""  # the <img> alt text
    milestones: tuple[tuple[int, str], ...] = ()  # (step, what): the resume step, each intervention's iteration


def has_momentum(curves: Iterable[Curve]) -> bool:
    return any(o.momentum is not None for c in curves for o in c.trace.observations)


def pixel_size(plot: Plot) -> tuple[int, int]:
    """The plot's size in CSS pixels (96 per inch), for the <img>'s width and height."""
    width, height = SIZES[plot.kind]
    if plot.kind != "small" and has_momentum(plot.curves):
        height *= MOMENTUM_HEIGHT
    return round(width * 96), round(height * 96)


def swatch(curve_or_style: Curve | str, color: str | None = None) -> dict:
    """What the HTML legend needs to draw a line like the plot's: stroke, width, dash array, marker."""
    style = curve_or_style.style if isinstance(curve_or_style, Curve) else curve_or_style
    color = color or (curve_or_style.color if isinstance(curve_or_style, Curve) else "#1f2328")
    dash, width, marker, _ = STYLES[style]
    return {"color": color, "width": width, "dash": " ".join(f"{d:g}" for d in dash) if dash else "",
            "marker": marker}


def _series(trace: Trace, column: str) -> dict[int, tuple[list[int], list[float]]]:
    by_group: dict[int, tuple[list[int], list[float]]] = {}
    for o in trace.observations:
        value = getattr(o, column)
        if value is None:
            continue
        steps, values = by_group.setdefault(o.group, ([], []))
        steps.append(o.step)
        values.append(value if math.isfinite(value) else math.nan)
    return by_group


def log_scale(curves: Iterable[Curve], marks: Iterable[Mark] = ()) -> bool:
    """Whether the lr axis should be logarithmic: every value positive and spanning LOG_SPAN or more."""
    values = [o.lr for c in curves for o in c.trace.observations if math.isfinite(o.lr)]
    values += [m.value for m in marks if m.column == "lr" and m.value is not None and math.isfinite(m.value)]
    if not values or min(values) <= 0:
        return False
    return max(values) / min(values) >= LOG_SPAN


# matplotlib settings for drawing and saving, applied with rc_context (the process's own settings are untouched).
RC = {
    "svg.hashsalt": "lr-conformance-site",
    "svg.fonttype": "none",
    "font.family": "sans-serif",
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "path.simplify": False,
}


# Figures are expensive to build (most of a plot's cost is creating its axes' ticks), so each process keeps one
# per (kind, momentum panel) and redraws it: every plot removes what the previous one added and sets the scale,
# limits, locators and formatters itself - nothing is left to autoscaling, so the SVG depends only on the Plot
# (tests/meta/test_site.py builds with one and with two processes and compares the bytes).
_CANVASES: dict[tuple[str, bool], tuple] = {}


def _canvas(kind: str, momentum: bool):
    key = (kind, momentum)
    if key not in _CANVASES:
        from matplotlib.figure import Figure

        small = kind == "small"
        width, height = SIZES[kind]
        fig = Figure(figsize=(width, height * (MOMENTUM_HEIGHT if momentum else 1.0)))
        if small:
            fig.subplots_adjust(left=0.2, right=0.97, top=0.94, bottom=0.17)
        else:
            fig.subplots_adjust(left=0.11, right=0.985, top=0.9 if not momentum else 0.93,
                                bottom=0.14 if not momentum else 0.1, hspace=0.12)
        axes = (list(fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [2.2, 1]})) if momentum
                else [fig.subplots()])
        for axis in axes:
            axis.grid(axis="y", alpha=0.3, lw=0.6)  # horizontal lines only: every tick's grid line costs a draw
            axis.tick_params(labelsize=6 if small else 8, length=0 if small else 3, pad=1.5 if small else 3,
                             left=not small, bottom=not small)
        if not small:
            axes[0].set_ylabel("lr")
            axes[-1].set_xlabel("step")
            if momentum:
                axes[1].set_ylabel("momentum / beta1", fontsize=8)
        _CANVASES[key] = (fig, axes)
    fig, axes = _CANVASES[key]
    for axis in axes:
        for artist in [*axis.lines, *axis.texts, *axis.collections]:
            artist.remove()
    return fig, axes


def _limits(values: list[float], log: bool) -> tuple[float, float]:
    lo, hi = min(values), max(values)
    if log:
        ratio = (hi / lo) ** 0.06
        return lo / ratio, hi * ratio
    pad = (hi - lo) * 0.06 or abs(hi) * 0.1 or 0.1
    # clamped to the data's sign: an axis of lrs that are all >= 0 never runs into negative lrs
    if lo >= 0:
        return max(lo - pad, 0.0), hi + pad
    return lo - pad, (hi + pad if hi > 0 else min(hi + pad, 0.0))


def svg(plot: Plot) -> str:
    """The plot as SVG text."""
    import matplotlib

    with matplotlib.rc_context(RC):
        return _draw(plot)


def _draw(plot: Plot) -> str:
    import io

    from matplotlib.ticker import FuncFormatter, MaxNLocator, NullFormatter, NullLocator, ScalarFormatter

    small = plot.kind == "small"
    momentum = not small and has_momentum(plot.curves)
    fig, axes = _canvas(plot.kind, momentum)
    lr_axis = axes[0]
    observed = any(c.trace.observations for c in plot.curves)
    log = log_scale(plot.curves, plot.marks)
    lr_axis.set_yscale("log" if log else "linear")
    last_step = max([o.step + 1 for c in plot.curves for o in c.trace.observations]
                    + [e.step for c in plot.curves for e in c.trace.events] + [m.step for m in plot.marks] + [1])
    for column, axis in zip(("lr", "momentum"), axes):
        values = []
        for curve in plot.curves:
            dash, lw, marker, alpha = STYLES[curve.style]
            for group, (steps, series) in sorted(_series(curve.trace, column).items()):
                color = GROUP_COLORS[group % len(GROUP_COLORS)] if curve.style == "golden" else curve.color
                # the lr of step i holds for the whole step: draw it from i to i + 1
                axis.plot([*steps, steps[-1] + 1], [*series, series[-1]], color=color,
                          lw=lw * (0.6 if small else 1.0), alpha=alpha, dashes=dash or (), drawstyle="steps-post",
                          marker=None if small else (marker or None), ms=3.0, markevery=slice(0, len(steps)),
                          markerfacecolor="none")
                values += [v for v in series if math.isfinite(v)]
        values += [m.value for m in plot.marks if m.column == column and m.value is not None
                   and math.isfinite(m.value) and (not log or column != "lr" or m.value > 0)]
        if values:
            axis.set_ylim(*_limits(values, log and column == "lr"))
        if column == "lr" and log:
            axis.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
            axis.yaxis.set_minor_formatter(NullFormatter())
            axis.yaxis.set_minor_locator(NullLocator())
        else:
            axis.yaxis.set_major_locator(MaxNLocator(3 if small else 5))
            axis.yaxis.set_major_formatter(ScalarFormatter())
        axis.xaxis.set_major_locator(MaxNLocator(3 if small else 7, integer=True))
    lr_axis.set_xlim(-0.5, last_step + 0.5)
    _milestones(plot, lr_axis, axes, small)
    _events(plot, lr_axis, axes, small)
    _marks(plot, lr_axis, axes, small)
    if not observed:
        lr_axis.set_yticks([])
        lr_axis.set_ylim(0, 1)
        lr_axis.text(0.5, 0.45, plot.empty_note or "no lr observed", ha="center", va="center",
                     transform=lr_axis.transAxes, fontsize=6.5 if small else 9, color="#57606a", wrap=True)
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", metadata={"Date": None})
    return buffer.getvalue()


def _events(plot: Plot, lr_axis, axes, small: bool) -> None:
    """The first curve's warnings/errors as vertical lines (labelled on large plots); other curves' events
    (when asked) as triangles in their colour on the top edge."""
    if not plot.curves:
        return
    labelled: dict[int, list[str]] = {}
    for event in plot.curves[0].trace.events:
        color = EVENT_COLORS.get(event.kind, "#57606a")
        for axis in axes:
            axis.axvline(event.step, color=color, lw=1.0 if small else 1.3,
                         dashes=(3, 2) if event.kind == "warning" else (), alpha=0.85)
        labelled.setdefault(event.step, []).append(event.type)
    if not small:
        for step, names in sorted(labelled.items())[:6]:
            lr_axis.annotate(", ".join(dict.fromkeys(names)), xy=(step, 1.0), xycoords=lr_axis.get_xaxis_transform(),
                             xytext=(3, 2), textcoords="offset points", fontsize=7, color="#57606a",
                             annotation_clip=False)
    for curve in plot.curves[1:]:
        if curve.events and curve.trace.events:
            steps = sorted({e.step for e in curve.trace.events})
            lr_axis.plot(steps, [0.97] * len(steps), "v", color=curve.color, ms=4 if small else 6,
                         transform=lr_axis.get_xaxis_transform(), clip_on=False)


def _milestones(plot: Plot, lr_axis, axes, small: bool) -> None:
    """The resume step and the interventions as grey dash-dot lines, named under the top edge on large plots."""
    dash, width, _, alpha = STYLES["milestone"]
    for step, what in plot.milestones:
        for axis in axes:
            axis.axvline(step, color=MILESTONE_COLOR, lw=width * (0.8 if small else 1.0), dashes=dash, alpha=alpha)
        if not small:
            lr_axis.annotate(what, xy=(step, 0.0), xycoords=lr_axis.get_xaxis_transform(), xytext=(3, 3),
                             textcoords="offset points", fontsize=7, color=MILESTONE_COLOR, annotation_clip=False)


def _marks(plot: Plot, lr_axis, axes, small: bool) -> None:
    for mark in plot.marks:
        on_axis = {"lr": lr_axis, "momentum": axes[1] if len(axes) > 1 else None}.get(mark.column)
        if on_axis is not None and mark.value is not None and math.isfinite(mark.value):
            on_axis.plot([mark.step], [mark.value], "X", color=mark.color, ms=6 if small else 9,
                         markeredgecolor="white", markeredgewidth=0.8, zorder=5)
        else:
            lr_axis.plot([mark.step], [0.985], "v", color=mark.color, ms=5 if small else 8,
                         transform=lr_axis.get_xaxis_transform(), clip_on=False, zorder=5)
        for axis in axes:
            axis.axvline(mark.step, color=mark.color, lw=0.8, dashes=(1, 2), alpha=0.8)


# --- rendering many ---------------------------------------------------------------------------


def _write(job: tuple[Path, Plot]) -> int:
    path, plot = job
    data = svg(plot).encode("utf-8")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return len(data)


def default_processes() -> int:
    """The CPUs this process may use, at most 4 (each process pays once for its figures and imports)."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(1, min(4, cpus))


def render(jobs: Sequence[tuple[Path, Plot]], processes: int | None = None) -> int:
    """Write every plot; returns the bytes written. processes=1 draws in this process. The output does not
    depend on the number of processes (each file is a function of its Plot alone)."""
    processes = default_processes() if processes is None else processes
    if processes <= 1 or len(jobs) < 8:  # a handful of plots is drawn faster than processes start
        return sum(_write(job) for job in jobs)
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    # fork: workers inherit the imported modules (spawn would re-import matplotlib in each, ~1 s)
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if "fork" in methods else None)
    with ProcessPoolExecutor(processes, mp_context=context) as pool:
        return sum(pool.map(_write, jobs, chunksize=max(1, len(jobs) // (processes * 8))))
