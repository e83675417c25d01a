"""Human validation: stratified sample, blind sheet, import of several annotators, agreement (Table 3)."""

from __future__ import annotations

import csv
import json
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pytest

from mijabench_align_fixtures import two_model_align
from mijabench.derived import human_validation as hv
from mijabench.errors import MijaError
from mijabench.schema import canonical_json


@pytest.fixture(scope="module")
def align() -> pa.Table:
    return two_model_align(per_group=8)


def test_sample_is_one_jailbroken_and_one_refused_per_stratum(align):
    items = hv.sample(align, seed=0)
    rows = items.to_pylist()
    got = Counter((r["language"], r["group"], r["strategy"], r["model"], r["judge_verdict"]) for r in rows)
    assert set(got.values()) == {1}
    # Every stratum that has a harmful-prompt response of a verdict is represented by exactly one.
    available = {(r["language"], r["group"], r["strategy"], r["model"], r["verdict"])
                 for r in align.to_pylist() if r["kind"] == "harmful" and r["verdict"] in ("safe", "harmful")}
    assert set(got) == available
    assert {r["judge_verdict"] for r in rows} == {"safe", "harmful"}
    # Reproducible for a seed, different draws for another seed.
    assert hv.sample(align, seed=0).equals(items)
    assert hv.sample(align, seed=1).column("item_id").to_pylist() != items.column("item_id").to_pylist()


def test_export_sheet_is_blind(align, tmp_path):
    items = hv.sample(align, seed=0)
    paths = hv.export(items, tmp_path, "csv")
    with open(paths["sheet"], newline="") as fh:
        sheet = list(csv.DictReader(fh))
    assert list(sheet[0]) == hv.SHEET_COLUMNS
    assert len(sheet) == items.num_rows and all(r["label"] == "" for r in sheet)
    assert not {"model", "judge_verdict", "judge", "judge_verdicts"} & set(sheet[0])
    assert hv.read_sample(paths["sample"]).equals(items.select(hv.SAMPLE_COLUMNS))
    parquet = hv.export(items, tmp_path / "pq", "parquet")
    assert parquet["sheet"].suffix == ".parquet"


# --- hand-computed agreement -----------------------------------------------------------------
# 4 items, 3 annotators (S = safe, H = harmful):
#   item  language  annotators  judge "rules"
#   a     en        S S S       S
#   b     en        H H H       H
#   c     pt        S S H       H
#   d     pt        S H H       S
# Fleiss' kappa: P_i = 1, 1, 1/3, 1/3 -> mean 2/3; p_safe = p_harmful = 1/2 -> P_e = 1/2;
#   kappa = (2/3 - 1/2) / (1 - 1/2) = 1/3.
# Krippendorff's alpha (nominal): coincidences o_SS = 4, o_HH = 4, o_SH = o_HS = 2; n_S = n_H = 6,
#   n = 12; alpha = 1 - (n - 1) * (o_SH + o_HS) / (2 n_S n_H) = 1 - 11 * 4 / 72 = 7/18.
# Majority: a S, b H, c S, d H. Judge vs majority: en 2/2 (p_e = 1/2, kappa 1); pt 0/2: judge (H, S) vs
#   humans (S, H): p_o = 0, p_e = 1/2 -> kappa -1; all: p_o = 2/4, p_e = 1/2 -> kappa 0.
# Conservative (any H): a S, b H, c H, d H. Judge vs that, all: agree on a, b, c -> p_o = 3/4;
#   judge S 2/4, humans S 1/4 -> p_e = 2/4 * 1/4 + 2/4 * 3/4 = 1/2 -> kappa = (3/4 - 1/2) / (1/2) = 1/2.
LABELS = {"a": "SSS", "b": "HHH", "c": "SSH", "d": "SHH"}
JUDGE = {"a": "safe", "b": "harmful", "c": "harmful", "d": "safe"}
LANGUAGE = {"a": "en", "b": "en", "c": "pt", "d": "pt"}


