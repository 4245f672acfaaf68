"""What an experiment may write into its output folder: the manifest and its checks.

Nothing a user has is lost. A reproduction writes into its folder only files
named after it (``NAME.png``, ``NAME-seeds.csv``, ...), and it replaces one of
them only when it wrote that very file itself, in the same run configuration.
It knows which files those are from its manifest, ``NAME-manifest.json``::

    {
      "format": 1,
      "experiment": "mel-local-updates",
      "config": {"seeds": 3, "quick": true, "options": {}, "edgealloc": "0.1.0"},
      "complete": true,
      "store": "mel-local-updates-store.jsonl",
      "files": {"mel-local-updates.png": "<SHA-256>", "mel-local-updates.csv": "<SHA-256>"},
      "replacing": {}
    }

``config`` is the run configuration (the experiment's options completed by
its ``prepare``; workers and backend are not part of it: they do not change
the results); ``files`` maps every figure and table written to the SHA-256 of
its bytes. Before a run touches the disk, :meth:`Outputs.check` refuses
(:class:`~edgealloc.errors.ValidationError` naming the path; ``force=True``
skips all of it):

1. an entry of the folder whose name does not start with the experiment's
   name (the user's; leftovers ``.NAME...tmp...`` of an interrupted atomic
   write are ours);
2. a manifest that does not parse, or another experiment's;
3. a manifest of another run configuration while any file it lists is still
   there (the message names the settings that differ);
4. any file the run is about to write that is there but not in the
   manifest, or whose bytes changed since (its hash differs).

The results store ``NAME-store.jsonl`` is only ever appended to (a re-run
resumes from it), never replaced, so it needs no hash; a store without a
manifest (a folder of an earlier version, or a run killed before its first
write) is resumed too.

Every file is written under a temporary name and renamed into place
(:func:`edgealloc._io.atomic_path`), the manifest included, so a killed run
never leaves a half-written figure, table or manifest. Just before a file is
renamed in, the manifest records its new hash and keeps the old one under
``replacing`` until the run completes, so a run killed between the two steps
still recognises the file as its own.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from .._io import atomic_path
from .._version import __version__
from ..errors import ValidationError

__all__ = ["MANIFEST_SUFFIX", "STORE_SUFFIX", "Outputs", "file_mode", "run_config", "sha256_file"]

MANIFEST_SUFFIX = "-manifest.json"
STORE_SUFFIX = "-store.jsonl"
#: Version of the manifest's layout.
FORMAT = 1


def file_mode() -> int:
    """The mode ``open()`` gives a new file (``0o666`` less the umask)."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def sha256_file(path: Path) -> str:
    """The SHA-256 of a file's bytes, in hex."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _jsonable(value: Any) -> Any:
    """``value`` as it reads back from JSON (tuples become lists, keys strings)."""
    return json.loads(json.dumps(value, sort_keys=True, default=str))


def run_config(seeds: int, quick: bool, options: Mapping[str, Any]) -> dict[str, Any]:
    """The run configuration a manifest records (and a re-run must match)."""
    return _jsonable(
        {"seeds": seeds, "quick": quick, "options": dict(options), "edgealloc": __version__}
    )


def _show(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


def config_changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """The settings that differ, as ``"seeds 3 -> 20"`` (options as ``"options.lr ..."``)."""
    out = []
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key), new.get(key)
        if key == "options" and isinstance(a, Mapping) and isinstance(b, Mapping):
            for opt in sorted(set(a) | set(b)):
                if a.get(opt) != b.get(opt):
                    out.append(f"options.{opt} {_show(a.get(opt))} -> {_show(b.get(opt))}")
        elif a != b:
            out.append(f"{key} {_show(a)} -> {_show(b)}")
    return out


def _ours(name: str, entry: str) -> bool:
    """Whether a folder entry carries the experiment's name (or is our temporary file)."""
    return entry.startswith(name) or entry.startswith(f".{name}")


