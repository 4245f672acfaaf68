"""Hypothesis strategies that corrupt valid documents: values, types, lengths, keys, nesting.

A *document* is a JSON-like tree (mappings, lists, numbers, strings, ``None``).
A *path* is a tuple of keys and list indices from the root to one node;
:func:`path_name` writes it the way edgealloc's errors name fields
(``energy.budget[1]``, ``link_rate[2][0]``). :func:`corrupted` draws one
mutation of a document and says what it did, so that a test can check both
the general property (only edgealloc's errors) and the specific one (a
string, a boolean or ``None`` where a number was is refused by name).
"""

from __future__ import annotations

import copy
import dataclasses
import math
from typing import Any

import numpy as np
from hypothesis import strategies as st

__all__ = [
    "BAD_VALUES",
    "Mutation",
    "corrupted",
    "get_at",
    "is_number",
    "path_name",
    "paths",
]

Path = tuple[Any, ...]


class _Opaque:
    """An object no validator knows."""

    def __repr__(self) -> str:
        return "<opaque>"


#: Replacement values: wrong types, non-finite and extreme numbers, containers.
BAD_VALUES: tuple[Any, ...] = (
    # strings, booleans, null: never a number in a canonical problem
    "30",
    "",
    "1e9",
    "nan",
    "fast",
    True,
    False,
    None,
    np.bool_(True),
    b"7",
    # numbers out of range or non-finite
    math.nan,
    math.inf,
    -math.inf,
    -1,
    -1.5,
    0,
    -0.0,
    0.5,
    1.5,
    5e-324,
    1e-320,
    1e-61,
    1e-60,
    1e60,
    1e61,
    1e308,
    -1e308,
    10**400,
    -(10**400),
    2**53,
    2**53 + 1,
    2**63,
    2**64,
    -(2**63),
    np.float64(np.nan),
    np.int64(3),
    np.float32(1.5),
    np.uint64(2**64 - 1),
    complex(1, 2),
    # containers and strange objects
    [],
    [1],
    [[1]],
    [1, [2]],
    [None],
    ["1"],
    [math.nan],
    [1e308] * 3,
    {},
    {"a": 1},
    (1, 2),
    {1, 2},
    _Opaque(),
    np.array([1.0, 2.0]),
    np.array([[1.0]]),
    np.array(["a"]),
    np.array([True, False]),
)

#: Factors applied to a number (``x * 10**k``): overflow, underflow, subnormals.
SCALES = (-400, -300, -100, -61, -30, -9, 9, 30, 61, 100, 300)


def is_number(value: Any) -> bool:
    """An ``int`` or ``float`` (not a ``bool``): a number in a JSON document."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def path_name(path: Path) -> str:
    """The path as edgealloc's errors name fields: ``a.b[2][0]``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + (str(part) if part != "" else '""')
    return out


def get_at(doc: Any, path: Path) -> Any:
    node = doc
    for part in path:
        node = node[part]
    return node


def paths(doc: Any, prefix: Path = ()) -> list[Path]:
    """Every path of the tree, the root's children first (lists: every element)."""
    out: list[Path] = []
    if isinstance(doc, dict):
        for key, child in doc.items():
            out.append((*prefix, key))
            out += paths(child, (*prefix, key))
    elif isinstance(doc, list):
        for i, child in enumerate(doc):
            out.append((*prefix, i))
            out += paths(child, (*prefix, i))
    return out


@dataclasses.dataclass(frozen=True)
class Mutation:
    """What :func:`corrupted` did: ``kind`` at ``path`` (``value``: what was put there)."""

    kind: str
    path: Path
    value: Any = None
    old: Any = None

    def __str__(self) -> str:
        value = "" if self.kind in ("delete", "duplicate", "drop") else f" -> {self.value!r:.60}"
        return f"{self.kind} at {path_name(self.path) or '<root>'}{value}"


def _set(doc: Any, path: Path, value: Any) -> None:
    get_at(doc, path[:-1])[path[-1]] = value


