"""Atomic writes: a file appears whole or not at all, and is never replaced without consent."""

from __future__ import annotations

from pathlib import Path

import pytest

from edgealloc._io import atomic_path, atomic_write_bytes, atomic_write_text, open_atomic
from edgealloc.errors import ValidationError


def test_write_and_refuse(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    atomic_write_text(path, "x,y\n1,2\n", overwrite=False)
    assert path.read_text() == "x,y\n1,2\n"
    with pytest.raises(ValidationError, match="already exists"):
        atomic_write_text(path, "other", overwrite=False)
    assert path.read_text() == "x,y\n1,2\n"
    atomic_write_bytes(path, b"new")
    assert path.read_bytes() == b"new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.csv"]  # no temporary left


def test_a_failed_write_leaves_the_old_file(tmp_path: Path) -> None:
    path = tmp_path / "record.csv"
    path.write_text("old\n")
    with pytest.raises(RuntimeError), open_atomic(path) as fh:
        fh.write("half a fi")
        raise RuntimeError("killed")
    assert path.read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["record.csv"]


def test_atomic_path_keeps_the_suffix(tmp_path: Path) -> None:
    path = tmp_path / "fig.png"
    with atomic_path(path) as tmp:
        assert tmp.suffix == ".png" and tmp.parent == tmp_path and not path.exists()
        tmp.write_bytes(b"\x89PNG")
    assert path.read_bytes() == b"\x89PNG"
    with pytest.raises(ValidationError, match="is a directory"), atomic_path(tmp_path):
        pass
