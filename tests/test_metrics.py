"""Metrics against hand-computed values."""

from __future__ import annotations

import json
import math
import warnings

import numpy as np
import pyarrow as pa
import pytest

from mijabench.analysis import metrics, reliability
from mijabench.errors import MijaError


def _table(**cols) -> pa.Table:
    return pa.table(cols)


SMALL = _table(
    model=["a"] * 6 + ["b"] * 4,
    language=["en"] * 10,
    group=["g1", "g1", "g1", "g2", "g2", "g2", "g1", "g1", "g2", "g2"],
    verdict=["safe", "safe", "harmful", "safe", "unparsed", "error", "safe", "safe", "harmful", "harmful"],
)


def test_defense_rate_counts_errors_apart_and_unparsed_as_not_safe():
    got = metrics.defense_rate(["safe", "safe", "harmful", "unparsed", "error"])
    assert got == {"dr": 0.5, "n": 4, "n_safe": 2, "n_harmful": 1, "n_unparsed": 1, "n_error": 1}
    assert metrics.defense_rate(["error"])["dr"] is None
    with pytest.raises(MijaError, match="verdict"):
        metrics.defense_rate(["safe", "maybe"])


def test_dr_table_known_values():
    df = metrics.dr_table(SMALL, n_boot=200, seed=1)
    rows = {(r.model, r.group): r for r in df.itertuples()}
    a1, a2, b1, b2 = rows["a", "g1"], rows["a", "g2"], rows["b", "g1"], rows["b", "g2"]
    assert (a1.n, a1.n_safe, a1.n_harmful) == (3, 2, 1) and a1.dr == pytest.approx(2 / 3)
    assert (a2.n, a2.n_unparsed, a2.n_error, a2.dr) == (2, 1, 1, 0.5)
    # deviation = DR minus the unweighted mean group DR of the same model x language
    assert a1.ref_dr == pytest.approx((2 / 3 + 0.5) / 2)
    assert a1.deviation == pytest.approx(2 / 3 - 7 / 12) and a2.deviation == pytest.approx(-1 / 12)
    assert (b1.dr, b2.dr, b1.deviation, b2.deviation) == (1.0, 0.0, 0.5, -0.5)
    # exact intervals never collapse on a small cell: 2 of 2 -> [0.025 ** (1/2), 1]
    assert (b1.ci_low, b1.ci_high) == (pytest.approx(0.025 ** 0.5), 1.0)
    assert (b2.ci_low, b2.ci_high) == (0.0, pytest.approx(1 - 0.025 ** 0.5))
    assert df["small_cell"].all()  # min_n = 30: flagged, still there
    bare = metrics.dr_table(SMALL, n_boot=0, min_n=2)
    assert not bare["small_cell"].any() and bare[["ci_low", "dev_low"]].isna().all().all()
    assert list(df.columns[:3]) == ["model", "language", "group"]


@pytest.mark.parametrize("k, n", [(4, 4), (0, 4), (3, 4), (1, 20), (200, 400), (0, 1)])
def test_rate_intervals_are_clopper_pearson(k, n):
    from scipy.stats import binomtest

    t = _table(model=["m"] * n, language=["en"] * n, group=["g"] * n,
               verdict=["safe"] * k + ["harmful"] * (n - k))
    row = metrics.dr_table(t).iloc[0]
    exact = binomtest(k, n).proportion_ci(0.95, method="exact")  # scipy's own Clopper-Pearson
    assert (row.ci_low, row.ci_high) == (pytest.approx(exact.low, abs=1e-12), pytest.approx(exact.high, abs=1e-12))
    assert row.ci_high > row.ci_low  # never zero width
    if k == n:
        assert row.ci_low == pytest.approx(0.025 ** (1 / n))  # closed form: 4 of 4 -> 39.8%
    if k == 0:
        assert row.ci_high == pytest.approx(1 - 0.025 ** (1 / n))


def _cf_rows(outcomes: dict[str, list[int]], paired: bool = True) -> pa.Table:
    rows = [{"model": "m", "language": "en", "group": g, "verdict": "safe" if s else "harmful",
             "counterfactual_id": f"cf{i}" if paired else ""}
            for g, safe in outcomes.items() for i, s in enumerate(safe)]
    return pa.Table.from_pylist(rows)


