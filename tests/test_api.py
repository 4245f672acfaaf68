"""The public API: one entry point, one result type, a tested export list."""

from __future__ import annotations

import inspect
import json

import pytest
import yaml

import edgealloc
from edgealloc import Result, Status, ValidationError
from edgealloc.mel import MelProblem

CANONICAL = {
    "family": "mel",
    "deadline": 12.0,
    "total_samples": 600,
    "c2": [0.002, 0.004, 0.01],
    "c1": [1e-4, 2e-4, 1e-4],
    "c0": [0.2, 0.1, 0.3],
}


def test_exports_are_complete_and_sorted():
    public = {
        name
        for name in dir(edgealloc)
        if not name.startswith("_") and not inspect.ismodule(getattr(edgealloc, name))
    }
    assert set(edgealloc.__all__) - {"__version__"} == public
    assert edgealloc.__all__ == sorted(edgealloc.__all__, key=str)


@pytest.mark.parametrize("kind", ["mapping", "json", "yaml", "object", "preset"])
def test_solve_accepts_every_kind_of_source(kind, tmp_path):
    if kind == "mapping":
        source = CANONICAL
    elif kind == "json":
        source = tmp_path / "p.json"
        source.write_text(json.dumps(CANONICAL))
    elif kind == "yaml":
        source = tmp_path / "p.yaml"
        source.write_text(yaml.safe_dump(CANONICAL))
    elif kind == "object":
        source = MelProblem.from_dict(CANONICAL)
    else:
        source = "mel-sync"
    res = edgealloc.solve(source, "optimal")
    assert isinstance(res, Result) and res.status is Status.OPTIMAL and res.success
    assert res.family == "mel" and res.scheme == "optimal"


def test_result_json_has_the_contract_fields():
    res = edgealloc.solve(CANONICAL)
    doc = json.loads(res.to_json())
    for key in ("family", "scheme", "status", "objective", "bound", "message", "solve_seconds"):
        assert key in doc
    for key in ("tau", "samples", "times", "relaxed_bound"):
        assert key in doc
    assert "energies" not in doc  # only when the problem has an energy model
    assert all(isinstance(v, int) for v in doc["tau"] + doc["samples"])
    assert res.tau is res.allocation.tau  # attribute fall-through
    with pytest.raises(AttributeError):
        _ = res.no_such_field


def test_energies_present_with_energy():
    doc = edgealloc.solve("mel-async").to_dict()
    assert len(doc["energies"]) == len(doc["tau"])


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda: edgealloc.solve(CANONICAL, "fastest"), "scheme"),
        (lambda: edgealloc.solve({**CANONICAL, "family": "zzz"}), "family"),
        (lambda: edgealloc.solve({"deadline": 1}), "family"),
        (lambda: edgealloc.load_problem("/no/such/file.json"), "/no/such/file.json"),
        (
            lambda: edgealloc.load_problem("mel-sync", overrides={"devices": 0}),
            "devices (devices.count)",  # the short key the user typed, then its path
        ),
        (lambda: edgealloc.load_problem("mel-sync", overrides={"warp_drive": 1}), "warp_drive"),
        (lambda: edgealloc.load_problem(CANONICAL, overrides={"a.b": 1}), "a.b"),
    ],
)
def test_errors_name_the_field(call, field):
    with pytest.raises(ValidationError) as info:
        call()
    assert info.value.field == field


def test_malformed_file(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"family": "mel", "deadline": }')
    with pytest.raises(ValidationError, match="not valid json at line 1"):
        edgealloc.load_problem(bad)
    badyaml = tmp_path / "bad.yaml"
    badyaml.write_text("family: mel\n  deadline: [1,\n")
    with pytest.raises(ValidationError, match="not valid yaml"):
        edgealloc.load_problem(badyaml)


def test_canonical_overrides():
    p = edgealloc.load_problem(CANONICAL, overrides={"deadline": "24"})
    assert p.deadline == 24.0


def test_schemes_listing():
    assert edgealloc.schemes("mel") == ["optimal", "relaxed", "paper", "equal"]


def test_results_are_frozen():
    res = edgealloc.solve(CANONICAL)
    with pytest.raises(AttributeError):
        res.objective = 0  # type: ignore[misc]
    assert not res.tau.flags.writeable and not res.times.flags.writeable
