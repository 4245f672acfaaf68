"""``benchmarks/bench_flmar.py`` runs end to end in ``--quick`` mode and prints its ratios.

Loaded from ``benchmarks/`` with :func:`runpy.run_path` (as the other
benchmark smoke tests do). Timings are printed, never asserted; the script's
own check (SCIP's proven optimum equals ours) decides its exit status.
"""

from __future__ import annotations

import pytest

from test_benchmarks_smoke import _header
from test_benchmarks_smoke import _main as _load


@pytest.mark.slow
def test_flmar_benchmark_quick(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    main = _load(monkeypatch, "bench_flmar.py")
    rc = main(["--quick", "--plain", "--seeds", "1", "--gain-instances", "2"])
    out = capsys.readouterr().out
    assert rc == 0, out
    assert "load average" in out
    assert {"scheme", "N", "time", "relative gap", "target"} <= set(_header(out, "Scale"))
    assert "SCIP / optimal" in _header(out, "SCIP") or "PySCIPOpt not installed" in out
    assert "SLSQP / ours" in _header(out, "SLSQP")
    assert "median gain (cost)" in _header(out, "Gain of optimal")
    assert "MISMATCH" not in out