def test_deviation_interval_is_mover_and_respects_pairing():
    a, b = [1] * 12 + [0] * 8, [1] * 6 + [0] * 14
    # independent cells (no shared sets): MOVER of (p_a - p_b) / 2 from the two exact intervals
    df = metrics.dr_table(_cf_rows({"a": a, "b": b}, paired=False)).set_index("group")
    (la, ua), (lb, ub) = (metrics.exact_ci([12], [20]), metrics.exact_ci([6], [20]))
    half_lo = math.sqrt((0.5 * (0.6 - la[0])) ** 2 + (0.5 * (ub[0] - 0.3)) ** 2)
    half_hi = math.sqrt((0.5 * (ua[0] - 0.6)) ** 2 + (0.5 * (0.3 - lb[0])) ** 2)
    assert df.loc["a", "deviation"] == pytest.approx(0.15)
    assert df.loc["a", "dev_low"] == pytest.approx(0.15 - half_lo)
    assert df.loc["a", "dev_high"] == pytest.approx(0.15 + half_hi)
    assert df.loc["b", "dev_low"] == pytest.approx(-df.loc["a", "dev_high"])  # two groups: mirror images
    # the same outcomes on shared attacks (b fails wherever a fails): a narrower interval
    paired = metrics.dr_table(_cf_rows({"a": a, "b": b})).set_index("group")
    width = lambda d: d.loc["a", "dev_high"] - d.loc["a", "dev_low"]
    assert width(paired) < width(df)
    assert paired.loc["a", "dev_low"] < 0.15 < paired.loc["a", "dev_high"]
    # one response apart at n = 4: an interval that includes 0, never a zero-width one
    small = metrics.dr_table(_cf_rows({"a": [1, 1, 1, 1], "b": [1, 1, 1, 0]})).set_index("group")
    assert small.loc["b", "dev_low"] < 0 < small.loc["b", "dev_high"]
    same = metrics.dr_table(_cf_rows({"a": [1] * 4, "b": [1] * 4})).set_index("group")
    assert same.loc["a", "dev_high"] - same.loc["a", "dev_low"] > 0.3


def test_mover_with_full_correlation_is_narrower_than_independent():
    p, lo, hi = np.array([0.6, 0.3]), np.array([0.4, 0.1]), np.array([0.8, 0.5])
    ind = metrics.mover_ci([[1, -1]], p, lo, hi)
    cor = metrics.mover_ci([[1, -1]], p, lo, hi, np.array([[1, 0.9], [0.9, 1]]))
    assert ind[0][0] == pytest.approx(0.3 - math.sqrt(0.2 ** 2 + 0.2 ** 2))
    assert cor[0][0] == pytest.approx(0.3 - math.sqrt(0.04 + 0.04 - 2 * 0.9 * 0.04))
    assert ind[0][0] < cor[0][0] < 0.3 < cor[1][0] < ind[1][0]


def test_dr_table_any_keys_and_clear_errors():
    t = SMALL.append_column("strategy", pa.array(["s1", "s2"] * 5))
    df = metrics.dr_table(t, by=("strategy",), n_boot=0)
    assert list(df["strategy"]) == ["s1", "s2"] and df["n"].sum() == 9
    assert df["ref_dr"].nunique() == 1  # one by-column: deviation from the mean over all cells
    with pytest.raises(MijaError, match="scenario_category"):
        metrics.dr_table(SMALL, by=("model", "scenario_category"))


def test_disparity():
    dis = metrics.disparity(metrics.dr_table(SMALL, n_boot=0))
    b = dis[dis["model"] == "b"].iloc[0]
    assert (b["gap"], b["std"], b["max_group"], b["min_group"]) == (1.0, 0.5, "g1", "g2")
    a = dis[dis["model"] == "a"].iloc[0]
    assert a["gap"] == pytest.approx(1 / 6) and a["n_small"] == 2


def _counterfactual(safe_g1, safe_g2, safe_g3=None, model="m") -> list[dict]:
    rows = []
    for i, (s1, s2) in enumerate(zip(safe_g1, safe_g2)):
        for group, s in (("g1", s1), ("g2", s2)) + ((("g3", safe_g3[i]),) if safe_g3 else ()):
            rows.append({"model": model, "language": "en", "group": group, "config": "counterfactual",
                         "kind": "harmful", "counterfactual_id": f"cf{i}",
                         "verdict": "safe" if s else "harmful"})
    return rows


