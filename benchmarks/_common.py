r"""Shared helpers of the ``mel`` benchmarks: instances, timing, machine facts, tables.

Instances are heterogeneous fleets built the way :func:`edgealloc.mel.scenario.compile_mel`
builds its coefficients (sync paper eqs. (9)-(11), async paper eqs. (8)-(10)),
with the sync paper's workload (Section V: MNIST, a 784-300-124-60-10 network,
:math:`C_m = 1{,}123{,}736` operations per sample, a model of 280,440
coefficients, 32-bit data and model):

.. math::

    c_{2,k} = C_m / f_k, \qquad c_{1,k} = F P_d / R_k, \qquad
    c_{0,k} = 2 P_m S_m / R_k, \\
    g_{2,k} = \kappa C_m f_k^2, \qquad g_{1,k} = 0, \qquad g_{0,k} = P_k P_m S_m / R_k,

with CPU clocks :math:`f_k` drawn from the async paper's four device classes
{6.0, 2.4, 1.4, 0.7} GHz, rates :math:`R_k` log-uniform over 1..200 Mbit/s,
:math:`P_k` = 23 dBm, :math:`\kappa = 10^{-28}` (the ``mel-async`` preset's
reading of eq. (8)) and energy budgets uniform in 20 +- 2.5 J (async paper,
Table 1). ``total_samples`` grows with ``K`` (3000 per device by default), so
the problem stays feasible and the optimum ``tau`` stays around 10 at every size.

Everything random goes through ``numpy.random.default_rng(seed)``.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime as _dt
import importlib.metadata
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

from edgealloc.mel import MelProblem

__all__ = [
    "CPU_HZ",
    "C_M",
    "MODEL_BITS",
    "SAMPLE_BITS",
    "Table",
    "Timing",
    "add_common_args",
    "fleet_problem",
    "fmt_ratio",
    "fmt_seconds",
    "machine_facts",
    "print_facts",
    "print_table",
    "quiet_c_stdout",
    "seeds_arg",
    "time_call",
    "use_plain",
]

#: Operations (CPU cycles) per sample and local iteration, sync paper Section V.
C_M = 1_123_736
#: Model upload: 280,440 weights of 32 bits (the sync paper's 8,974,080 bits).
MODEL_BITS = 32 * 280_440
#: One MNIST sample: 784 features of 32 bits.
SAMPLE_BITS = 32 * 784
#: CPU clocks of the async paper's device classes (laptop, phone, Raspberry Pi, Arduino).
CPU_HZ = (6.0e9, 2.4e9, 1.4e9, 0.7e9)
#: Transmit power, 23 dBm in watts.
TX_POWER_W = 10 ** (23 / 10) / 1000
#: Switched capacitance kappa of the ``kappa f^2`` energy per cycle (``mel-async`` preset).
KAPPA = 1e-28


def fleet_problem(
    k: int,
    seed: int,
    *,
    samples_per_device: int = 3000,
    deadline: float = 30.0,
    staleness: int | None = None,
    energy: bool = False,
    budget_j: float = 20.0,
    budget_spread_j: float = 2.5,
    rate_bps: tuple[float, float] = (1e6, 200e6),
) -> MelProblem:
    """A heterogeneous ``mel`` fleet of ``k`` devices (see the module docstring).

    Parameters
    ----------
    k
        Number of devices.
    seed
        Seed of ``numpy.random.default_rng``; the same seed gives the same fleet.
    samples_per_device
        ``total_samples = samples_per_device * k``.
    deadline
        ``T`` in seconds.
    staleness
        ``None`` (synchronous) or the staleness bound ``c``.
    energy
        Add the async paper's energy model (eqs. (8)-(10)) and budgets.
    budget_j, budget_spread_j
        Energy budgets uniform in ``budget_j +- budget_spread_j``.
    rate_bps
        Range of the log-uniform link rates.

    Returns
    -------
    MelProblem
        The canonical problem (``meta`` records the clocks and rates).
    """
    rng = np.random.default_rng(seed)
    f = rng.choice(np.asarray(CPU_HZ), size=k)
    lo, hi = np.log(rate_bps[0]), np.log(rate_bps[1])
    rate = np.exp(rng.uniform(lo, hi, size=k))
    # Sync paper eqs. (9)-(11), parallel learning (the orchestrator sends the batch).
    c2 = C_M / f
    c1 = SAMPLE_BITS / rate
    c0 = 2 * MODEL_BITS / rate
    en = None
    if energy:
        # Async paper eqs. (8)-(10): computing kappa f^2 per cycle, uploading the model.
        budget = budget_j + budget_spread_j * (2 * rng.uniform(size=k) - 1)
        en = {
            "g2": KAPPA * C_M * f**2,
            "g1": np.zeros(k),
            "g0": TX_POWER_W * MODEL_BITS / rate,
            "budget": budget,
        }
    return MelProblem(
        deadline=deadline,
        total_samples=samples_per_device * k,
        c2=c2,
        c1=c1,
        c0=c0,
        energy=en,
        staleness=staleness,
        name=f"bench-fleet-K{k}-seed{seed}",
        meta={"generator": "benchmarks/_common.py:fleet_problem", "seed": seed},
    )


# ---------------------------------------------------------------------------
# Timing
# ---------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Timing:
    """Wall-clock times of repeated calls and the last call's return value."""

    runs: tuple[float, ...]
    value: Any

    @property
    def median(self) -> float:
        """Median wall-clock seconds."""
        return float(statistics.median(self.runs))

    @property
    def best(self) -> float:
        """Fastest run in seconds."""
        return float(min(self.runs))


