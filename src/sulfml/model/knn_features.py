"""The nearest-neighbour target features themselves: numbers only, so the predict path can compute them from a
stored reference set without importing scikit-learn or matminer (the regressor that learns with them is in
`sulfml.model.knn`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

KNN_FEATURES: tuple[str, ...] = (
    "knn_y_nearest", "knn_y_mean", "knn_y_weighted_mean", "knn_distance_nearest", "knn_distance_mean",
    "knn_y_std",
)
_EPS = 1e-3  # distance offset of the inverse-distance weights (an identical composition has distance 0)


_CHUNK = 2048  # query rows per search: bounds memory (rows x references x 8 bytes for small batches)


def neighbour_features(ref_x: np.ndarray, ref_y: np.ndarray, query_x: np.ndarray, k: int) -> np.ndarray:
    """The `KNN_FEATURES` of each query row from its k nearest reference rows (Euclidean distance).

    Copies of one reference row come in reference order (`nearest`), so results are deterministic.

    Returns:
        An array of shape (len(query_x), 6).
    """
    ref_x, query_x, ref_y = np.asarray(ref_x, float), np.asarray(query_x, float), np.asarray(ref_y, float)
    if len(ref_y) == 0:
        raise ValueError("no reference rows")
    out = np.empty((len(query_x), len(KNN_FEATURES)))
    for block in query_blocks(len(query_x), _CHUNK):
        idx, d = nearest(query_x[block], ref_x, k)
        yn = ref_y[idx]
        w = 1.0 / (d + _EPS)
        out[block] = np.column_stack([yn[:, 0], yn.mean(1), (yn * w).sum(1) / w.sum(1), d[:, 0], d.mean(1),
                                             yn.std(1)])
    return out


def query_blocks(n: int, size: int) -> list[slice]:
    """`n` query rows in blocks of at most `size`, all of about the same length: a short last block would fall
    below `_TREE_FROM` and search the full distance matrix, the slow way for many rows."""
    count = -(-n // size)  # none for no rows
    edges = [n * i // count for i in range(count + 1)] if count else [0]
    return [slice(a, b) for a, b in zip(edges[:-1], edges[1:], strict=True)]


# Distinct candidates per query beyond k: room for rounding between the search and the final order.
_MARGIN = 3
# A k-d tree (SciPy) finds few neighbours of many queries faster than the full distance matrix; for many
# neighbours (or few queries) the matrix wins.
_TREE_FROM = 1024
_TREE_MAX_CANDIDATES = 10
# Distances closer than this are treated as possible ties when checking a search's candidates are complete.
_TIE = 1e-9
_EXACT_BLOCK = 128  # query rows per block of exact distances
_TIE_BLOCK = 256  # rows ranked again at once over their possible ties (rows x references booleans)
_REFERENCES: dict[int, tuple[np.ndarray, _Reference]] = {}


@dataclass
class _Reference:
    """A reference set prepared for searching: its distinct rows (the same composition measured by several
    papers is one row), the original rows each stands for, and a k-d tree built on first use."""

    rows: np.ndarray  # distinct rows, in order of first occurrence
    members: np.ndarray  # (distinct, most copies): original row indices, ascending, padded with -1
    sq: np.ndarray  # squared norms of `rows`
    tree: Any = None
    # Columns where some reference is not 0. A query's values elsewhere add the same to its distance to every
    # reference, so the k-d tree ranks on these alone (fewer dimensions, same order).
    spanned: np.ndarray | None = None

    @classmethod
    def of(cls, ref: np.ndarray) -> _Reference:
        _, first, inverse = np.unique(ref, axis=0, return_index=True, return_inverse=True)
        order = np.argsort(first)
        rank = np.empty_like(order)
        rank[order] = np.arange(len(order))
        group = rank[inverse.reshape(-1)]
        counts = np.bincount(group, minlength=len(order))
        by_group = np.argsort(group, kind="stable")  # original indices, grouped, ascending within a group
        slot = np.arange(len(by_group)) - np.repeat(np.cumsum(counts) - counts, counts)
        members = np.full((len(order), max(1, int(counts.max(initial=1)))), -1)
        members[group[by_group], slot] = by_group
        rows = ref[np.sort(first)]
        return cls(rows, members, np.einsum("ij,ij->i", rows, rows))

    def search_tree(self):
        """The k-d tree, or None without SciPy."""
        if self.tree is None:
            try:
                from scipy.spatial import cKDTree
            except ImportError:
                self.tree = False
            else:
                self.spanned = np.flatnonzero((self.rows != 0).any(axis=0)) if self.rows.any() else np.arange(1)
                self.tree = cKDTree(self.rows[:, self.spanned])
        return self.tree or None


def _reference(ref: np.ndarray) -> _Reference:
    hit = _REFERENCES.get(id(ref))
    if hit is not None and hit[0] is ref:
        return hit[1]
    prepared = _Reference.of(ref)
    if len(_REFERENCES) >= 8:  # a process predicts with a few reference sets; CV folds make new ones
        _REFERENCES.pop(next(iter(_REFERENCES)))
    _REFERENCES[id(ref)] = (ref, prepared)  # holding `ref` keeps its id from being reused while cached
    return prepared


def nearest(query: np.ndarray, ref: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The k nearest reference rows of each query row (Euclidean), nearest first; copies of one row (the same
    composition from several papers) come in reference order, as do distinct rows at equal distances.

    Large batches with few neighbours search a k-d tree, the others the full distance matrix; both only pick
    candidates, whose distances are then computed the same way for every row, so a row gets the same
    neighbours and the same distances (to the bit) whatever batch it comes in.

    Args:
        query, ref: float64 rows (keep passing the same `ref` array: its preparation is cached).
        k: neighbours (at most the number of references).

    Returns:
        (indices into `ref`, distances), each of shape (len(query), k).
    """
    r = _reference(ref)
    n, k = len(query), min(k, len(ref))
    m = min(k + _MARGIN, len(r.rows))
    tree = r.search_tree() if n >= _TREE_FROM and m <= _TREE_MAX_CANDIDATES else None
    if tree is not None:
        from sulfml.cpus import available_cpus

        _, candidates = tree.query(query[:, r.spanned], k=m, workers=available_cpus())
        candidates = candidates.reshape(n, m)
    else:
        candidates = _brute(query, r, m)
    # The distances of the candidates again, exactly and row by row: the two searches round differently (the
    # matrix through |q|² + |r|² - 2q·r), so near-ties between references ordered differently and a row's
    # neighbours depended on the size of the batch it came in.
    d = _exact_distances(query, r.rows, candidates)
    if m < len(r.rows):
        # A row whose k-th candidate is (nearly) as far as its last may have more tied references than the
        # search returned, picked by the search's own order: such rows are ranked again over every reference
        # that could be among their k nearest (`_every_tie`).
        unsure = np.flatnonzero(np.sort(d, axis=1)[:, k - 1] >= d.max(axis=1) - _TIE)
        if len(unsure):
            candidates[unsure], d[unsure] = _every_tie(query[unsure], r, candidates[unsure], d[unsure], k)
    order = np.lexsort((candidates, d), axis=1)  # by distance, then by first occurrence
    candidates, d = np.take_along_axis(candidates, order, axis=1), np.take_along_axis(d, order, axis=1)
    # Expand each distinct row into its copies and keep the first k. Most rows' k nearest are single copies.
    idx, dist = np.zeros((n, k), np.int64), np.zeros((n, k))
    if m >= k:
        idx[:], dist[:] = r.members[candidates[:, :k], 0], d[:, :k]
        copied = np.flatnonzero((r.members[candidates[:, :k], 1:] >= 0).any(axis=(1, 2)))
    else:  # fewer distinct rows than k: every row needs copies
        copied = np.arange(n)
    if len(copied):
        copies = r.members[candidates[copied], :k]  # (rows, m, at most k)
        real = copies >= 0
        slot = np.cumsum(real.reshape(len(copied), -1), axis=1).reshape(real.shape) - 1  # copies before it
        take = real & (slot < k)
        rows = np.broadcast_to(copied[:, None, None], real.shape)
        idx[rows[take], slot[take]] = copies[take]
        dist[rows[take], slot[take]] = np.broadcast_to(d[copied, :, None], real.shape)[take]
    return idx, dist


