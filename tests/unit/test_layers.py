"""The import floors of the architecture (docs: architecture.md), checked on the source itself.

From the bottom: floor 0 (the event contract, credentials, certificates, the version),
floor 1 ``config/`` (a generic library), floor 2 the parts, floor 3 ``pipeline/`` (the
composition root), floor 4 ``cli/``. A module may import only its own floor or those below,
and never in a circle, neither between parts nor between modules.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from collections.abc import Iterable, Mapping
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "sorabeat"

# Top-level names of sorabeat and their floor; any other top-level name is a part (floor 2).
FLOORS: dict[str, int] = {
    "": 0,  # sorabeat/__init__.py: the version
    "event": 0,
    "credentials": 0,
    "certs": 0,
    "config": 1,
    "pipeline": 3,
    "cli": 4,
    "__main__": 4,
}
PART_FLOOR = 2


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def import_graph() -> dict[str, set[str]]:
    """Module -> the sorabeat modules it imports (anywhere in the file, lazy imports and
    ``TYPE_CHECKING`` blocks included: a floor is broken by any of them)."""
    known = modules()
    graph: dict[str, set[str]] = {}
    for name, path in known.items():
        targets: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                candidates = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
            elif isinstance(node, ast.Import):
                candidates = [a.name for a in node.names]
            else:
                continue
            targets.update(c for c in candidates if c in known and c != name)
        graph[name] = targets
    return graph


def part_of(module: str) -> str:
    """``sorabeat.es.bulk`` -> ``es``; ``sorabeat`` -> ``""``."""
    names = module.split(".")
    return names[1] if len(names) > 1 else ""


def floor_of(module: str) -> int:
    return FLOORS.get(part_of(module), PART_FLOOR)


def circles(graph: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """The strongly connected components with more than one member (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work: list[tuple[str, Iterable[str]]] = [(root, iter(sorted(graph.get(root, ()))))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(iter(children), None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component: list[str] = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_the_graph_sees_the_imports_it_must_judge() -> None:
    graph = import_graph()
    assert "sorabeat.config.schema" in graph
    assert "sorabeat.cli" in graph
    # a check that finds no edges would pass for the wrong reason
    assert any(part_of(t) == "config" for t in graph["sorabeat.cli.common"])


def test_config_imports_no_part() -> None:
    wrong = [
        f"{module} imports {target}"
        for module, targets in import_graph().items()
        if part_of(module) == "config"
        for target in sorted(targets)
        if floor_of(target) >= PART_FLOOR
    ]
    assert wrong == []


def test_no_floor_imports_a_floor_above_it() -> None:
    wrong = [
        f"{module} (floor {floor_of(module)}) imports {target} (floor {floor_of(target)})"
        for module, targets in import_graph().items()
        for target in sorted(targets)
        if floor_of(target) > floor_of(module)
    ]
    assert wrong == []


def test_no_circle_between_modules() -> None:
    assert circles(import_graph()) == []


def test_no_circle_between_parts() -> None:
    between: dict[str, set[str]] = defaultdict(set)
    for module, targets in import_graph().items():
        for target in targets:
            if part_of(module) != part_of(target):
                between[part_of(module)].add(part_of(target))
    assert circles(between) == []


def test_circles_are_found() -> None:
    assert circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert circles({"a": {"b"}, "b": set()}) == []
