"""Execution trees of profiled requests: built from samples, merged over requests, laid out, compared, exported.

Pure functions of plain data (stdlib only): no database, no Flask, no Altair. The writer calls ``build`` and
``to_rows``; the profiler views call ``from_rows``, ``merge`` and the rest when a page is read.

Contracts
- A frame is ``(file, line, function, code)``; frames are *the same* when ``(file, line, function)`` are equal,
  ``code`` is carried along (the first one seen is kept). A *path* is the sequence of frames from the root.
- ``build``: with S samples in all, a node's time is ``its samples / S * duration``; the root gets the whole
  duration and S samples (its self time is what no child explains). Siblings are distinct frames, largest first.
  No samples: the root alone, with the duration and 0 samples. Sampling error, not arithmetic, dominates: a share
  p estimated from S samples has a standard error of ``sqrt(p * (1 - p) / S)`` (±5 points at p = 0.5, S = 100).
- ``merge``: one node per path present in any request. ``requests`` counts the requests having the path,
  ``hits`` the occurrences (more than ``requests`` only for duplicate siblings in one stored tree), ``total``
  the seconds summed over requests, ``sum_sq`` the sum of each request's squared time at that path. The merged
  root's total is the sum of the requests' durations *exactly*: the same additions, in the same order, as
  ``sum(t.duration for t in trees)``. Roots with different frames go under ``SYNTHETIC_ROOT``.
- ``Merged.std`` is the population std dev from ``sum_sq / n - mean**2`` (clamped at 0). For n <= 100 its
  absolute error is at most ~1e-7 of the mean (cancellation when the spread is tiny), far below display precision.
- ``Merged.key``: 12 hex digits of a sha1 chain over the path's ``file:line:function`` texts; the same in every
  process and run, safe in URLs. 48 bits: for 10,000 paths the chance of any collision is ~2e-7.
- ``icicle`` / ``sunburst`` / ``diff``: a partition layout. A node spans ``[x0, x1]`` (fractions of the root's
  total) inside its parent's span; siblings are laid side by side, largest first, never overlapping. Widths are
  ``total / root total``; x1 is clamped to the parent's x1, so float rounding can never make a child stick out.
- ``speedscope``: one sample per node with self time, weighted by that self time in ms; the weights add up to
  the trees' durations (self times telescope; error ~1e-12 ms per node).
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from typing import Iterable, Iterator, Mapping, Sequence

Frame = tuple[str, int, str, str]  # (file, line, function, code)
Row = tuple[int, Frame, float, int]  # (indent, frame, duration, samples)

#: The root over requests whose trees start at different frames (e.g. a merge over endpoints).
SYNTHETIC_ROOT: Frame = ("(all requests)", 0, "", "")
SPEEDSCOPE_SCHEMA = "https://www.speedscope.app/file-format-schema.json"
_TAU = 2 * math.pi


def _ident(frame: Frame) -> tuple[str, int, str]:
    return (frame[0], frame[1], frame[2])


def _label(frame: Frame) -> str:
    """The function's name; the file slot for a frame without one (the synthetic root)."""
    return frame[2] or frame[0]


def _chain(parent_key: str, frame: Frame) -> str:
    text = f"{parent_key}\n{frame[0]}:{frame[1]}:{frame[2]}"
    return hashlib.sha1(text.encode("utf-8", "surrogatepass")).hexdigest()[:12]


# ---------------------------------------------------------------------------------------------- one request

@dataclass
class Node:
    """A node of one request's tree."""

    frame: Frame
    duration: float  # seconds, children included
    samples: int  # children included
    children: list["Node"] = field(default_factory=list)

    @property
    def self_time(self) -> float:
        """Seconds not explained by the children (never below 0)."""
        return max(0.0, self.duration - sum(c.duration for c in self.children))


def build(stacks: Mapping[tuple[Frame, ...], int], duration: float, root: Frame) -> Node:
    """The tree of one request from its sampled stacks (outermost first, below the root) -> count.

    Counts of 0 or less are ignored; a negative duration (a clock step) counts as 0.
    """
    duration = max(0.0, float(duration))
    # a trie of [frame, samples, {ident: child}]: lists, because this runs on the writer for every request
    top: list = [root, 0, {}]
    for stack, count in stacks.items():
        if count <= 0:
            continue
        top[1] += count
        node = top
        for frame in stack:
            children = node[2]
            key = (frame[0], frame[1], frame[2])
            child = children.get(key)
            if child is None:
                child = children[key] = [tuple(frame), 0, {}]
            child[1] += count
            node = child
    total = top[1]
    scale = duration / total if total else 0.0
    out = Node(tuple(root), duration, total)
    pending = [(out, top)]
    while pending:
        parent, trie = pending.pop()
        # largest first; ties broken by the frame so the order never depends on the sampler's dict order
        for child in sorted(trie[2].values(), key=lambda t: (-t[1], _ident(t[0]))):
            node = Node(child[0], child[1] * scale, child[1])
            parent.children.append(node)
            pending.append((node, child))
    return out


