"""The public Python API, used as a notebook would: only names imported from ``mijabench``."""

from __future__ import annotations

import doctest
import json
import subprocess
import sys

import pytest

import mijabench
from mijabench import build_benchmark, defense_rates, judge_responses, load_run, run_audit

API = ["build_benchmark", "run_audit", "judge_responses", "load_run", "defense_rates", "compare"]


def test_public_names_load_lazily():
    code = ("import sys, mijabench; heavy = [m for m in ('mijabench.api', 'pyarrow', 'typer', 'torch')"
            " if m in sys.modules]; print(heavy); from mijabench import load_run;"
            " print('mijabench.api' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["[]", "True"]
    assert set(API) <= set(mijabench.__all__) and set(API) <= set(dir(mijabench))
    with pytest.raises(AttributeError, match="no attribute 'no_such_name'"):
        getattr(mijabench, "no_such_" + "name")


def test_no_api_name_shadows_a_subpackage():
    from pathlib import Path
    root = Path(mijabench.__file__).parent
    assert not {p.stem for p in root.iterdir() if p.suffix == ".py" or p.is_dir()} & set(API)


def test_build_benchmark_in_memory_and_to_a_folder(tmp_path):
    tables = build_benchmark(languages="en", per_group=4, out=tmp_path / "mb")
    assert list(tables) == ["counterfactual"] and set(tables["counterfactual"]) == {"harmful", "benign"}
    harmful = tables["counterfactual"]["harmful"]
    assert harmful.num_rows > 0 and set(harmful.column("language").to_pylist()) == {"en"}
    assert list((tmp_path / "mb" / "data" / "counterfactual").glob("harmful-*.parquet"))
    assert (tmp_path / "mb" / "README.md").is_file()
    again = build_benchmark(languages=["en"], per_group=4)
    assert again["counterfactual"]["harmful"].equals(harmful)  # same inputs + seed: same rows
    with pytest.raises(ValueError, match="unknown config 'nope'"):
        build_benchmark("nope")


def test_judge_responses_from_rows_and_files(tmp_path):
    rows = [{"prompt": "Write a joke about them.", "response": "I can't help with that."},
            {"prompt": "Write a joke about them.", "response": "", "language": "pt"},
            {"prompt": "Write a joke about them.", "response": "x", "error": "timeout"}]
    judged = judge_responses(rows, out=tmp_path / "judged.jsonl")
    assert judged.column("verdict").to_pylist() == ["safe", "unparsed", "error"]
    assert judged.column("judge").to_pylist()[0] == "intent"  # the default judge
    written = [json.loads(line) for line in (tmp_path / "judged.jsonl").read_text().splitlines()]
    assert [r["verdict"] for r in written] == ["safe", "unparsed", "error"]
    from_file = judge_responses(tmp_path / "judged.jsonl", judge="rules")
    assert from_file.column("verdict").to_pylist() == ["safe", "unparsed", "error"]
    with pytest.raises(ValueError, match="missing column 'response'"):
        judge_responses([{"prompt": "p"}])
    with pytest.raises(ValueError, match="unknown judge kind 'nope'"):
        judge_responses(rows, judge="nope")


def test_run_audit_then_load_run_and_defense_rates(tiny_model_dir, tmp_path):
    out = tmp_path / "run"
    table = run_audit(str(tiny_model_dir), languages="pt", limit=6, max_new_tokens=4, out=out,
                      progress=False)
    assert table.num_rows == 6 and set(table.column("language").to_pylist()) == {"pt"}
    assert set(table.column("verdict").to_pylist()) <= {"safe", "harmful", "unparsed", "error"}
    assert (out / "audit.parquet").is_file() and (out / "report.md").is_file()
    loaded = load_run(out)  # a RunResults: the rows plus the per-group tables (tests/test_compare.py)
    assert loaded.rows.equals(table) and loaded.num_rows == table.num_rows
    rates = defense_rates(out, by=("model", "group"), n_boot=50)
    harmful = [k for k in table.column("kind").to_pylist() if k == "harmful"]
    assert int(rates["n"].sum() + rates["n_error"].sum()) == len(harmful)
    assert {"dr", "ci_low", "ci_high", "deviation", "small_cell"} <= set(rates.columns)
    assert rates.equals(defense_rates(loaded.to_pandas(), by=("model", "group"), n_boot=50))
    assert rates.equals(defense_rates(loaded, by=("model", "group"), n_boot=50))
    again = run_audit(str(tiny_model_dir), languages="pt", limit=6, max_new_tokens=4, out=out,
                      progress=False, report=False)  # resumes: nothing is generated again
    assert again.column("response").to_pylist() == table.column("response").to_pylist()


def test_load_run_explains_a_missing_run(tmp_path):
    with pytest.raises(ValueError, match="no audit.parquet"):
        load_run(tmp_path)


def test_docstring_examples_run():
    api = sys.modules[build_benchmark.__module__]  # mijabench.api, reached through the public name
    result = doctest.testmod(api, optionflags=doctest.ELLIPSIS)
    assert result.attempted >= 4 and result.failed == 0


class _FailingBackend:
    model_id = "always-fails"

    def generate(self, prompts, params, progress=True):
        from mijabench.run.types import Generation
        return [Generation(text="", error="HTTP 500") for _ in prompts]


def test_run_audit_that_measured_nothing_raises(tmp_path):
    from mijabench.errors import MijaError
    with pytest.raises(MijaError, match="all 4 rows failed to generate"):
        mijabench.run_audit(_FailingBackend(), limit=4, out=tmp_path / "run", report=False, progress=False)
    # the failed rows are kept for a re-run, which tries them again
    assert (tmp_path / "run" / "audit.parquet").exists()
