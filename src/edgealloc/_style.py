"""Presentation shared by every table and figure: scheme colours and markers, status styles,
number formats.

One palette for the whole package: the demo, the CLI tables, the training
plots and every reproduction draw a scheme in the same colour and marker, so
``paper`` is one colour everywhere. Families add their own schemes here (the
palette is keyed by scheme name, not by family); an unknown scheme gets a
colour from :data:`FALLBACK_COLORS` by its position.

This module imports nothing heavier than NumPy; matplotlib and rich are
imported by the callers.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ._version import __version__
from .result import Status

__all__ = [
    "EDGE_ROWS",
    "FALLBACK_COLORS",
    "FIGURE_RC",
    "GRID",
    "LIMIT_COLOR",
    "MUTED",
    "SCHEME_STYLE",
    "STATUS_STYLE",
    "class_blocks",
    "demo_titles",
    "device_axis",
    "device_rows",
    "edge_indices",
    "fmt",
    "gap_text",
    "per_device",
    "row_title",
    "rows_figure",
    "scheme_bars",
    "scheme_color",
    "scheme_style",
    "shade_classes",
]

#: Colour, marker, line style and generic label of each scheme, in tables and figures.
#: A figure may give a scheme a family-specific label; the colour and marker stay.
SCHEME_STYLE: dict[str, dict[str, str]] = {
    "optimal": {"color": "#1f5f9e", "marker": "o", "ls": "-", "label": "optimal (exact integer)"},
    "paper": {"color": "#e8891d", "marker": "s", "ls": ":", "label": "paper (published procedure)"},
    "equal": {"color": "#9a9a9a", "marker": "D", "ls": "--", "label": "equal (d/K each)"},
    "relaxed": {
        "color": "#3a9a5b",
        "marker": "",
        "ls": "--",
        "label": "relaxed (continuous bound)",
    },
    "none": {"color": "#a6a6a6", "marker": "v", "ls": "-.", "label": "none (no offloading)"},
}

#: Colours for schemes the palette does not know, taken in turn; none of them is a
#: palette colour (they once began with optimal's blue and paper's orange, so that
#: feel-table2 drew individual learning like the exact optimum).
FALLBACK_COLORS: tuple[str, ...] = (
    "#8c564b",
    "#9467bd",
    "#17becf",
    "#bcbd22",
    "#e377c2",
    "#d62728",
)

#: Rich style of each status in tables.
STATUS_STYLE: dict[Status, str] = {
    Status.OPTIMAL: "bold green",
    Status.FEASIBLE: "cyan",
    Status.INFEASIBLE: "red",
    Status.FAILED: "bold red",
    Status.ERROR: "bold red",
    Status.TIME_LIMIT: "yellow",
    Status.DIVERGED: "yellow",
}

#: Deadlines, budgets and other limits drawn in figures.
LIMIT_COLOR = "#c0392b"
#: Secondary text and reference lines.
MUTED = "#777777"
#: Grid lines.
GRID = {"color": "#dddddd", "lw": 0.6}
#: matplotlib rc of the package's multi-panel figures.
FIGURE_RC: dict[str, Any] = {
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
}

#: Devices shown at each end of a per-device table when there are many.
EDGE_ROWS = 10


def scheme_style(scheme: str, index: int = 0) -> dict[str, str]:
    """The palette entry of ``scheme``; unknown schemes get a fallback colour by ``index``."""
    known = SCHEME_STYLE.get(scheme)
    if known is not None:
        return known
    color = FALLBACK_COLORS[index % len(FALLBACK_COLORS)]
    return {"color": color, "marker": "o", "ls": "-", "label": scheme}


def scheme_color(scheme: str, index: int = 0) -> str:
    """The colour of ``scheme`` (a fallback colour by ``index`` when unknown)."""
    return scheme_style(scheme, index)["color"]


def fmt(value: Any, spec: str = ".6g") -> str:
    """Format a number for a table: ``-`` for NaN/None, integers without decimals."""
    if value is None:
        return "-"
    if isinstance(value, float | np.floating):
        if not math.isfinite(value):
            return "-"
        if float(value).is_integer() and abs(value) < 1e15 and spec == ".6g":
            return str(int(value))
    return format(value, spec)


def gap_text(gap: float, decimals: int = 1) -> str:
    """A gap in percent for a table (``-`` when unknown); ``-0.0`` is shown as ``0.0``."""
    if not math.isfinite(gap):
        return "-"
    return f"{gap + 0.0:.{decimals}f} %"


def edge_indices(n: int, edge: int = EDGE_ROWS) -> list[int]:
    """Rows to show of ``n``: all when few, else the first and last ``edge`` with ``-1`` between."""
    if n <= 2 * edge + 5:
        return list(range(n))
    return [*range(edge), -1, *range(n - edge, n)]


def class_blocks(classes: Sequence[str] | None) -> list[tuple[int, int, str]]:
    """Contiguous runs ``(start, stop, name)`` of equal class names."""
    if not classes:
        return []
    blocks: list[tuple[int, int, str]] = []
    start = 0
    for i in range(1, len(classes) + 1):
        if i == len(classes) or classes[i] != classes[start]:
            blocks.append((start, i, str(classes[start])))
            start = i
    return blocks


@contextlib.contextmanager
def rows_figure(
    path: Path, rows: int, row_height: float, extra: float, *, h_pad: float, hspace: float
) -> Iterator[tuple[Any, Any]]:
    """A 17-inch-wide figure of ``rows`` subfigure rows; saved to ``path`` and closed on exit."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with plt.rc_context(FIGURE_RC):
        fig = plt.figure(figsize=(17, row_height * rows + extra), layout="constrained")
        fig.get_layout_engine().set(h_pad=h_pad, hspace=hspace, w_pad=0.06)
        yield fig, np.atleast_1d(fig.subfigures(rows, 1))
        fig.savefig(path, dpi=130, facecolor="white")
        plt.close(fig)


