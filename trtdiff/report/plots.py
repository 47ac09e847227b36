"""The per-layer error chart: cumulative and local error against topological index, on a log
scale, with the tolerance, the first divergence and the offenders marked, as inline SVG.

A tensor whose target holds NaN/Inf where the reference is finite is drawn at the top edge, on the
cumulative line and with a marker, at its own index: its finite elements alone may show a small
error, and drawing that would make the error seem to recover where it is in fact overflowing.
Each plotted tensor also gets a hover point (`ChartPoint`, in SVG coordinates) for the page's script.

matplotlib draws on a bare `Figure` (no pyplot, so no GUI backend and no global figure state) and
writes SVG with text kept as text (`svg.fonttype: none`: smaller, selectable, no embedded fonts)
and fixed element ids (`svg.hashsalt`) so that the same result gives the same file. Mathtext is
off for every model string: a `$` in a node name is printed, not parsed.
"""

from __future__ import annotations

import io
import math
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from trtdiff import formatting as fmt
from trtdiff.measure.divergence import nonfinite_disagreements
from trtdiff.result import Comparison, TensorResult
from trtdiff.summary import named_offenders

if TYPE_CHECKING:
    from matplotlib.axes import Axes

COLOURS = {"cumulative": "#1f5fa8", "local": "#e08a00", "tolerance": "#c62828",
           "failing": "#c62828", "offender": "#8e0000", "divergence": "#555555"}
MAX_LABELLED_OFFENDERS = 10
LABEL_CHARS = 48
NAMED_TICKS = 40  # up to this many tensors, the x axis names them
TICK_CHARS = 24
SVG_DPI = 72


@dataclass(frozen=True)
class ChartData:
    """Plain series for the chart, one entry per compared tensor with a producing node."""

    index: list[int]
    cumulative: list[float]
    local: list[float | None]
    tolerance: list[float]
    failing: list[bool]
    offenders: list[tuple[int, float, int]] = field(default_factory=list)  # index, value, rank
    first_divergence: tuple[int, str] | None = None  # index, label
    nonfinite: list[int] = field(default_factory=list)  # NaN/Inf disagreements per tensor
    tolerance_failure: tuple[int, str] | None = None  # first outside tolerance, when not the above
    names: list[str] = field(default_factory=list)  # tensor names, for tick labels and hover
    hover: list[dict[str, str]] = field(default_factory=list)  # what hovering each point shows


@dataclass(frozen=True)
class ChartPoint:
    """Where a tensor's point is drawn, in the SVG's own coordinates, and what hovering it says."""

    x: float
    y: float
    text: dict[str, str]


@dataclass(frozen=True)
class Chart:
    svg: str
    points: list[ChartPoint]


def short(text: str, limit: int = LABEL_CHARS) -> str:
    """Keep the end of a long name: the end of '/model/blocks.7/attn/Exp' says the most."""
    return text if len(text) <= limit else "…" + text[-(limit - 1):]


def _hover(tensor: TensorResult) -> dict[str, str]:
    m = tensor.metrics
    assert m is not None
    bad = nonfinite_disagreements(m)
    return {
        "tensor": tensor.name, "node": f"{tensor.node} ({tensor.op_type}, #{tensor.index})",
        "max abs error": fmt.fmt_error(m.max_abs) + (" (finite elements)" if bad else ""),
        "NaN/Inf in one run only": f"{bad:,}" if bad else "",
        "SNR": f"{fmt.fmt_db(m.snr_db)} dB",
        "local max abs": fmt.fmt_error(tensor.local.max_abs) if tensor.local is not None else "",
        "status": {True: "pass", False: "FAIL", None: "not checked"}[tensor.passed],
    }


def _mark(tensors: dict[str, TensorResult], name: str | None, label: str) -> tuple[int, str] | None:
    tensor = tensors.get(name or "")
    return None if tensor is None else (tensor.index, f"{label}: {short(tensor.node or tensor.name)}")