@st.composite
def _path(draw: st.DrawFn, doc: Any) -> Path:
    """A path chosen by descending: at each node stop, or go into a child."""
    path: Path = ()
    node = doc
    while True:
        if isinstance(node, dict) and node:
            keys = list(node)
        elif isinstance(node, list) and node:
            keys = list(range(len(node)))
        else:
            return path
        if path and draw(st.integers(0, 3)) == 0:
            return path
        key = (
            draw(st.sampled_from(keys))
            if isinstance(node, dict)
            else draw(st.integers(0, len(keys) - 1))
        )
        path = (*path, key)
        node = node[key]


@st.composite
def corrupted(draw: st.DrawFn, doc: dict[str, Any]) -> tuple[Any, Mutation]:
    """One mutation of a deep copy of ``doc``: ``(new document, what was done)``.

    Kinds: ``replace`` (a value of :data:`BAD_VALUES` or another family's
    name), ``scale`` (a number times ``10**k``), ``delete`` (a key or a list
    element), ``duplicate`` (a list element twice: a longer list), ``extra``
    (an unknown key next to ``path``), ``wrap`` (``[value]``), ``unwrap``
    (a list's first element), ``nest`` (``{"x": value}``), ``ragged`` (a
    list element turned into a list), ``not-a-mapping`` (the whole document
    replaced by a list, a string, ...).
    """
    doc = copy.deepcopy(doc)
    kind = draw(
        st.sampled_from(
            [
                "replace",
                "replace",
                "replace",
                "scale",
                "scale",
                "delete",
                "duplicate",
                "extra",
                "wrap",
                "unwrap",
                "nest",
                "ragged",
                "not-a-mapping",
            ]
        )
    )
    if kind == "not-a-mapping":
        value = draw(st.sampled_from([[], [doc], "doc", None, 3, list(doc.items())]))
        return value, Mutation(kind, (), value)
    path = draw(_path(doc))
    if not path:
        kind = "extra"
    old = get_at(doc, path) if path else doc
    parent = get_at(doc, path[:-1]) if path else None
    if kind == "scale":
        if not is_number(old):
            kind = "replace"
        else:
            k = draw(st.sampled_from(SCALES))
            try:
                value = old * 10.0**k if abs(k) < 308 else old * 10**k
            except OverflowError:
                value = math.inf
            _set(doc, path, value)
            return doc, Mutation(kind, path, value, old)
    if kind == "replace":
        if path == ("family",):
            value = draw(st.sampled_from(["mel", "offload-server", "offload-d2d", "nope", 1, None]))
        else:
            value = draw(st.sampled_from(BAD_VALUES))
        _set(doc, path, value)
        return doc, Mutation(kind, path, value, old)
    if kind in ("delete", "duplicate"):
        if isinstance(parent, dict):
            del parent[path[-1]]
            return doc, Mutation("delete", path, old=old)
        if kind == "delete":
            del parent[path[-1]]
        else:
            parent.insert(path[-1], copy.deepcopy(old))
        return doc, Mutation(kind, path, old=old)
    if kind == "extra":
        target = get_at(doc, path[:-1]) if path else doc
        if isinstance(target, dict):
            key = draw(st.sampled_from(["bogus", "Deadline", "", "family ", "__class__"]))
            target[key] = draw(st.sampled_from([1, "x", None, [1]]))
            return doc, Mutation(kind, (*path[:-1], key), target[key])
        target.append(draw(st.sampled_from([0.0, "x", None, [1.0]])))
        return doc, Mutation(kind, (*path[:-1], len(target) - 1), target[-1])
    if kind == "wrap":
        _set(doc, path, [old])
        return doc, Mutation(kind, path, [old], old)
    if kind == "unwrap":
        value = old[0] if isinstance(old, list) and old else old
        _set(doc, path, value)
        return doc, Mutation(kind, path, value, old)
    if kind == "nest":
        _set(doc, path, {"x": old})
        return doc, Mutation(kind, path, {"x": old}, old)
    # ragged: one element of a list becomes a list (or a list gains a nested one)
    if isinstance(old, list) and old:
        old[0] = [old[0]]
        return doc, Mutation(kind, (*path, 0), old[0], old)
    _set(doc, path, [old, old])
    return doc, Mutation(kind, path, [old, old], old)