def walk(tree: Node) -> Iterator[tuple[int, Node]]:
    """(depth, node) in pre-order, without recursion (stacks can be deeper than Python's recursion limit)."""
    pending = [(0, tree)]
    while pending:
        depth, node = pending.pop()
        yield depth, node
        pending.extend((depth + 1, c) for c in reversed(node.children))


def to_rows(tree: Node) -> list[Row]:
    """Pre-order rows (indent, frame, duration, samples): position 0 is the root, indent 0."""
    return [(depth, node.frame, node.duration, node.samples) for depth, node in walk(tree)]


def from_rows(rows: Iterable[Row]) -> Node:
    """The tree back from rows in position order; ValueError when they do not describe one tree."""
    root: Node | None = None
    chain: list[Node] = []  # the current node's ancestors and itself
    for indent, frame, duration, samples in rows:
        node = Node(tuple(frame), float(duration), int(samples))
        if root is None:
            if indent != 0:
                raise ValueError(f"the first row has indent {indent}, not 0")
            root = node
        elif not 0 < indent <= len(chain):
            raise ValueError(f"indent {indent} after a node at depth {len(chain) - 1}")
        else:
            del chain[indent:]
            chain[-1].children.append(node)
        chain.append(node)
    if root is None:
        raise ValueError("no rows")
    return root


# ---------------------------------------------------------------------------------------------- many requests

@dataclass(eq=False)
class Merged:
    """A node of the merged tree of many requests (one per path). Made by ``merge``."""

    frame: Frame
    requests: int  # requests whose tree has this path
    hits: int  # occurrences (== requests unless a stored tree repeats a path among siblings)
    total: float  # seconds summed over all requests
    sum_sq: float  # sum over requests of (that request's seconds at this path) ** 2
    samples: int
    children: list["Merged"] = field(default_factory=list)
    path_key: str = ""  # see ``key``
    # while merging: children by frame identity, the request last folded in and its time at this path
    _index: dict = field(default_factory=dict, init=False, repr=False)
    _last: int = field(default=-1, init=False, repr=False)
    _current: float = field(default=0.0, init=False, repr=False)

    @property
    def key(self) -> str:
        """A stable id of the path from the root (12 hex digits), for URLs."""
        return self.path_key

    @property
    def mean(self) -> float:
        """Mean seconds per request having this path."""
        return self.total / self.requests if self.requests else 0.0

    @property
    def std(self) -> float:
        """Population std dev of the per-request seconds over ``requests``."""
        if not self.requests:
            return 0.0
        mean = self.total / self.requests
        return math.sqrt(max(0.0, self.sum_sq / self.requests - mean * mean))

    @property
    def self_total(self) -> float:
        """Seconds (summed over requests) not explained by the children (never below 0)."""
        return max(0.0, self.total - sum(c.total for c in self.children))


def _fold(acc: Merged, tree: Node, request: int) -> None:
    pending = [(acc, tree)]
    while pending:
        acc, node = pending.pop()
        d = node.duration
        if acc._last == request:  # the path again in this request: its time in the request grows by d
            acc.sum_sq += d * (2 * acc._current + d)
            acc._current += d
        else:
            acc._last, acc._current = request, d
            acc.requests += 1
            acc.sum_sq += d * d
        acc.hits += 1
        acc.total += d
        acc.samples += node.samples
        index = acc._index
        for child in node.children:
            f = child.frame
            ident = (f[0], f[1], f[2])
            sub = index.get(ident)
            if sub is None:
                sub = index[ident] = Merged(f, 0, 0, 0.0, 0.0, 0)
            pending.append((sub, child))


