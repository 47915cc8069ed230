"""Calibration and threshold choice for a base rate."""

from __future__ import annotations

import numpy as np
import pytest

from filters.classify.calibrate import (apply_calibration, choose_threshold, fit_isotonic, implied_precision,
                                        threshold_curve)


def _scores(seed=0):
    rng = np.random.default_rng(seed)
    pos = rng.beta(5, 2, 400)  # positives score high, negatives low, with overlap
    neg = rng.beta(2, 5, 4000)
    return np.concatenate([pos, neg]), np.concatenate([np.ones(400, bool), np.zeros(4000, bool)])


def test_isotonic_map_is_monotone_and_means_an_equal_prior_probability():
    s, t = _scores()
    knots = fit_isotonic(s, t)
    x, y = np.array(knots[0]), np.array(knots[1])
    assert x[0] == 0.0 and x[-1] == 1.0 and (np.diff(x) >= 0).all() and (np.diff(y) >= -1e-12).all()
    cal = apply_calibration(s, {"x": knots[0], "y": knots[1]})
    # at an equal prior, the mean calibrated score of positives and of negatives straddle 0.5
    assert cal[t].mean() > 0.6 > 0.4 > cal[~t].mean()
    # in every band of calibrated scores, the score matches the balanced positive share
    w = np.where(t, 0.5 / t.sum(), 0.5 / (~t).sum())
    for lo in np.arange(0.0, 1.0, 0.2):
        band = (cal >= lo) & (cal < lo + 0.2)
        if band.sum() >= 50:
            assert np.average(t[band], weights=w[band]) == pytest.approx(cal[band].mean(), abs=0.05), lo
    assert apply_calibration(s, None).tolist() == pytest.approx(s.tolist())


def test_precision_at_base_rate_and_threshold_choice():
    assert implied_precision(0.9, 0.001, 0.01) == pytest.approx(0.009 / (0.009 + 0.00099))
    s, t = _scores(1)
    thr = choose_threshold(s, t, 0.5, 0.01)
    row = threshold_curve(s, t, [thr])[0]
    assert row["precision_at_1pct"] >= 0.5
    lower = threshold_curve(s, t, [thr - 0.02])[0]
    assert lower["precision_at_1pct"] < 0.5 or lower["recall"] == row["recall"]
    # no false positive on n negatives still counts half an error: never a precision of 1.0
    curve = threshold_curve(np.array([0.9, 0.1]), np.array([True, False]), [0.5])[0]
    assert curve["fp"] == 0 and curve["precision_at_1pct"] < 1.0
