"""The house rules of ``docs/architecture.md``, read from that file and checked on the source.

* every import (top level or inside a function) goes to the importer's layer
  or a lower one of the layer table;
* family packages (layer 3) never import one another;
* the module import graph has no cycle;
* no family name appears in the code of ``api``, ``scenarios``, ``compare``,
  ``demo`` or the CLI (they ask the registry);
* no module is over 900 lines.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from edgealloc import registry

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"
PACKAGE = SRC / "edgealloc"
DOC = ROOT / "docs" / "architecture.md"
MAX_LINES = 900
FAMILY_LAYER = 3


def _modules() -> dict[str, Path]:
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


MODULES = _modules()


def _layer_rows() -> list[tuple[int, list[str]]]:
    """``(layer, module names)`` per row of the table under "## Layers" in docs/architecture.md."""
    text = DOC.read_text()
    section = text.split("## Layers", 1)[1].split("\n## ", 1)[0]
    rows = []
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 2 and cells[0].isdigit():
            rows.append((int(cells[0]), re.findall(r"`([\w.]+)`", cells[1])))
    assert rows, "no layer table found in docs/architecture.md"
    return rows


ROWS = _layer_rows()
LAYERS = {name: layer for layer, names in ROWS for name in names}


def _owner(module: str) -> str:
    """The longest table entry that is ``module`` or a dotted prefix of it."""
    parts = module.split(".")
    for n in range(len(parts), 0, -1):
        prefix = ".".join(parts[:n])
        if prefix in LAYERS:
            return prefix
    raise AssertionError(f"{module} is in no row of the layer table of docs/architecture.md")


def _resolve(module: str, node: ast.ImportFrom) -> list[str]:
    """The edgealloc modules an ``from ... import ...`` statement in ``module`` reaches."""
    is_package = MODULES[module].name == "__init__.py"
    base = module.split(".") if is_package else module.split(".")[:-1]
    if node.level:
        base = base[: len(base) - (node.level - 1)]
        target = ".".join(base + ([node.module] if node.module else []))
    else:
        target = node.module or ""
    if not target.startswith("edgealloc"):
        return []
    found = []
    for alias in node.names:
        sub = f"{target}.{alias.name}"
        found.append(sub if sub in MODULES else target)
    return found


def _imports(module: str) -> Iterator[tuple[str, int]]:
    tree = ast.parse(MODULES[module].read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            for target in _resolve(module, node):
                yield target, node.lineno
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("edgealloc"):
                    yield alias.name, node.lineno


GRAPH = {m: sorted({t for t, _ in _imports(m) if t in MODULES and t != m}) for m in MODULES}


def test_every_module_is_in_the_layer_table() -> None:
    for module in MODULES:
        _owner(module)
    # Every row but the planned integrations names modules that exist (a stale table
    # would check nothing).
    empty = [
        layer
        for layer, names in ROWS
        if not any(n in MODULES for n in names) and names != ["edgealloc.integrations"]
    ]
    assert not empty, f"rows of docs/architecture.md without an existing module: {empty}"


def test_no_import_goes_up_the_layer_table() -> None:
    upward = []
    for module in MODULES:
        own = _owner(module)
        for target, line in _imports(module):
            if target not in MODULES:
                continue
            other = _owner(target)
            if LAYERS[other] > LAYERS[own]:
                upward.append(
                    f"{module}:{line} imports {target} (layer {LAYERS[other]} > {LAYERS[own]})"
                )
            elif LAYERS[own] == FAMILY_LAYER == LAYERS[other] and other != own:
                upward.append(f"{module}:{line} imports another family's {target}")
    assert not upward, "\n".join(upward)


def test_import_graph_has_no_cycle() -> None:
    # Tarjan's strongly connected components; a component of two or more is a cycle.
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in GRAPH[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for v in GRAPH:
        if v not in index:
            visit(v)
    assert not cycles, f"import cycles: {cycles}"


def test_the_checks_can_fail() -> None:
    """The layer and cycle checks flag an upward edge and a cycle when one is there."""
    assert LAYERS[_owner("edgealloc.mel.solvers")] < LAYERS[_owner("edgealloc.cli.solve")]
    assert LAYERS[_owner("edgealloc.learn.engine")] > LAYERS[_owner("edgealloc.api")]
    fake = ast.parse("from ..cli import app\nfrom . import problem").body
    assert _resolve("edgealloc.mel.solvers", fake[0]) == ["edgealloc.cli"]
    assert _resolve("edgealloc.mel.solvers", fake[1]) == ["edgealloc.mel.problem"]
    assert _resolve("edgealloc.mel", fake[1]) == ["edgealloc.mel.problem"]


def _code_strings(path: Path) -> Iterator[tuple[str, int]]:
    """String constants of a module that are not docstrings."""
    tree = ast.parse(path.read_text())
    docstrings = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                docstrings.add(id(body[0].value))
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and id(node) not in docstrings
        ):
            yield node.value, node.lineno


GENERIC = ["edgealloc.api", "edgealloc.scenarios", "edgealloc.compare", "edgealloc.demo"] + [
    m for m in MODULES if m == "edgealloc.cli" or m.startswith("edgealloc.cli.")
]


@pytest.mark.parametrize("module", GENERIC)
def test_generic_modules_name_no_family(module: str) -> None:
    names = set(registry.families())
    found = [
        f"{module}:{line}: {value!r}"
        for value, line in _code_strings(MODULES[module])
        if value in names
    ]
    source = MODULES[module].read_text()
    found += [f"{module}: compares FAMILY" for _ in re.findall(r"FAMILY\s*[!=]=", source)]
    assert not found, "\n".join(found)


def test_no_module_over_the_size_limit() -> None:
    sizes = {m: len(p.read_text().splitlines()) for m, p in MODULES.items()}
    big = {m: n for m, n in sizes.items() if n > MAX_LINES}
    assert not big, f"modules over {MAX_LINES} lines: {big}"
