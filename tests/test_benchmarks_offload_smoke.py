"""``benchmarks/bench_offload.py`` runs end to end in ``--quick`` mode and prints its ratios.

The script is loaded from ``benchmarks/`` with :func:`runpy.run_path` (its
folder on ``sys.path`` so that ``_common`` imports) and its ``main`` called
with ``--quick --plain``, as ``tests/test_benchmarks_smoke.py`` does for the
``mel`` benchmarks. Timings are printed, never asserted: they depend on the
machine. The correctness checks inside the script (every allocation accepted
by ``evaluate``, objectives equal to HiGHS's) decide its exit status.
"""

from __future__ import annotations

import pytest

from test_benchmarks_smoke import _header
from test_benchmarks_smoke import _main as _load


def _main(monkeypatch: pytest.MonkeyPatch):
    return _load(monkeypatch, "bench_offload.py")


@pytest.mark.slow
def test_offload_benchmark_quick(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    main = _main(monkeypatch)
    rc = main(["--quick", "--plain"])
    out = capsys.readouterr().out
    assert rc == 0, out
    assert "numpy" in out and "scipy" in out and "load average" in out
    server = _header(out, "scaling in N")
    assert {"median", "ns/user", "evaluate ok"} <= set(server)
    lp = _header(out, "HiGHS LP")
    assert {"ratio (total)", "ratio (linprog only)", "rel. diff"} <= set(lp)
    assert "ratio" in _header(out, "HiGHS MILP")
    d2d = _header(out, "offload-d2d: LP")
    assert {"LP part", "rounding (+checks)", "gap %", "link variables"} <= set(d2d)
    assert "ratio" in _header(out, "generic (P2)")
    # every check inside the script passed, and the Fig. 2 sweep was only announced
    assert "| NO:" not in out and "MISMATCH" not in out
    assert "--fig2" in out


@pytest.mark.slow
def test_offload_benchmark_fig2_code_path(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    main = _main(monkeypatch)
    rc = main(["--quick", "--plain", "--fig2", "--only", "fig2", "--fig2-seeds", "10"])
    out = capsys.readouterr().out
    assert rc == 0, out
    assert "wall" in _header(out, "Fig. 2 sweep")
    gains = _header(out, "Fig. 2 gains")
    assert "server optimal" in gains and "D2D relaxed" in gains
    assert "not assessed" in out  # a quick sweep is never judged against the 15 min target


def test_unknown_section_is_a_usage_error(monkeypatch: pytest.MonkeyPatch) -> None:
    main = _main(monkeypatch)
    with pytest.raises(SystemExit) as info:
        main(["--quick", "--only", "everything"])
    assert info.value.code == 2
