"""The family registry: built-ins, an installed plugin (entry point) and in-process registration.

A toy family (``tests/toy_family.py``, written as a plugin author would, with
no edit anywhere in edgealloc) is installed through the ``edgealloc.families``
entry-point group and driven through ``solve``, ``edgealloc solve FILE
--scheme all``, ``compile``, the presets and the demo table.
"""

from __future__ import annotations

import json
import sys
import textwrap
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import edgealloc
import edgealloc.demo
import edgealloc.scenarios
from edgealloc import registry
from edgealloc.cli import app
from edgealloc.demo import run_demo
from edgealloc.errors import EdgeallocWarning, ValidationError
from edgealloc.family import Family
from edgealloc.result import Status
from toy_family import PRESET, ToyProblem, make_family

BUILTIN = ["mel", "offload-server", "offload-d2d"]


def invoke(*args: str, stdin: str | None = None):
    return CliRunner().invoke(app, [str(a) for a in args], input=stdin)


def _install(site: Path, entries: dict[str, str]) -> None:
    """Write a dist-info with ``edgealloc.families`` entry points into ``site`` (no pip needed)."""
    info = site / "edgealloc_toy-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: edgealloc-toy\nVersion: 0.1\n")
    lines = "".join(f"{name} = {target}\n" for name, target in entries.items())
    (info / "entry_points.txt").write_text(f"[edgealloc.families]\n{lines}")


@pytest.fixture
def plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The toy family installed as a package with an entry point and a preset file."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "toy-demo.yaml").write_text(PRESET)
    (site / "edgealloc_toy.py").write_text(
        textwrap.dedent(
            """
            from pathlib import Path
            from toy_family import make_family
            FAMILY = make_family(Path(__file__).with_name("toy-demo.yaml"))
            """
        )
    )
    _install(site, {"toy": "edgealloc_toy:FAMILY"})
    monkeypatch.syspath_prepend(str(site))
    registry.refresh_families()
    yield site
    monkeypatch.undo()
    sys.modules.pop("edgealloc_toy", None)
    registry.refresh_families()


# ---------------------------------------------------------------------------
# Built-ins
# ---------------------------------------------------------------------------
def test_builtin_families_in_order() -> None:
    names = list(registry.families())
    assert names[: len(BUILTIN)] == BUILTIN
    for name in names:
        fam = registry.get_family(name)
        assert name == fam.problem.FAMILY
        assert fam.exact == "optimal"
        assert edgealloc.schemes(name) == list(fam.schemes)
        assert fam.integral <= set(fam.schemes) and fam.trainable <= set(fam.schemes)


def test_unknown_family_lists_known() -> None:
    with pytest.raises(ValidationError) as err:
        registry.get_family("nope")
    assert err.value.field == "family"
    for name in BUILTIN:
        assert name in str(err.value)
    with pytest.raises(ValidationError, match="unknown family"):
        edgealloc.api.problem_from_dict({"family": "nope"})


def test_descriptor_is_checked() -> None:
    fam = make_family()
    with pytest.raises(ValidationError, match="FAMILY"):
        Family(name="other", title="", problem=ToyProblem, schemes=fam.schemes, sense="min")
    with pytest.raises(ValidationError, match="sense"):
        Family(name="toy", title="", problem=ToyProblem, schemes=fam.schemes, sense="up")
    with pytest.raises(ValidationError, match="unknown schemes"):
        Family(
            name="toy",
            title="",
            problem=ToyProblem,
            schemes=fam.schemes,
            sense="min",
            trainable=frozenset({"bogus"}),
        )


# ---------------------------------------------------------------------------
# A plugin installed through the entry point
# ---------------------------------------------------------------------------
def test_plugin_is_discovered_after_builtins(plugin: Path) -> None:
    names = list(registry.families())
    assert names[: len(BUILTIN)] == BUILTIN and "toy" in names
    assert registry.preset_family("toy-demo") == "toy"
    assert "toy-demo" in edgealloc.scenarios.PRESETS
    assert "toy-demo" in edgealloc.demo.DEMO_PRESETS


def test_plugin_solves_through_the_api(plugin: Path) -> None:
    problem = edgealloc.load_problem("toy-demo", overrides={"n": 20})
    assert isinstance(problem, ToyProblem) and problem.total == 20
    res = edgealloc.solve(problem)
    assert res.status is Status.OPTIMAL and res.scheme == "optimal"
    # The toy's optimum, checked by brute force over every split of 20 units.
    s = np.asarray(problem.seconds)
    best = min(
        max(s[0] * a, s[1] * b, s[2] * (20 - a - b)) for a in range(21) for b in range(21 - a)
    )
    assert res.objective == pytest.approx(best)
    assert res.objective <= edgealloc.solve(problem, "equal").objective
    with pytest.raises(ValidationError, match="unknown scheme 'paper' for family toy"):
        edgealloc.solve(problem, "paper")


