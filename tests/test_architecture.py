"""The guards that keep the house: layers, no import circles, small modules, references that
resolve inside the repository (docs/ARCHITECTURE.md, "Layers").

Every import counts, including the ones inside functions (a function-level import hides a
circle from Python, not from a reader).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# Lower layers never import higher ones; flows and deployments are the top, side by side.
# clipflow (the API's client and wire schema) stands apart: anyone may import it, it imports
# nothing of the project (test_the_client_imports_nothing_of_the_project).
LAYERS = {
    "clipflow": 0,
    "media": 0,
    "blocks": 1,
    "qa": 2,
    "tasks": 3,
    "flows": 4,
    "deployments": 4,
}
MAX_LINES = 400


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _sources() -> dict[str, Path]:
    return {
        _module_name(p): p
        for package in LAYERS
        for p in sorted((REPO / package).rglob("*.py"))
        if "migrations" not in p.relative_to(REPO).parts  # alembic's generated revisions
    }


SOURCES = _sources()


def _resolve(name: str) -> str | None:
    """The project module an imported name refers to (a submodule if it is one)."""
    while name:
        if name in SOURCES:
            return name
        name = name.rpartition(".")[0]
    return None


def imports_of(module: str, path: Path) -> set[str]:
    """Project modules ``module`` imports anywhere in its body (module level or in functions)."""
    found: set[str] = set()
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            # ``from pkg import sub`` imports the submodule pkg.sub when there is one
            names = [
                f"{base}.{a.name}" if f"{base}.{a.name}" in SOURCES else base for a in node.names
            ]
        else:
            continue
        for name in names:
            target = _resolve(name)
            if target and target != module:
                found.add(target)
    return found


GRAPH = {m: imports_of(m, p) for m, p in SOURCES.items()}


def _layer(module: str) -> int:
    return LAYERS[module.split(".")[0]]


def test_no_lower_layer_imports_a_higher_one() -> None:
    upward = sorted(
        f"{m} ({m.split('.')[0]}) imports {t} ({t.split('.')[0]})"
        for m, targets in GRAPH.items()
        for t in targets
        if _layer(t) > _layer(m)
    )
    assert not upward, "layers are media < blocks < qa < tasks < flows/deployments:\n" + "\n".join(
        upward
    )


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm: the import circles (components of more than one module)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    circles: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
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
                circles.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return circles


def test_no_import_circles() -> None:
    circles = strongly_connected(GRAPH)
    assert not circles, "import circles (function-level imports included):\n" + "\n".join(
        " <-> ".join(c) for c in circles
    )


def test_the_circle_finder_finds_a_hidden_circle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert strongly_connected(graph) == [["a", "b", "c"]]
    assert strongly_connected({"a": {"b"}, "b": set()}) == []


@pytest.mark.parametrize("module", sorted(SOURCES))
def test_module_is_small(module: str) -> None:
    lines = len(SOURCES[module].read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES, f"{SOURCES[module].relative_to(REPO)}: {lines} lines (> {MAX_LINES})"


def test_the_client_imports_nothing_of_the_project() -> None:
    """``clipflow.client`` runs in other people's systems: httpx and pydantic, nothing else."""
    inward = sorted(
        f"{m} imports {t}"
        for m, targets in GRAPH.items()
        if m.split(".")[0] == "clipflow"
        for t in targets
        if t.split(".")[0] != "clipflow"
    )
    assert not inward, inward


def test_media_imports_no_prefect() -> None:
    """``media/`` is the pure core: testable and usable without an orchestrator."""
    offenders = []
    for module, path in SOURCES.items():
        if _layer(module) != 0:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            offenders += [f"{module}: {n}" for n in names if n.split(".")[0] == "prefect"]
    assert not offenders, offenders


# A reference to a document must resolve inside the repository: docs/ARCHITECTURE.md, not the
# design notes a session kept beside its checkout.
_OUTSIDE = re.compile(r"\.\./shared|(?<![\w/])(?:ARCHITECTURE|NOTES|STYLE|DEVELOPERS)\.md")


def test_references_stay_inside_the_repository() -> None:
    files = [*SOURCES.values(), *sorted((REPO / "tests").rglob("*.py"))]
    bad = [
        f"{p.relative_to(REPO)}:{i}: {line.strip()}"
        for p in files
        if p.name != Path(__file__).name
        for i, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
        if _OUTSIDE.search(line)
    ]
    assert not bad, "cite docs/ARCHITECTURE.md instead:\n" + "\n".join(bad)
    assert (REPO / "docs" / "ARCHITECTURE.md").is_file()
