"""The benchmark scripts run end to end in ``--quick`` mode and print their ratio columns.

They are scripts, not modules of the package: each is loaded from
``benchmarks/`` with :func:`runpy.run_path` (its folder on ``sys.path`` so that
``_common`` imports) and its ``main`` called with ``--quick --plain``.
Timings are printed, never asserted: they depend on the machine.
"""

from __future__ import annotations

import runpy
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


def _main(monkeypatch: pytest.MonkeyPatch, script: str):
    monkeypatch.syspath_prepend(str(BENCH))
    namespace = runpy.run_path(str(BENCH / script), run_name=f"bench_{script[:-3]}")
    return namespace["main"]


def _header(out: str, title_word: str) -> list[str]:
    """Column names of the first Markdown table whose title contains ``title_word``."""
    lines = out.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("### ") and title_word in line:
            header = next(row for row in lines[i + 1 :] if row.startswith("|"))
            return [cell.strip() for cell in header.strip("|").split("|")]
    raise AssertionError(f"no table titled with {title_word!r} in:\n{out}")


@pytest.mark.slow
def test_sync_benchmark_quick(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    main = _main(monkeypatch, "bench_mel_sync.py")
    rc = main(["--quick", "--plain"])
    out = capsys.readouterr().out
    assert rc == 0, out
    assert "numpy" in out and "scipy" in out and "os.cpu_count()" in out
    assert "ratio" in _header(out, "generic route")
    assert "time ratio" in _header(out, "scaling")
    # every optimal allocation passed the independent evaluate check
    assert "| NO:" not in out


@pytest.mark.slow
def test_async_benchmark_quick(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    main = _main(monkeypatch, "bench_mel_async.py")
    rc = main(["--quick", "--plain"])
    out = capsys.readouterr().out
    assert rc == 0, out
    assert "MISMATCH" not in out
    assert "ratio" in _header(out, "HiGHS")
    assert "time ratio" in _header(out, "alone")


def test_bad_argument_is_a_usage_error(monkeypatch: pytest.MonkeyPatch) -> None:
    main = _main(monkeypatch, "bench_mel_sync.py")
    with pytest.raises(SystemExit) as info:
        main(["--quick", "--methods", "nelder-mead"])
    assert info.value.code == 2
