"""YAML read within bounds: alias cycles, alias bombs and deep nesting end with one error.

YAML aliases make a document a graph: ``a: &x [*x]`` is a cycle, and nine levels of nine
aliases (1 KB of text) expand to 9^9 nodes. Both are caught on the composed node graph,
before any Python object is built, in time linear in the size of the text: each distinct node
is visited once and its expanded size and depth are computed from its children's.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import yaml

# A configuration has hundreds of nodes, fields.yml a few thousand: these leave ample room.
MAX_NODES = 100_000  # a node reached through N aliases counts N times
MAX_DEPTH = 64  # nesting levels, aliases followed


class YamlLimitError(yaml.MarkedYAMLError):
    """A document beyond the bounds; ``problem_mark`` is where (line, column)."""

    def __init__(self, problem: str, mark: yaml.Mark | None) -> None:
        super().__init__(problem=problem, problem_mark=mark)


class BoundedLoader(yaml.SafeLoader):
    """A SafeLoader whose composer refuses nesting deeper than ``max_depth`` (PyYAML composes
    recursively: a deep enough document would end in a RecursionError)."""

    def __init__(self, stream: str, max_depth: int = MAX_DEPTH) -> None:
        super().__init__(stream)
        self.max_depth = max_depth
        self._depth = 0

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        self._depth += 1
        try:
            if self._depth > self.max_depth:
                event = self.peek_event()  # type: ignore[no-untyped-call]
                raise YamlLimitError(
                    f"nested deeper than {self.max_depth} levels", event.start_mark
                )
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def _children(node: yaml.Node) -> Iterator[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            yield key
            yield value
    elif isinstance(node, yaml.SequenceNode):
        yield from node.value


def check_graph(root: yaml.Node, max_nodes: int = MAX_NODES, max_depth: int = MAX_DEPTH) -> None:
    """Raise YamlLimitError for an alias cycle, more than ``max_nodes`` nodes once aliases are
    expanded, or more than ``max_depth`` levels once aliases are followed."""
    size: dict[int, int] = {}  # id(node) -> expanded node count
    depth: dict[int, int] = {}  # id(node) -> expanded depth
    on_path = {id(root)}
    # iterative depth-first walk: chained aliases can be deeper than Python's recursion limit
    stack: list[tuple[yaml.Node, Iterator[yaml.Node]]] = [(root, _children(root))]
    while stack:
        node, children = stack[-1]
        child = next(children, None)
        if child is None:
            stack.pop()
            on_path.discard(id(node))
            kids = [id(k) for k in _children(node)]
            size[id(node)] = 1 + sum(size[k] for k in kids)
            depth[id(node)] = 1 + max((depth[k] for k in kids), default=0)
            if size[id(node)] > max_nodes:
                raise YamlLimitError(
                    f"more than {max_nodes} nodes once aliases are expanded (an alias bomb?)",
                    node.start_mark,
                )
            if depth[id(node)] > max_depth:
                raise YamlLimitError(
                    f"nested deeper than {max_depth} levels once aliases are followed",
                    node.start_mark,
                )
        elif id(child) in on_path:
            raise YamlLimitError(
                "alias cycle: the node anchored here contains an alias to itself",
                child.start_mark,
            )
        elif id(child) not in size:
            on_path.add(id(child))
            stack.append((child, _children(child)))


def compose(loader: BoundedLoader) -> yaml.Node | None:
    """The single document of ``loader``, checked; None for an empty document."""
    node = loader.get_single_node()
    if node is not None:
        check_graph(node, max_depth=loader.max_depth)
    return node


def safe_load(text: str) -> Any:
    """``yaml.safe_load`` within the bounds (raises yaml.YAMLError, YamlLimitError included)."""
    loader = BoundedLoader(text)
    try:
        node = compose(loader)
        return None if node is None else loader.construct_document(node)
    finally:
        loader.dispose()