def chart_data_from_comparison(comparison: Comparison) -> ChartData:
    """The series the chart draws, in topological order."""
    tensors = sorted((t for t in comparison.compared if t.metrics is not None and t.index >= 0),
                     key=lambda t: t.index)
    by_name = {t.name: t for t in tensors}
    offenders = []
    for offender in named_offenders(comparison)[:MAX_LABELLED_OFFENDERS]:
        tensor = by_name.get(offender.tensor)
        value = tensor.local.max_abs if tensor is not None and tensor.local else offender.score
        offenders.append((offender.index, value, offender.rank))
    lead = comparison.significant_divergence or comparison.first_divergence
    other = comparison.first_divergence if comparison.first_divergence != lead else None
    return ChartData(
        index=[t.index for t in tensors],
        cumulative=[t.metrics.max_abs for t in tensors],  # type: ignore[union-attr]
        local=[t.local.max_abs if t.local is not None else None for t in tensors],
        tolerance=[t.atol for t in tensors],
        failing=[t.passed is False for t in tensors],
        offenders=offenders,
        first_divergence=_mark(by_name, lead, "first divergence"),
        nonfinite=[nonfinite_disagreements(t.metrics) for t in tensors],  # type: ignore[arg-type]
        tolerance_failure=_mark(by_name, other, "first outside tolerance"),
        names=[t.name for t in tensors],
        hover=[_hover(t) for t in tensors],
    )


def _limits(data: ChartData) -> tuple[float, float]:
    """Log-axis range: a decade around every finite positive value and the tolerance."""
    values = [v for v in data.cumulative + data.local + data.tolerance
              if v is not None and math.isfinite(v) and v > 0]
    if not values:
        return 1e-12, 1.0
    return min(values) / 10, max(values) * 10


def _placed(values: list[float | None], floor: float, ceiling: float) -> list[float]:
    """Zero drawn on the floor, non-finite on the ceiling (a log axis has room for neither)."""
    placed = []
    for value in values:
        if value is None:
            placed.append(math.nan)
        elif not math.isfinite(value):
            placed.append(ceiling)
        else:
            placed.append(max(value, floor))
    return placed


def shown_cumulative(data: ChartData) -> list[float]:
    """The cumulative error as drawn: infinite where the target holds NaN/Inf the reference lacks."""
    nonfinite = data.nonfinite or [0] * len(data.index)
    return [math.inf if bad else value for value, bad in zip(data.cumulative, nonfinite)]


def _draw_series(ax: Axes, data: ChartData, floor: float, ceiling: float) -> list[float]:
    """The lines and dots; returns the cumulative values as placed (for the hover points)."""
    small = len(data.index) <= 400
    shown = shown_cumulative(data)
    cumulative = _placed(list(shown), floor, ceiling)
    local = _placed(data.local, floor, ceiling)
    ax.step(data.index, data.tolerance, where="mid", color=COLOURS["tolerance"],
            linestyle="--", linewidth=1.0, label="tolerance (atol)")
    ax.plot(data.index, cumulative, color=COLOURS["cumulative"], linewidth=1.1,
            marker="." if small else None, markersize=3, label="cumulative error (max abs)")
    if any(v is not None for v in data.local):
        _dots(ax, data.index, local, colour=COLOURS["local"], width=3.2 if small else 2.6,
              label="local error (introduced)")
    if any(data.failing):
        _draw_failing(ax, data.index, cumulative, data.failing, markers=small)
    bad = [i for i, v in zip(data.index, shown) if not math.isfinite(v)]
    if bad:
        ax.plot(bad, [ceiling] * len(bad), linestyle="none", marker="x", markersize=7, color="black",
                label="NaN/Inf in one run only (drawn at top)")
    return cumulative


def _dots(ax: Axes, xs: list[int], ys: list[float], *, colour: str, width: float,
          label: str) -> None:
    """A scatter drawn as ONE path of round-capped, almost zero-length strokes. Markers would be
    one SVG <use> element per point, which costs the browser about half a second to lay out for
    a couple of thousand layers; a single path costs next to nothing and looks the same."""
    from matplotlib.lines import Line2D

    px: list[float] = []
    py: list[float] = []
    for x, y in zip(xs, ys):
        if not math.isnan(y):
            px += [x, x, math.nan]
            py += [y, y * 1.0005, math.nan]
    ax.plot(px, py, color=colour, linewidth=width, solid_capstyle="round",
            alpha=0.85)
    ax.add_artist(Line2D([], [], linestyle="none", marker="o", markersize=width * 0.8,
                         color=colour, label=label))


def _draw_failing(ax: Axes, index: list[int], cumulative: list[float], failing: list[bool],
                  *, markers: bool) -> None:
    """Failing stretches as one red line over the cumulative error (one SVG path, however many
    layers); a failing tensor between two passing ones gets a dot, since a line needs two."""
    values = [v if bad else math.nan for v, bad in zip(cumulative, failing)]
    lonely = [i for i, bad in enumerate(failing) if bad and not (
        (i > 0 and failing[i - 1]) or (i + 1 < len(failing) and failing[i + 1]))]
    ax.plot(index, values, color=COLOURS["failing"], linewidth=2.2,
            marker="o", markersize=2.5, markevery=list(range(len(values))) if markers else lonely,
            label="failing (above tolerance)")


