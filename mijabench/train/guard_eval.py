"""Detector evaluation as SecureBreak reports it: accuracy, precision, recall and F1 on the unsafe
class, overall and per risk category, plus the false-negative rate on unsafe outputs (the share of
unsafe outputs a last-line filter lets through). ``before_after`` renders the model-card tables.
"""

from __future__ import annotations

from pathlib import Path

from mijabench import markdown
from mijabench.errors import MijaError

METRICS = ("accuracy", "precision", "recall", "f1", "fnr")
ROW_COLUMNS = ("id", "language", "prompt", "response", "final_label", "risk_category", "label_source",
               "label_rule")


def load_rows(dataset: str | Path, config: str | None, split: str, limit: int | None = None) -> list[dict]:
    """Rows of a SecureBreak dataset folder (or Hub id) split, as dicts; ``config`` None = all configs."""
    from datasets import get_dataset_config_names, load_dataset
    try:
        names = [config] if config else get_dataset_config_names(str(dataset))
        rows = []
        for name in names:
            ds = load_dataset(str(dataset), name, split=split)
            keep = [c for c in ROW_COLUMNS if c in ds.column_names]
            rows += ds.select_columns(keep).to_list()
    except (FileNotFoundError, ValueError) as exc:
        raise MijaError(f"{dataset}: cannot load config {config or '(all)'} split {split!r} "
                        f"({type(exc).__name__}); build it with `mijabench build securebreak`") from None
    if not rows:
        raise MijaError(f"{dataset}: split {split!r} is empty; rebuild with a larger input or other splits")
    return rows[:limit] if limit else rows


def binary_scores(truth: list[str], pred: list[str]) -> dict:
    """Scores with ``unsafe`` as the positive class; fnr is None when there is no unsafe row."""
    tp = sum(t == "unsafe" and p == "unsafe" for t, p in zip(truth, pred))
    fp = sum(t == "safe" and p == "unsafe" for t, p in zip(truth, pred))
    fn = sum(t == "unsafe" and p == "safe" for t, p in zip(truth, pred))
    n = len(truth)
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"n": n, "n_unsafe": tp + fn, "accuracy": (n - fp - fn) / n if n else 0.0,
            "precision": precision, "recall": recall, "f1": f1,
            "fnr": fn / (tp + fn) if tp + fn else None}


def score(rows: list[dict], predictions: list) -> dict:
    """``{"overall": scores, "per_category": {category: scores}, "category_accuracy": float|None}``."""
    truth = [r["final_label"] for r in rows]
    pred = [p.label for p in predictions]
    per_category = {}
    for category in sorted({r["risk_category"] for r in rows}):
        idx = [i for i, r in enumerate(rows) if r["risk_category"] == category]
        per_category[category] = binary_scores([truth[i] for i in idx], [pred[i] for i in idx])
    # Category accuracy only where the detector names one (sft recipe) and both agree it is unsafe.
    named = [(r["risk_category"], p.category) for r, p in zip(rows, predictions)
             if r["final_label"] == "unsafe" and p.label == "unsafe" and p.category]
    return {"overall": binary_scores(truth, pred), "per_category": per_category,
            "category_accuracy": sum(a == b for a, b in named) / len(named) if named else None,
            "predicted": pred}


def _resampled(t, pred, idx) -> dict:
    """Every metric of ``METRICS`` on each bootstrap resample (rows ``idx``); NaN where undefined."""
    import numpy as np
    tr, pr = t[idx], pred[idx]
    tp, fp, fn = (tr & pr).sum(1), (~tr & pr).sum(1), (tr & ~pr).sum(1)
    n = idx.shape[1]

    def ratio(num, den, empty):
        return np.divide(num, den, out=np.full(len(idx), empty, dtype=float), where=den > 0)

    # Same conventions as binary_scores: precision/recall/F1 0 when undefined, FNR undefined (NaN).
    return {"accuracy": (n - fp - fn) / n, "precision": ratio(tp, tp + fp, 0.0),
            "recall": ratio(tp, tp + fn, 0.0), "f1": ratio(2 * tp, 2 * tp + fp + fn, 0.0),
            "fnr": ratio(fn, tp + fn, np.nan)}


