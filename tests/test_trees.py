"""fmd.trees: per-request trees from samples, merging, tables, layouts, diffs and the speedscope export."""

from __future__ import annotations

import hashlib
import json
import math
import random
import statistics
import time
from pathlib import Path

import jsonschema
import pytest

from fmd import trees
from fmd.trees import Node, build, diff, find, from_rows, grew_most, icicle, merge, speedscope, sunburst, table, to_rows

SCHEMA = Path(__file__).parent / "data" / "speedscope-file-format-schema.json"

VIEW = ("app.py", 10, "view", "return a()")
A = ("app.py", 20, "a", "b(); c()")
B = ("app.py", 30, "b", "time.sleep(0.03)")
C = ("app.py", 40, "c", "time.sleep(0.01)")
D = ("app.py", 50, "d", "pass")


def request(b: int = 30, c: int = 10, duration: float = 0.04, extra: dict | None = None) -> Node:
    """root -> a -> {b (b samples), c (c samples)} over `duration` seconds."""
    stacks = {(A, B): b, (A, C): c}
    stacks.update(extra or {})
    return build({k: v for k, v in stacks.items() if v}, duration, VIEW)


def shape(node: Node) -> tuple:
    return (node.frame[2], tuple(shape(c) for c in node.children))


# ---------------------------------------------------------------------------------------------- build

def test_build_known_structure():
    tree = request(30, 10, 0.08)
    assert shape(tree) == ("view", (("a", (("b", ()), ("c", ()))),))
    assert (tree.duration, tree.samples) == (0.08, 40)
    a = tree.children[0]
    b, c = a.children
    assert (b.samples, c.samples) == (30, 10)
    assert b.duration / c.duration == pytest.approx(3.0)
    assert b.duration == pytest.approx(0.06) and a.duration == pytest.approx(0.08)


def test_build_frames_compare_without_code_and_children_fit():
    other_code = ("app.py", 20, "a", "(edited source)")
    tree = build({(A, B): 5, (other_code, C): 3, (A,): 2, (): 10}, 2.0, VIEW)
    assert len(tree.children) == 1 and tree.children[0].frame == A  # the first code seen is kept
    assert tree.samples == 20 and tree.children[0].samples == 10
    assert tree.children[0].duration == pytest.approx(1.0)  # half the samples
    assert tree.self_time == pytest.approx(1.0)
    assert tree.children[0].self_time == pytest.approx(0.2)
    for _, node in trees.walk(tree):
        assert sum(c.duration for c in node.children) <= node.duration * (1 + 1e-12)
        assert [c.duration for c in node.children] == sorted((c.duration for c in node.children), reverse=True)


def test_build_without_samples_is_the_root_alone():
    for stacks in ({}, {(A,): 0}):
        tree = build(stacks, 0.5, VIEW)
        assert (tree.frame, tree.duration, tree.samples, tree.children) == (VIEW, 0.5, 0, [])
    assert build({}, -0.001, VIEW).duration == 0.0


def test_build_deep_stacks_need_no_recursion():
    deep = tuple(("deep.py", i, f"f{i}", "") for i in range(5000))
    tree = build({deep: 3}, 1.0, VIEW)
    rows = to_rows(tree)
    assert len(rows) == 5001 and rows[-1][0] == 5000
    merged = merge([tree, from_rows(rows)])
    assert len(table(merged, 2)) == 5001


# ---------------------------------------------------------------------------------------------- rows

def test_rows_round_trip():
    tree = request(extra={(A, B, D): 4, (D,): 2})
    rows = to_rows(tree)
    assert [r[0] for r in rows] == [0, 1, 2, 3, 2, 1]  # pre-order indents
    assert rows[0] == (0, VIEW, tree.duration, tree.samples)
    assert from_rows(rows) == tree
    assert from_rows([(i, list(f), d, s) for i, f, d, s in rows]) == tree  # frames as read back from JSON


