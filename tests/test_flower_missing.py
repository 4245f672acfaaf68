"""Flower is an optional extra: without it ``edgealloc flower`` says how to install it, exit 2.

Runs whether or not Flower is installed: the import is made to fail by
putting ``None`` in ``sys.modules`` (what Python does for a module that
cannot be imported), and the rest of the integration's pure parts still work.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from edgealloc.errors import ValidationError


def _cli() -> typer.Typer:
    from edgealloc.cli.flower import flower_command

    app = typer.Typer()
    app.command()(flower_command)
    return app


def test_without_flower_the_command_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name in [m for m in sys.modules if m == "flwr" or m.startswith("flwr.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "flwr", None)  # `import flwr` now raises ImportError
    monkeypatch.setitem(sys.modules, "flwr.app", None)
    res = CliRunner().invoke(_cli(), ["mel-sync", "--rounds", "1", "--out", str(tmp_path / "o")])
    assert res.exit_code == 2
    lines = res.output.strip().splitlines()
    assert lines == ["error: flower: needs Flower: pip install 'edgealloc[flower]'"]
    assert not (tmp_path / "o").exists()
    # the pure parts still work without Flower
    from edgealloc.integrations import flower

    assert not flower.flower_available()
    out = flower.weighted_model_average([{"a": np.ones(1)}], [2], fallback={"a": np.zeros(1)})
    assert out["a"].tolist() == [1.0]
    with pytest.raises(ValidationError, match="pip install 'edgealloc"):
        flower.simulate  # noqa: B018 - the Flower parts say how to install it