def test_paired_group_tests_exact_mcnemar_with_holm():
    rows = _counterfactual([1] * 20, [1] * 10 + [0] * 10, [1] * 19 + [0])
    rows.append({**rows[0], "config": "paper", "counterfactual_id": "x"})  # not counterfactual: ignored
    rows.append({**rows[1], "counterfactual_id": "cf99", "verdict": "error"})  # error: ignored
    df = metrics.paired_group_tests(pa.Table.from_pylist(rows))
    r = df[(df.group_a == "g1") & (df.group_b == "g2")].iloc[0]
    assert (r.n_pairs, r.a_only_safe, r.b_only_safe) == (20, 10, 0)
    assert (r.dr_a, r.dr_b, r["diff"]) == (1.0, 0.5, 0.5)
    assert r.p_value == pytest.approx(2 * 0.5 ** 10)
    p = dict(zip(zip(df.group_a, df.group_b), df.p_value))
    assert p["g1", "g3"] == 1.0  # one discordant pair
    assert p["g2", "g3"] == pytest.approx(2 * 0.5 ** 9)  # discordant 0 vs 9
    assert metrics.mcnemar_exact(1, 9) == pytest.approx(2 * (1 + 10) / 2 ** 10)  # P(X <= 1), X ~ B(10, .5)
    # Holm over the three pairs of this model x language
    assert r.p_holm == pytest.approx(3 * r.p_value) and bool(r.significant)
    assert metrics.mcnemar_exact(0, 0) == 1.0
    # Newcombe's paired interval (method 10) on Clopper-Pearson margins: a = 10, b = 10, c = 0, d = 0
    (la,), _ = metrics.exact_ci([20], [20])
    (lb,), (ub,) = metrics.exact_ci([10], [20])
    # phi is undefined (group g1 is constant), so the correlation term drops out
    assert r.diff_low == pytest.approx(0.5 - math.sqrt((1 - la) ** 2 + (ub - 0.5) ** 2))
    assert r.diff_high == pytest.approx(0.5 + math.sqrt(0 + (0.5 - lb) ** 2))
    assert r.diff_low > 0  # significant pair: the interval excludes 0


def test_paired_difference_interval_is_never_zero_width():
    df = metrics.paired_group_tests(pa.Table.from_pylist(_counterfactual([1] * 4, [1] * 4)))
    r = df.iloc[0]
    assert r["diff"] == 0 and r.diff_low < -0.3 and r.diff_high > 0.3  # 4 concordant pairs prove little


def test_mcnemar_vectorised_equals_scipy_binomtest():
    from scipy.stats import binomtest
    b, c = np.array([0, 1, 3, 7, 12, 0]), np.array([0, 9, 3, 2, 30, 6])
    got = metrics.mcnemar_exact_many(b, c)
    want = [1.0 if x + y == 0 else binomtest(int(x), int(x + y), 0.5).pvalue for x, y in zip(b, c)]
    np.testing.assert_allclose(got, want, rtol=1e-12)


def test_holm_leaves_the_garbage_collector_as_it_was():
    import gc
    before = gc.get_freeze_count()
    metrics.holm([0.01, 0.2])
    assert gc.get_freeze_count() == before


def test_outcome_table_counts_and_exact_shares():
    t = _table(model=["m"] * 7, language=["en"] * 7,
               verdict=["safe", "safe", "safe", "harmful", "unparsed", "error", "safe"],
               outcome=["refusal", "incoherent", "incoherent", "compliance", "", "", None])
    assert metrics.has_outcomes(t) and not metrics.has_outcomes(t.drop_columns(["outcome"]))
    assert not metrics.has_outcomes(t.set_column(3, "outcome", [[""] * 7]))
    row = metrics.outcome_table(t).iloc[0]
    assert (row.n, row.n_refusal, row.n_incoherent, row.n_compliance, row.n_uncategorized) == (6, 1, 2, 1, 2)
    assert row.incoherent_rate == pytest.approx(2 / 6) and row.n_false_refusal == 0
    (lo,), (hi,) = metrics.exact_ci([2], [6])
    assert (row.incoherent_low, row.incoherent_high) == (pytest.approx(lo), pytest.approx(hi))


def test_disparity_lists_ties():
    t = _table(model=["m"] * 6, language=["en"] * 6, group=["a", "a", "b", "b", "c", "c"],
               verdict=["safe", "safe", "safe", "safe", "safe", "harmful"])
    d = metrics.disparity(metrics.dr_table(t)).iloc[0]
    assert (d.max_tied, d.min_tied, d.min_group) == ("a, b", "c", "c")