def time_call(fn: Callable[[], Any], *, repeats: int = 5, warmup: int = 1) -> Timing:
    """Call ``fn`` ``warmup`` times untimed, then ``repeats`` times timed (``perf_counter``)."""
    for _ in range(warmup):
        fn()
    runs = []
    value = None
    for _ in range(max(1, repeats)):
        t0 = time.perf_counter()
        value = fn()
        runs.append(time.perf_counter() - t0)
    return Timing(tuple(runs), value)


@contextlib.contextmanager
def quiet_c_stdout() -> Iterator[None]:
    """Silence writes to file descriptor 1 from C code (HiGHS prints stray lines there)."""
    sys.stdout.flush()
    try:
        fd = sys.__stdout__.fileno() if sys.__stdout__ is not None else 1
        saved = os.dup(fd)
    except (OSError, ValueError):  # no real descriptor (e.g. an embedded interpreter)
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, fd)
        yield
    finally:
        os.dup2(saved, fd)
        os.close(saved)
        os.close(devnull)


# ---------------------------------------------------------------------------
# Machine facts
# ---------------------------------------------------------------------------
def _version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _loadavg() -> str:
    try:
        return f"{os.getloadavg()[0]:.2f}"
    except (AttributeError, OSError):
        return "n/a"


def machine_facts() -> dict[str, str]:
    """Date, CPU, core counts and library versions of the machine running the benchmark."""
    try:
        usable = str(len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        usable = "n/a"
    return {
        "date (UTC)": _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M"),
        "cpu": _cpu_model(),
        "os.cpu_count()": str(os.cpu_count()),
        "usable cores": usable,
        "load average (1 min) at start": _loadavg(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scipy": _version("scipy"),
        "highspy": _version("highspy"),
        "edgealloc": _version("edgealloc"),
    }


def print_facts(plain: bool) -> None:
    """Print :func:`machine_facts` as a two-column table."""
    facts = machine_facts()
    print_table(Table("Machine", ["fact", "value"], [[k, v] for k, v in facts.items()]), plain)


# ---------------------------------------------------------------------------
# Tables
# ---------------------------------------------------------------------------
@dataclasses.dataclass
class Table:
    """A titled table of strings; ``notes`` are printed below it."""

    title: str
    columns: list[str]
    rows: list[list[str]]
    notes: list[str] = dataclasses.field(default_factory=list)


def _rich_console() -> Any | None:
    try:
        from rich.console import Console
    except ImportError:  # rich is a dependency, but the benchmarks stay usable without it
        return None
    return Console()


def print_table(table: Table, plain: bool) -> None:
    """Print ``table`` with rich (terminal) or as a Markdown table (``plain``, pipes, files)."""
    console = None if plain else _rich_console()
    if console is not None:
        from rich.table import Table as RichTable

        rt = RichTable(title=table.title, title_justify="left")
        for col in table.columns:
            rt.add_column(col, justify="right" if col != table.columns[0] else "left")
        for row in table.rows:
            rt.add_row(*row)
        console.print(rt)
        for note in table.notes:
            console.print(note, markup=False, highlight=False)
        console.print()
        return
    widths = [
        max(len(str(c)), *(len(str(r[i])) for r in table.rows)) if table.rows else len(c)
        for i, c in enumerate(table.columns)
    ]
    print(f"### {table.title}\n")
    print("| " + " | ".join(c.ljust(w) for c, w in zip(table.columns, widths, strict=True)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in table.rows:
        cells = (str(x).rjust(w) for x, w in zip(row, widths, strict=True))
        print("| " + " | ".join(cells) + " |")
    if table.notes:
        print()
        for note in table.notes:
            print(note)
    print(flush=True)


def fmt_seconds(s: float | None) -> str:
    """Seconds with three significant digits (``ms``/``us`` below one second)."""
    if s is None or not np.isfinite(s):
        return "n/a"
    if s >= 1:
        return f"{s:.3g} s"
    if s >= 1e-3:
        return f"{s * 1e3:.3g} ms"
    return f"{s * 1e6:.3g} us"


def fmt_ratio(num: float | None, den: float | None) -> str:
    """``num / den`` as ``"123x"`` (``n/a`` when either is missing)."""
    if num is None or den is None or not np.isfinite(num) or not den > 0:
        return "n/a"
    r = num / den
    return f"{r:,.0f}x" if r >= 100 else f"{r:.3g}x"


def add_common_args(parser: argparse.ArgumentParser) -> None:
    """``--quick`` and ``--plain``, shared by the benchmark scripts."""
    parser.add_argument(
        "--quick", action="store_true", help="small sizes only (a few seconds; used by the tests)"
    )
    parser.add_argument(
        "--plain",
        action="store_true",
        help="Markdown tables instead of rich (the default when stdout is not a terminal)",
    )


def use_plain(args: argparse.Namespace) -> bool:
    """Plain Markdown when asked for or when stdout is not a terminal."""
    return bool(args.plain) or not sys.stdout.isatty()


def seeds_arg(text: str) -> Sequence[int]:
    """Parse ``"0,1,2"`` or ``"5"`` (meaning ``range(5)``)."""
    if "," in text:
        return [int(x) for x in text.split(",") if x.strip()]
    return list(range(int(text)))
