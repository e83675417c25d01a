"""dpo-eval statistics: exact intervals, exact McNemar on the same prompts, refusal vs incoherence."""

from __future__ import annotations

import pytest
from dpo_fixtures import eval_tables
from scipy.stats import binomtest
from statsmodels.stats.proportion import proportion_confint

from mijabench.train import dpo_stats


@pytest.fixture(scope="module")
def result():
    return dpo_stats.compare(*eval_tables())


def test_rates_have_exact_intervals_and_paired_tests(result):
    held = {r["segment"]: r for r in result["rows"]}["eval_group:held_out"]
    dr = held["dr"]
    assert (dr["before"]["k"], dr["after"]["k"], dr["after"]["n"]) == (10, 34, 40)
    low, high = proportion_confint(34, 40, method="beta")
    assert dr["after"]["ci_low"] == pytest.approx(low) and dr["after"]["ci_high"] == pytest.approx(high)
    # 6 incoherent->incoherent/... : before safe = i<10, after safe = i<4 or i>=10
    test = dr["mcnemar"]
    assert (test["only_before"], test["only_after"], test["n_pairs"]) == (6, 30, 40)
    assert test["p_value"] == pytest.approx(binomtest(6, 36, 0.5).pvalue)
    assert held["refusal"]["after"]["k"] == 30 and held["incoherence"]["before"]["k"] == 10
    assert held["over_refusal"]["before"]["k"] == 2 and held["over_refusal"]["after"]["k"] == 4
    seen = {r["segment"]: r for r in result["rows"]}["eval_group:seen"]["dr"]
    assert seen["mcnemar"]["p_value"] == 1.0 and seen["before"]["value"] == seen["after"]["value"] == 0.0


def test_target_check_and_disparity(result):
    check = result["target"]["segments"]["eval_group:held_out"]
    assert check["dr_gain"] == pytest.approx(0.6) and check["dr_ok"]
    assert check["via_refusals"] and check["over_refusal_rise"] == pytest.approx(0.05)
    assert check["met"]
    d = result["disparity"]
    assert d["before"]["gap"] == pytest.approx(0.25) and d["after"]["gap"] == pytest.approx(0.85)
    table = dpo_stats.markdown_table(result)
    assert "Held-out groups (zero-shot)" in table and "+0.60 (p=" in table
    assert "Target (issue 16) met." not in result["summary"]  # the strategy segment was not measured


def test_gain_made_of_babble_is_not_a_refusal_gain():
    before, after = eval_tables()
    babble = after.set_column(after.column_names.index("outcome"), "outcome",
                              [["incoherent" if o == "refusal" else o for o in after.column("outcome").to_pylist()]])
    check = dpo_stats.compare(before, babble)["target"]["segments"]["eval_group:held_out"]
    assert check["dr_ok"] and not check["via_refusals"] and not check["met"]


def test_summary_calls_null_and_negative_results_so():
    before, after = eval_tables()
    assert "null result" in dpo_stats.compare(before, before)["summary"]
    worse = dpo_stats.compare(after, before)
    assert "negative result" in worse["summary"] and not worse["target"]["met"]
