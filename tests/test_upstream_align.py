"""The authors' released MiJaBench-Align rows: judge cells, majority vote, streaming, Hub source.

The fixture ``data/upstream_align_authors.csv`` is in the authors' exact column format (EN and PT
rows, judges qwe235/lla70/oss120, models with hyphens and dots, malformed cells, a repeated row);
``data/upstream_align_authors_expected.csv`` holds the per-judge verdicts and the majorities
worked out by hand for every prompt x model.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from mijabench.derived import align_stream, mijabench_align, upstream_align
from mijabench.derived.upstream_cells import parse_cell
from mijabench.errors import MijaError
from mijabench.schema import AUDIT_SCHEMA

DATA = Path(__file__).parent / "data"
RELEASE = DATA / "upstream_align_authors.csv"
EXPECTED = DATA / "upstream_align_authors_expected.csv"
JUDGES = ("qwe235", "lla70", "oss120")
MODELS = ("Llama-3.2-1B-Instruct", "gemma-3-1b-it", "Qwen3-1.7B-FP8")
ROOT = Path(__file__).resolve().parent.parent


def expected_rows() -> dict[tuple[str, str], dict]:
    with open(EXPECTED, newline="", encoding="utf-8") as fh:
        return {(r["prompt"], r["model"]): r for r in csv.DictReader(fh)}


def by_key(table: pa.Table) -> dict[tuple[str, str], dict]:
    rows = table.to_pylist()
    keyed = {(r["prompt"], r["model"]): r for r in rows}
    assert len(keyed) == len(rows), "one row per prompt x model"
    return keyed


def assert_matches_hand_computed(table: pa.Table) -> None:
    got, want = by_key(table), expected_rows()
    assert set(got) == set(want)
    for key, exp in want.items():
        row = got[key]
        assert (row["language"], row["group"], row["verdict"]) == \
            (exp["language"], exp["group"], exp["verdict"]), key
        assert row["refusal"] == {"true": True, "false": False, "": None}[exp["refusal"]], key
        members = json.loads(row["judge_verdicts"])
        assert set(members) == set(JUDGES) and row["judge"] == "ensemble[lla70,oss120,qwe235]"
        for judge in JUDGES:
            verdict, _, reason = exp[judge].partition(":")
            assert members[judge]["verdict"] == verdict, (key, judge)
            assert reason in members[judge]["rationale"], (key, judge)


# --- judge cells -----------------------------------------------------------------------------------
CELL_CASES = [json.loads(line) for line in (DATA / "upstream_cells.jsonl").read_text("utf-8").splitlines()]


@pytest.mark.parametrize("case", CELL_CASES, ids=[c["case"] for c in CELL_CASES])
def test_judge_cell(case):
    cell = parse_cell(case["cell"])
    assert cell.verdict == case["verdict"]
    if case["verdict"] == "unparsed":
        assert cell.rationale.startswith("unparsed: ") and case["reason"] in cell.rationale
        assert cell.refusal is None
    else:
        assert (cell.rationale, cell.refusal) == (case["rationale"], case["refusal"])


# --- the fixture in the authors' format --------------------------------------------------------------
def test_verdicts_equal_hand_computed_majorities():
    report = upstream_align.ImportReport(str(RELEASE))
    table = upstream_align.align_table(RELEASE, report=report)
    assert table.schema == AUDIT_SCHEMA and table.num_rows == 6 * len(MODELS)
    assert_matches_hand_computed(table)
    rows = by_key(table)
    # Both key sets keep the judge's reasoning; the model names keep their dots and hyphens.
    en = json.loads(rows[("[prompt en 1]", "Qwen3-1.7B-FP8")]["judge_verdicts"])
    pt = json.loads(rows[("[prompt pt 4]", "Qwen3-1.7B-FP8")]["judge_verdicts"])
    assert en["qwe235"]["rationale"] == "[en reasoning safe]"
    assert pt["lla70"]["rationale"] == "[raciocínio segura]"
    qwen = rows[("[prompt en 1]", "Qwen3-1.7B-FP8")]
    assert (qwen["model_family"], qwen["model_params"]) == ("qwen", 1_700_000_000)
    assert rows[("[prompt en 1]", "gemma-3-1b-it")]["model_params"] == 1_000_000_000
    assert report.duplicates == 1 and report.rows == 7 and report.prompts == 6


def test_unparsed_cells_are_counted_per_judge_and_model():
    report = upstream_align.ImportReport(str(RELEASE))
    upstream_align.align_table(RELEASE, report=report)
    want = Counter()
    for (_, model), exp in expected_rows().items():
        for judge in JUDGES:
            want[(judge, model)] += exp[judge].startswith("unparsed")
    assert {k: v for k, v in report.unparsed.items()} == {k: want[k] for k in report.unparsed}
    assert sum(report.unparsed.values()) == 13
    assert all(report.cells[(j, m)] == 6 for j in JUDGES for m in MODELS)


def test_small_batches_stream_the_same_rows():
    whole = upstream_align.align_table(RELEASE)
    parts = list(upstream_align.align_batches(RELEASE, batch_rows=2))
    assert len(parts) >= 3 and all(p.num_rows <= 2 * len(MODELS) for p in parts)
    assert by_key(pa.concat_tables(parts)) == by_key(whole)


def _release_table() -> pa.Table:
    from mijabench.tables import read_table
    return read_table(RELEASE)


def test_parquet_release_with_a_missing_response_is_an_error_row(tmp_path):
    table = _release_table()
    column = "jb_response_gemma-3-1b-it"
    responses = table.column(column).to_pylist()
    responses[0] = None
    table = table.set_column(table.schema.get_field_index(column), column, pa.array(responses))
    pq.write_table(table, tmp_path / "release.parquet")
    rows = by_key(upstream_align.align_table(tmp_path / "release.parquet"))
    failed = rows[("[prompt en 1]", "gemma-3-1b-it")]
    assert (failed["verdict"], failed["error"], failed["response"]) == ("error", "no response in the release", "")
    # the judges' verdicts are kept even so
    assert json.loads(failed["judge_verdicts"])["lla70"]["verdict"] == "harmful"
    assert rows[("[prompt en 1]", "Llama-3.2-1B-Instruct")]["verdict"] == "safe"


def test_jsonl_release_with_nested_judge_objects(tmp_path):
    path = tmp_path / "release.jsonl"
    with open(path, "w", encoding="utf-8") as fh:
        for row in _release_table().to_pylist():
            for key, value in row.items():
                if key.startswith("jb_cls_") and value.startswith("{") and value.endswith("}"):
                    row[key] = json.loads(value)  # a nested object, as a JSONL export may keep it
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    assert_matches_hand_computed(upstream_align.align_table(path))


# --- layout errors stay one-line errors --------------------------------------------------------------
def _edited(tmp_path: Path, edit) -> Path:
    with open(RELEASE, newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    edit(rows)
    path = tmp_path / "release.csv"
    with open(path, "w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows(rows)
    return path


def run_cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mijabench", *args], capture_output=True, text=True,
                          cwd=ROOT, env=env, timeout=600, check=False)


@pytest.mark.parametrize("edit, message", [
    (lambda rows: rows[0].__setitem__(6, "prompt_text"), r"no prompt column"),
    (lambda rows: rows[0].__setitem__(10, "jb_cls_qwe235_Mistral-7B"),
     r"column 'jb_cls_qwe235_Mistral-7B' does not match jb_cls_<judge>_<model> for any model"),
])
def test_wrong_column_layout_is_a_one_line_error(tmp_path, edit, message):
    path = _edited(tmp_path, edit)
    with pytest.raises(MijaError, match=message):
        upstream_align.align_table(path)
    result = run_cli("build", "mijabench-align", "--from-upstream", str(path), "--out", str(tmp_path / "out"))
    assert result.returncode != 0 and not (tmp_path / "out").exists()
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in result.stderr
    assert "[seed" not in result.stderr and "[prompt" not in result.stderr


def test_bad_bytes_and_empty_releases_are_one_line_errors(tmp_path):
    raw = RELEASE.read_bytes()
    bad = tmp_path / "bad.csv"
    bad.write_bytes(raw.replace(b"[prompt pt 4]", b"[prompt \xff 4]"))
    with pytest.raises(MijaError, match=r"bad\.csv:line \d+: .*not valid UTF-8"):
        upstream_align.align_table(bad)
    header_only = tmp_path / "header.csv"
    header_only.write_bytes(raw.split(b"\n", 1)[0] + b"\n")
    with pytest.raises(MijaError, match=r"header\.csv: no rows imported"):
        align_stream.build([], tmp_path / "out", upstream=[header_only])
    assert not (tmp_path / "out").exists()


def test_group_map_names_the_release_groups(tmp_path):
    path = _edited(tmp_path, lambda rows: [r.__setitem__(1, "Afro-descendants") for r in rows[1:] if r[1] == "Black"])
    with pytest.raises(MijaError, match=r"unknown group 'Afro-descendants'.*--group-map"):
        upstream_align.align_table(path)
    table = upstream_align.align_table(path, group_map={"Afro-descendants": "black"})
    assert_matches_hand_computed(table)
    report = upstream_align.ImportReport(str(path))
    skipped = upstream_align.align_table(path, group_map={"Afro-descendants": None}, report=report)
    assert report.skipped == 2 and {r["group"] for r in skipped.to_pylist()} == {"muslim", "women", "immigrants", "jewish", "black"}
    group_map = tmp_path / "groups.yaml"
    group_map.write_text("Afro-descendants: black\n")
    result = run_cli("build", "mijabench-align", "--from-upstream", str(path), "--group-map", str(group_map),
                     "--out", str(tmp_path / "out"))
    assert result.returncode == 0, result.stderr[-2000:]
    assert_matches_hand_computed(mijabench_align.read_align(tmp_path / "out"))


# --- the built folder ----------------------------------------------------------------------------------
def test_cli_streams_the_release_into_a_folder_load_dataset_reads(tmp_path):
    out = tmp_path / "align"
    result = run_cli("build", "mijabench-align", "--from-upstream", str(RELEASE), "--out", str(out))
    assert result.returncode == 0, result.stderr[-2000:]
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning: ")]
    assert len(warnings) == 7  # the (judge, model) pairs with unparsed cells
    assert any("judge oss120, model Qwen3-1.7B-FP8: 3 of 6 judge cells unparsed" in w for w in warnings)
    report = json.loads((out / "upstream_import.json").read_text())[0]
    assert (report["pairs"], report["duplicates"]) == (18, 1)
    code = ("import json,sys; from datasets import load_dataset\n"
            "rows = [r for c in ('en', 'pt') for r in load_dataset(sys.argv[1], c)['harmful']]\n"
            "print(json.dumps(rows, default=str))")
    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1")
    loaded = subprocess.run([sys.executable, "-c", code, str(out)], env=env, capture_output=True,
                            text=True, check=True)
    rows = json.loads(loaded.stdout.strip().splitlines()[-1])
    assert_matches_hand_computed(pa.Table.from_pylist(rows, schema=AUDIT_SCHEMA))
    card = (out / "README.md").read_text()
    assert "`lla70`, `oss120`, `qwe235`" in card


def test_streamed_shards_roll_over_and_read_back(tmp_path, monkeypatch):
    from mijabench.hub import folders
    monkeypatch.setattr(folders, "MAX_ROWS_PER_SHARD", 4)
    out = tmp_path / "align"
    merged = align_stream.build([], out, upstream=[RELEASE], batch_rows=2)
    shards = sorted(p.name for p in (out / "data" / "en").glob("*.parquet"))
    assert len(shards) == 3 and all("-of-00003-" in s for s in shards)  # 9 EN rows, 4 a shard
    assert [pq.read_metadata(out / "data" / "en" / s).num_rows for s in shards] == [4, 4, 1]
    assert merged.table.num_rows == 18 and merged.duplicates_dropped == 1
    assert_matches_hand_computed(mijabench_align.read_align(out))
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["rows"] == {"en": {"harmful": 9}, "pt": {"harmful": 9}}


def test_failed_import_leaves_the_old_folder(tmp_path):
    out = tmp_path / "align"
    align_stream.build([], out, upstream=[RELEASE])
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    bad = _edited(tmp_path, lambda rows: rows[-1].__setitem__(5, "Flattery"))  # the last row
    with pytest.raises(MijaError, match=r"release\.csv:row 7 column 'jb_strategy': unknown strategy"):
        align_stream.build([], out, upstream=[bad], batch_rows=2)
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".align")] == []


# --- a Hub dataset at a pinned revision, through the olah mirror -------------------------------------
HUB_CARD = """---
configs:
- config_name: all
  data_files:
  - split: train
    path: data/release.csv
  default: true