def paired_bootstrap(truth: list[str], before: list[str], after: list[str], n_boot: int = 2000,
                     seed: int = 0) -> dict:
    """Every metric before and after on the same rows, each with a 95% bootstrap CI, and the
    change after - before with a 95% *paired* bootstrap CI (both scored on each resample).

    ``{metric: {"before", "before_ci", "after", "after_ci", "delta", "ci_low", "ci_high",
    "p_not_better"}}``; ``p_not_better`` is the share of resamples where the change did not
    improve the metric (for FNR, lower is better). Undefined values (FNR without unsafe rows) are None.
    """
    import numpy as np
    t, b, a = (np.asarray(x) == "unsafe" for x in (truth, before, after))
    if not (len(t) == len(b) == len(a)) or not len(t):
        raise MijaError("paired_bootstrap: truth and both prediction lists must be non-empty and of equal length")
    idx = np.random.default_rng(seed).integers(0, len(t), size=(n_boot, len(t)))
    rb, ra = _resampled(t, b, idx), _resampled(t, a, idx)
    point_b, point_a = binary_scores(truth, before), binary_scores(truth, after)

    def ci(values) -> list | None:
        kept = values[~np.isnan(values)]
        return [float(x) for x in np.percentile(kept, [2.5, 97.5])] if len(kept) else None

    out = {}
    for m in METRICS:
        delta = ra[m] - rb[m]
        ok = ~np.isnan(delta)
        worse = (delta >= 0) if m == "fnr" else (delta <= 0)
        change = ci(delta)
        out[m] = {"before": point_b[m], "before_ci": ci(rb[m]), "after": point_a[m], "after_ci": ci(ra[m]),
                  "delta": None if point_a[m] is None or point_b[m] is None else point_a[m] - point_b[m],
                  "ci_low": change[0] if change else None, "ci_high": change[1] if change else None,
                  "p_not_better": float(worse[ok].mean()) if ok.any() else None}
    return {"n": len(t), "n_unsafe": int(t.sum()), "n_boot": n_boot, "metrics": out}


def f1_change(truth: list[str], before: list[str], after: list[str], n_boot: int = 2000, seed: int = 0) -> dict:
    """F1 after minus F1 before on the same rows, with a 95% paired bootstrap CI.

    Both detectors are scored on each resample of the rows, so the interval reflects how much the
    gain depends on which held-out rows were drawn (few unsafe rows make it wide).
    ``p_not_better`` is the share of resamples where fine-tuning did not raise F1.
    """
    if not (len(truth) == len(before) == len(after)) or not len(truth):
        raise MijaError("f1_change: truth and both prediction lists must be non-empty and of equal length")
    f1 = paired_bootstrap(truth, before, after, n_boot, seed)["metrics"]["f1"]
    return {"f1_delta": f1["delta"], "ci_low": f1["ci_low"], "ci_high": f1["ci_high"],
            "p_not_better": f1["p_not_better"], "n_boot": n_boot, "method": "paired bootstrap over rows"}


def by_language(languages: list[str], truth: list[str], before: list[str], after: list[str],
                n_boot: int = 2000, seed: int = 0) -> dict:
    """:func:`paired_bootstrap` overall (``all``) and within each language."""
    out = {"all": paired_bootstrap(truth, before, after, n_boot, seed)}
    for lang in sorted({x for x in languages if x}):
        idx = [i for i, x in enumerate(languages) if x == lang]
        out[lang] = paired_bootstrap(*([seq[i] for i in idx] for seq in (truth, before, after)), n_boot, seed)
    return out