def merge(trees: Sequence[Node]) -> Merged | None:
    """The merged tree of many requests' trees (paths merged by frame identity); None for no trees."""
    if not trees:
        return None
    first = _ident(trees[0].frame)
    same = all(_ident(t.frame) == first for t in trees)
    top = Merged(trees[0].frame if same else SYNTHETIC_ROOT, 0, 0, 0.0, 0.0, 0)
    for i, tree in enumerate(trees):
        _fold(top, tree if same else Node(SYNTHETIC_ROOT, tree.duration, tree.samples, [tree]), i)
    # children in order (largest first, ties by frame: never by the order requests came in), keys from the root
    top.path_key = _chain("", top.frame)
    pending = [top]
    while pending:
        node = pending.pop()
        node.children = sorted(node._index.values(), key=lambda m: (-m.total, _ident(m.frame)))
        for child in node.children:
            child.path_key = _chain(node.path_key, child.frame)
        pending.extend(node.children)
    return top


def walk_merged(merged: Merged) -> Iterator[tuple[int, Merged, Merged | None]]:
    """(depth, node, parent) in pre-order."""
    pending: list[tuple[int, Merged, Merged | None]] = [(0, merged, None)]
    while pending:
        depth, node, parent = pending.pop()
        yield depth, node, parent
        pending.extend((depth + 1, c, node) for c in reversed(node.children))


def table(merged: Merged, n_requests: int) -> list[dict]:
    """One row per path, pre-order.

    ``mean`` and ``std`` are over the requests having the path; ``per_request`` is ``total / n_requests`` (the
    requests merged, a path's absence counting as 0 s); ``share`` is ``total / root total``.
    """
    root_total = merged.total
    rows: list[dict] = []
    paths: dict[int, list[str]] = {}
    for depth, node, parent in walk_merged(merged):
        path = (paths[id(parent)] if parent is not None else []) + [_label(node.frame)]
        paths[id(node)] = path
        file, line, function, code = node.frame
        rows.append({
            "key": node.key, "parent": parent.key if parent is not None else None, "depth": depth,
            "function": function, "file": file, "line": line, "code": code,
            "hits": node.hits, "requests": node.requests, "samples": node.samples,
            "mean": node.mean, "std": node.std, "total": node.total,
            "per_request": node.total / n_requests if n_requests else 0.0,
            "share": node.total / root_total if root_total > 0 else (1.0 if parent is None else 0.0),
            "path": path,
        })
    return rows


def find(merged: Merged, key: str) -> Merged | None:
    """The node whose path has that key (click-to-zoom), or None."""
    for _, node, _ in walk_merged(merged):
        if node.key == key:
            return node
    return None


# ---------------------------------------------------------------------------------------------- layouts

def _row(node: Merged, parent: Merged | None, depth: int, share: float) -> dict:
    file, line, _, code = node.frame
    return {"key": node.key, "parent": parent.key if parent is not None else None, "depth": depth,
            "label": _label(node.frame), "file": file, "line": line, "code": code,
            "total": node.total, "mean": node.mean, "share": share}


def _lay(children: Sequence[Merged], root_total: float, x: float, end: float, min_share: float,
         parent: Merged, depth: int) -> list[tuple[Merged, dict]]:
    """Children side by side from x, largest first, clamped to end; those under min_share left out."""
    laid = []
    for child in sorted(children, key=lambda c: -c.total):
        share = child.total / root_total if root_total > 0 else 0.0
        if share < min_share:
            break  # the rest are smaller still
        row = _row(child, parent, depth, share)
        row["x0"] = x
        x = row["x1"] = min(x + share, end)
        laid.append((child, row))
    return laid


def icicle(merged: Merged, max_depth: int = 30, min_share: float = 0.002) -> list[dict]:
    """Partition layout rows (pre-order) of depth < max_depth; nodes under min_share of the root are left out."""
    root = _row(merged, None, 0, 1.0)
    root.update(x0=0.0, x1=1.0)
    rows: list[dict] = []
    pending = [(merged, root)]
    while pending:
        node, row = pending.pop()
        rows.append(row)
        depth = row["depth"] + 1
        if depth < max_depth:
            laid = _lay(node.children, merged.total, row["x0"], row["x1"], min_share, node, depth)
            pending.extend(reversed(laid))
    return rows


def sunburst(merged: Merged, max_depth: int = 12, min_share: float = 0.002) -> list[dict]:
    """The icicle's rows as rings: theta0, theta1 (radians, 0..2π) and r0, r1 (depth, depth + 1)."""
    rows = icicle(merged, max_depth, min_share)
    for row in rows:
        row["theta0"] = row.pop("x0") * _TAU
        row["theta1"] = row.pop("x1") * _TAU
        row["r0"], row["r1"] = row["depth"], row["depth"] + 1
    return rows


# ---------------------------------------------------------------------------------------------- comparing