def known_items() -> pa.Table:
    rows = [{"item_id": k, "id": f"p{k}", "model": "m", "language": LANGUAGE[k], "group": "women",
             "strategy": "persona_assignment", "scenario_category": "economy_work", "prompt": "[prompt]",
             "response": "[response]", "judge_verdict": JUDGE[k], "judge": "rules",
             "judge_verdicts": canonical_json({"rules": {"verdict": JUDGE[k], "rationale": "r"}})}
            for k in LABELS]
    return pa.Table.from_pylist(rows).select(hv.SAMPLE_COLUMNS)


def write_sheets(folder: Path, labels=LABELS) -> list[Path]:
    word = {"S": "safe", "H": "Harmful"}  # case-insensitive labels
    paths = []
    for a, name in enumerate(("ana", "bruno", "carla")):
        path = folder / f"{name}.csv"
        with open(path, "w", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(["item_id", "label", "note"])
            for item, marks in labels.items():
                writer.writerow([item, word[marks[a]], ""])
        paths.append(path)
    return paths


def agreement_of(report: dict, language: str) -> dict:
    return next(r for r in report["judges"] if r["judge"] == "rules" and r["language"] == language)


def test_majority_agreement_matches_hand_computed_values(tmp_path):
    human = hv.combine(known_items(), write_sheets(tmp_path), "majority")
    assert human.column("human_verdict").to_pylist() == ["safe", "harmful", "safe", "harmful"]
    assert human.column("annotators").to_pylist()[0] == ["ana", "bruno", "carla"]
    report = hv.agreement(human)
    ia = report["interannotator"]
    assert ia["fleiss_kappa"] == pytest.approx(1 / 3, abs=1e-4)
    assert ia["krippendorff_alpha"] == pytest.approx(7 / 18, abs=1e-4)
    assert agreement_of(report, "en") == {"judge": "rules", "language": "en", "n": 2, "accuracy": 1.0, "kappa": 1.0}
    assert agreement_of(report, "pt")["accuracy"] == 0.0 and agreement_of(report, "pt")["kappa"] == -1.0
    assert agreement_of(report, "all")["accuracy"] == 0.5 and agreement_of(report, "all")["kappa"] == 0.0


def test_conservative_aggregation_and_written_report(tmp_path):
    human = hv.combine(known_items(), write_sheets(tmp_path), "conservative")
    assert human.column("human_verdict").to_pylist() == ["safe", "harmful", "harmful", "harmful"]
    report = hv.write_human(tmp_path / "out", human)
    assert agreement_of(report, "all")["accuracy"] == 0.75
    assert agreement_of(report, "all")["kappa"] == pytest.approx(0.5)
    assert json.loads((tmp_path / "out" / "agreement.json").read_text()) == report
    table = (tmp_path / "out" / "agreement.md").read_text()
    assert "| `rules` | all | 4 | 0.750 | 0.500 |" in table
    assert "Fleiss' κ = 0.333, Krippendorff's α = 0.389" in table
    assert hv.read_human(tmp_path / "out").equals(human)


def test_majority_tie_counts_as_harmful(tmp_path):
    labels = {"a": "SH", "b": "SS", "c": "HH", "d": "HS"}
    paths = write_sheets(tmp_path, {k: v + "S" for k, v in labels.items()})[:2]
    human = hv.combine(known_items(), paths, "majority")
    assert human.column("human_verdict").to_pylist() == ["harmful", "safe", "harmful", "harmful"]


def test_missing_label_names_file_row_and_column(tmp_path):
    paths = write_sheets(tmp_path)
    rows = list(csv.reader(open(paths[1])))
    rows[3][1] = ""  # third data row
    with open(paths[1], "w", newline="") as fh:
        csv.writer(fh).writerows(rows)
    with pytest.raises(MijaError, match=r"bruno\.csv:row 3 column 'label': missing label"):
        hv.combine(known_items(), paths, "majority")


@pytest.mark.parametrize("edit, message", [
    (lambda rows: rows[:-1], r"1 sampled items have no row"),
    (lambda rows: rows + [["zzz", "safe", ""]], r"row 5 column 'item_id': not in the sample"),
    (lambda rows: rows + [rows[1]], r"row 5 column 'item_id': item appears twice"),
    (lambda rows: [rows[0], [rows[1][0], "maybe", ""]] + rows[2:], r"row 1 column 'label': not a label; write safe or harmful"),
    (lambda rows: [["item_id", "verdict", "note"]] + rows[1:], r"missing column 'label'"),
    (lambda rows: rows + [["b", "safe", "", "[response text]"]], r"ana\.csv:line 6: cannot parse the filled annotation sheet.*row has 4 fields"),
])
def test_bad_sheets_are_clear_errors(tmp_path, edit, message):
    path = write_sheets(tmp_path)[0]
    rows = edit(list(csv.reader(open(path))))
    with open(path, "w", newline="") as fh:
        csv.writer(fh).writerows(rows)
    with pytest.raises(MijaError, match=message) as err:
        hv.combine(known_items(), [path], "majority")
    assert "text]" not in str(err.value)  # sheet content never reaches the message


def test_one_annotator_has_no_interannotator_agreement(tmp_path):
    human = hv.combine(known_items(), write_sheets(tmp_path)[:1], "majority")
    report = hv.agreement(human)
    assert report["interannotator"] is None
    assert "One annotator" in hv.interannotator_text(report)


def test_cli_export_import_and_card_table3(align, tmp_path):
    """annotate export -> three filled sheets -> annotate import -> build mijabench-align --human."""
    import pyarrow.parquet as pq
    from datasets import load_dataset
    from typer.testing import CliRunner

    from mijabench.cli import app
    runner = CliRunner()
    for model in ("always-refuse", "mixed-1b"):
        (tmp_path / model).mkdir()
        pq.write_table(align.filter(pa.compute.equal(align.column("model"), model)),
                       tmp_path / model / "audit.parquet")
    out = tmp_path / "align"
    result = runner.invoke(app, ["build", "mijabench-align", "--runs", str(tmp_path / "always-refuse"),
                                 str(tmp_path / "mixed-1b"), "--out", str(out)])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["annotate", "export", "--mijabench-align", str(out), "--out", str(tmp_path / "hv")])
    assert result.exit_code == 0, result.output
    items = hv.read_sample(tmp_path / "hv" / "sample.parquet")
    assert "[placeholder]" not in result.output  # counts and paths only, never response text
    sheets = []
    for a, name in enumerate(("ana", "bruno", "carla")):
        with open(tmp_path / "hv" / "sheet.csv", newline="") as fh:
            rows = list(csv.DictReader(fh))
        for i, row in enumerate(rows):  # ana and bruno follow the judge; carla flips every 3rd item
            judged = items.column("judge_verdict")[i].as_py()
            row["label"] = judged if a < 2 or i % 3 else {"safe": "harmful", "harmful": "safe"}[judged]
        path = tmp_path / "hv" / f"{name}.csv"
        with open(path, "w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
        sheets.append(str(path))
    result = runner.invoke(app, ["annotate", "import", "--sample", str(tmp_path / "hv" / "sample.parquet"),
                                 "--sheets", *sheets, "--out", str(tmp_path / "hv")])
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "hv" / "agreement.json").read_text())
    assert agreement_of(report, "all")["accuracy"] == 1.0  # the majority always follows the judge
    assert report["interannotator"]["n_annotators"] == 3 and report["interannotator"]["fleiss_kappa"] < 1
    result = runner.invoke(app, ["build", "mijabench-align", "--runs", str(tmp_path / "always-refuse"),
                                 str(tmp_path / "mixed-1b"), "--out", str(out),
                                 "--human", str(tmp_path / "hv" / "human_validation.parquet")])
    assert result.exit_code == 0, result.output
    card = (out / "README.md").read_text()
    assert "## Human validation" in card and "| `rules` | all |" in card and "Fleiss' κ" in card
    # A private cache: datasets keys a local folder's cache by name and configs, not file content.
    human = load_dataset(str(out), "human_validation", cache_dir=str(tmp_path / ".hf-cache"))["test"]
    assert human.num_rows == items.num_rows and human[0]["annotators"] == ["ana", "bruno", "carla"]
    assert "verdict" not in human.column_names  # a side table, never mistaken for audit results
