"""``benchmarks/bench_flower.py`` runs end to end in ``--quick`` mode (one tiny federation).

Timings are printed, never asserted. The script's own check (one cycle of the
batched engine from Flower's model gives Flower's next model to 1e-5, with the
same plan) decides its exit status.
"""

from __future__ import annotations

import runpy
from pathlib import Path

import pytest

pytest.importorskip("flwr")
pytest.importorskip("ray")
pytest.importorskip("torch")

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.mark.slow
def test_flower_benchmark_quick(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys) -> None:
    from edgealloc.integrations.flower._procs import descendants

    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("MPLCONFIGDIR", str(tmp_path / "mpl"))
    monkeypatch.syspath_prepend(str(BENCH))
    before = set(descendants())
    main = runpy.run_path(str(BENCH / "bench_flower.py"), run_name="bench_flower")["main"]
    rc = main(["--quick", "--plain", "--sizes", "2"])
    out = capsys.readouterr().out
    assert rc == 0, out
    assert "os.cpu_count()" in out and "load average" in out
    assert "| ratio |" in out.replace("  ", " ") or "ratio" in out
    assert "overhead per node" in out and "one round, diff / scale" in out
    assert "NO: the engines disagree" not in out
    assert not set(descendants()) - before
