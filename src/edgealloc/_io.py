"""Writing files so that a killed run never leaves a half-written one that a later run trusts.

Every file edgealloc writes goes to a temporary name in the same folder and is
renamed into place when complete (:func:`os.replace` is atomic on POSIX and
Windows), so a reader sees the old file or the new one, never a torn one.
Without ``overwrite`` an existing file is refused with a
:class:`~edgealloc.errors.ValidationError` naming it.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from .errors import ValidationError

__all__ = ["atomic_path", "atomic_write_bytes", "atomic_write_text", "open_atomic"]


def _refuse(path: Path, overwrite: bool) -> None:
    if path.is_dir():
        raise ValidationError(str(path), "is a directory; give a file name")
    if not overwrite and path.exists():
        raise ValidationError(str(path), "already exists (pass --force to overwrite)")


@contextlib.contextmanager
def atomic_path(path: str | Path, *, overwrite: bool = True) -> Iterator[Path]:
    """A temporary path beside ``path``; renamed onto ``path`` when the block ends cleanly.

    For writers that take a file name (``matplotlib``'s ``savefig``, pyarrow).
    The temporary name keeps ``path``'s suffix, so format detection works.
    On an exception the temporary file is removed and ``path`` is untouched.
    """
    path = Path(path)
    _refuse(path, overwrite)
    fd, tmp = tempfile.mkstemp(
        prefix=f".{path.name}.", suffix=f".tmp{path.suffix}", dir=path.parent
    )
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        if not overwrite and path.exists():  # someone else wrote it meanwhile
            raise ValidationError(str(path), "already exists (pass --force to overwrite)")
        os.replace(tmp_path, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp_path.unlink()


@contextlib.contextmanager
def open_atomic(
    path: str | Path, mode: str = "w", *, overwrite: bool = True, **kwargs: Any
) -> Iterator[IO[Any]]:
    """``open(path, mode)`` whose content appears at ``path`` only when the block ends cleanly."""
    if mode not in ("w", "wb"):
        raise ValueError(f"open_atomic writes whole files (mode 'w' or 'wb', got {mode!r})")
    with atomic_path(path, overwrite=overwrite) as tmp, open(tmp, mode, **kwargs) as fh:
        yield fh
        fh.flush()
        os.fsync(fh.fileno())


def atomic_write_text(
    path: str | Path, text: str, *, overwrite: bool = True, encoding: str = "utf-8"
) -> Path:
    """Write ``text`` to ``path`` atomically; returns ``path``."""
    with open_atomic(path, "w", overwrite=overwrite, encoding=encoding, newline="") as fh:
        fh.write(text)
    return Path(path)


def atomic_write_bytes(path: str | Path, data: bytes, *, overwrite: bool = True) -> Path:
    """Write ``data`` to ``path`` atomically; returns ``path``."""
    with open_atomic(path, "wb", overwrite=overwrite) as fh:
        fh.write(data)
    return Path(path)
