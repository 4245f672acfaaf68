"""The API boundary holds: bad input raises edgealloc's own errors, never NumPy's or SciPy's.

Property tests over every registered family that declares ``random_document``
(:class:`edgealloc.family.Family`): valid random documents are corrupted in
every field (values, types, lengths, extra and missing keys, nesting;
:mod:`boundary_strategies`) and fed to every public entry point
(``edgealloc.load_problem``, ``edgealloc.api.problem_from_dict``,
``edgealloc.solve``, the problem class's ``from_dict``, constructor and
pydantic ``model_validate``, a JSON file). Either a problem comes back,
and then ``solve`` with every scheme returns a :class:`~edgealloc.Result`
(whose plan the family's ``check`` accepts) or raises an
:class:`~edgealloc.errors.EdgeallocError`, or an ``EdgeallocError`` is
raised: never anything else. Construction
raises only ``ValidationError``, naming a field; and where the corruption
is unambiguous the field is the one corrupted:

* a number replaced by a string, a boolean, ``None`` (unless the field is
  optional) or a container: ``c2[1]: must be a number (got '30')``;
* a number made non-finite, beyond 1e60 in magnitude or a non-zero below
  1e-60 (``MIN_MAGNITUDE``/``MAX_MAGNITUDE`` of ``edgealloc._validation``);
* an unknown top-level key, or a missing required one.

The scenario compilers get the same treatment from the presets'
documents and from ``--set`` style overrides. New families join by
registering a descriptor with ``random_document``; those without it are
listed by :func:`test_families_without_random_document`.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
import types
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import edgealloc
from boundary_strategies import BAD_VALUES, Mutation, corrupted, get_at, is_number, path_name
from edgealloc import registry
from edgealloc._validation import MAX_MAGNITUDE, MIN_MAGNITUDE
from edgealloc.api import problem_from_dict
from edgealloc.errors import EdgeallocError, ValidationError
from edgealloc.result import Result, Status

FAMILIES = registry.families()

#: No NumPy RuntimeWarning reaches a user before the one-line error (absurd dB and dBm
#: levels overflowed to inf with a warning before the field was named).
pytestmark = pytest.mark.filterwarnings("error::RuntimeWarning")
WITH_DOCUMENTS = [name for name, fam in FAMILIES.items() if fam.random_document is not None]
ENTRIES = (
    "problem_from_dict",
    "from_dict",
    "constructor",
    "model_validate",
    "load_problem",
    "solve",
    "json-file",
)


def test_families_without_random_document(record_property) -> None:
    """Lists the families the boundary and fuzz suites skip (a report, not a failure)."""
    missing = [name for name, fam in FAMILIES.items() if fam.random_document is None]
    record_property("families_without_random_document", ",".join(missing))
    print(f"families without random_document (skipped): {', '.join(missing) or 'none'}")
    assert {"mel", "offload-server", "offload-d2d"} <= set(WITH_DOCUMENTS)
    for name in WITH_DOCUMENTS:
        assert FAMILIES[name].check is not None, f"{name} has random_document but no check"


# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------
def _optional(family: Any, path: tuple[Any, ...]) -> bool:
    """Whether the top-level field at ``path`` accepts ``None``."""
    if len(path) != 1:
        return False
    info = family.problem.model_fields.get(path[0])
    if info is None:
        return False
    ann = info.annotation
    return ann is type(None) or type(None) in getattr(ann, "__args__", ())


def _required(family: Any, key: Any) -> bool:
    info = family.problem.model_fields.get(key)
    return info is not None and info.is_required()


def _not_a_number(value: Any) -> bool:
    """A replacement that is not a number at all (a type corruption)."""
    if isinstance(value, bool | np.bool_):
        return True
    return not isinstance(value, int | float | np.integer | np.floating)


def _out_of_range(value: Any) -> bool:
    """A number every canonical field refuses: non-finite, huge, or a tiny non-zero."""
    if not is_number(value) and not isinstance(value, np.floating):
        return False
    try:
        x = abs(float(value))
    except OverflowError:
        return True
    return not math.isfinite(x) or x > MAX_MAGNITUDE or 0 < x < MIN_MAGNITUDE


def _expected_field(family: Any, doc: Any, mutation: Mutation) -> str | None:
    """The field the error must name, where the corruption leaves no doubt; else None."""
    path = mutation.path
    if not path or path[0] in ("meta", "name", "description", "family") or doc is None:
        return None
    if mutation.kind in ("replace", "scale") and is_number(mutation.old):
        value = mutation.value
        if value is None and _optional(family, path):
            return None
        if _not_a_number(value) or _out_of_range(value):
            return path_name(path)
    if mutation.kind == "extra" and len(path) == 1:
        return path_name(path)
    if mutation.kind == "delete" and len(path) == 1 and _required(family, path[0]):
        return path_name(path)
    return None


def _enter(family: Any, entry: str, doc: Any, scheme: str) -> tuple[Any, str | None]:
    """Feed ``doc`` to one public entry point: ``(problem, Result or EdgeallocError, file)``.

    ``file``: the JSON file's name for the ``json-file`` entry (a refusal of
    the whole file, such as a number over 400 digits, names it).
    """
    if entry != "json-file":
        return _call(family, entry, doc, scheme), None
    try:
        text = json.dumps(doc)
    except (TypeError, ValueError):  # not JSON: sets, bytes, NumPy values, ...
        return _call(family, "problem_from_dict", doc, scheme), None
    fd, name = tempfile.mkstemp(suffix=".json")
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
        return _call(family, "load_problem", name, scheme), name
    finally:
        os.unlink(name)


def _call(family: Any, entry: str, doc: Any, scheme: str) -> Any:
    try:
        if entry == "problem_from_dict":
            return problem_from_dict(doc)
        if entry == "from_dict":
            return family.problem.from_dict(doc)
        if entry == "constructor":
            if isinstance(doc, dict) and all(isinstance(k, str) for k in doc):
                return family.problem(**doc)
            return family.problem.from_dict(doc)
        if entry == "model_validate" and hasattr(family.problem, "model_validate"):
            return family.problem.model_validate(doc)
        if entry == "model_validate":
            return family.problem.from_dict(doc)
        if entry == "load_problem":
            return edgealloc.load_problem(doc)
        assert entry == "solve", entry
        return edgealloc.solve(doc, scheme)
    except EdgeallocError as exc:
        return exc


#: Devices up to which a corrupted-but-valid problem is solved by every scheme (above: the
#: exact one; the fuzz campaign solves large ones with every scheme).
ALL_SCHEMES_UP_TO = 64


def _solve_all(family: Any, problem: Any) -> None:
    """Every scheme returns a Result the family's check accepts, or raises an EdgeallocError."""
    schemes = list(family.schemes) if problem.n_devices <= ALL_SCHEMES_UP_TO else [family.exact]
    for scheme in schemes:
        try:
            res = edgealloc.solve(problem, scheme)
        except EdgeallocError as exc:
            _one_line(exc)
            continue
        _checked(family, problem, scheme, res)