def _draw_marks(ax: Axes, data: ChartData, floor: float, ceiling: float) -> None:
    """The first divergence (and the first tolerance failure, when another tensor) as dotted
    vertical lines with the node's name; offenders as open triangles on their local error,
    labelled with their rank."""
    for mark, offset in ((data.first_divergence, -14), (data.tolerance_failure, -30)):
        if mark is None:
            continue
        index, label = mark
        ax.axvline(index, color=COLOURS["divergence"], linestyle=":", linewidth=1.2)
        ax.annotate(label, (index, 1.0), xycoords=("data", "axes fraction"), xytext=(6, offset),
                    textcoords="offset points", va="top", ha="left", fontsize=8,
                    color=COLOURS["divergence"], parse_math=False,
                    bbox={"boxstyle": "round,pad=0.2", "facecolor": "white", "edgecolor": "none", "alpha": 0.8})
    if data.offenders:
        xs = [o[0] for o in data.offenders]
        ys = _placed([o[1] for o in data.offenders], floor, ceiling)
        ax.plot(xs, ys, linestyle="none", marker="v", markersize=8, color=COLOURS["offender"],
                markerfacecolor="none", markeredgewidth=1.4, label="top offenders (#rank)")
        for (x, _, rank), y in zip(data.offenders, ys):
            ax.annotate(f"#{rank}", (x, y), xytext=(0, 7), textcoords="offset points",
                        ha="center", fontsize=7, color=COLOURS["offender"])


def _label_axes(ax: Axes, data: ChartData) -> None:
    """Tensor names under a small chart, the topological index under a large one."""
    if data.names and len(data.index) <= NAMED_TICKS:
        ax.set_xticks(data.index, [short(name, TICK_CHARS) for name in data.names], rotation=30,
                      ha="right", fontsize=7.5)
        ax.set_xlabel("tensor, in topological order")
    else:
        ax.set_xlabel("topological index of the producing node")
    ax.set_ylabel("max |target − reference|")


def error_chart(data: ChartData, *, width_in: float = 12.0, height_in: float = 4.2) -> Chart:
    """The chart as an `<svg>` element for inlining in HTML, with a hover point per tensor;
    an empty chart when there is nothing to plot."""
    if not data.index:
        return Chart("", [])
    from matplotlib import rc_context
    from matplotlib.figure import Figure

    floor, ceiling = _limits(data)
    with rc_context({"svg.fonttype": "none", "svg.hashsalt": "trtdiff", "font.size": 9,
                     "path.simplify": False}):
        # 72 dpi: one display pixel is one SVG unit, so the hover points need no scaling
        fig = Figure(figsize=(width_in, height_in), dpi=SVG_DPI, layout="constrained")
        ax = fig.add_subplot()
        ax.set_yscale("log")
        placed = _draw_series(ax, data, floor, ceiling)
        _draw_marks(ax, data, floor, ceiling)
        ax.set_ylim(floor, ceiling * 1.5)
        ax.set_xlim(min(data.index) - 1, max(data.index) + 1)
        _label_axes(ax, data)
        ax.grid(True, which="major", alpha=0.3)
        fig.legend(loc="outside upper center", fontsize=8, ncol=6, frameon=False)
        buffer = io.StringIO()
        fig.savefig(buffer, format="svg", dpi=SVG_DPI, metadata={"Date": None, "Creator": None})
        points = _hover_points(ax, data, placed, height_in * SVG_DPI)
    return Chart(inline_svg(buffer.getvalue()), points)


def _hover_points(ax: Axes, data: ChartData, placed: list[float], height: float) -> list[ChartPoint]:
    """Each tensor's point in SVG coordinates (y down), after the layout has settled."""
    xy = ax.transData.transform(list(zip(data.index, placed)))
    hover = data.hover or [{} for _ in data.index]
    return [ChartPoint(round(float(x), 1), round(height - float(y), 1), text)
            for (x, y), text in zip(xy, hover) if math.isfinite(x) and math.isfinite(y)]


def inline_svg(document: str) -> str:
    """Turn an SVG file into an element fit for HTML: drop the XML prolog and DOCTYPE, and let
    the width follow the page (the viewBox keeps the aspect ratio)."""
    start = document.find("<svg")
    if start < 0:
        raise ValueError("matplotlib returned no <svg> element")
    svg = re.sub(r"<metadata>.*?</metadata>\s*", "", document[start:], count=1, flags=re.DOTALL)
    head_end = svg.find(">")
    head = re.sub(r'\s(width|height)="[^"]*"', "", svg[:head_end])
    return head + ' class="chart" role="img" aria-label="per-layer error chart"' + svg[head_end:]
