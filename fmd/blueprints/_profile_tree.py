"""One request's execution tree laid out for the page: nested, collapsible lines with the hot path open.

``tree_lines`` turns an ``fmd.trees.Node`` into a flat list the template walks without recursion (a sampled tree
can be hundreds of levels deep, deeper than Jinja's recursion allows): an ``{"open": ...}`` item starts a node
that has children (a ``<details>``), an ``{"leaf": ...}`` item is a node without, and ``{"end": True}`` closes the
latest open node.

The hot path: from the root down, at each level the child with the largest time is open and highlighted; every
other node with children starts closed. With *fold*, each connected run of library frames (not the
application's own code, as ``AppCode`` judges the file) below the root becomes one "N library frames" node whose
children are the application frames called from inside the run. At most *limit* nodes are laid out; the rest
are counted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

#: Nodes laid out per tree (a page of a few thousand nested <details> is still quick to draw).
MAX_NODES = 2000


@dataclass
class _Shown:
    """A node as shown: one frame, or a folded run of library frames."""

    frame: tuple
    duration: float
    samples: int
    app: bool
    folded: int = 0  # library frames in the run (0: a single frame, not folded)
    children: list["_Shown"] = field(default_factory=list)


def _fold_run(top: Any, is_app: Callable[[str], bool]) -> tuple[int, list]:
    """(frames in the connected library run from *top* down, the application nodes called from inside it)."""
    count, below, todo = 0, [], [top]
    while todo:
        node = todo.pop()
        count += 1
        for child in node.children:
            (todo if not is_app(child.frame[0]) else below).append(child)
    return count, sorted(below, key=lambda n: -n.duration)


def _shape(tree: Any, is_app: Callable[[str], bool], fold: bool) -> _Shown:
    def shown(node: Any, root: bool = False) -> tuple[_Shown, list]:
        app = is_app(node.frame[0])
        if fold and not app and not root:
            count, kids = _fold_run(node, is_app)
            return _Shown(node.frame, node.duration, node.samples, False, count), kids
        return _Shown(node.frame, node.duration, node.samples, app), list(node.children)

    top, kids = shown(tree, root=True)
    todo = [(top, kids)]
    while todo:  # iterative: trees can be deeper than Python's recursion limit
        parent, kids = todo.pop()
        for kid in kids:
            child, grandkids = shown(kid)
            parent.children.append(child)
            todo.append((child, grandkids))
    return top


def _fields(node: _Shown, depth: int, total: float, hot: bool) -> dict:
    file, line, function, code = node.frame
    return {"depth": depth, "file": file, "line": line, "function": function, "code": code, "app": node.app,
            "folded": node.folded, "ms": node.duration * 1000, "samples": node.samples,
            "percent": 100 * node.duration / total if total > 0 else 0.0, "hot": hot}


def tree_lines(tree: Any, is_app: Callable[[str], bool], fold: bool = False,
               limit: int = MAX_NODES) -> tuple[list[dict], int]:
    """(the lines of *tree* to render, see the module; how many nodes were left out past *limit*)."""
    top = _shape(tree, is_app, fold)
    total = top.duration
    lines: list[dict] = []
    shown = hidden = 0
    # Each stack entry: a node to lay out (with its depth and whether it is on the hot path), or an end marker.
    stack: list[Any] = [(top, 0, True)]
    while stack:
        item = stack.pop()
        if item is None:
            lines.append({"end": True})
            continue
        node, depth, hot = item
        if shown >= limit:
            hidden += _count(node)
            continue
        shown += 1
        fields = _fields(node, depth, total, hot)
        if not node.children:
            lines.append({"leaf": fields})
            continue
        lines.append({"open": fields, "expanded": hot})
        stack.append(None)
        kids = sorted(node.children, key=lambda n: -n.duration)
        for i in range(len(kids) - 1, -1, -1):  # pushed in reverse so the largest comes out first
            stack.append((kids[i], depth + 1, hot and i == 0))
    return lines, hidden


def _count(node: _Shown) -> int:
    count, todo = 0, [node]
    while todo:
        current = todo.pop()
        count += 1
        todo.extend(current.children)
    return count