@pytest.mark.parametrize("rows", [[], [(1, A, 1.0, 1)], [(0, VIEW, 1.0, 1), (2, A, 1.0, 1)],
                                  [(0, VIEW, 1.0, 1), (0, VIEW, 1.0, 1)]])
def test_from_rows_refuses_what_is_not_one_tree(rows):
    with pytest.raises(ValueError):
        from_rows(rows)


# ---------------------------------------------------------------------------------------------- merge

def varied(n: int, seed: int = 1) -> list[Node]:
    rng = random.Random(seed)
    return [request(rng.randint(0, 40), rng.randint(0, 20), rng.uniform(0.01, 0.2),
                    {(A, B, D): rng.randint(0, 3), (D,): rng.randint(0, 2)}) for _ in range(n)]


def test_merged_trees_add_up_to_the_sum_of_their_requests():
    requests = varied(57)
    merged = merge(requests)
    assert merged.total == sum(t.duration for t in requests)  # exactly
    assert merged.requests == merged.hits == 57
    assert merged.samples == sum(t.samples for t in requests)
    for _, node, _ in trees.walk_merged(merged):
        assert sum(c.total for c in node.children) <= node.total * (1 + 1e-12)
        assert node.hits == node.requests <= 57


def test_merge_counts_requests_per_path():
    with_c, without_c = request(30, 10), request(30, 0)
    merged = merge([with_c, without_c, with_c])
    a = merged.children[0]
    b, c = a.children
    assert (a.requests, b.requests, c.requests) == (3, 3, 2)
    assert c.total == pytest.approx(2 * with_c.children[0].children[1].duration)


def test_merge_roots_with_different_frames_under_a_synthetic_root():
    other = build({(D,): 1}, 0.5, ("other.py", 1, "other_view", ""))
    merged = merge([request(), other])
    assert merged.frame == trees.SYNTHETIC_ROOT
    assert merged.total == 0.04 + 0.5 and merged.requests == 2
    assert [c.frame[2] for c in merged.children] == ["other_view", "view"]
    assert merge([]) is None


def test_duplicate_siblings_count_hits_and_one_request_time():
    stored = from_rows([(0, VIEW, 1.0, 10), (1, A, 0.25, 2), (1, A, 0.5, 4)])  # an old writer's duplicate
    merged = merge([stored, request(duration=1.0)])
    a = merged.children[0]
    assert (a.requests, a.hits) == (2, 3)
    assert a.total == pytest.approx(1.75)
    assert a.std == pytest.approx(statistics.pstdev([0.75, 1.0]))


def test_table_rows_pre_order_with_mean_and_std():
    requests = varied(23, seed=7)
    merged = merge(requests)
    rows = table(merged, len(requests))
    assert [r["path"] for r in rows][:3] == [["view"], ["view", "a"], ["view", "a", "b"]]
    by_depth = {}
    for row in rows:  # pre-order: each row's parent is the last row seen one level up
        assert row["parent"] == (by_depth[row["depth"] - 1]["key"] if row["depth"] else None)
        by_depth[row["depth"]] = row
    per_path: dict[tuple, list[float]] = {}
    for tree in requests:
        for path, duration in paths(tree):
            per_path.setdefault(path, []).append(duration)
    assert len(rows) == len(per_path)
    for row in rows:
        found = per_path[tuple(row["path"])]
        assert row["requests"] == row["hits"] == len(found)
        assert row["mean"] == pytest.approx(statistics.fmean(found), rel=1e-12)
        assert row["std"] == pytest.approx(statistics.pstdev(found), rel=1e-6, abs=1e-12)
        assert row["total"] == pytest.approx(math.fsum(found), rel=1e-12)
        assert row["per_request"] == pytest.approx(math.fsum(found) / len(requests), rel=1e-12)
        assert row["share"] == pytest.approx(row["total"] / merged.total)
    assert rows[0]["share"] == 1.0


def paths(tree: Node, above: tuple = ()):
    here = above + (tree.frame[2],)
    yield here, tree.duration
    for child in tree.children:
        yield from paths(child, here)