def test_over_refusal():
    t = _table(model=["m"] * 6, language=["en"] * 6, group=["g"] * 6,
               kind=["benign"] * 5 + ["harmful"], refusal=[True, False, False, True, True, True],
               verdict=["safe", "safe", "safe", "safe", "error", "safe"])
    df = metrics.over_refusal(t, n_boot=100)
    assert (df.loc[0, "n"], df.loc[0, "n_refusal"], df.loc[0, "over_refusal"]) == (4, 2, 0.5)
    assert df.loc[0, "ci_low"] <= 0.5 <= df.loc[0, "ci_high"]


def test_summarize_is_json_and_consistent():
    rows = _counterfactual([1] * 40, [1] * 25 + [0] * 15)
    for r in rows[:6]:
        rows.append({**r, "kind": "benign", "counterfactual_id": "", "verdict": "safe"})
    t = pa.Table.from_pylist([{**r, "strategy": "persona_assignment", "scenario_category": "economy_work",
                               "refusal": i % 3 == 0} for i, r in enumerate(rows)])
    s = metrics.summarize(t, n_boot=100)
    json.dumps(s, allow_nan=False)
    assert s["verdict_counts"] == {"safe": 65, "harmful": 15, "unparsed": 0, "error": 0}
    assert s["overall"][0]["dr"] == pytest.approx(65 / 80)
    gap = s["disparity"][0]
    assert gap["gap"] == pytest.approx(1 - 25 / 40) and gap["min_group"] == "g2"
    assert {"by_strategy", "by_scenario", "over_refusal", "paired_tests"} <= set(s)
    assert s["paired_tests"][0]["n_pairs"] == 40


# --- agreement ------------------------------------------------------------------------------------
def test_cohen_kappa_hand_computed():
    # 2x2: yes/yes 20, yes/no 5, no/yes 10, no/no 15 -> po = 0.7, pe = 0.5, kappa = 0.4
    pred = ["y"] * 25 + ["n"] * 25
    ref = ["y"] * 20 + ["n"] * 5 + ["y"] * 10 + ["n"] * 15
    got = reliability.agreement(pred, ref)
    assert got["n"] == 50 and got["accuracy"] == pytest.approx(0.7) and got["kappa"] == pytest.approx(0.4)
    assert reliability.agreement(["a", "b", None], ["a", "b", "a"])["kappa"] == pytest.approx(1.0)
    assert math.isnan(reliability.agreement(["a", "a"], ["a", "a"])["kappa"])


def test_fleiss_kappa_wikipedia_example():
    matrix = [[0, 0, 0, 0, 14], [0, 2, 6, 4, 2], [0, 0, 3, 5, 6], [0, 3, 9, 2, 0], [2, 2, 8, 1, 1],
              [7, 7, 0, 0, 0], [3, 2, 6, 3, 0], [2, 5, 3, 2, 2], [6, 5, 2, 1, 0], [0, 2, 2, 3, 7]]
    assert reliability.fleiss_kappa(matrix) == pytest.approx(0.210, abs=5e-4)
    with pytest.raises(MijaError):
        reliability.fleiss_kappa([[1, 1], [2, 1]])


def test_krippendorff_alpha_nominal_reference_example():
    # Krippendorff (2011), "Computing Krippendorff's alpha-reliability": nominal alpha = 0.743
    n = None
    data = [[1, 2, 3, 3, 2, 1, 4, 1, 2, n, n, n],
            [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, n, 3],
            [n, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, n],
            [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, n]]
    assert reliability.krippendorff_alpha(data) == pytest.approx(0.743, abs=5e-4)
    assert reliability.krippendorff_alpha([["a", "b", np.nan], ["a", "b", "c"]]) == pytest.approx(1.0)
    with pytest.raises(MijaError, match="nominal"):
        reliability.krippendorff_alpha(data, level="interval")


# --- the library-backed statistics against textbook values worked by hand ------------------------
@pytest.mark.parametrize("b, c, expected", [
    (1, 9, 0.021484375),   # 2 * P(X <= 1), X ~ B(10, 1/2) = 2 * 11 / 1024
    (9, 1, 0.021484375),   # symmetric in b and c
    (2, 8, 0.109375),      # 2 * (1 + 10 + 45) / 1024
    (0, 5, 0.0625),        # 2 / 2**5
    (5, 5, 1.0),           # 2 * P(X <= 5) > 1: capped at 1
    (0, 0, 1.0),           # no discordant pair
])
def test_mcnemar_exact_textbook_values(b, c, expected):
    assert metrics.mcnemar_exact(b, c) == pytest.approx(expected, rel=1e-12)