def _checked(family: Any, problem: Any, scheme: str, res: Any) -> None:
    assert isinstance(res, Result), type(res)
    if res.status in (Status.OPTIMAL, Status.FEASIBLE) and family.check is not None:
        found = family.check(problem, res, scheme in family.integral)
        assert not found, f"{scheme}: {found}"


def _one_line(exc: EdgeallocError) -> None:
    assert "\n" not in str(exc), str(exc)
    if isinstance(exc, ValidationError):
        assert exc.field, f"a ValidationError must name its field: {exc}"


# ---------------------------------------------------------------------------
# Canonical documents of every family
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("name", WITH_DOCUMENTS)
@settings(max_examples=300)
@given(data=st.data())
def test_corrupted_canonical_documents(name: str, data: st.DataObject) -> None:
    family = FAMILIES[name]
    seed = data.draw(st.integers(0, 2**32 - 1), label="seed")
    doc = family.random_document(np.random.default_rng(seed))
    bad, mutation = data.draw(corrupted(doc), label="mutation")
    entry = data.draw(st.sampled_from(ENTRIES), label="entry")
    scheme = data.draw(st.sampled_from(list(family.schemes)), label="scheme")
    got, file = _enter(family, entry, bad, scheme)
    if isinstance(got, EdgeallocError):
        _one_line(got)
        if entry != "solve":
            assert isinstance(got, ValidationError), f"{mutation}: {got!r}"
    elif isinstance(got, Result):
        _checked(family, problem_from_dict(bad), scheme, got)
    else:
        _solve_all(family, got)
    want = _expected_field(family, bad, mutation)
    if want is not None:
        assert isinstance(got, ValidationError), f"{mutation} was accepted via {entry}"
        assert got.field in (want, file), (
            f"{mutation}: error names {got.field!r}, expected {want!r}: {got}"
        )


