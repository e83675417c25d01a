"""The interval and test primitives behind :mod:`mijabench.analysis.metrics` (which re-exports them).

* :func:`exact_ci`: Clopper-Pearson exact binomial intervals (statsmodels), many at once.
* :func:`mover_ci`: MOVER intervals of linear contrasts of proportions (Zou & Donner 2008), with
  the estimates' correlation; contrast (1, -1) on paired data is Newcombe's method 10 (1998).
* :func:`mcnemar_exact_many` / :func:`mcnemar_exact`: exact McNemar p-values (scipy's binomial).
* :func:`holm`: Holm-Bonferroni adjustment (statsmodels).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

LEVEL = 0.95


def exact_ci(k, n, level: float = LEVEL) -> tuple[np.ndarray, np.ndarray]:
    """Clopper-Pearson interval of the proportions k/n, many at once (NaN where n == 0)."""
    from statsmodels.stats.proportion import (
        proportion_confint,  # lazy: statsmodels is slow to import
    )

    k, n = np.atleast_1d(np.asarray(k, dtype=float)), np.atleast_1d(np.asarray(n, dtype=float))
    low, high = np.full(len(n), np.nan), np.full(len(n), np.nan)
    ok = n > 0
    if ok.any():
        low[ok], high[ok] = proportion_confint(k[ok], n[ok], alpha=1 - level, method="beta")
    return low, high


def mover_ci(contrasts: np.ndarray, p: np.ndarray, low: np.ndarray, high: np.ndarray,
             corr: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """MOVER interval of each row of ``contrasts`` @ ``p`` (Zou & Donner 2008).

    ``low``/``high`` are the cells' own intervals, ``corr`` the correlation of their estimates
    (identity = independent cells). Two cells and contrast (1, -1) give Newcombe's interval for a
    paired difference of proportions (1998, method 10)."""
    c = np.atleast_2d(np.asarray(contrasts, dtype=float))
    corr = np.eye(len(p)) if corr is None else corr
    below, above = p - low, high - p  # distances of each cell's bounds from its estimate
    # the contrast's lower side takes a positive term's lower bound and a negative term's upper bound
    s_lo = np.where(c >= 0, c * below, c * above)
    s_hi = np.where(c >= 0, c * above, c * below)
    estimate = c @ p
    lo = estimate - np.sqrt(np.maximum(np.einsum("gh,hj,gj->g", s_lo, corr, s_lo), 0))
    hi = estimate + np.sqrt(np.maximum(np.einsum("gh,hj,gj->g", s_hi, corr, s_hi), 0))
    return lo, hi


def pair_correlation(safe: pd.DataFrame) -> np.ndarray:
    """Correlation of the cells' DR estimates from their outcomes on shared sets (columns = cells,
    NaN = not in that set): the outcome correlation times the share of sets the two have in common.
    Undefined entries (constant outcomes, fewer than 3 shared sets) become 0 (independent)."""
    corr = safe.corr(min_periods=3).to_numpy(dtype=float)
    present = safe.notna().to_numpy(dtype=float)
    shared, size = present.T @ present, present.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = corr * shared / np.sqrt(np.outer(size, size))
    corr = np.where(np.isfinite(corr), corr, 0.0)
    np.fill_diagonal(corr, 1.0)
    return corr


# --- paired tests ------------------------------------------------------------------------------
def mcnemar_exact_many(b, c) -> np.ndarray:
    """Two-sided exact McNemar p-values from discordant counts (binomial test, p = 1/2), vectorised.

    Binomial(m, 1/2) is symmetric, so doubling the smaller tail equals scipy's binomtest p-value."""
    from scipy.stats import binom  # lazy: scipy.stats costs ~0.7 s to import

    b, c = np.atleast_1d(np.asarray(b, dtype=np.int64)), np.atleast_1d(np.asarray(c, dtype=np.int64))
    m = b + c
    p = np.minimum(1.0, 2 * binom.cdf(np.minimum(b, c), m, 0.5))
    return np.where(m == 0, 1.0, p)  # no discordant pair: no evidence either way


def mcnemar_exact(b: int, c: int) -> float:
    """Two-sided exact McNemar p-value from the discordant counts (binomial test, p = 0.5)."""
    return float(mcnemar_exact_many([b], [c])[0])


def holm(p_values: Sequence[float]) -> np.ndarray:
    """Holm-Bonferroni adjusted p-values (same order as given), one family of tests per call.

    statsmodels runs ``gc.collect()`` on every Holm call: a full collection costs ~0.2 s once
    matplotlib or torch is loaded. Freezing the objects that exist already (``gc.freeze``) leaves
    that collection only this call's young objects; ``gc.unfreeze`` restores the heap as it was."""
    import gc

    from statsmodels.stats.multitest import (
        multipletests,  # lazy: statsmodels is slow to import
    )

    p = np.asarray(p_values, dtype=float)
    if len(p) == 0:
        return p  # nothing to adjust; statsmodels < 0.15 divides by zero here
    gc.freeze()
    try:
        return multipletests(p, method="holm")[1]
    finally:
        gc.unfreeze()


def paired_diff_ci(both, a_only, b_only, neither, level: float) -> tuple[np.ndarray, np.ndarray]:
    """Newcombe's interval (1998, method 10) for paired differences, with Clopper-Pearson margins."""
    n = both + a_only + b_only + neither
    if len(n) == 0:
        return np.array([]), np.array([])
    pa_, pb_ = (both + a_only) / n, (both + b_only) / n
    lo_a, hi_a = exact_ci(both + a_only, n, level)
    lo_b, hi_b = exact_ci(both + b_only, n, level)
    margins = (both + a_only) * (neither + b_only) * (both + b_only) * (neither + a_only)
    with np.errstate(invalid="ignore", divide="ignore"):
        phi = np.where(margins > 0, (both * neither - a_only * b_only) / np.sqrt(margins.astype(float)), 0.0)
    lo, hi = np.empty(len(n)), np.empty(len(n))
    for k in range(len(n)):  # a 2x2 MOVER per pair: cheap next to the table work above
        corr = np.array([[1.0, phi[k]], [phi[k], 1.0]])
        (lo[k],), (hi[k],) = mover_ci(np.array([[1.0, -1.0]]), np.array([pa_[k], pb_[k]]),
                                      np.array([lo_a[k], lo_b[k]]), np.array([hi_a[k], hi_b[k]]), corr)
    return lo, hi
