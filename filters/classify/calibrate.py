"""Scores that mean something: isotonic calibration and thresholds for a base rate.

A fastText probability is not a probability of anything a user cares about: it
depends on how the classes were balanced in training. The build fits, on held-out
calibration rows, a monotone map from the raw document score to P(positive) at an
equal prior (positives and negatives weighted to the same total), stores its knots
in the model card (``calibration: {x, y}``) and the stage applies it with
``np.interp``. A user with base rate ``pi`` converts: odds_pi = odds(score) *
pi / (1 - pi); the card's threshold table gives recall, false-positive rate and the
implied precision at 1% and 0.1% base rates for each threshold, which is what a
threshold should be chosen from when math is ~1% of a crawl.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np


def fit_isotonic(scores: np.ndarray, truth: np.ndarray, bins: int = 200) -> tuple[list[float], list[float]]:
    """Knots (x, y) of a non-decreasing map raw score -> P(positive) at an equal prior.

    Rows sorted by score are grouped into at most ``bins`` bins of about equal count
    (ties never split), positives and negatives weighted to equal totals, and
    pool-adjacent-violators merges bins into monotone blocks; each block is one knot at
    its weighted mean score, so the map rises strictly between knots (a threshold keeps
    the resolution of the raw score). Ends are pinned at x = 0 and x = 1.
    """
    scores = np.asarray(scores, dtype=np.float64)
    truth = np.asarray(truth, dtype=bool)
    n_pos, n_neg = int(truth.sum()), int((~truth).sum())
    if n_pos == 0 or n_neg == 0:
        return [0.0, 1.0], [0.0, 1.0]
    order = np.argsort(scores, kind="stable")
    s, t = scores[order], truth[order]
    w_all = np.where(t, 0.5 / n_pos, 0.5 / n_neg)
    cut = np.unique(np.searchsorted(s, s[np.linspace(0, len(s) - 1, bins + 1).astype(int)[1:-1]], side="left"))
    starts = np.concatenate([[0], cut[cut > 0]])
    w = np.add.reduceat(w_all, starts)
    y = np.add.reduceat(w_all * t, starts) / w
    xw = np.add.reduceat(w_all * s, starts)
    blocks: list[list[float]] = []  # [value, weight, weighted score sum]
    for v, wt, x_ in zip(y, w, xw):
        blocks.append([v, wt, x_])
        while len(blocks) > 1 and blocks[-2][0] >= blocks[-1][0]:
            v2, w2, x2 = blocks.pop()
            last = blocks[-1]
            last[0] = (last[0] * last[1] + v2 * w2) / (last[1] + w2)
            last[1] += w2
            last[2] += x2
    kx = [0.0] + [b[2] / b[1] for b in blocks] + [1.0]
    ky = [blocks[0][0]] + [b[0] for b in blocks] + [blocks[-1][0]]
    return [round(float(v), 6) for v in kx], [round(float(v), 6) for v in ky]


def apply_calibration(scores: np.ndarray, knots: dict | None) -> np.ndarray:
    """Calibrated scores (identity without knots)."""
    if not knots:
        return np.asarray(scores, dtype=np.float32)
    return np.interp(scores, knots["x"], knots["y"]).astype(np.float32)


def implied_precision(recall: float, fpr: float, base_rate: float) -> float:
    """Precision when ``base_rate`` of the scored documents are positive."""
    tp, fp = base_rate * recall, (1 - base_rate) * fpr
    return tp / (tp + fp) if tp + fp > 0 else 0.0


def rates(scores: np.ndarray, truth: np.ndarray, threshold: float) -> tuple[float, float, int, int]:
    """(recall, false-positive rate, false positives, negatives) at ``threshold``."""
    pred = np.asarray(scores) >= threshold
    truth = np.asarray(truth, dtype=bool)
    n_pos, n_neg = max(int(truth.sum()), 1), max(int((~truth).sum()), 1)
    fp = int((pred & ~truth).sum())
    return float((pred & truth).sum() / n_pos), fp / n_neg, fp, n_neg


def threshold_curve(scores: np.ndarray, truth: np.ndarray, thresholds: Sequence[float]) -> list[dict]:
    """Recall, FPR and implied precision at 1% and 0.1% base rates per threshold.

    With zero false positives the FPR used for precision is 0.5/negatives (half an
    error), so a small calibration set never claims precision 1.0.
    """
    out = []
    for t in thresholds:
        rec, fpr, fp, n_neg = rates(scores, truth, t)
        fpr_est = max(fpr, 0.5 / n_neg)
        out.append({"threshold": round(float(t), 4), "recall": round(rec, 4), "fpr": round(fpr, 5), "fp": fp,
                    "precision_at_1pct": round(implied_precision(rec, fpr_est, 0.01), 4),
                    "precision_at_0.1pct": round(implied_precision(rec, fpr_est, 0.001), 4)})
    return out


def choose_threshold(scores: np.ndarray, truth: np.ndarray, target_precision: float, base_rate: float = 0.01,
                     min_recall: float = 0.0) -> float:
    """The lowest threshold whose implied precision at ``base_rate`` reaches the target.

    Candidates are the positives' scores (plus a few fixed points); when none reaches
    the target, the threshold of highest implied precision among those keeping
    ``min_recall`` (else overall) is returned.
    """
    cands = np.unique(np.concatenate([np.asarray(scores)[np.asarray(truth, bool)], np.linspace(0.05, 0.99, 95)]))
    rows = threshold_curve(scores, truth, cands)
    key = "precision_at_1pct" if base_rate == 0.01 else "precision_at_0.1pct"
    for r in rows:
        if r[key] >= target_precision and r["recall"] >= min_recall:
            return r["threshold"]
    ok = [r for r in rows if r["recall"] >= min_recall] or rows
    return max(ok, key=lambda r: (r[key], r["recall"]))["threshold"]