@pytest.mark.parametrize("name", WITH_DOCUMENTS)
def test_random_documents_are_valid_and_json(name: str) -> None:
    family = FAMILIES[name]
    for seed in range(20):
        doc = family.random_document(np.random.default_rng(seed))
        again = family.random_document(np.random.default_rng(seed))
        assert json.dumps(doc, allow_nan=False) == json.dumps(again)  # deterministic JSON
        problem = family.problem.from_dict(doc)
        assert family.problem.from_dict(problem.to_dict()) == problem


@pytest.mark.parametrize("name", WITH_DOCUMENTS)
@pytest.mark.parametrize("value", [v for v in BAD_VALUES if _not_a_number(v)][:12], ids=repr)
def test_every_number_refuses_non_numbers(name: str, value: Any) -> None:
    """Each number of a document, replaced by ``value``, is refused by its own name."""
    family = FAMILIES[name]
    doc = family.random_document(np.random.default_rng(7))
    from boundary_strategies import paths

    for path in paths(doc):
        old = get_at(doc, path)
        if not is_number(old) or (value is None and _optional(family, path)):
            continue
        bad = json.loads(json.dumps(doc))
        get_at(bad, path[:-1])[path[-1]] = value
        with pytest.raises(ValidationError) as info:
            family.problem.from_dict(bad)
        assert info.value.field == path_name(path), str(info.value)


# ---------------------------------------------------------------------------
# Scenarios and overrides (the compilers of every family with one)
# ---------------------------------------------------------------------------
#: Presets of the families in these tests (those with ``random_document``; a preset may
#: also arrive before its family registers).
PRESETS = sorted(p for p in registry.presets() if registry.preset_family(p) in WITH_DOCUMENTS)
#: Users up to which a compiled preset is also solved (its exact scheme) in the tests.
SOLVE_UP_TO = 30


def _compile_outcome(doc: Any, overrides: Any = None) -> Any:
    try:
        problem = edgealloc.load_problem(doc, overrides=overrides)
    except EdgeallocError as exc:
        _one_line(exc)
        assert isinstance(exc, ValidationError), repr(exc)
        return exc
    family = registry.family_of(problem)
    if problem.n_devices <= SOLVE_UP_TO:
        try:
            res = edgealloc.solve(problem, family.exact)
        except EdgeallocError as exc:
            _one_line(exc)
        else:
            _checked(family, problem, family.exact, res)
    return problem


def test_every_preset_compiles_and_solves() -> None:
    for name in PRESETS:
        problem = edgealloc.load_problem(name)
        family = registry.family_of(problem)
        assert isinstance(edgealloc.solve(problem, family.exact), Result)


@pytest.mark.parametrize("preset", PRESETS)
@settings(max_examples=60)
@given(data=st.data())
def test_corrupted_scenarios(preset: str, data: st.DataObject) -> None:
    doc = registry.presets()[preset]()
    bad, _ = data.draw(corrupted(doc), label="mutation")
    _compile_outcome(bad)


OVERRIDE_TEXT = (
    "30",
    "-1",
    "0",
    "1e9",
    "1e999",
    ".nan",
    "-.inf",
    "true",
    "null",
    "[1, 2",
    "{a: 1}",
    "[]",
    "1" * 5000,
    "9" * 401,
    "2**63",
    "0x10",
    "",
)


