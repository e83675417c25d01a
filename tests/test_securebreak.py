"""SecureBreak import, validation, dedup/split and card (issue 5, part 1)."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from mijabench.derived import securebreak as sb
from mijabench.derived import securebreak_import as sbi
from mijabench.derived import securebreak_dataset as sbd
from mijabench.errors import MijaError
from mijabench.schema import AUDIT_SCHEMA

DATA = Path(__file__).parent / "data"
CSV = DATA / "securebreak_annotated.csv"
MAPPING = DATA / "securebreak_mapping.yaml"
ROOT = Path(__file__).resolve().parent.parent


def write_csv(path: Path, rows: list[dict]) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def write_mapping(path: Path, labels=("a", "b"), rule="conservative", extra: str = "") -> Path:
    path.write_text(
        "columns:\n  prompt: q\n  response: r\n  risk_category: cat\n"
        f"  labels: [{', '.join(labels)}]\nrule: {rule}\n{extra}", encoding="utf-8")
    return path


def row(i: int, a="unsafe", b="unsafe", cat="violence", response=None) -> dict:
    return {"q": f"prompt {i}", "r": response if response is not None else f"response number {i}",
            "cat": cat, "a": a, "b": b}


def split_rows(tables: dict) -> dict:
    return {(c, s): t.to_pylist() for c, splits in tables.items() for s, t in splits.items()}


# --- the fixture build ---------------------------------------------------------------------------
def test_build_fixture_writes_loadable_gated_dataset_with_card(tmp_path):
    from datasets import load_dataset
    out = tmp_path / "sb"
    tables = sbd.build(out, [CSV], MAPPING)
    assert list(tables) == ["human"]
    sizes = {s: t.num_rows for s, t in tables["human"].items()}
    assert sizes == {"train": 36, "validation": 12, "test": 12}
    ds = load_dataset(str(out), "human")
    assert ds["test"].num_rows == 12
    first = ds["train"][0]
    assert first["label_source"] == "human" and first["judge_labels"] == []
    assert {v["annotator"] for v in first["annotator_labels"]} == {"ann_a", "ann_b"}
    card = (out / "README.md").read_text()
    assert "extra_gated_prompt" in card and "extra_gated_fields" in card
    assert "| `hate_speech` (Hate speech) |" in card and "| `misinformation` (Misinformation) | " in card
    assert "| human | test | 6 | 6 | 50.0% |" in card  # label distribution
    assert "Final label rule: **`conservative`**" in card
    assert "rows where annotators disagreed: 6" in card
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["rows"] == {"human": sizes}


def test_conservative_rule_keeps_unsafe_when_any_annotator_says_so(tmp_path):
    tables = sbd.build(tmp_path / "sb", [CSV], MAPPING)
    rows = [r for t in tables["human"].values() for r in t.to_pylist()]
    split_votes = [r for r in rows if len({v["label"] for v in r["annotator_labels"]}) > 1]
    assert len(split_votes) == 6 and all(r["final_label"] == "unsafe" for r in split_votes)
    assert all(r["label_rule"] == "conservative" for r in rows)


def test_splits_are_stratified_by_category_and_label():
    mapping = sbi.load_mapping(MAPPING)
    tables, _ = sbd.build_tables([CSV], mapping)
    test = tables["human"]["test"].to_pylist()
    strata = {(r["risk_category"], r["final_label"]) for r in test}
    assert len(strata) == 12  # 6 categories x 2 labels: every stratum reaches the test split
    assert tables["human"]["train"].num_rows == 36


def test_same_inputs_and_seed_give_identical_files(tmp_path):
    sbd.build(tmp_path / "one", [CSV], MAPPING)
    sbd.build(tmp_path / "two", [CSV], MAPPING)
    one = json.loads((tmp_path / "one" / "manifest.json").read_text())["files"]
    two = json.loads((tmp_path / "two" / "manifest.json").read_text())["files"]
    assert one == two
    sbd.build(tmp_path / "three", [CSV], MAPPING, seed=7)
    three = json.loads((tmp_path / "three" / "manifest.json").read_text())["files"]
    test_shard = lambda files: [h for name, h in files.items() if name.startswith("data/human/test-")]  # noqa: E731
    assert test_shard(three) != test_shard(one) and len(test_shard(one)) == 1


# --- dedup and leakage ---------------------------------------------------------------------------
def test_near_duplicates_never_cross_splits(tmp_path):
    rows = []
    for i in range(40):
        base = row(i, cat=["violence", "privacy"][i % 2], a=["safe", "unsafe"][i % 3 == 0],
                   b=["safe", "unsafe"][i % 3 == 0])
        rows.append(base)
        # The same text again with case, spacing and punctuation changes, labelled differently.
        rows.append({**base, "q": "  " + base["q"].upper() + " !", "r": base["r"].replace(" ", "   ") + ".",
                     "a": "unsafe"})
    inp = write_csv(tmp_path / "dups.csv", rows)
    tables = sbd.build(tmp_path / "sb", [inp], write_mapping(tmp_path / "m.yaml"))
    by_split = {s: t.to_pylist() for s, t in tables["human"].items()}
    hashes = {s: {sb.text_hash(r["prompt"], r["response"]) for r in rs} for s, rs in by_split.items()}
    assert sum(len(h) for h in hashes.values()) == 40  # one row per text survives
    assert not (hashes["train"] & hashes["test"]) and not (hashes["train"] & hashes["validation"])
    assert not (hashes["validation"] & hashes["test"])
    merged = [r for rs in by_split.values() for r in rs]
    # Duplicates pool their annotators; the conservative rule then sees the extra "unsafe" vote.
    assert all(len(r["annotator_labels"]) == 4 and r["final_label"] == "unsafe" for r in merged)
    assert "40 duplicates removed" in (tmp_path / "sb" / "README.md").read_text()


def test_normalised_hash_ignores_case_space_and_punctuation_only():
    assert sb.text_hash("Hello,  World", "Fine!") == sb.text_hash("hello world", "fine")
    assert sb.text_hash("Hello World", "Fine") != sb.text_hash("Hello World", "Fine too")


# --- formats and vocabulary ----------------------------------------------------------------------
def test_jsonl_list_labels_aliases_and_parquet(tmp_path):
    lines = [
        {"q": "p1", "r": "resposta um", "cat": "discurso de ódio", "votes": ["segura", "perigosa"]},
        {"q": "p2", "r": "resposta dois", "cat": "Self-Harm", "votes": [0, 0, 0]},
        {"q": "p3", "r": "answer three", "cat": "pii", "votes": [1, 0]},
    ]
    jsonl = tmp_path / "in.jsonl"
    jsonl.write_text("\n".join(json.dumps(x, ensure_ascii=False) for x in lines) + "\n", encoding="utf-8")
    mapping = sbi.load_mapping(write_mapping(tmp_path / "m.yaml", labels=("votes",)))
    got = sbi.import_file(jsonl, mapping)
    assert [r["risk_category"] for r in got] == ["hate_speech", "self_harm", "privacy"]
    assert [r["final_label"] for r in got] == ["unsafe", "safe", "unsafe"]
    assert [v["annotator"] for v in got[0]["annotator_labels"]] == ["votes[0]", "votes[1]"]
    assert got[0]["origin"] == "in.jsonl:line 1"
    parquet = tmp_path / "in.parquet"
    pq.write_table(pa.Table.from_pylist([{**x, "votes": [str(v) for v in x["votes"]]} for x in lines]), parquet)
    assert [r["final_label"] for r in sbi.import_file(parquet, mapping)] == ["unsafe", "safe", "unsafe"]


def test_majority_rule_and_custom_label_aliases(tmp_path):
    rows = [{"q": "x", "r": "one", "cat": "other", "a": "safe", "b": "safe", "c": "block"},
            {"q": "y", "r": "two", "cat": "other", "a": "safe", "b": "unsafe", "c": "block"},
            {"q": "z", "r": "three", "cat": "other", "a": "safe", "b": "unsafe", "c": ""}]
    inp = write_csv(tmp_path / "in.csv", rows)
    m = write_mapping(tmp_path / "m.yaml", labels=("a", "b", "c"), rule="majority",
                      extra="label_aliases: {unsafe: [block]}\n")
    got = sbi.import_file(inp, sbi.load_mapping(m))
    # 2 safe vs 1 unsafe -> safe; 1 vs 2 -> unsafe; a 1-1 tie (third annotator blank) -> unsafe.
    assert [r["final_label"] for r in got] == ["safe", "unsafe", "unsafe"]
    assert len(got[2]["annotator_labels"]) == 2


# --- bad inputs: one line, names file/row/field, no dataset text ---------------------------------
def _error(fn) -> str:
    with pytest.raises(MijaError) as exc:
        fn()
    message = str(exc.value)
    assert "\n" not in message
    return message


def test_unmapped_column_is_named(tmp_path):
    inp = write_csv(tmp_path / "in.csv", [{"q": "p", "r": "secret text", "cat": "other", "a": "safe"}])
    msg = _error(lambda: sbi.import_file(inp, sbi.load_mapping(write_mapping(tmp_path / "m.yaml"))))
    assert "in.csv" in msg and "'b'" in msg and "labels" in msg and "secret" not in msg


def test_unknown_label_value_names_line_and_column(tmp_path):
    inp = write_csv(tmp_path / "in.csv", [row(0), row(1, b="maybe-ish")])
    msg = _error(lambda: sbi.import_file(inp, sbi.load_mapping(write_mapping(tmp_path / "m.yaml"))))
    assert "in.csv:line 3" in msg and "column b" in msg and "unknown label value" in msg


def test_empty_files_are_rejected(tmp_path):
    mapping = sbi.load_mapping(write_mapping(tmp_path / "m.yaml"))
    header_only = tmp_path / "header.csv"
    header_only.write_text("q,r,cat,a,b\n")
    assert "no data rows" in _error(lambda: sbi.import_file(header_only, mapping))
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    assert "empty.jsonl: the file has no data rows" in _error(lambda: sbi.import_file(empty, mapping))


def test_strict_rule_rejects_conflicting_annotators(tmp_path):
    inp = write_csv(tmp_path / "in.csv", [row(0), row(1, a="safe", b="unsafe")])
    strict = sbi.load_mapping(write_mapping(tmp_path / "m.yaml", rule="strict"))
    msg = _error(lambda: sbi.import_file(inp, strict))
    assert "in.csv:line 3" in msg and "disagree" in msg and "strict" in msg
    # Under strict, duplicate rows whose labels conflict are an error too (caught at dedup).
    dup = write_csv(tmp_path / "dup.csv", [row(0, a="safe", b="safe"), row(0)])
    assert "duplicate rows" in _error(lambda: sbd.build_tables([dup], strict))


@pytest.mark.parametrize("bad, expect", [
    ({"r": "   "}, "field response is empty"),
    ({"a": "", "b": ""}, "missing label"),
    ({"cat": "weather"}, "unknown risk category 'weather'"),
])
def test_row_validation(tmp_path, bad, expect):
    inp = write_csv(tmp_path / "in.csv", [row(0), {**row(1), **bad}])
    msg = _error(lambda: sbi.import_file(inp, sbi.load_mapping(write_mapping(tmp_path / "m.yaml"))))
    assert expect in msg and "in.csv:line 3" in msg


@pytest.mark.parametrize("text, expect", [
    ("columns: {prompt: q, response: r, risk_category: c}\n", "columns.labels is missing"),
    ("columns: {prompt: q, risk_category: c, labels: [a]}\n", "columns.response is missing"),
    ("columns: {prompt: q, response: r, risk_category: c, labels: a}\nrule: lenient\n", "unknown rule"),
    ("columns: {prompt: q, response: r, risk_category: c, labels: a}\nsplits: {train: 0.9}\n", "splits"),
    ("columns: {prompt: q, response: r, answer: x, risk_category: c, labels: a}\n", "unknown field 'answer'"),
    ("columns: [\n", "not valid YAML"),
])
def test_mapping_validation(tmp_path, text, expect):
    path = tmp_path / "m.yaml"
    path.write_text(text)
    assert expect in _error(lambda: sbi.load_mapping(path))


def test_cli_reports_one_line_error(tmp_path):
    inp = write_csv(tmp_path / "in.csv", [row(0), row(1, b="maybe")])
    proc = subprocess.run([sys.executable, "-m", "mijabench", "build", "securebreak", "--input", str(inp),
                           "--mapping", str(write_mapping(tmp_path / "m.yaml")), "--out", str(tmp_path / "o")],
                          capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "in.csv:line 3" in proc.stderr
    assert not (tmp_path / "o").exists()


# --- MiJaBench-Align rows ------------------------------------------------------------------------
def audit_table(n: int = 12) -> pa.Table:
    rows = []
    for i in range(n):
        verdict = ["safe", "harmful", "unparsed", "error"][i % 4] if i < 8 else ["safe", "harmful"][i % 2]
        base = {f.name: "" if pa.types.is_string(f.type) else None for f in AUDIT_SCHEMA}
        base.update(id=f"p{i}", language=["en", "pt"][i % 2], strategy="persona_assignment",
                    group="black", scenario_category="economy_work", config="counterfactual",
                    kind="benign" if i == 1 else "harmful", prompt=f"audit prompt {i}",
                    response="" if verdict == "error" else f"audit response {i}", model="smollm2",
                    model_params=None, latency_s=0.1, verdict=verdict, judge="ensemble[rules,llm:x]",
                    refusal=verdict == "safe", error="boom" if verdict == "error" else "",
                    judge_verdicts=json.dumps({"rules": {"verdict": verdict}, "llm:x": {"verdict": "harmful"}}))
        rows.append(base)
    return pa.Table.from_pylist(rows, schema=AUDIT_SCHEMA)


def test_from_align_keeps_judge_labels_apart(tmp_path):
    got = sb.from_align(audit_table())
    assert len(got) == 8  # unparsed and error rows have no label to learn from
    assert all(r["label_source"] == "judge" and r["annotator_labels"] == [] for r in got)
    assert all(r["source"] == "mijabench-align" and r["risk_category"] == "hate_speech" for r in got)
    assert got[0]["judge_labels"] == [{"annotator": "llm:x", "label": "unsafe"},
                                      {"annotator": "rules", "label": "safe"}]
    assert {r["final_label"] for r in got} == {"safe", "unsafe"}
    assert got[0]["label_rule"] == "judge:ensemble[rules,llm:x]"
    assert [r["attack_type"] for r in got[:2]] == ["persona_assignment", "benign"]


def test_human_and_judge_configs_combine_without_leakage(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    table = audit_table()
    pq.write_table(table, run / "audit.parquet")
    # A human row with the same text as audit row 0 (after normalisation): human wins, judge row goes.
    human = write_csv(tmp_path / "h.csv", [row(i) for i in range(10)] +
                      [{"q": "AUDIT prompt 0", "r": "audit response 0!", "cat": "hate", "a": "unsafe", "b": "safe"}])
    out = tmp_path / "sb"
    tables = sbd.build(out, [human], write_mapping(tmp_path / "m.yaml"), mijabench_align=[run])
    assert set(tables) == {"human", "judge"}
    judge_rows = [r for t in tables["judge"].values() for r in t.to_pylist()]
    human_rows = [r for t in tables["human"].values() for r in t.to_pylist()]
    assert len(judge_rows) == 7 and len(human_rows) == 11
    assert {r["id"] for r in judge_rows}.isdisjoint({r["id"] for r in human_rows})
    card = (out / "README.md").read_text()
    assert "**an automatic judge, not humans**: ensemble[rules,llm:x]" in card
    assert "config_name: judge" in card
    from datasets import concatenate_datasets, load_dataset
    both = concatenate_datasets([load_dataset(str(out), c, split="train") for c in ("human", "judge")])
    assert set(both["label_source"]) == {"human", "judge"}