def comparison_table(results: dict, before_name: str = "before", after_name: str | None = "after") -> str:
    """Markdown: one row per (subset, metric) of :func:`by_language` results, with the CIs;
    ``after_name=None`` shows one system alone (its ``before`` side)."""
    def num(x) -> str:
        return "–" if x is None else f"{x:.3f}"

    def interval(pair) -> str:
        return "–" if not pair else f"[{pair[0]:.2f}, {pair[1]:.2f}]"

    rows = []
    for subset, found in results.items():
        for m in METRICS:
            r = found["metrics"][m]
            delta = "–" if r["delta"] is None else f"{r['delta']:+.3f} [{r['ci_low']:+.2f}, {r['ci_high']:+.2f}]"
            cells = [f"{num(r['after'])} {interval(r['after_ci'])}", delta] if after_name else []
            rows.append([subset, found["n"], found["n_unsafe"], m, f"{num(r['before'])} {interval(r['before_ci'])}",
                         *cells])
    tail = [f"{after_name} (95% CI)", "change (95% paired CI)"] if after_name else []
    return markdown.table(["rows", "n", "unsafe", "metric", f"{before_name} (95% CI)", *tail], rows,
                          align=["", "r", "r", "", "r"] + ["r"] * len(tail))


def compare(rows: list[dict], before: dict, after: dict, seed: int = 0) -> dict:
    """Move per-row predictions out of both results into a paired F1 comparison (JSON stays small)."""
    truth = [r["final_label"] for r in rows]
    return f1_change(truth, before.pop("predicted"), after.pop("predicted"), seed=seed)


def evaluate(detector, rows: list[dict], progress: bool = True) -> dict:
    preds = detector.predict([r["prompt"] for r in rows], [r["response"] for r in rows], progress=progress)
    return score(rows, preds)


# --- tables --------------------------------------------------------------------------------------
def _fmt(value) -> str:
    return "–" if value is None else f"{value:.3f}"


def before_after(before: dict, after: dict, change: dict | None = None) -> str:
    """Markdown: overall metrics of the untuned start and the fine-tuned detector (+ the F1 change)."""
    rows = [[name, result["overall"]["n"], *(_fmt(result["overall"][m]) for m in METRICS)]
            for name, result in (("before fine-tuning", before), ("after fine-tuning", after))]
    lines = [markdown.table(["model", "n", "accuracy", "precision", "recall", "F1", "FNR (unsafe missed)"],
                            rows, align=[""] + ["r"] * 6)]
    if change:
        lines += ["", f"F1 change: {change['f1_delta']:+.3f} (95% CI {change['ci_low']:+.3f} to "
                  f"{change['ci_high']:+.3f}, {change['method']}, {change['n_boot']} resamples; "
                  f"share of resamples with no gain: {change['p_not_better']:.3f})."]
    return "\n".join(lines)


def per_category_table(before: dict, after: dict) -> str:
    rows = []
    for category, a in after["per_category"].items():
        b = before["per_category"].get(category, {})  # a category new in the fine-tuned eval: "–"
        rows.append([category, a["n"], a["n_unsafe"], _fmt(b.get("f1")), _fmt(a["f1"]),
                     _fmt(b.get("fnr")), _fmt(a["fnr"]), _fmt(a["accuracy"])])
    return markdown.table(["risk category", "n", "unsafe", "F1 before", "F1 after", "FNR before",
                           "FNR after", "accuracy after"], rows, align=[""] + ["r"] * 7)


def category_table(result: dict) -> str:
    """Markdown: one evaluation's scores per risk category (``mijabench guard-eval``)."""
    rows = [[category, s["n"], s["n_unsafe"], *(_fmt(s[m]) for m in METRICS)]
            for category, s in result["per_category"].items()]
    return markdown.table(["risk category", "n", "unsafe", "accuracy", "precision", "recall", "F1", "FNR"],
                          rows, align=[""] + ["r"] * 7)