@pytest.mark.parametrize("preset", PRESETS)
@settings(max_examples=60)
@given(data=st.data())
def test_overrides(preset: str, data: st.DataObject) -> None:
    doc = registry.presets()[preset]()
    family = FAMILIES[doc["scenario"]]
    from boundary_strategies import paths

    keys = sorted(family.aliases) + [path_name(p) for p in paths(doc) if path_name(p)]
    key = data.draw(st.sampled_from([k for k in keys if "[" not in k]), label="key")
    value = data.draw(st.sampled_from(OVERRIDE_TEXT + BAD_VALUES), label="value")
    _compile_outcome(preset, {key: value})


@pytest.mark.parametrize(
    "overrides", [[("T", 1)], "T=1", {1: 2}, {"": 1}, {"deadline": "24", "T": "25"}], ids=repr
)
def test_malformed_overrides(overrides: Any) -> None:
    with pytest.raises(ValidationError):
        edgealloc.load_problem("mel-sync", overrides=overrides)


# ---------------------------------------------------------------------------
# Entry points that take other things than documents
# ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    "source",
    [None, 3, 2.5, b"mel-sync", ["mel-sync"], object(), "x" * 5000, "bad\0name", "/proc/self/mem"],
    ids=repr,
)
def test_load_problem_sources(source: Any) -> None:
    with pytest.raises(ValidationError) as info:
        edgealloc.load_problem(source)
    _one_line(info.value)


@pytest.mark.parametrize("scheme", [None, 3, ["optimal"], {"optimal": 1}, "Optimal", ""], ids=repr)
def test_solve_schemes(scheme: Any) -> None:
    with pytest.raises(ValidationError) as info:
        edgealloc.solve("mel-sync", scheme)
    assert info.value.field == "scheme"


@pytest.mark.parametrize("name", WITH_DOCUMENTS)
def test_solve_refuses_what_is_not_its_problem(name: str) -> None:
    family = FAMILIES[name]
    fake = types.SimpleNamespace(FAMILY=name, n_devices=1)
    for problem in (fake, family.problem):
        with pytest.raises(ValidationError):
            edgealloc.solve(problem, family.exact)


# ---------------------------------------------------------------------------
# Regressions: each input below escaped as a NumPy/SciPy/Python error or was
# silently accepted before the boundary held
# ---------------------------------------------------------------------------
MEL_DOC = {
    "family": "mel",
    "deadline": 10.0,
    "total_samples": 100,
    "c2": [0.01, 0.02],
    "c1": [0.001, 0.001],
    "c0": [0.5, 0.5],
}
SERVER_DOC = {
    "family": "offload-server",
    "points": [1500, 1200],
    "compute_rate": [3e5, 1.2e5],
    "uplink_rate": [2e3, 5e2],
    "server_rate": 1.5e6,
}
D2D_DOC = {
    "family": "offload-d2d",
    "points": [1000, 1000],
    "compute_rate": [1e5, 3e5],
    "link_rate": [[0, 1e6], [1e6, 0]],
}