def test_plugin_through_the_cli(plugin: Path, tmp_path: Path) -> None:
    path = tmp_path / "toy.json"
    res = invoke("compile", "toy-demo", "--set", "devices=4", "-o", path)
    assert res.exit_code == 0, res.output
    doc = json.loads(path.read_text())
    assert doc["family"] == "toy" and len(doc["seconds"]) == 4

    res = invoke("solve", path, "--scheme", "all", "--json")
    assert res.exit_code == 0, res.output
    rows = json.loads(res.stdout)
    assert [r["scheme"] for r in rows] == ["optimal", "equal"]
    assert rows[0]["objective"] <= rows[1]["objective"]

    res = invoke("solve", path, "--scheme", "all")
    assert res.exit_code == 0, res.output
    assert "optimal" in res.stdout and "equal" in res.stdout and "gap to optimal" in res.stdout

    res = invoke("solve", "-", "--json", stdin=path.read_text())
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["units"] == rows[0]["units"]

    res = invoke("families")
    assert res.exit_code == 0 and "toy" in res.stdout and "Toy makespan" in res.stdout
    res = invoke("presets")
    assert res.exit_code == 0 and "toy-demo" in res.stdout


def test_plugin_in_the_demo_table(plugin: Path, tmp_path: Path) -> None:
    from rich.console import Console

    console = Console(width=150, record=True)
    doc = run_demo(tmp_path / "demo", console=console, presets=["toy-demo"])
    text = console.export_text()
    assert "toy-demo: Toy makespan, three devices" in text
    entry = doc["presets"]["toy-demo"]
    assert entry["family"] == "toy" and entry["devices"] == 3
    assert set(entry["schemes"]) == {"optimal", "equal"}
    assert entry["schemes"]["equal"]["gap_percent"] >= 0  # minimised: equal is no better
    assert set(doc["files"]) == {"numbers", "problem:toy-demo"}  # the toy draws no figure
    assert (tmp_path / "demo" / "toy-demo.problem.json").exists()


def test_broken_plugin_warns_and_is_left_out(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = tmp_path / "site"
    site.mkdir()
    (site / "fake_mel.py").write_text(
        textwrap.dedent(
            """
            from edgealloc.family import Family
            from toy_family import FAMILY as TOY

            class FakeMel:
                FAMILY = "mel"

            FAMILY = Family(name="mel", title="", problem=FakeMel, schemes=TOY.schemes, sense="min")
            """
        )
    )
    _install(site, {"broken": "no_such_module_xyz:FAMILY", "mel2": "fake_mel:FAMILY"})
    monkeypatch.syspath_prepend(str(site))
    registry.refresh_families()
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            names = list(registry.families())
        messages = [str(w.message) for w in caught if issubclass(w.category, EdgeallocWarning)]
        assert any("'broken'" in m and "failed to load" in m for m in messages), messages
        # A plugin that reuses a built-in's name is refused with a warning; the built-in stays.
        assert any("'mel'" in m and "already registered" in m for m in messages), messages
        assert names.count("mel") == 1
        assert registry.get_family("mel").problem.__name__ == "MelProblem"
        assert edgealloc.solve("mel-sync").status is Status.OPTIMAL
    finally:
        monkeypatch.undo()
        sys.modules.pop("fake_mel", None)
        registry.refresh_families()


# ---------------------------------------------------------------------------
# In-process registration
# ---------------------------------------------------------------------------
def test_register_and_unregister_in_process() -> None:
    fam = make_family()
    try:
        registry.register_family(fam)
        assert registry.get_family("toy") is fam
        with pytest.raises(ValidationError, match="already registered"):
            registry.register_family(make_family())
        registry.register_family(make_family(), replace=True)
        with pytest.raises(ValidationError, match="built-in"):
            registry.register_family(
                Family(
                    name="mel",
                    title="",
                    problem=type("P", (), {"FAMILY": "mel"}),
                    schemes=fam.schemes,
                    sense="max",
                )
            )
        res = edgealloc.solve({"family": "toy", "seconds": [1, 2], "total": 3})
        assert res.objective == 2.0 and list(res.units) == [2, 1]
    finally:
        registry.unregister_family("toy")
    with pytest.raises(ValidationError, match="unknown family"):
        registry.get_family("toy")
