"""Malformed files and standard input: one ValidationError naming the file, exit 2 in the CLI."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

import edgealloc
from edgealloc._documents import MAX_DEPTH, parse_document
from edgealloc.cli import app
from edgealloc.errors import ValidationError

GOOD = '{"family": "mel", "deadline": 10, "total_samples": 4, "c2": [1], "c1": [0], "c0": [0]}'

BAD: dict[str, tuple[bytes, str]] = {
    "latin1.json": ('{"description": "caf\xe9"}'.encode("latin-1"), "is not UTF-8 text"),
    "utf16.yaml": ("family: mel\n".encode("utf-16"), "is not UTF-8 text"),
    "empty.json": (b"", "is empty"),
    "blank.yaml": (b"  \n\n", "is empty"),
    "bom-only.json": (b"\xef\xbb\xbf", "is empty"),
    "dup.json": (b'{"family": "mel", "deadline": 1, "deadline": 2}', "duplicate key 'deadline'"),
    "dup.yaml": (b"family: mel\ndeadline: 1\ndeadline: 2\n", "duplicate key 'deadline' at line 3"),
    "nested-dup.yaml": (b"energy:\n  g2: [1]\n  g2: [2]\n", "duplicate key 'g2'"),
    "syntax.json": (b'{"family": "mel",', "not valid json at line 1"),
    "syntax.yaml": (b"family: [mel\n", "not valid yaml"),
    "deep.json": (b"[" * 1000 + b"]" * 1000, f"nests deeper than {MAX_DEPTH} levels"),
    "deep.yaml": (b"a: " + b"[" * 100 + b"]" * 100, f"nests deeper than {MAX_DEPTH} levels"),
    "long.json": (b'{"deadline": ' + b"9" * 5000 + b"}", "a number longer than 400 digits"),
    "long.yaml": (b"deadline: " + b"9" * 500, "a number longer than 400 digits"),
    "bomb.yaml": (
        b"a: &a [x, x]\n" + b"".join(b"k%d: [*a, *a, *a, *a]\n" % i for i in range(400)),
        "more than 1000 YAML aliases",
    ),
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_files_name_the_file(tmp_path: Path, name: str) -> None:
    data, message = BAD[name]
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(ValidationError) as err:
        edgealloc.load_problem(path)
    assert err.value.field == str(path)
    assert message in err.value.problem
    res = CliRunner().invoke(app, ["solve", str(path)])
    assert res.exit_code == 2
    assert res.output.count("\n") == 1 and "Traceback" not in res.output
    assert res.output.startswith(f"error: {path}: ")


def test_utf8_bom_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "bom.json"
    path.write_bytes(b"\xef\xbb\xbf" + GOOD.encode())
    assert edgealloc.load_problem(path).deadline == 10
    yaml_path = tmp_path / "bom.yaml"
    yaml_path.write_bytes(b"\xef\xbb\xbf" + GOOD.encode())
    assert edgealloc.load_problem(yaml_path).total_samples == 4


def test_utf8_text_is_kept(tmp_path: Path) -> None:
    path = tmp_path / "utf8.json"
    path.write_text(GOOD[:-1] + ', "description": "café ∑"}', encoding="utf-8")
    assert edgealloc.load_problem(path).description == "café ∑"


def test_parse_document_accepts_what_is_fine() -> None:
    assert parse_document("a: [1, 2]", where="x") == {"a": [1, 2]}
    assert parse_document(b"\xef\xbb\xbf[1]", where="x", fmt="json") == [1]
    # The same key in two different mappings is not a duplicate.
    assert parse_document("a: {k: 1}\nb: {k: 2}\n", where="x") == {"a": {"k": 1}, "b": {"k": 2}}
    nested = "[" * MAX_DEPTH + "]" * MAX_DEPTH
    assert parse_document(nested, where="x", fmt="json") is not None


def test_standard_input() -> None:
    runner = CliRunner()
    res = runner.invoke(app, ["solve", "-", "--json"], input=GOOD)
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["solve", "-"], input="")
    assert (
        res.exit_code == 2
        and res.output == "error: -: is empty (expected a problem or scenario document)\n"
    )
    res = runner.invoke(app, ["solve", "-"], input='{"family": "mel", "family": "mel"}')
    assert res.exit_code == 2 and "duplicate key 'family'" in res.output
    res = runner.invoke(app, ["solve", "-"], input="[1, 2]")
    assert res.exit_code == 2 and "must be a mapping" in res.output