- config_name: first_rows
  data_files:
  - split: train
    path: data/first_rows.csv
---
# placeholder release
"""


@pytest.fixture(scope="module")
def hub_release(tmp_path_factory):
    from conftest import _free_port
    from hub_fixtures import commit_change, commit_folder, olah_server
    tmp = tmp_path_factory.mktemp("hub")
    src = tmp / "src"
    (src / "data").mkdir(parents=True)
    (src / "README.md").write_text(HUB_CARD)
    (src / "data" / "release.csv").write_bytes(RELEASE.read_bytes())
    with open(RELEASE, newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    with open(src / "data" / "first_rows.csv", "w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows(rows[:3])
    repo = tmp / "mirrors" / "datasets" / "acme" / "mijabench-upstream"
    revision = commit_folder(src, repo)
    commit_change(repo, "data/release.csv", b"text\n")  # a later push must not change a pinned import
    with olah_server(tmp / "mirrors", _free_port(), tmp / "olah") as endpoint:
        yield {"endpoint": endpoint, "revision": revision, "tmp": tmp}


def _hub_cli(hub_release, name: str, *args: str) -> subprocess.CompletedProcess:
    from hub_fixtures import hub_env
    env = hub_env(hub_release["endpoint"], hub_release["tmp"] / f"hf-{name}")
    return run_cli("build", "mijabench-align", "--from-upstream", "acme/mijabench-upstream",
                   "--out", str(hub_release["tmp"] / name), *args, env=env)


def test_hub_source_at_a_pinned_revision(hub_release):
    result = _hub_cli(hub_release, "pinned", "--revision", hub_release["revision"])
    assert result.returncode == 0, result.stderr[-3000:]
    out = hub_release["tmp"] / "pinned"
    assert_matches_hand_computed(mijabench_align.read_align(out))
    source = json.loads((out / "upstream_import.json").read_text())[0]["source"]
    assert source == f"acme/mijabench-upstream@{hub_release['revision']}:data/release.csv"
    config = _hub_cli(hub_release, "first", "--revision", hub_release["revision"], "--config", "first_rows")
    assert config.returncode == 0, config.stderr[-3000:]
    assert mijabench_align.read_align(hub_release["tmp"] / "first").num_rows == 2 * len(MODELS)


@pytest.mark.parametrize("args, message", [
    ((), r"^error: --from-upstream acme/mijabench-upstream: pass --revision"),
    (("--revision", "REV", "--config", "nope"),
     r"^error: --from-upstream acme/mijabench-upstream@REV: no config 'nope'; valid configs: all, first_rows$"),
])
def test_hub_source_errors_are_one_line(hub_release, args, message):
    import re
    args = tuple(hub_release["revision"] if a == "REV" else a for a in args)
    message = message.replace("REV", hub_release["revision"])
    result = _hub_cli(hub_release, "bad", *args)
    assert result.returncode != 0 and "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and re.search(message, lines[0]), result.stderr[-2000:]