class Outputs:
    """The output folder of one run of experiment ``name``: checks, manifest, atomic writes.

    Parameters
    ----------
    name
        The experiment (the stem of every file it writes).
    out_dir
        The output folder.
    config
        The run configuration (:func:`run_config`).
    targets
        The figures and tables the run will write (paths in ``out_dir``).
    force
        Skip every check: replace what is there.
    """

    def __init__(
        self,
        name: str,
        out_dir: Path,
        config: Mapping[str, Any],
        targets: Sequence[Path],
        *,
        force: bool = False,
    ) -> None:
        self.name = name
        self.out_dir = Path(out_dir)
        self.config = dict(config)
        self.targets = [Path(p) for p in targets]
        self.force = force
        self.manifest = self.out_dir / f"{name}{MANIFEST_SUFFIX}"
        self.store = self.out_dir / f"{name}{STORE_SUFFIX}"
        self._files: dict[str, str] = {}
        self._replacing: dict[str, str | None] = {}

    # ------------------------------------------------------------------ checks
    def _read_manifest(self) -> dict[str, Any] | None:
        if not self.manifest.exists():
            return None
        problem = None
        try:
            doc = json.loads(self.manifest.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            problem = f"cannot be read ({type(exc).__name__})"
            doc = None
        if problem is None and not (
            isinstance(doc, dict)
            and isinstance(doc.get("config"), dict)
            and isinstance(doc.get("files"), dict)
            and all(isinstance(v, str) for v in doc["files"].values())
            and isinstance(doc.get("replacing", {}), dict)
        ):
            problem = "is not an edgealloc manifest"
        if problem is None and doc.get("experiment") != self.name:
            problem = f"belongs to experiment {doc.get('experiment')!r}, not {self.name!r}"
        if problem is not None:
            if self.force:
                return None
            raise ValidationError(
                str(self.manifest),
                f"{problem}; choose another --out, or pass --force to replace it",
            )
        return doc

    def check(self) -> None:
        """Refuse (``ValidationError`` naming the path) to replace anything not ours.

        Reads only; call it before anything is written. See the module docstring.
        """
        out = self.out_dir
        if out.exists() and not out.is_dir():
            raise ValidationError(str(out), "exists and is not a directory")
        if not out.is_dir():
            return
        if not self.force:
            foreign = sorted(p.name for p in out.iterdir() if not _ours(self.name, p.name))
            if foreign:
                shown = ", ".join(foreign[:3]) + (", ..." if len(foreign) > 3 else "")
                raise ValidationError(
                    str(out),
                    f"holds files that are not {self.name}'s ({shown}); "
                    "choose another --out or pass --force",
                )
        doc = self._read_manifest()
        if doc is None:
            files: dict[str, str] = {}
            replacing: dict[str, Any] = {}
        else:
            files, replacing = dict(doc["files"]), dict(doc.get("replacing") or {})
        if doc is not None and doc["config"] != self.config:
            present = sorted(f for f in files if (out / f).exists())
            if present and not self.force:
                changes = "; ".join(config_changes(doc["config"], self.config))
                raise ValidationError(
                    str(self.manifest),
                    f"records a run with other settings ({changes}) whose files are still "
                    f"there ({', '.join(present[:3])}{', ...' if len(present) > 3 else ''}); "
                    "pass --force to replace them, or choose another --out",
                )
        for path in self.targets:
            if not path.exists():
                continue
            if path.is_dir():
                raise ValidationError(str(path), "is a directory; the run writes a file there")
            digest = sha256_file(path)
            if digest in (files.get(path.name), replacing.get(path.name)):
                self._files[path.name] = digest  # ours: the run may rewrite it
                continue
            if self.force:
                continue
            why = (
                f"was changed since {self.name} wrote it (its SHA-256 differs from "
                f"{self.manifest.name}'s)"
                if path.name in files
                else f"was not written by {self.name} in this folder (it is not in "
                f"{self.manifest.name})"
            )
            raise ValidationError(
                str(path), f"exists and {why}; choose another --out or pass --force to replace it"
            )

    # ------------------------------------------------------------------ writes
    def _write_manifest(self, complete: bool) -> None:
        doc = {
            "format": FORMAT,
            "experiment": self.name,
            "config": self.config,
            "complete": complete,
            "store": self.store.name,
            "files": dict(sorted(self._files.items())),
            "replacing": dict(sorted(self._replacing.items())),
        }
        with atomic_path(self.manifest) as tmp:
            tmp.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
            os.chmod(tmp, file_mode())

    def begin(self) -> None:
        """Create the folder and record the run (not complete yet) in the manifest."""
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self._write_manifest(complete=False)

    @contextlib.contextmanager
    def publish(self, path: Path) -> Iterator[Path]:
        """A temporary path to write ``path``'s content to; recorded, then renamed into place."""
        with atomic_path(path) as tmp:
            yield tmp
            os.chmod(tmp, file_mode())  # mkstemp's 0600 would make the file private
            fd = os.open(tmp, os.O_RDONLY)
            try:  # the bytes are on disk before the name points at them
                os.fsync(fd)
            finally:
                os.close(fd)
            old = sha256_file(path) if path.exists() else None
            self._replacing[path.name] = old
            self._files[path.name] = sha256_file(tmp)
            self._write_manifest(complete=False)
        self._replacing.pop(path.name, None)

    def finish(self) -> Path:
        """Record the run as complete; returns the manifest's path."""
        self._replacing.clear()
        self._write_manifest(complete=True)
        return self.manifest
