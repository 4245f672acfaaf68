"""``benchmarks/bench_feel.py`` runs end to end in ``--quick`` mode and prints its ratio columns.

The script is loaded from ``benchmarks/`` with :func:`runpy.run_path` (its folder on
``sys.path`` so that ``_common`` imports) and its ``main`` called with
``--quick --plain``. Timings are printed, never asserted.
"""

from __future__ import annotations

import runpy
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


def _header(out: str, title_word: str) -> list[str]:
    lines = out.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("### ") and title_word in line:
            header = next(row for row in lines[i + 1 :] if row.startswith("|"))
            return [cell.strip() for cell in header.strip("|").split("|")]
    raise AssertionError(f"no table titled with {title_word!r} in:\n{out}")


@pytest.mark.slow
def test_feel_benchmark_quick(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    pytest.importorskip("cvxpy")
    monkeypatch.syspath_prepend(str(BENCH))
    main = runpy.run_path(str(BENCH / "bench_feel.py"), run_name="bench_feel")["main"]
    rc = main(["--quick", "--plain"])
    out = capsys.readouterr().out
    assert rc == 0, out
    assert "MISMATCH" not in out
    assert "evaluate" in _header(out, "scaling")
    assert "time ratio" in _header(out, "CVXPY")
    assert {"time ratio", "gain"} <= set(_header(out, "Algorithm 1"))
    assert "os.cpu_count()" in out and "load average" in out
