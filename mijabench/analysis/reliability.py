"""Agreement between raters: a judge against human labels, and annotators among themselves.

Cohen's kappa (sklearn), Fleiss' kappa (statsmodels) and Krippendorff's alpha, as the paper's
judge validation reports them.
"""

from __future__ import annotations

import math
import warnings
from typing import Sequence

import numpy as np

from mijabench.errors import MijaError


def agreement(pred: Sequence, ref: Sequence) -> dict:
    """Accuracy and Cohen's kappa of ``pred`` against ``ref`` (pairs with a None are skipped).

    ``kappa`` is NaN when chance agreement is 1 (both raters used a single, identical label)."""
    from sklearn.metrics import cohen_kappa_score  # lazy: sklearn is slow to import

    if len(pred) != len(ref):
        raise MijaError(f"agreement: {len(pred)} predictions but {len(ref)} references")
    pairs = [(p, r) for p, r in zip(pred, ref) if p is not None and r is not None]
    if not pairs:
        return {"n": 0, "accuracy": float("nan"), "kappa": float("nan")}
    # Integer codes: sklearn refuses label sets that mix types (e.g. str and bool).
    index = {label: i for i, label in enumerate(sorted({x for pair in pairs for x in pair}, key=str))}
    codes_p, codes_r = ([index[x] for x in side] for side in zip(*pairs))
    with warnings.catch_warnings():
        # One label used by both raters: kappa is undefined; sklearn warns and returns NaN.
        warnings.simplefilter("ignore")
        kappa = float(cohen_kappa_score(codes_p, codes_r))
    accuracy = sum(p == r for p, r in zip(codes_p, codes_r)) / len(pairs)
    return {"n": len(pairs), "accuracy": float(accuracy), "kappa": kappa}


def fleiss_kappa(matrix) -> float:
    """Fleiss' kappa from an items x categories matrix of rating counts (same raters per item)."""
    from statsmodels.stats.inter_rater import (
        fleiss_kappa as _fleiss,  # lazy: slow to import
    )

    m = np.asarray(matrix, dtype=float)
    if m.ndim != 2 or m.shape[0] == 0:
        raise MijaError("fleiss_kappa: expected a non-empty items x categories count matrix")
    raters = m.sum(axis=1)
    if not np.allclose(raters, raters[0]) or raters[0] < 2:
        raise MijaError("fleiss_kappa: every item needs the same number (>= 2) of ratings; "
                        "use krippendorff_alpha for missing ratings")
    with np.errstate(invalid="ignore", divide="ignore"):
        kappa = float(_fleiss(m, method="fleiss"))  # 0/0 when every rating is one category
    return kappa if math.isfinite(kappa) else float("nan")


def krippendorff_alpha(data, level: str = "nominal") -> float:
    """Krippendorff's alpha (nominal) from an annotators x items table; None/NaN = missing."""
    if level != "nominal":
        raise MijaError(f"krippendorff_alpha: level {level!r} is not supported; valid levels: nominal")
    rows = [list(r) for r in data]
    if not rows:
        raise MijaError("krippendorff_alpha: expected an annotators x items table")
    n_items = len(rows[0])
    if any(len(r) != n_items for r in rows):
        raise MijaError("krippendorff_alpha: every annotator row needs one entry per item")

    def missing(x) -> bool:
        return x is None or (isinstance(x, float) and math.isnan(x))

    labels = sorted({x for r in rows for x in r if not missing(x)}, key=str)
    index = {label: i for i, label in enumerate(labels)}
    coincidence = np.zeros((len(labels), len(labels)))
    for item in range(n_items):
        values = [index[r[item]] for r in rows if not missing(r[item])]
        m_u = len(values)
        if m_u < 2:
            continue
        counts = np.bincount(values, minlength=len(labels)).astype(float)
        coincidence += (np.outer(counts, counts) - np.diag(counts)) / (m_u - 1)
    n_c = coincidence.sum(axis=1)
    n = n_c.sum()
    if n <= 1:
        return float("nan")
    observed = coincidence.sum() - np.trace(coincidence)
    expected = (n_c.sum() ** 2 - (n_c ** 2).sum()) / (n - 1)
    return float("nan") if expected == 0 else float(1 - observed / expected)