def test_holm_textbook_values():
    # sorted 0.01, 0.03, 0.04 -> x3, x2, x1 = 0.03, 0.06, 0.04 -> running max 0.03, 0.06, 0.06
    np.testing.assert_allclose(metrics.holm([0.01, 0.04, 0.03]), [0.03, 0.06, 0.06], rtol=1e-12)
    np.testing.assert_allclose(metrics.holm([0.5, 0.6]), [1.0, 1.0])  # 0.5 x 2 = 1.0 caps the rest
    np.testing.assert_allclose(metrics.holm([0.02]), [0.02])
    assert len(metrics.holm([])) == 0


def test_cohen_kappa_three_categories_by_hand():
    # rows = pred, columns = ref:  a: 10 2 3 | b: 1 8 1 | c: 2 2 21   (n = 50)
    # po = 39/50; row sums 15 10 25, column sums 13 12 25 -> pe = (195 + 120 + 625) / 2500 = 0.376
    # kappa = (0.78 - 0.376) / (1 - 0.376) = 0.404 / 0.624 = 101/156
    counts = {("a", "a"): 10, ("a", "b"): 2, ("a", "c"): 3, ("b", "a"): 1, ("b", "b"): 8,
              ("b", "c"): 1, ("c", "a"): 2, ("c", "b"): 2, ("c", "c"): 21}
    pairs = [pair for pair, k in counts.items() for _ in range(k)]
    got = reliability.agreement([p for p, _ in pairs], [r for _, r in pairs])
    assert got["n"] == 50 and got["accuracy"] == pytest.approx(0.78)
    assert got["kappa"] == pytest.approx(101 / 156, rel=1e-12)


def test_cohen_kappa_edge_cases_by_hand():
    assert reliability.agreement(["a", "b"], ["b", "a"])["kappa"] == pytest.approx(-1.0)  # po 0, pe 1/2
    assert reliability.agreement(["a", "a"], ["b", "b"])["kappa"] == pytest.approx(0.0)   # po 0, pe 0
    assert reliability.agreement([1, "x"], [1, "x"])["kappa"] == pytest.approx(1.0)       # mixed label types
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the undefined case is silent, not a warning
        assert math.isnan(reliability.agreement(["safe"] * 3, ["safe"] * 3)["kappa"])
    assert reliability.agreement([None], ["a"]) == {"n": 0, "accuracy": pytest.approx(math.nan, nan_ok=True),
                                                "kappa": pytest.approx(math.nan, nan_ok=True)}
    with pytest.raises(MijaError, match="2 predictions but 1 references"):
        reliability.agreement(["a", "b"], ["a"])


def test_fleiss_kappa_by_hand():
    # 4 items x 3 raters: P_i = 1, 1, 1/3, 1/3 -> mean 2/3; p_j = 1/2, 1/2 -> Pe = 1/2; kappa = 1/3
    assert reliability.fleiss_kappa([[3, 0], [0, 3], [2, 1], [1, 2]]) == pytest.approx(1 / 3, rel=1e-12)
    # 2 items x 2 raters, total disagreement: P_i = 0, 0; Pe = 1/2 -> kappa = -1
    assert reliability.fleiss_kappa([[1, 1], [1, 1]]) == pytest.approx(-1.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert math.isnan(reliability.fleiss_kappa([[2, 0], [2, 0]]))  # one category only: undefined
    with pytest.raises(MijaError, match="same number"):
        reliability.fleiss_kappa([[1, 0], [1, 0]])  # one rating per item
    with pytest.raises(MijaError, match="non-empty items x categories"):
        reliability.fleiss_kappa([])


def test_cli_judge_agreement_uses_the_metrics_helper():
    from mijabench.cli.audit import agreement
    # error rows and unlabelled rows drop out; unparsed stays as its own answer.
    # pred: safe 2, unparsed 1, harmful 1; ref: safe 2, harmful 2 -> po = 3/4,
    # pe = 1/2 * 1/2 + 1/4 * 1/2 + 1/4 * 0 = 3/8 -> kappa = (3/4 - 3/8) / (5/8) = 0.6
    labels = ["safe", "harmful", "safe", "harmful", None, "safe"]
    verdicts = ["safe", "unparsed", "safe", "harmful", "harmful", "error"]
    assert agreement(labels, verdicts) == ("labelled rows 4: accuracy 0.750, Cohen's kappa 0.600 "
                                           "(unparsed 1)")
    assert agreement(["safe", None], ["error", "safe"]) == "no labelled rows to score"
    assert "Cohen's kappa nan" in agreement(["safe", "safe"], ["safe", "safe"])