def _every_tie(query: np.ndarray, r: _Reference, candidates: np.ndarray, d: np.ndarray, k: int
               ) -> tuple[np.ndarray, np.ndarray]:
    """The m nearest references of rows whose search may have missed a tie, ranked by (exact distance,
    reference order) over every reference that can be among their k nearest.

    Those are the references whose distance, computed cheaply from |q|² + |r|² - 2q·r, is within rounding of
    the row's k-th exact candidate distance: a superset of the k nearest, so the first k agree with ranking
    the row against every reference. Only the first k are used (`nearest` expands copies from them).
    """
    m = candidates.shape[1]
    kth = np.sort(d, axis=1)[:, k - 1]
    # Rounding of the cheap form is far below these margins: the set can only grow, never miss a reference.
    bound = (kth + 1e-6) ** 2 + 1e-9
    out_c, out_d = candidates.copy(), d.copy()
    for s in range(0, len(query), _TIE_BLOCK):
        q = query[s:s + _TIE_BLOCK]
        d2 = np.einsum("ij,ij->i", q, q)[:, None] - 2.0 * (q @ r.rows.T) + r.sq
        near = d2 <= bound[s:s + _TIE_BLOCK, None]
        near[np.arange(len(q))[:, None], candidates[s:s + _TIE_BLOCK]] = True
        width = int(near.sum(axis=1).max())
        # each row's references within the bound, padded (at infinite distance) to the widest row
        pick = np.argsort(~near, axis=1, kind="stable")[:, :width]
        valid = np.take_along_axis(near, pick, axis=1)
        exact = np.where(valid, _exact_distances(q, r.rows, pick), np.inf)
        best = np.lexsort((pick, exact), axis=1)[:, :m]
        out_c[s:s + _TIE_BLOCK] = np.take_along_axis(pick, best, axis=1)
        out_d[s:s + _TIE_BLOCK] = np.take_along_axis(exact, best, axis=1)
    return out_c, out_d