def test_keys_are_stable_short_url_safe_and_found():
    merged = merge(varied(10))
    rows = table(merged, 10)
    keys = [r["key"] for r in rows]
    assert len(set(keys)) == len(keys)
    assert all(len(k) == 12 and all(ch in "0123456789abcdef" for ch in k) for k in keys)
    assert keys == [r["key"] for r in table(merge(varied(10)), 10)]
    # a known value: the key depends only on the path's text, never on the process (no hash())
    assert merged.key == hashlib.sha1(b"\napp.py:10:view").hexdigest()[:12]
    for row in rows:
        node = find(merged, row["key"])
        assert node is not None and node.total == row["total"] and node.frame[2] == row["function"]
    assert find(merged, "000000000000") is None


def test_merge_is_fast():
    """100 requests of one endpoint, ~500 nodes each, mostly the same paths: merged well within 100 ms."""
    rng = random.Random(3)
    frames = [("lib.py", i, f"f{i}", "") for i in range(60)]
    common = [tuple(rng.sample(frames, rng.randint(3, 10))) for _ in range(90)]
    many = []
    for _ in range(100):
        stacks = {stack: rng.randint(1, 5) for stack in rng.sample(common, 80)}
        stacks[tuple(rng.sample(frames, 5))] = 1  # now and then a path no other request took
        many.append(build(stacks, rng.uniform(0.1, 0.5), VIEW))
    sizes = [len(to_rows(t)) for t in many]
    assert 400 < statistics.fmean(sizes) < 700
    took = min(timed(merge, many) for _ in range(3))  # the best of 3: other processes share this machine
    assert took < 0.1, f"merging 100 trees of ~{statistics.fmean(sizes):.0f} nodes took {took * 1000:.0f} ms"


def timed(function, *args) -> float:
    start = time.perf_counter()
    function(*args)
    return time.perf_counter() - start


# ---------------------------------------------------------------------------------------------- layouts

def check_partition(rows: list[dict], lo: str, hi: str, full: float, size: str = "total") -> None:
    by_key = {r["key"]: r for r in rows}
    assert rows[0]["parent"] is None and (rows[0][lo], rows[0][hi]) == (0.0, full)
    siblings: dict[str, list[dict]] = {}
    for row in rows[1:]:
        parent = by_key[row["parent"]]  # the parent comes first (pre-order) and was not left out
        assert row["depth"] == parent["depth"] + 1
        assert parent[lo] <= row[lo] <= row[hi] <= parent[hi]
        siblings.setdefault(row["parent"], []).append(row)
    for group in siblings.values():
        for left, right in zip(group, group[1:]):
            assert left[hi] <= right[lo]  # side by side, never overlapping
            assert left[size] >= right[size]  # largest first


def test_icicle_children_lie_within_their_parent():
    merged = merge(varied(40, seed=5))
    rows = icicle(merged, min_share=0.0)
    check_partition(rows, "x0", "x1", 1.0)
    assert len(rows) == len(table(merged, 40))
    for row in rows:
        assert row["x1"] - row["x0"] == pytest.approx(row["share"], abs=1e-12)


def test_icicle_leaves_out_small_and_deep_nodes():
    merged = merge([request(30, 10, extra={(A, B, D): 1, (D,): 1})])  # d's are 1 sample of 42
    everything = icicle(merged, min_share=0.0)
    pruned = icicle(merged, min_share=0.05)
    assert {r["label"] for r in everything} - {r["label"] for r in pruned} == {"d"}
    check_partition(pruned, "x0", "x1", 1.0)
    assert max(r["depth"] for r in icicle(merged, max_depth=2)) == 1
    assert [r["label"] for r in icicle(merged, max_depth=1)] == ["view"]


