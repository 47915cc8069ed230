import numpy as np
import polars as pl

from filters.dedup.components import components_polars, components_star_local


def _reference(a, b):
    parent = {}

    def find(x):
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for x, y in zip(a.tolist(), b.tolist()):
        rx, ry = find(x), find(y)
        parent[max(rx, ry)] = min(rx, ry)
    return {x: find(x) for x in parent}


def test_polars_and_star_components_equal_union_find():
    rng = np.random.default_rng(1)
    a = rng.integers(-(2**40), 2**40, 600)
    nodes = np.unique(a)
    b = rng.choice(nodes, 600)  # long chains and merges
    a = np.concatenate([a, nodes[:50]])
    b = np.concatenate([b, nodes[50:100]])
    ref = _reference(a, b)
    pol = components_polars(pl.DataFrame({"a": a, "b": b}))
    assert dict(zip(pol["node"].to_list(), pol["label"].to_list())) == ref
    assert components_star_local(a.astype(np.int64), b.astype(np.int64)) == ref


def test_a_path_resolves_to_its_minimum():
    a = np.arange(10, 0, -1)
    b = a - 1
    out = components_polars(pl.DataFrame({"a": a, "b": b}))
    assert set(out["label"].to_list()) == {0}