def _side(node: Merged | None, n: int, root_total: float) -> tuple[float, float, float]:
    """(mean seconds per request, share of the root's time, self seconds per request) of one side's node."""
    if node is None or n <= 0:
        return 0.0, 0.0, 0.0
    share = node.total / root_total if root_total > 0 else 0.0
    return node.total / n, share, node.self_total / n


def diff(base: Merged, other: Merged, base_requests: int, other_requests: int) -> list[dict]:
    """The union of both trees' paths, pre-order, laid out like ``icicle`` over ``other``.

    The roots are matched whatever their frames; below them paths match by frame identity. Means are seconds per
    request of that side (a path's absence counting as 0 s); a share is the node's time over its root's time;
    ``change`` = other_share - base_share, ``change_s`` = other_mean - base_mean, and ``change_self_s`` the same
    for self time (time not spent in children). Paths only in base get zero width at the end of their parent.
    """
    rows: list[dict] = []
    pending: list[tuple[Merged | None, Merged | None, str | None, int, float, float]] = [
        (base, other, None, 0, 0.0, 1.0)]
    while pending:
        b, o, parent_key, depth, x0, x1 = pending.pop()
        node = o if o is not None else b
        assert node is not None
        key = o.key if o is not None else _chain(parent_key or "", node.frame)
        b_mean, b_share, b_self = _side(b, base_requests, base.total)
        o_mean, o_share, o_self = _side(o, other_requests, other.total)
        file, line, _, code = node.frame
        rows.append({
            "key": key, "parent": parent_key, "depth": depth, "x0": x0, "x1": x1,
            "label": _label(node.frame), "file": file, "line": line, "code": code,
            "base_mean": b_mean, "other_mean": o_mean, "base_share": b_share, "other_share": o_share,
            "change": o_share - b_share, "change_s": o_mean - b_mean,
            "base_self": b_self, "other_self": o_self, "change_self_s": o_self - b_self,
            "in_base": b is not None, "in_other": o is not None,
        })
        base_children = {_ident(c.frame): c for c in b.children} if b is not None else {}
        x, children = x0, []
        for oc in (sorted(o.children, key=lambda c: -c.total) if o is not None else ()):
            start = x
            x = min(x + (oc.total / other.total if other.total > 0 else 0.0), x1)
            children.append((base_children.pop(_ident(oc.frame), None), oc, key, depth + 1, start, x))
        for bc in sorted(base_children.values(), key=lambda c: -c.total):
            children.append((bc, None, key, depth + 1, x, x))
        pending.extend(reversed(children))
    return rows


def grew_most(diff_rows: list[dict], n: int = 20) -> list[dict]:
    """The n frames whose own time per request grew most (``change_self_s`` > 0), largest first.

    Ranked by self time rather than ``change_s``: a frame's inclusive time also grows with every descendant's, so
    ranking by it would put the root and each ancestor of the slower line first. Ties: larger change_s first.
    """
    grown = [r for r in diff_rows if r["change_self_s"] > 0]
    grown.sort(key=lambda r: (-r["change_self_s"], -r["change_s"]))
    return grown[:n]


# ---------------------------------------------------------------------------------------------- export

def speedscope(trees: Sequence[Node], name: str) -> dict:
    """The trees as one speedscope "sampled" profile: a sample per node with self time, weights in ms.

    Frames are shared (one per file, line and function). Samples follow the trees' order, each tree pre-order.
    """
    frames: list[dict] = []
    index: dict[tuple[str, int, str], int] = {}
    samples: list[list[int]] = []
    weights: list[float] = []
    for tree in trees:
        pending: list[tuple[Node, list[int]]] = [(tree, [])]
        while pending:
            node, above = pending.pop()
            ident = _ident(node.frame)
            at = index.get(ident)
            if at is None:
                at = index[ident] = len(frames)
                frames.append({"name": _label(node.frame), "file": node.frame[0], "line": node.frame[1]})
            stack = above + [at]
            own = node.duration - sum(c.duration for c in node.children)
            if own > 0:
                samples.append(stack)
                weights.append(own * 1000.0)
            pending.extend((c, stack) for c in reversed(node.children))
    return {
        "$schema": SPEEDSCOPE_SCHEMA,
        "exporter": "fmd",
        "name": name,
        "activeProfileIndex": 0,
        "shared": {"frames": frames},
        "profiles": [{
            "type": "sampled", "name": name, "unit": "milliseconds",
            "startValue": 0, "endValue": sum(weights),
            "samples": samples, "weights": weights,
        }],
    }
