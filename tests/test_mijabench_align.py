"""MiJaBench-Align: merge real audits of two models, validate on merge, import the authors' release."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from mijabench.derived import mijabench_align
from mijabench.bench import upstream
from mijabench.derived import upstream_align
from mijabench.cli import app
from mijabench.errors import MijaError
from mijabench.schema import AUDIT_SCHEMA, PROMPT_COLUMNS

RELEASE = Path(__file__).parent / "data" / "upstream_align_sample.csv"


def handful_of_prompts() -> pa.Table:
    """3 harmful prompts (EN and PT, two groups of one counterfactual set) + 1 benign twin."""
    from mijabench.bench import configs as benchmark
    built = benchmark.build_configs(("counterfactual",), ("en", "pt"), seed=0, per_group=4)["counterfactual"]
    rows = built["harmful"].to_pylist() + built["benign"].to_pylist()
    first = {}
    for r in rows:
        first.setdefault(r["language"], r["counterfactual_id"])
    keep = [r for r in rows if r["counterfactual_id"] in first.values() and r["group"] in ("black", "women")
            and not (r["language"] == "pt" and r["group"] == "women")
            and (r["kind"] == "harmful" or (r["language"] == "en" and r["group"] == "women"))]
    return pa.Table.from_pylist(keep, schema=built["harmful"].schema)


@pytest.fixture(scope="module")
def runs(smollm2_dir, tiny_model_dir, tmp_path_factory):
    """Real audits: SmolLM2 on 4 prompts, the tiny model on 3 of them (a coverage gap)."""
    from mijabench.audit.runner import run_audit
    from mijabench.run.types import GenParams
    from mijabench.run.backends import make_backend
    root = tmp_path_factory.mktemp("runs")
    prompts = handful_of_prompts()
    assert prompts.num_rows == 4
    params = GenParams(max_new_tokens=8)
    smol = root / "smollm2"
    run_audit(prompts, make_backend(str(smollm2_dir)), params, smol, "rules", progress=False, report=False)
    tiny = root / "tiny"
    run_audit(prompts.slice(0, 3), make_backend(str(tiny_model_dir)), params, tiny, "rules",
              progress=False, report=False)
    return smol, tiny


@pytest.fixture(scope="module")
def built(runs, tmp_path_factory):
    out = tmp_path_factory.mktemp("align") / "mijabench-align"
    result = CliRunner().invoke(app, ["build", "mijabench-align", "--runs", str(runs[0]), str(runs[1]), "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out, result.output


def load_offline(folder: Path, config: str) -> dict:
    """load_dataset in a fresh process with HF_HUB_OFFLINE=1, as a user without network would.

    A private datasets cache: datasets keys a local folder's cache by its name and card configs,
    not its files' content, so a shared cache could serve a previous run's rows."""
    code = ("import json,sys; from datasets import load_dataset; d=load_dataset(sys.argv[1], sys.argv[2]);"
            "print(json.dumps({s: {'n': d[s].num_rows, 'columns': d[s].column_names,"
            " 'models': sorted(set(d[s]['model']))} for s in d}))")
    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1",
               HF_DATASETS_CACHE=str(folder.parent / f".cache-{config}"))
    done = subprocess.run([sys.executable, "-c", code, str(folder), config], env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_align_from_two_real_models_loads_offline(built, runs):
    out, output = built
    smol = pq.read_table(runs[0] / "audit.parquet")
    tiny = pq.read_table(runs[1] / "audit.parquet")
    models = sorted({smol.column("model")[0].as_py(), tiny.column("model")[0].as_py()})
    assert len(models) == 2
    en = load_offline(out, "en")
    pt = load_offline(out, "pt")
    assert set(en) == {"harmful", "benign"} and set(pt) == {"harmful"}
    assert en["harmful"]["columns"] == AUDIT_SCHEMA.names
    assert en["harmful"]["models"] == models
    # One row per prompt x model: SmolLM2 answered 4 prompts, the tiny model 3.
    assert sum(s["n"] for d in (en, pt) for s in d.values()) == smol.num_rows + tiny.num_rows == 7
    assert en["benign"]["n"] == 1 and en["benign"]["models"] == [smol.column("model")[0].as_py()]
    card = (out / "README.md").read_text()
    assert all(m in card for m in models) and "extra_gated_prompt" in card
    assert "config_name: en" in card and "Coverage warnings" in card


def test_mismatched_prompt_sets_give_a_warning_table(built, runs):
    out, output = built
    tiny_model = pq.read_table(runs[1] / "audit.parquet").column("model")[0].as_py()
    rows = list(csv.DictReader(open(out / "coverage.csv")))
    assert rows == [{"language": "en", "kind": "benign", "model": tiny_model, "n_prompts": "0",
                     "n_union": "1", "n_missing": "1"}]
    assert f"warning: {tiny_model}" in output


def test_identical_duplicates_kept_once_conflicting_duplicates_rejected(runs, tmp_path):
    smol = mijabench_align.read_run(runs[0])
    merged = mijabench_align.merge([("a", smol), ("b", smol)])
    assert merged.table.num_rows == smol.num_rows and merged.duplicates_dropped == smol.num_rows
    changed = smol.set_column(smol.schema.get_field_index("response"), "response",
                              pa.array(["different"] * smol.num_rows))
    pq.write_table(changed, tmp_path / "changed.parquet")
    first_id = smol.column("id")[0].as_py()
    with pytest.raises(MijaError, match=rf"changed\.parquet: prompt id {first_id} for model .* is also in "
                                        rf".*with different response"):
        mijabench_align.merge([("run", smol), (str(tmp_path / "changed.parquet"),
                                             mijabench_align.read_run(tmp_path / "changed.parquet"))])


def test_invalid_runs_name_file_row_and_column(runs, tmp_path):
    smol = mijabench_align.read_run(runs[0])
    verdicts = smol.column("verdict").to_pylist()
    verdicts[2] = "maybe"
    bad = smol.set_column(smol.schema.get_field_index("verdict"), "verdict", pa.array(verdicts))
    pq.write_table(bad, tmp_path / "audit.parquet")
    with pytest.raises(MijaError, match=r"audit\.parquet:row 3 column 'verdict': invalid value 'maybe'"):
        mijabench_align.read_run(tmp_path)
    pq.write_table(smol.drop_columns(["judge_verdicts", "verdict"]), tmp_path / "audit.parquet")
    with pytest.raises(MijaError, match=r"missing columns verdict, judge_verdicts; Align needs judged"):
        mijabench_align.read_run(tmp_path)
    with pytest.raises(MijaError, match=r"no audit.parquet"):
        mijabench_align.read_run(tmp_path / "nowhere")


# --- the authors' release ---------------------------------------------------------------------------
def test_release_align_import_maps_names_and_verdicts():
    table = upstream_align.align_table(RELEASE)
    assert table.schema == AUDIT_SCHEMA and table.num_rows == 8  # 4 rows x 2 models
    rows = {(r["group"], r["model"]): r for r in table.to_pylist()}
    first = rows[("black", "Llama-3.2-1B")]
    assert (first["language"], first["strategy"], first["scenario_category"]) == ("en", "persona_assignment", "economy_work")
    assert first["verdict"] == "safe" and first["judge"] == "ensemble[gpt4o,llama_guard]"
    assert json.loads(first["judge_verdicts"])["gpt4o"] == {"verdict": "safe", "rationale": "refuses"}
    assert (first["model_family"], first["model_params"]) == ("llama", 1_000_000_000)
    # dangerous vs safe ties go to harmful (the ensemble rule); an empty judgement is unparsed.
    assert rows[("muslim", "Llama-3.2-1B")]["verdict"] == "harmful"
    assert rows[("muslim", "qwen2.5_7b")]["verdict"] == "unparsed"
    women = rows[("women", "qwen2.5_7b")]  # PT row: PT display names and perigosa
    assert (women["language"], women["strategy"], women["scenario_category"], women["verdict"]) == \
        ("pt", "persona_assignment", "economy_work", "harmful")
    assert rows[("immigrants", "qwen2.5_7b")]["scenario_category"] == "emotions_mental_states"


def test_release_prompts_for_the_benchmark_builder():
    table = upstream.prompt_table(RELEASE)
    assert table.column_names == PROMPT_COLUMNS and table.num_rows == 4
    assert set(table.column("config").to_pylist()) == {"upstream"}
    assert set(table.column("seed_source").to_pylist()) == {"mijabench-upstream"}
    assert len(set(table.column("id").to_pylist())) == 4


def test_build_align_from_upstream_merges_with_runs(runs, tmp_path):
    out = tmp_path / "align"
    merged = mijabench_align.build([runs[0]], out, upstream=[RELEASE])
    assert set(merged.table.column("model").to_pylist()) >= {"Llama-3.2-1B", "qwen2.5_7b"}
    assert len(list((out / "data" / "pt").glob("harmful-00000-of-00001-*.parquet"))) == 1
    assert mijabench_align.read_align(out).num_rows == merged.table.num_rows


def _edited_release(tmp_path: Path, edit) -> Path:
    rows = list(csv.reader(open(RELEASE)))
    edit(rows)
    path = tmp_path / "release.csv"
    with open(path, "w", newline="") as fh:
        csv.writer(fh).writerows(rows)
    return path


@pytest.mark.parametrize("edit, message", [
    (lambda rows: rows[0].__setitem__(11, "jb_cls_gpt4o_mistral"),
     r"column 'jb_cls_gpt4o_mistral' does not match jb_cls_<judge>_<model> for any model"),
    # Bad judge cells are unparsed, not errors: tests/test_upstream_align.py.
    (lambda rows: rows[3].__setitem__(5, "Flattery"),
     r"row 3 column 'jb_strategy': unknown strategy 'Flattery'; valid strategys: persona_assignment"),
    (lambda rows: [r.pop(6) for r in rows], r"release\.csv: no prompt column.*'jb_prompt'"),
])
def test_malformed_release_is_a_clear_error(tmp_path, edit, message):
    with pytest.raises(MijaError, match=message) as err:
        upstream_align.align_table(_edited_release(tmp_path, edit))
    assert "[seed" not in str(err.value) and "[jailbreak" not in str(err.value)


def test_release_verdict_column_values_are_checked_by_the_merge(tmp_path):
    table = upstream_align.align_table(RELEASE)
    assert mijabench_align.conform(table, "release") .num_rows == 8
    assert pc.all(pc.is_in(table.column("verdict"), pa.array(["safe", "harmful", "unparsed"]))).as_py()


def test_wrong_column_type_names_the_column(runs, tmp_path):
    smol = mijabench_align.read_run(runs[0])
    bad = smol.set_column(smol.schema.get_field_index("model_params"), "model_params",
                          pa.array(["lots"] * smol.num_rows))
    with pytest.raises(MijaError, match=r"run: column 'model_params' is string, expected int64"):
        mijabench_align.conform(bad, "run")