def row_title(sub: Any, text: str) -> None:
    """The bold title of one row (one preset) of a demo figure, at its left."""
    sub.suptitle(text, x=0.005, ha="left", fontsize=11.5, fontweight="bold")


def demo_titles(fig: Any, title: str, handles: list[Any] | None = None, *, ncol: int = 0) -> None:
    """A demo figure's legend of ``handles`` below its rows (unless None) and its title.

    ``ncol``: the legend's columns, 0 for one row (``len(handles)``). The title
    reads ``edgealloc <version> demo: <title>``.
    """
    if handles is not None:
        fig.legend(
            handles=handles,
            loc="outside lower center",
            ncol=ncol or len(handles),
            frameon=False,
            fontsize=10,
        )
    fig.suptitle(f"edgealloc {__version__} demo: {title}", fontsize=14, fontweight="bold")


def scheme_bars(
    ax: Any,
    order: Sequence[str],
    heights: Sequence[float],
    colors: Sequence[str],
    labels: Sequence[str],
    *,
    fontsize: float,
    rotation: float = 30,
    edgecolor: str | None = None,
) -> Any:
    """One bar per scheme of ``order``, labelled on top; the ``relaxed`` bound hatched.

    The schemes name the x ticks; the y grid is drawn below the bars. Returns
    matplotlib's bars.
    """
    bars = ax.bar(range(len(order)), heights, color=colors, width=0.72, edgecolor=edgecolor)
    if "relaxed" in order:
        bars[order.index("relaxed")].set_hatch("///")
        bars[order.index("relaxed")].set_alpha(0.55)
    for bar, text in zip(bars, labels, strict=True):
        ax.annotate(
            text,
            (bar.get_x() + bar.get_width() / 2, bar.get_height()),
            xytext=(0, 2),
            textcoords="offset points",
            ha="center",
            va="bottom",
            fontsize=fontsize,
        )
    ax.set_xticks(range(len(order)), order, rotation=rotation, ha="right")
    ax.grid(axis="y", **GRID)
    ax.set_axisbelow(True)
    return bars


def shade_classes(ax: Any, blocks: Sequence[tuple[int, int, str]], *, label: bool = True) -> None:
    """Grey bands behind every other device class (:func:`class_blocks`), named on top."""
    for j, (lo, hi, name) in enumerate(blocks):
        if j % 2:
            ax.axvspan(lo - 0.5, hi - 0.5, color="#f1f1f1", zorder=0, lw=0)
        if label:
            ax.text(
                (lo + hi - 1) / 2,
                1.0,
                name,
                transform=ax.get_xaxis_transform(),
                ha="center",
                va="bottom",
                fontsize=8,
                color="#555555",
            )


def device_axis(ax: Any, k: int, *, max_ticks: int = 10) -> None:
    """Devices ``0..k-1`` on the x axis (about ``max_ticks`` ticks) and a y grid below."""
    step = max(1, math.ceil(k / max_ticks))
    ax.set_xticks(np.arange(0, k, step))
    ax.set_xlim(-0.6, k - 0.4)
    ax.set_xlabel("device")
    ax.grid(axis="y", **GRID)
    ax.set_axisbelow(True)


def per_device(problem: Any, key: str) -> list[Any] | None:
    """``problem.meta[key]`` when it is a list with one entry per device."""
    value = (problem.meta or {}).get(key)
    return value if isinstance(value, list) and len(value) == problem.n_devices else None


def device_rows(
    table: Any, n: int, shown: Sequence[int], *, what: str = "devices", span: bool = False
) -> Iterator[int]:
    """The rows ``shown`` (:func:`edge_indices`) of a per-device rich table of ``n``.

    Yields each index for the caller to add its row, and adds a row of ``⋮``
    for the ``-1`` between the two ends itself; when rows are hidden, the
    table's caption says how many (``span``: and which).
    """
    if len(shown) < n:
        edge = shown.index(-1)
        which = f" ({edge}..{n - edge - 1})" if span else ""
        table.caption = f"{n - 2 * edge} {what} hidden{which}; --json lists all"
    for i in shown:
        if i < 0:
            table.add_row(*["⋮"] * len(table.columns))
            continue
        yield i
