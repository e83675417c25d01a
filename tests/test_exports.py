"""CSV exports of a report folder, checked against counts computed here from the rows (pandas +
scipy's exact binomial interval), and the same files in a compare folder."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from report_fixtures import audit_table
from scipy.stats import binomtest

from mijabench.analysis import report

AXES = {"by_group.csv": "group", "by_strategy.csv": "strategy", "by_scenario.csv": "scenario_category"}


def expected_rates(rows: pd.DataFrame, axis: str) -> pd.DataFrame:
    """DR per model x language x axis, by hand: harmful rows, errors out, unparsed not safe."""
    judged = rows[(rows["kind"] == "harmful") & (rows["verdict"] != "error")]
    out = judged.groupby(["model", "language", axis]).agg(
        n=("verdict", "size"), n_safe=("verdict", lambda v: int((v == "safe").sum()))).reset_index()
    out["dr"] = out["n_safe"] / out["n"]
    bounds = [binomtest(int(k), int(n)).proportion_ci(confidence_level=0.95, method="exact")
              for k, n in zip(out["n_safe"], out["n"])]
    out["ci_low"] = [b.low for b in bounds]
    out["ci_high"] = [b.high for b in bounds]
    return out


def check_csv(folder, rows: pd.DataFrame) -> None:
    for name, axis in AXES.items():
        got = pd.read_csv(folder / name).sort_values(["model", "language", axis]).reset_index(drop=True)
        want = expected_rates(rows, axis).sort_values(["model", "language", axis]).reset_index(drop=True)
        assert list(got[["model", "language", axis]].itertuples(index=False)) == \
            list(want[["model", "language", axis]].itertuples(index=False)), name
        assert got["n"].tolist() == want["n"].tolist() and got["n_safe"].tolist() == want["n_safe"].tolist()
        for column in ("dr", "ci_low", "ci_high"):
            np.testing.assert_allclose(got[column], want[column], atol=1e-9, err_msg=f"{name} {column}")
        assert {"deviation", "dev_low", "dev_high", "small_cell", "n_unparsed", "n_error"} <= set(got.columns)


@pytest.fixture(scope="module")
def report_folder(tmp_path_factory):
    table = audit_table()
    out = tmp_path_factory.mktemp("exports")
    written = report.write_report(table, out, samples=False)
    return out, table.to_pandas(), written


def test_audit_report_folder_exports_csv_tables(report_folder):
    out, rows, written = report_folder
    assert {"by_group.csv", "by_strategy.csv", "by_scenario.csv", "by_language.csv", "paired_tests.csv",
            "over_refusal.csv", "summary.json"} <= set(written)
    check_csv(out, rows)


def test_csv_rows_match_summary_json(report_folder):
    out, _, _ = report_folder
    summary = json.loads((out / "summary.json").read_text())
    for key in ("by_group", "by_language", "paired_tests", "over_refusal"):
        frame = pd.read_csv(out / f"{key}.csv")
        assert len(frame) == len(summary[key]) > 0, key
        assert list(frame.columns) == list(summary[key][0]), key
    paired = pd.read_csv(out / "paired_tests.csv")
    np.testing.assert_allclose(paired["p_holm"], [t["p_holm"] for t in summary["paired_tests"]])
