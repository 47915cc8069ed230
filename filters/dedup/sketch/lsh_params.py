"""LSH banding parameters: bands x rows from a Jaccard threshold, and what they imply.

The optimisation is datasketch's (``MinHashLSH``): over every (bands b, rows r) with
b * r <= num_perm, minimise ``w_fp * FP + w_fn * FN`` where FP is the area under the
candidate-probability curve ``P(s) = 1 - (1 - s^r)^b`` below the threshold and FN the
area above it under ``1 - P(s)``. Reimplemented here rather than importing datasketch's
private function, and without scipy: both areas integrate polynomials of degree at most
``num_perm``, which Gauss-Legendre quadrature with ``num_perm // 2 + 1`` nodes integrates
exactly (up to rounding), for every (b, r) at once in numpy. datasketch integrates with
scipy's ``quad``; the choices are the same (tested over a grid of thresholds), and the
import of ``scipy.integrate`` (~0.25 CPU-s, more than the whole search) is gone.

:func:`candidate_probability` and :func:`edge_probability` give the curves the
benchmarks print: the chance that a pair with true Jaccard s becomes an LSH candidate,
and the chance that it survives verification (estimated Jaccard >= threshold from
``num_perm`` signature positions, a binomial tail).
"""

from __future__ import annotations

import math
from functools import lru_cache


def candidate_probability(s: float, bands: int, rows: int) -> float:
    """P(a pair with Jaccard ``s`` shares at least one band bucket)."""
    return 1.0 - (1.0 - s**rows) ** bands


@lru_cache(maxsize=64)
def optimal_bands_rows(
    threshold: float, num_perm: int, false_positive_weight: float = 0.5, false_negative_weight: float = 0.5
) -> tuple[int, int]:
    """(bands, rows) minimising the weighted false positive/negative areas (the first
    such pair in (bands, rows) order on a tie, as datasketch's loop)."""
    import numpy as np

    if not 0.0 < threshold < 1.0:
        raise ValueError(f"threshold must be in (0, 1), got {threshold}")
    pairs = np.array([(b, r) for b in range(1, num_perm + 1) for r in range(1, num_perm // b + 1)], dtype=np.float64)
    b, r = pairs[:, :1], pairs[:, 1:]
    x, w = np.polynomial.legendre.leggauss(num_perm // 2 + 1)
    lo_s, lo_w = threshold * (x + 1) / 2, w * threshold / 2  # nodes on [0, threshold]
    hi_s, hi_w = threshold + (1 - threshold) * (x + 1) / 2, w * (1 - threshold) / 2  # on [threshold, 1]
    fp = ((1.0 - (1.0 - lo_s**r) ** b) * lo_w).sum(axis=1)
    fn = (((1.0 - hi_s**r) ** b) * hi_w).sum(axis=1)
    err = fp * false_positive_weight + fn * false_negative_weight
    best = int(np.argmin(err))  # argmin: the first minimum
    return int(pairs[best, 0]), int(pairs[best, 1])


def edge_probability(s: float, bands: int, rows: int, num_perm: int, threshold: float | None) -> float:
    """P(a pair with Jaccard ``s`` becomes a duplicate edge): candidate, and (when
    ``threshold`` is given) estimated Jaccard >= threshold. The two events are
    treated as independent, which slightly understates it for candidates."""
    p = candidate_probability(s, bands, rows)
    if threshold is None:
        return p
    k_min = math.ceil(threshold * num_perm - 1e-9)
    tail = sum(math.comb(num_perm, k) * s**k * (1 - s) ** (num_perm - k) for k in range(k_min, num_perm + 1))
    return p * tail