@pytest.mark.parametrize(
    ("base", "changes", "field", "fragment"),
    [
        # accepted before: strings and booleans where numbers belong
        (MEL_DOC, {"deadline": "30"}, "deadline", "must be a number (got '30')"),
        (MEL_DOC, {"total_samples": "100"}, "total_samples", "must be an integer"),
        (MEL_DOC, {"c2": ["0.01", 0.02]}, "c2[0]", "must be a number (got '0.01')"),
        (MEL_DOC, {"c2": [True, 0.02]}, "c2[0]", "must be a number (got True)"),
        (MEL_DOC, {"c1": [None, 0.001]}, "c1[0]", "must be a number (got None)"),
        (SERVER_DOC, {"server_rate": "1.5e6"}, "server_rate", "must be a number"),
        (D2D_DOC, {"link_rate": [[0, "1e6"], [1e6, 0]]}, "link_rate[0][1]", "must be a number"),
        # OverflowError before (at validation or in the solvers)
        (MEL_DOC, {"total_samples": 10**400}, "total_samples", "at most 2**53"),
        (MEL_DOC, {"total_samples": 2**70}, "total_samples", "at most 2**53"),
        (MEL_DOC, {"c2": [10**400, 1]}, "c2[0]", "at most 1e+60"),
        (SERVER_DOC, {"points": [1e300, 1]}, "points[0]", "at most 2**53"),
        # AssertionError in the solvers before (1e308 overflows their arithmetic)
        (MEL_DOC, {"c0": [1e308, 1e308]}, "c0[0]", "at most 1e+60"),
        # SciPy's ValueError from linprog before (an infinite LP coefficient)
        (D2D_DOC, {"link_rate": [[0, 1e308], [1e308, 0]]}, "link_rate[0][1]", "at most 1e+60"),
        (D2D_DOC, {"compute_rate": [1e-300, 3e5]}, "compute_rate[0]", "at least 1e-60"),
        # silently solved with absurd or infinite times before
        (SERVER_DOC, {"server_rate": 1e-300}, "server_rate", "at least 1e-60"),
        (SERVER_DOC, {"uplink_rate": [1e-310, 5e2]}, "uplink_rate[0]", "0 or at least 1e-60"),
        # int64 sums of per-device samples
        (
            MEL_DOC,
            {"total_samples": 2**53, "c2": [0.01] * 1024, "c1": [0.0] * 1024, "c0": [0.0] * 1024},
            "total_samples",
            "int64",
        ),
        # ragged rows: one line naming the row
        (D2D_DOC, {"link_rate": [[0, 1e6], [1e6]]}, "link_rate[1]", "has 1 entries, expected 2"),
        # free-form data that to_json could not write (TypeError before)
        (MEL_DOC, {"meta": {"a": {1, 2}}}, "meta.a", "must be JSON data"),
        (MEL_DOC, {"meta": {1: 2}}, "meta", "keys must be strings"),
    ],
)
def test_bad_numbers_name_their_field(base, changes, field, fragment) -> None:
    with pytest.raises(ValidationError) as info:
        edgealloc.solve({**base, **changes}, registry.get_family(base["family"]).exact)
    assert info.value.field == field, str(info.value)
    assert fragment in info.value.problem, str(info.value)


def test_integral_floats_and_numpy_numbers_stay_accepted() -> None:
    p = problem_from_dict(
        {
            **MEL_DOC,
            "total_samples": 100.0,
            "deadline": np.float32(10),
            "c2": np.array([1e-2, 2e-2]),
        }
    )
    assert p.total_samples == 100 and type(p.total_samples) is int and p.deadline == 10.0
    q = problem_from_dict({**SERVER_DOC, "points": [1500.0, np.int64(1200)], "server_rate": 2})
    assert q.points.tolist() == [1500, 1200] and q.server_rate == 2.0


@pytest.mark.parametrize(
    ("overrides", "field", "fragment"),
    [
        ({"T": "1" * 5000}, "T", "cannot be read"),  # ValueError (int digit limit) before
        ({"T": 10**5000}, "T (deadline)", "at most 1e+60"),  # ValueError before
        ({"seed": -1}, "seed", "must be >= 0"),  # numpy's ValueError before
        ({"T": True}, "T (deadline)", "must be a number"),  # read as 1 s before
        ({"link.pathloss.intercept_db": "9" * 401}, "link.pathloss.intercept_db", "1e+60"),
        ({"devices.classes": {"laptop": float("nan")}}, "devices.classes.laptop", "finite"),
    ],
)
def test_scenario_overrides_regressions(overrides, field, fragment) -> None:
    with pytest.raises(ValidationError) as info:
        edgealloc.load_problem("mel-sync", overrides=overrides)
    assert info.value.field == field, str(info.value)
    assert fragment in info.value.problem, str(info.value)