def _exact_distances(query: np.ndarray, rows: np.ndarray, candidates: np.ndarray) -> np.ndarray:
    """Euclidean distances of each query row to its candidate rows, summed row by row (the same bits for a
    row whatever else is in the batch)."""
    out = np.empty(candidates.shape)
    # In blocks that stay in the CPU's cache: the gathered rows are (block x candidates x columns) floats.
    for s in range(0, len(query), _EXACT_BLOCK):
        diff = np.take(rows, candidates[s:s + _EXACT_BLOCK], axis=0)
        diff -= query[s:s + _EXACT_BLOCK, None, :]  # r - q: the same square as q - r, to the bit
        out[s:s + _EXACT_BLOCK] = np.square(diff, out=diff).sum(axis=2)
    return np.sqrt(out, out=out)


def _brute(query: np.ndarray, r: _Reference, m: int) -> np.ndarray:
    """The indices of m candidates per query from the full distance matrix."""
    # Columns where every query is 0 add nothing to q·r (element fractions are mostly zeros).
    cols = np.flatnonzero(np.any(query != 0, axis=0))
    # |q|² is the same for every reference of a row, so the ranking needs only |r|² - 2 q·r.
    rank = (query[:, cols] @ r.rows[:, cols].T) * -2.0
    rank += r.sq
    if m < rank.shape[1]:
        return np.argpartition(rank, m - 1, axis=1)[:, :m]
    return np.broadcast_to(np.arange(rank.shape[1]), rank.shape).copy()


_DENSE: dict[int, tuple[dict, np.ndarray]] = {}


def _dense_reference(spec: dict[str, Any]) -> np.ndarray:
    # Built once per loaded card: streaming predictions call this for every chunk. The cache holds the
    # spec itself, so its id cannot be reused by another object while cached.
    hit = _DENSE.get(id(spec))
    if hit is not None and hit[0] is spec:
        return hit[1]
    ref = np.zeros((len(spec["reference_x"]), len(spec["columns"])))
    for i, row in enumerate(spec["reference_x"]):
        for j, v in row:
            ref[i, j] = v
    if len(_DENSE) >= 8:  # cards of benchmark folds come and go; a process predicts with a few
        _DENSE.pop(next(iter(_DENSE)))
    _DENSE[id(spec)] = (spec, ref)
    return ref


def neighbour_array(X: np.ndarray, columns: Sequence[str], spec: dict[str, Any]) -> np.ndarray:
    """The `KNN_FEATURES` of feature rows `X` (columns named by `columns`) from a stored reference set."""
    position = {c: j for j, c in enumerate(columns)}
    query = np.asarray(X, float)[:, [position[c] for c in spec["columns"]]]
    if not np.isfinite(query).all():  # a check first: nan_to_num's own scan costs more than the search
        query = np.nan_to_num(query, copy=False)
    return neighbour_features(_dense_reference(spec), np.asarray(spec["reference_y"], float), query, int(spec["k"]))