def test_sunburst_is_the_icicle_as_rings():
    merged = merge(varied(15, seed=9))
    rows = sunburst(merged)
    check_partition(rows, "theta0", "theta1", 2 * math.pi)
    assert all((r["r0"], r["r1"]) == (r["depth"], r["depth"] + 1) and "x0" not in r for r in rows)
    assert len(rows) == len(icicle(merged, max_depth=12))


def test_layouts_of_a_zero_time_tree():
    merged = merge([build({}, 0.0, VIEW)])
    assert icicle(merged) == [{"key": merged.key, "parent": None, "depth": 0, "label": "view", "file": "app.py",
                               "line": 10, "code": "return a()", "total": 0.0, "mean": 0.0, "share": 1.0,
                               "x0": 0.0, "x1": 1.0}]
    assert table(merged, 0)[0]["per_request"] == 0.0


# ---------------------------------------------------------------------------------------------- diff

def test_diff_names_the_frame_that_grew():
    base = merge([request(30, 10, 0.040) for _ in range(20)] + [request(30, 10, 0.041, {(D,): 1})])
    other = merge([request(30, 40, 0.070) for _ in range(8)])  # only c: 10 ms -> 40 ms
    rows = diff(base, other, 21, 8)
    by_label = {r["label"]: r for r in rows}
    assert max(rows, key=lambda r: r["change"])["label"] == "c"
    assert by_label["c"]["change_s"] == pytest.approx(0.030, abs=1e-4)
    assert by_label["b"]["change"] < 0 and by_label["b"]["change_s"] == pytest.approx(0.0, abs=1e-4)
    assert grew_most(rows)[0]["label"] == "c"
    assert all(r["label"] != "view" for r in grew_most(rows)[:1])
    gone = by_label["d"]  # only in base: zero width, other_mean 0
    assert gone["other_mean"] == 0.0 and gone["base_mean"] > 0 and gone["x0"] == gone["x1"]
    assert not gone["in_other"] and gone["change_s"] < 0
    assert by_label["view"]["base_share"] == by_label["view"]["other_share"] == 1.0
    assert by_label["view"]["other_mean"] == pytest.approx(0.070)
    check_partition(rows, "x0", "x1", 1.0, size="other_mean")
    # rows of paths in other keep other's keys, so a click on the diff zooms the other tree
    assert {r["key"] for r in rows if r["in_other"]} == {r["key"] for r in table(other, 8)}


def test_diff_of_a_tree_with_itself_changes_nothing():
    merged = merge(varied(12))
    rows = diff(merged, merged, 12, 12)
    assert len(rows) == len(table(merged, 12))
    assert all(r["change"] == 0 and r["change_s"] == 0 for r in rows)
    assert grew_most(rows) == []


# ---------------------------------------------------------------------------------------------- speedscope

def test_speedscope_validates_and_adds_up():
    schema = json.loads(SCHEMA.read_text())
    requests = varied(30, seed=11) + [build({}, 0.25, VIEW)]
    document = speedscope(requests, "GET /search")
    jsonschema.validate(json.loads(json.dumps(document)), schema)
    frames = document["shared"]["frames"]
    assert len({(f["name"], f["file"], f["line"]) for f in frames}) == len(frames) == 5  # view a b c d
    profile = document["profiles"][0]
    assert len(profile["samples"]) == len(profile["weights"])
    total_ms = sum(t.duration for t in requests) * 1000
    assert sum(profile["weights"]) == pytest.approx(total_ms, abs=1e-6)
    assert profile["endValue"] == pytest.approx(total_ms, abs=1e-6)
    assert all(s[0] == 0 for s in profile["samples"])  # every stack starts at the view


def test_speedscope_schema_catches_a_broken_file():
    schema = json.loads(SCHEMA.read_text())
    document = speedscope([request()], "x")
    document["profiles"][0]["type"] = "flat"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(document, schema)


def test_speedscope_of_nothing():
    document = speedscope([], "empty")
    jsonschema.validate(document, json.loads(SCHEMA.read_text()))
    assert document["profiles"][0]["samples"] == [] and document["profiles"][0]["endValue"] == 0
