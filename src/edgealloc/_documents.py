"""Reading JSON and YAML documents safely: every malformed input is one ``ValidationError``.

:func:`parse_document` is used for problem and scenario files and for
standard input. It refuses, naming the file and the place:

* bytes that are not UTF-8 (a UTF-8 byte-order mark is simply accepted);
* an empty document;
* syntax errors (line and column);
* duplicate keys in a mapping (JSON and YAML would silently keep the last);
* nesting deeper than :data:`MAX_DEPTH` and numbers longer than
  :data:`MAX_NUMBER_DIGITS` digits;
* YAML aliases beyond :data:`MAX_ALIASES` (an alias bomb).
"""

from __future__ import annotations

import json
from typing import Any

import yaml

from .errors import ValidationError

__all__ = ["MAX_ALIASES", "MAX_DEPTH", "MAX_NUMBER_DIGITS", "parse_document"]

#: Deepest nesting of lists and mappings a document may have.
MAX_DEPTH = 64
#: Longest integer literal accepted (Python refuses longer ones in ``int()`` anyway).
MAX_NUMBER_DIGITS = 400
#: Most YAML aliases (``*name``) a document may use.
MAX_ALIASES = 1000


class _DuplicateKey(Exception):
    def __init__(self, key: Any, where: str) -> None:
        self.key, self.where = key, where


def _json_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _DuplicateKey(key, "")
        out[key] = value
    return out


def _json_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_NUMBER_DIGITS:
        raise ValueError("too long")
    return int(text)


class _TooMany(Exception):
    pass


class _Loader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that refuses duplicate keys and counts aliases."""

    aliases = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            self.aliases += 1
            if self.aliases > MAX_ALIASES:
                raise _TooMany(f"more than {MAX_ALIASES} YAML aliases")
        return super().compose_node(parent, index)

    def construct_mapping(self, node: Any, deep: bool = False) -> Any:
        if isinstance(node, yaml.MappingNode):
            seen: set[Any] = set()
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=True)
                try:
                    duplicate = key in seen
                except TypeError:  # an unhashable key: construct_mapping reports it
                    break
                if duplicate:
                    mark = key_node.start_mark
                    raise _DuplicateKey(key, f" at line {mark.line + 1}, column {mark.column + 1}")
                seen.add(key)
        return super().construct_mapping(node, deep=deep)


#: Integers at least this large have more than MAX_NUMBER_DIGITS digits.
_TOO_LARGE = 10**MAX_NUMBER_DIGITS


def _tree_problem(value: Any) -> str | None:
    """What is absurd about a parsed document (too deep, an over-long number), or None."""
    stack = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict | list):
            if depth > MAX_DEPTH:
                return f"nests deeper than {MAX_DEPTH} levels"
            children = node.values() if isinstance(node, dict) else node
            stack.extend((child, depth + 1) for child in children)
        elif isinstance(node, int) and not isinstance(node, bool) and abs(node) >= _TOO_LARGE:
            return f"refused: a number longer than {MAX_NUMBER_DIGITS} digits"
    return None


def _decode(data: bytes | str, where: str) -> str:
    if isinstance(data, str):
        return data.removeprefix("\ufeff")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValidationError(
            where,
            f"is not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start}); "
            "save it as UTF-8",
        ) from None


def parse_document(
    data: bytes | str, *, where: str, fmt: str = "yaml", label: str | None = None
) -> Any:
    """Parse a JSON (``fmt="json"``) or YAML document (JSON is YAML too).

    Parameters
    ----------
    data
        The document's bytes (decoded as UTF-8) or text.
    where
        What to name in errors: the file's path, or ``-`` for standard input.
    fmt
        ``"json"`` or ``"yaml"``.
    label
        The format's name in a syntax error (default ``JSON`` or ``YAML``).

    Raises
    ------
    ValidationError
        Naming ``where`` and what is wrong (see the module docstring).
    """
    text = _decode(data, where)
    if not text.strip():
        raise ValidationError(where, "is empty (expected a problem or scenario document)")
    label = label or ("JSON" if fmt == "json" else "YAML")
    try:
        if fmt == "json":
            doc = json.loads(text, object_pairs_hook=_json_pairs, parse_int=_json_int)
        else:
            loader = _Loader(text)
            try:
                doc = loader.get_single_data()
            finally:
                loader.dispose()
    except _DuplicateKey as exc:
        raise ValidationError(
            where, f"duplicate key {exc.key!r}{exc.where} (each key may appear once)"
        ) from None
    except _TooMany as exc:
        raise ValidationError(where, f"refused: {exc}") from None
    except RecursionError:
        raise ValidationError(where, f"nests deeper than {MAX_DEPTH} levels") from None
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        mark = getattr(exc, "problem_mark", None)
        at = ""
        if mark is not None:
            at = f" at line {mark.line + 1}, column {mark.column + 1}"
        elif isinstance(exc, json.JSONDecodeError):
            at = f" at line {exc.lineno}, column {exc.colno}"
        raise ValidationError(where, f"not valid {label}{at}") from None
    except ValueError:  # an over-long number (JSON, or Python's own int limit in YAML)
        raise ValidationError(
            where, f"refused: a number longer than {MAX_NUMBER_DIGITS} digits"
        ) from None
    problem = _tree_problem(doc)
    if problem is not None:
        raise ValidationError(where, problem)
    return doc
