"""The measured accuracy table of the FL-MAR family (issue 12, item 4).

``edgealloc.learn.flmar_accuracy``: resolution mapping, federated
measurement, the scenario writer; ``edgealloc reproduce flmar-accuracy --quick``.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import pytest
import yaml

pytest.importorskip("torch")
pytest.importorskip("sklearn")

from edgealloc.errors import ValidationError
from edgealloc.flmar.scenario import compile_flmar
from edgealloc.learn import flmar_accuracy as fa
from edgealloc.scenarios import PRESETS

RES = [160, 320, 480, 640]
#: A small federation that learns within a second on 320 digits.
SMALL = {"devices": 4, "rounds": 10, "local_steps": 3, "lr": 0.5, "n_samples": 400}


# ---------------------------------------------------------------------------
# Resolution mapping
# ---------------------------------------------------------------------------
def test_side_lengths_map_the_largest_option_to_the_native_side() -> None:
    assert fa.side_lengths(RES, 8).tolist() == [2, 4, 6, 8]
    assert fa.side_lengths(RES, 28).tolist() == [7, 14, 21, 28]
    assert fa.side_lengths(RES, 32).tolist() == [8, 16, 24, 32]
    # half up, never below one pixel
    assert fa.side_lengths([1, 3, 10], 5).tolist() == [1, 2, 5]
    assert fa.side_lengths([100], 8).tolist() == [8]


def _bilinear_1d(n_in: int, n_out: int) -> np.ndarray:
    """Half-pixel-centre linear interpolation weights, edges clamped, via np.interp."""
    u = np.clip((np.arange(n_out) + 0.5) * n_in / n_out - 0.5, 0, n_in - 1)
    return np.stack([np.interp(u, np.arange(n_in), np.eye(n_in)[j]) for j in range(n_in)], 1)


def test_two_pixel_images_are_block_means_upsampled() -> None:
    rng = np.random.default_rng(3)
    x = rng.random((5, 1, 8, 8)).astype(np.float32)
    blocks = x.reshape(5, 1, 2, 4, 2, 4).mean(axis=(3, 5))  # area average to 2 x 2
    a = _bilinear_1d(2, 8)
    want = np.einsum("ij,ncjk,lk->ncil", a, blocks, a)
    got = fa.at_resolution(x, 2)
    assert got.shape == (5, 1, 8, 8)
    np.testing.assert_allclose(got, want, atol=1e-6)
    # what the model sees holds only the 2 x 2 information: images with equal block means agree
    y = x.copy()
    y[:, :, :4, :4] = x[:, :, :4, :4][:, :, ::-1, ::-1]  # rearranged inside one block
    np.testing.assert_allclose(fa.at_resolution(y, 2), got, atol=1e-6)
    np.testing.assert_array_equal(fa.at_resolution(x, 8), x)  # the native side unchanged
    assert not np.allclose(fa.at_resolution(x, 4), got)


# ---------------------------------------------------------------------------
# Measurement
# ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def small_table() -> fa.AccuracyTable:
    return fa.measure_accuracy([160, 640], seeds=[0], **SMALL)


def test_measured_accuracy_rises_with_resolution(small_table: fa.AccuracyTable) -> None:
    t = small_table
    assert t.sides == (2, 8) and t.lr == 0.5 and t.seeds == (0,)
    assert t.settings["devices"] == 4 and t.settings["n_train"] == 320
    low, high = t.mean
    # chance is 0.1; with no effect of resolution the two would differ by noise only
    assert high > 0.6 and high - low > 0.15, t.mean
    again = fa.measure_accuracy([160, 640], seeds=[0], **SMALL)
    assert again.runs == t.runs  # deterministic
    # the margin is the resolution's: two options shown at the same side score the same
    same = fa.measure_accuracy([630, 640], seeds=[0], **SMALL)
    assert same.sides == (8, 8) and same.mean[0] == same.mean[1] == high


def test_the_learning_rate_rule_picks_the_best_held_out_rate() -> None:
    assert fa.pick_lr([0.1, 0.2, 0.5], [0.7, 0.9, 0.9]) == 0.2  # a tie goes to the smaller
    assert fa.pick_lr([0.1, 0.2], [0.8, 0.1]) == 0.1
    data = fa.images("digits", n_samples=400)
    lr, scores = fa.choose_lr(data, grid=(0.05, 0.5), devices=4, rounds=6, local_steps=3)
    assert set(scores) == {0.05, 0.5} and lr == max(scores, key=lambda r: (scores[r], -r))
    assert scores[0.5] > scores[0.05]  # 18 tiny steps at 0.05 barely move the model


def test_a_plan_trains_each_device_at_its_resolution() -> None:
    from edgealloc.api import load_problem

    problem = load_problem("mar-paper", overrides={"N": 4})
    plan = [160.0, 160.0, 640.0, 640.0]
    out = fa.train_with_resolutions(
        problem,
        plan,
        seeds=[0],
        **{k: v for k, v in SMALL.items() if k != "devices"},
    )
    (run,) = out.runs
    assert run.sides == (2, 2, 8, 8)
    assert set(run.accuracy_by_side) == {2, 8}
    assert run.accuracy_own == pytest.approx(
        (run.accuracy_by_side[2] + run.accuracy_by_side[8]) / 2
    )
    assert run.accuracy_native == run.accuracy_by_side[8] == out.accuracy_native[0]
    with pytest.raises(ValidationError, match="resolution") as info:
        fa.train_with_resolutions(problem, [160, 200, 640, 640], seeds=[0], lr=0.5)
    assert info.value.field == "resolution"
    with pytest.raises(ValidationError) as info:
        fa.train_with_resolutions(problem, [160, 640], seeds=[0], lr=0.5)
    assert info.value.field == "resolution"


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"resolutions": [320, 160]}, "resolutions"),
        ({"resolutions": []}, "resolutions"),
        ({"resolutions": [0, 160]}, "resolutions"),
        ({"devices": 0}, "devices"),
        ({"rounds": 0}, "rounds"),
        ({"local_steps": 1.5}, "local_steps"),
        ({"seeds": []}, "seeds"),
        ({"seeds": [0, 0]}, "seeds"),
        ({"lr": -1.0}, "lr"),
        ({"lr_grid": []}, "lr_grid"),
        ({"dataset": "linear"}, "dataset"),
        ({"dataset": "mnist1d"}, "dataset"),
        ({"dataset": "nope"}, "dataset"),
        ({"dataset": "mnist"}, "path"),
    ],
)
def test_bad_input_names_the_field(kwargs: dict, field: str) -> None:
    args = {"resolutions": RES, "seeds": [0], "rounds": 1, "local_steps": 1, "lr": 0.5}
    args.update(kwargs)
    res = args.pop("resolutions")
    with pytest.raises(ValidationError) as info:
        fa.measure_accuracy(res, n_samples=100, **args)
    assert info.value.field == field


# ---------------------------------------------------------------------------
# The scenario writer
# ---------------------------------------------------------------------------
def _table() -> fa.AccuracyTable:
    runs = [[0.5, 0.77, 0.9, 0.95], [0.52, 0.79, 0.88, 0.96]]
    return fa.AccuracyTable.from_runs(
        RES, [2, 4, 6, 8], runs, seeds=[0, 1], lr=0.5, settings={"dataset": "digits"}
    )


def test_the_written_scenario_compiles_with_the_measured_table(tmp_path: Path) -> None:
    table = _table()
    assert table.mean == pytest.approx((0.51, 0.78, 0.89, 0.955))
    assert table.std[0] == pytest.approx(math.sqrt(2) * 0.01)
    scenario = fa.measured_scenario(PRESETS["mar-paper"](), table)
    path = fa.write_scenario(tmp_path / "mar-measured.yaml", scenario)
    text = path.read_text(encoding="utf-8")
    assert text.startswith(fa.SCENARIO_HEADER)
    doc = yaml.safe_load(text)
    assert doc["name"] == "mar-paper-measured"
    assert "measured by edgealloc.learn.flmar_accuracy" in doc["notes"][-1]
    assert "0.5100 +- 0.0141" in doc["notes"][-1]
    problem = compile_flmar(doc)
    assert problem.accuracy.tolist() == list(table.mean)  # exactly, through YAML
    original = compile_flmar(PRESETS["mar-paper"]())
    assert problem.channel_gain.tolist() == original.channel_gain.tolist()  # nothing else moved
    # the preset itself is untouched
    assert PRESETS["mar-paper"]()["training"]["accuracy"][0] == 0.44225


def test_the_writer_never_overwrites_without_being_told(tmp_path: Path) -> None:
    scenario = fa.measured_scenario(PRESETS["mar-paper"](), _table())
    path = tmp_path / "s.yaml"
    path.write_text("mine\n", encoding="utf-8")
    with pytest.raises(ValidationError, match=r"already exists .*--force"):
        fa.write_scenario(path, scenario)
    assert path.read_text(encoding="utf-8") == "mine\n"
    fa.write_scenario(path, scenario, overwrite=True)
    assert compile_flmar(yaml.safe_load(path.read_text(encoding="utf-8"))).n_devices == 50
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.yaml"]  # no temporary left


def test_the_scenario_writer_refuses_a_table_of_other_resolutions() -> None:
    other = fa.AccuracyTable.from_runs([160, 640], [4, 8], [[0.5, 0.9]], seeds=[0], lr=0.5)
    with pytest.raises(ValidationError) as info:
        fa.measured_scenario(PRESETS["mar-paper"](), other)
    assert info.value.field == "training.resolutions"
    with pytest.raises(ValidationError) as info:
        fa.measured_scenario({"scenario": "mel"}, other)
    assert info.value.field == "scenario"


# ---------------------------------------------------------------------------
# The reproduction, quick
# ---------------------------------------------------------------------------
def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_quick_reproduction_writes_its_files(tmp_path: Path) -> None:
    from edgealloc.experiments import EXPERIMENTS, run_experiment

    assert "flmar-accuracy" in EXPERIMENTS
    out_dir = tmp_path / "fa"
    out = run_experiment("flmar-accuracy", out_dir, quick=True, workers=1, progress=False)
    names = sorted(p.name for p in out_dir.iterdir())
    for want in (
        "flmar-accuracy.png",
        "flmar-accuracy.csv",
        "flmar-accuracy-rho.png",
        "flmar-accuracy-rho.csv",
        "flmar-accuracy-seeds.csv",
        "flmar-accuracy-mar-measured.yaml",
        "flmar-accuracy-manifest.json",
        "flmar-accuracy-store.jsonl",
    ):
        assert want in names
    table = _rows(out_dir / "flmar-accuracy.csv")
    assert [float(r["resolution"]) for r in table] == RES
    measured = [float(r["accuracy_mean"]) for r in table]
    problem = compile_flmar(
        yaml.safe_load((out_dir / "flmar-accuracy-mar-measured.yaml").read_text("utf-8"))
    )
    np.testing.assert_allclose(problem.accuracy, measured, atol=1e-6)
    assert measured[-1] > measured[0]
    rho = _rows(out_dir / "flmar-accuracy-rho.csv")
    opt = [r for r in rho if r["scheme"] == "optimal"]
    assert [float(r["rho"]) for r in opt] == [0.0, 20.0, 1000.0]
    assert float(opt[0]["share_s1"]) == 1.0 and float(opt[-1]["share_s4"]) == 1.0
    # the extremes are the table's own runs (all devices at s_1, at s_K)
    assert float(opt[0]["trained_own_mean"]) == pytest.approx(measured[0])
    assert float(opt[-1]["trained_own_mean"]) == pytest.approx(measured[-1])
    assert float(opt[0]["predicted_accuracy"]) == pytest.approx(measured[0], abs=1e-6)
    assert any("trained accuracy" in n for n in out.notes)
    # a second run resumes from the store and may replace its own files
    again = run_experiment("flmar-accuracy", out_dir, quick=True, workers=1, progress=False)
    assert again.summary == out.summary


def test_quick_reproduction_refuses_a_foreign_scenario_file(tmp_path: Path) -> None:
    from edgealloc.experiments import EXPERIMENTS, run_experiment

    (tmp_path / "flmar-accuracy-mar-measured.yaml").write_text("user: file\n", encoding="utf-8")
    with pytest.raises(ValidationError, match="not written by flmar-accuracy"):
        run_experiment("flmar-accuracy", tmp_path, quick=True, workers=1, progress=False)
    with pytest.raises(ValidationError) as info:
        EXPERIMENTS["flmar-accuracy"].run(tmp_path / "x", quick=True, workers=1, rhos=[-1])
    assert info.value.field == "rhos"
    with pytest.raises(ValidationError) as info:  # MNIST is read from files: no path given
        EXPERIMENTS["flmar-accuracy"].run(tmp_path / "y", quick=True, workers=1, dataset="mnist")
    assert info.value.field == "path"
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists()