def test_scenario_numbers_may_be_written_as_text() -> None:
    """YAML 1.1 reads ``1e9`` as a string: scenarios keep accepting it (canonical files do not)."""
    p = edgealloc.load_problem("mel-sync", overrides={"T": "1e9", "link.bandwidth_hz": "5e6"})
    assert p.deadline == 1e9
    q = edgealloc.load_problem("xr-server", overrides={"seed": -0, "a_max": "3e5"})
    assert q.n_devices > 0
    assert edgealloc.load_problem(MEL_DOC, overrides={"deadline": "1e9"}).deadline == 1e9
    assert edgealloc.load_problem(MEL_DOC, overrides={"T": "24"}).deadline == 24.0
    xr_d2d = edgealloc.load_problem("xr-d2d", overrides={"s": "1"})
    assert xr_d2d.n_devices > 0
    with pytest.raises(ValidationError, match=r"^scenario"):
        edgealloc.load_problem("xr-d2d", overrides={"scenario": "nope"})


@pytest.mark.parametrize(
    ("preset", "key"),
    [
        ("xr-d2d", "d2d.bandwidth_hz"),
        ("xr-server", "uplink.bandwidth_hz"),
        ("mel-sync", "link.bandwidth_hz"),
        ("feel-cpu", "link.bandwidth_hz"),
    ],
)
def test_bandwidth_beyond_any_radio_is_refused(preset: str, key: str) -> None:
    """A 2**53 Hz D2D band compiled to 1e13-1e16 bit/s links; HiGHS then iterated for
    minutes on the LP (found by test_overrides). Bands are capped at MAX_BANDWIDTH_HZ."""
    from edgealloc._validation import MAX_BANDWIDTH_HZ

    with pytest.raises(ValidationError) as info:
        edgealloc.load_problem(preset, overrides={key: 2**53})
    assert info.value.field == key and "<= 1e+12" in info.value.problem, str(info.value)
    ok = edgealloc.load_problem(preset, overrides={key: MAX_BANDWIDTH_HZ})
    assert ok.n_devices > 0


@pytest.mark.parametrize(
    ("preset", "key"),
    [
        ("mel-sync", "devices"),
        ("xr-server", "users"),
        ("xr-d2d", "users"),
        ("feel-cpu", "devices"),
        ("mar-paper", "devices"),
    ],
)
def test_a_fleet_beyond_memory_is_refused_before_allocating(preset: str, key: str) -> None:
    """10**8 devices: one ValidationError naming the key the user typed, never MemoryError
    (mar-paper compiled for minutes before its guard)."""
    with pytest.raises(ValidationError) as info:
        edgealloc.load_problem(preset, overrides={key: 10**8})
    assert info.value.field.startswith(key), str(info.value)


@pytest.mark.parametrize("name", [n for n, f in FAMILIES.items() if f.random_document])
def test_every_family_refuses_meta_that_is_not_json_data(name: str) -> None:
    """``meta`` is checked by the one canonical base (feel once took a set, then to_json failed)."""
    family = FAMILIES[name]
    doc = family.random_document(np.random.default_rng(0))
    family.problem.from_dict({**doc, "meta": {"a": [1, "x"]}})  # JSON data: accepted
    with pytest.raises(ValidationError) as info:
        family.problem.from_dict({**doc, "meta": {"a": {1, 2}}})
    assert info.value.field == "meta.a" and "must be JSON data" in info.value.problem


@pytest.mark.parametrize(
    ("preset", "key", "value", "field"),
    [
        ("mar-paper", "p_max", 1e5, "devices.tx_power_dbm.max"),
        ("feel-cpu", "link.tx_power_dbm.uplink", 5000.0, "link.tx_power_dbm.uplink"),
        ("mel-sync", "link.noise_psd_dbm_hz", -1e4, "link.noise_psd_dbm_hz"),
        ("xr-d2d", "d2d.tx_power_dbm", 4000.0, "d2d.tx_power_dbm"),
    ],
)
def test_absurd_power_levels_name_their_field_without_a_warning(preset, key, value, field):
    """A level beyond +-300 dBm is refused by the scenario (1e5 dBm overflowed to an infinite
    power with a NumPy RuntimeWarning, then an error named the canonical power[1])."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ValidationError) as info:
            edgealloc.load_problem(preset, overrides={key: value})
    assert field in info.value.field, str(info.value)  # with the alias the user typed
    assert "must be" in info.value.problem and "300" in info.value.problem
    edgealloc.load_problem(preset, overrides={key: 299.0 if value > 0 else -299.0})
