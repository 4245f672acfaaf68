"""``benchmarks/bench_learn.py`` runs end to end in ``--quick`` mode and prints its ratios.

The script is loaded from ``benchmarks/`` with :func:`runpy.run_path` (its
folder on ``sys.path`` so that ``_common`` imports) and its ``main`` called
with ``--quick --plain``, as ``tests/test_benchmarks_smoke.py`` does for the
``mel`` benchmarks. Timings are printed, never asserted: they depend on the
machine. The equality check inside the script (batched models equal to the
sequential ones to 1e-5) decides its exit status.
"""

from __future__ import annotations

import pytest

from test_benchmarks_smoke import _header
from test_benchmarks_smoke import _main as _load

pytest.importorskip("torch")


def _main(monkeypatch: pytest.MonkeyPatch):
    return _load(monkeypatch, "bench_learn.py")


@pytest.mark.slow
def test_learn_benchmark_quick(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    main = _main(monkeypatch)
    rc = main(["--quick", "--plain"])
    out = capsys.readouterr().out
    assert rc == 0, out
    assert "numpy" in out and "torch" in out and "load average" in out
    mlp = _header(out, "MEL papers' network")
    assert {"sequential", "ratio (bmm)", "ratio (vmap)", "max rel. diff"} <= set(mlp)
    assert "ratio (bmm)" in _header(out, "logistic regression")
    assert {"allocation", "d_k", "ratio", "max rel. diff"} <= set(
        _header(out, "product's workload")
    )
    # every batched model equalled the sequential one, and the target was only announced
    assert "| NO:" not in out
    assert "not assessed" in out


def test_bad_model_is_a_usage_error(monkeypatch: pytest.MonkeyPatch) -> None:
    main = _main(monkeypatch)
    with pytest.raises(SystemExit) as info:
        main(["--quick", "--models", "transformer"])
    assert info.value.code == 2


def test_unavailable_device_is_a_usage_error(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("this machine has a CUDA GPU")
    main = _main(monkeypatch)
    with pytest.raises(SystemExit) as info:
        main(["--quick", "--device", "cuda"])
    assert info.value.code == 2
    assert "--device" in capsys.readouterr().err
