"""SecureBreak's `human` config from the labeled judge validation set (issue 18)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from mijabench.derived import securebreak as sb
from mijabench.derived import securebreak_dataset as sbd
from mijabench.derived import securebreak_human as sbh
from mijabench.errors import MijaError
from mijabench.judge.trust import validation_dir

DATA = Path(__file__).parent / "data"
CASES = [json.loads(line) for line in (DATA / "securebreak_human_cases.jsonl").read_text("utf-8").splitlines()]


def jsonl(path: Path, rows: list[dict]) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


def mini_set(folder: Path, cases: list[dict]) -> Path:
    """A folder laid out like mijabench/data/judge_validation/, one response per case."""
    folder.mkdir(parents=True, exist_ok=True)
    responses, p1, p2, adj = [], [], [], []
    for i, case in enumerate(cases):
        rid = f"case{i:03d}"
        responses.append({"id": rid, "split": case["split"], "source": "handwritten", "model": "hand",
                          "language": "en" if i % 2 else "pt", "kind": "harmful", "strategy": "chain_of_thought",
                          "prompt": f"prompt {i}", "response": f"response text {i}"})
        p1.append({"id": rid, "outcome": "compliance", "verdict": case["pass1"], "note": ""})
        p2.append({"id": rid, "outcome": "compliance", "verdict": case["pass2"], "note": ""})
        if "adjudicated" in case:
            adj.append({"id": rid, "outcome": "compliance", "verdict": case["adjudicated"],
                        "adjudication_note": case["note"]})
    jsonl(folder / "responses.jsonl", responses)
    jsonl(folder / "labels_pass1.jsonl", p1)
    jsonl(folder / "labels_pass2.jsonl", p2)
    jsonl(folder / "labels_adjudicated.jsonl", adj)
    return folder


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp("sbh") / "securebreak"
    return out, sbd.build(out, [], None, judge_validation=validation_dir())


def test_conflicting_labels_resolve_conservatively_by_data_file_cases(tmp_path):
    tables = sbd.build(tmp_path / "out", [], None, judge_validation=mini_set(tmp_path / "set", CASES))
    by_origin = {r["origin"]: r for split in tables["human"].values() for r in split.to_pylist()}
    for i, case in enumerate(CASES):
        row = next(r for origin, r in by_origin.items() if f"(id case{i:03d})" in origin)
        assert row["final_label"] == case["expected"], case["case"]
        assert [v["annotator"] for v in row["annotator_labels"]] == ["pass1", "pass2"]  # each pass its own label
        assert row["risk_category"] == "hate_speech" and row["outcome"] == "compliance"
        assert row["label_rule"] == "conservative" and row["label_source"] == "human"


def test_missing_pass_and_bad_verdict_are_one_line_errors(tmp_path):
    folder = mini_set(tmp_path / "set", CASES[:2])
    jsonl(folder / "labels_pass2.jsonl", [{"id": "case000", "outcome": "refusal", "verdict": "safe", "note": ""}])
    with pytest.raises(MijaError, match=r"responses.jsonl:line 2 \(id case001\): no label in labels_pass2.jsonl"):
        sbh.import_validation(folder)
    jsonl(folder / "labels_pass2.jsonl", [{"id": f"case00{i}", "outcome": "refusal", "verdict": "maybe", "note": ""}
                                          for i in range(2)])
    with pytest.raises(MijaError, match="labels_pass2.jsonl verdict must be safe or harmful"):
        sbh.import_validation(folder)


def test_human_config_loads_offline_with_every_row(built, monkeypatch):
    import datasets.config
    from datasets import load_dataset
    out, tables = built
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)
    ds = load_dataset(str(out), "human")
    responses = (validation_dir() / "responses.jsonl").read_text("utf-8").splitlines()
    assert sum(ds[s].num_rows for s in ds) == len(responses)
    assert set(ds) == {"train", "validation", "test"}
    assert {"outcome", "adjudicated_label", "adjudication_note", "source_split"} <= set(ds["test"].column_names)
    assert "judge" not in tables  # judge-labeled rows only come with --mijabench-align, as their own config


def test_test_rows_stay_in_test_and_no_text_crosses_splits(built):
    _, tables = built
    rows = {s: t.to_pylist() for s, t in tables["human"].items()}
    hashes = {s: {sb.text_hash(r["prompt"], r["response"]) for r in part} for s, part in rows.items()}
    assert not hashes["test"] & (hashes["train"] | hashes["validation"])
    assert not hashes["train"] & hashes["validation"]
    assert {r["source_split"] for r in rows["test"]} == {"test"}
    assert {r["source_split"] for s in ("train", "validation") for r in rows[s]} == {"dev"}
    split_of = {json.loads(line)["id"]: json.loads(line)["split"]
                for line in (validation_dir() / "responses.jsonl").read_text("utf-8").splitlines()}
    assert len(rows["test"]) == list(split_of.values()).count("test")
    # both languages and both labels reach train and validation (stratified by language too)
    for s in ("train", "validation"):
        assert {(r["language"], r["final_label"]) for r in rows[s]} == {(lang, lab) for lang in ("en", "pt")
                                                                         for lab in ("safe", "unsafe")}


def test_real_disagreements_follow_the_rule(built):
    _, tables = built
    rows = [r for t in tables["human"].values() for r in t.to_pylist()]
    for r in rows:
        any_unsafe = any(v["label"] == "unsafe" for v in r["annotator_labels"])
        if any_unsafe and r["final_label"] == "safe":  # only a written adjudication may do this
            assert r["adjudication_note"] and r["adjudicated_label"] == "safe"
        if not r["adjudication_note"]:
            assert r["final_label"] == ("unsafe" if any_unsafe else "safe")
    adjudicated = {json.loads(line)["id"]: json.loads(line)["verdict"] for line in
                   (validation_dir() / "labels_adjudicated.jsonl").read_text("utf-8").splitlines()}
    assert sum(r["final_label"] == "unsafe" for r in rows) == list(adjudicated.values()).count("harmful")


def test_card_numbers_come_from_the_data(built):
    from sklearn.metrics import cohen_kappa_score
    out, tables = built
    card = (out / "README.md").read_text("utf-8")
    p1, p2 = ({json.loads(line)["id"]: json.loads(line)["verdict"] for line in
               (validation_dir() / f"labels_pass{i}.jsonl").read_text("utf-8").splitlines()} for i in (1, 2))
    ids = sorted(p1)
    kappa = cohen_kappa_score([p1[i] for i in ids], [p2[i] for i in ids])
    agree = sum(p1[i] == p2[i] for i in ids) / len(ids)
    assert f"| all | {len(ids)} | {agree:.1%} | {kappa:.3f} |" in card
    disagree = sum(p1[i] != p2[i] for i in ids)
    assert re.search(rf"disagreed on the verdict on {disagree} of {len(ids)} rows", card)
    for split_name, table in tables["human"].items():
        labels = table.column("final_label").to_pylist()
        assert f"| human | {split_name} | {labels.count('safe')} | {labels.count('unsafe')} |" in card
    assert "Rule as applied" in card and "docs/labeling_guide.md" in card


def test_split_pins_source_test_rows_even_with_a_test_fraction():
    rows = [sb.make_row(f"p{i}", f"r{i}", "hate_speech", "unsafe" if i % 3 else "safe", source="s", origin=str(i),
                        source_split="test" if i < 10 else "dev") for i in range(40)]
    parts = sb.split(rows, {"train": 0.5, "validation": 0.25, "test": 0.25})
    assert {r["origin"] for r in parts["test"]} >= {str(i) for i in range(10)}
    assert all(r["source_split"] == "dev" for s in ("train", "validation") for r in parts[s])
    merged, removed = sb.dedupe(rows + [dict(rows[15], source_split="test", origin="dup")])
    assert removed == 1 and next(r for r in merged if r["id"] == rows[15]["id"])["source_split"] == "test"


def test_cli_builds_the_human_config_from_a_labeled_set(tmp_path):
    import subprocess
    import sys
    folder = mini_set(tmp_path / "set", CASES)
    proc = subprocess.run([sys.executable, "-m", "mijabench", "build", "securebreak", "--judge-validation-dir",
                           str(folder), "--out", str(tmp_path / "out")], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr[-500:]
    assert "human: train=" in proc.stdout and (tmp_path / "out" / "README.md").is_file()
    (folder / "labels_pass1.jsonl").unlink()
    proc = subprocess.run([sys.executable, "-m", "mijabench", "build", "securebreak", "--judge-validation-dir",
                           str(folder), "--out", str(tmp_path / "out2")], capture_output=True, text=True, check=False)
    assert proc.returncode == 2 and proc.stderr.strip().startswith("error: ") and len(proc.stderr.strip().splitlines()) == 1
    assert "labels_pass1.jsonl: missing" in proc.stderr
