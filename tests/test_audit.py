"""The audit runner: quick sample, resumable shards (SIGKILL and Ctrl-C), judging, the CLI."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from conftest import ROOT, http_env
from mijabench.audit.runner import (SHARD_SCHEMA, limit_rows, load_responses, normalize_prompts,
                             quick_sample, run_audit, shard_files)
from mijabench.run.types import GenParams, Generation
from mijabench.errors import MijaError
from mijabench.schema import AUDIT_SCHEMA, UNPARSED


@pytest.fixture(scope="module")
def counterfactual() -> pa.Table:
    from mijabench.bench.configs import build_configs
    splits = build_configs(("counterfactual",), ("en", "pt"), seed=0)["counterfactual"]
    return pa.concat_tables([splits["harmful"], splits["benign"]])


class EchoBackend:
    """A deterministic in-process backend that counts what it was asked."""

    def __init__(self, text="I'm sorry, but I can't help with that.", fail_after=None, model_id="echo"):
        self.model_id, self.text, self.fail_after = model_id, text, fail_after
        self.calls, self.prompts = 0, []

    def generate(self, prompts, params, progress=True):
        self.calls += 1
        if self.fail_after is not None and self.calls > self.fail_after:
            raise KeyboardInterrupt
        self.prompts += prompts
        return [Generation(self.text, "", 0.01) for _ in prompts]


def small(counterfactual, n=12) -> pa.Table:
    return limit_rows(quick_sample(counterfactual), n)


# --- sampling ------------------------------------------------------------------------------------
def test_quick_sample_covers_every_cell_with_benign_twins(counterfactual):
    sample = quick_sample(counterfactual)
    rows = sample.to_pylist()
    harmful = [r for r in rows if r["kind"] == "harmful"]
    benign = [r for r in rows if r["kind"] == "benign"]
    all_cells = {(r["language"], r["group"], r["strategy"]) for r in counterfactual.to_pylist()}
    assert {(r["language"], r["group"], r["strategy"]) for r in harmful} == all_cells
    assert len(harmful) == len(all_cells) == 88
    # Benign twins: every group of half the drawn sets of each language (2 of 4 strategies).
    twin_sets = {r["counterfactual_id"] for r in benign}
    assert {(r["counterfactual_id"], r["group"]) for r in benign} == \
        {(r["counterfactual_id"], r["group"]) for r in harmful if r["counterfactual_id"] in twin_sets}
    for language, n_groups in (("en", 13), ("pt", 9)):
        assert len({(r["counterfactual_id"]) for r in benign if r["language"] == language}) == 2
        assert sum(r["language"] == language for r in benign) == 2 * n_groups
    # The same attacks for every group of a language x strategy (the counterfactual comparison).
    sets = Counter((r["language"], r["strategy"], r["counterfactual_id"]) for r in harmful)
    assert len(sets) == 8
    assert quick_sample(counterfactual).equals(sample)
    assert quick_sample(counterfactual, per_cell=2).num_rows == 2 * sample.num_rows
    everything = quick_sample(counterfactual, twin_share=1.0).to_pylist()
    assert sum(r["kind"] == "benign" for r in everything) == len(harmful)


def test_limit_spreads_over_cells(counterfactual):
    limited = limit_rows(quick_sample(counterfactual, twin_share=1.0), 20).to_pylist()
    assert len(limited) == 20
    assert len({(r["language"], r["group"]) for r in limited}) == 10  # 10 cells, en and pt
    assert Counter(r["kind"] for r in limited) == {"harmful": 10, "benign": 10}  # twins kept


def test_bad_prompt_tables_are_explained():
    with pytest.raises(MijaError, match="missing column 'prompt'"):
        normalize_prompts(pa.table({"id": ["a"]}))
    with pytest.raises(MijaError, match="share id"):
        normalize_prompts(pa.table({"id": ["a", "a"], "prompt": ["x", "y"]}))
    with pytest.raises(MijaError, match="no prompts"):
        normalize_prompts(pa.table({"id": pa.array([], pa.string()), "prompt": pa.array([], pa.string())}))


# --- the run -------------------------------------------------------------------------------------
def test_audit_writes_schema_report_and_resumes_without_regenerating(counterfactual, tmp_path):
    prompts = small(counterfactual)
    backend = EchoBackend()
    table = run_audit(prompts, backend, GenParams(max_new_tokens=8), tmp_path, "rules", shard_size=5,
                      progress=False)
    assert table.schema == AUDIT_SCHEMA and table.num_rows == 12
    assert pq.read_table(tmp_path / "audit.parquet").schema == AUDIT_SCHEMA
    assert (tmp_path / "report.md").is_file() and (tmp_path / "summary.json").is_file()
    assert len(shard_files(tmp_path)) == 3 and backend.calls == 3
    assert table.column("id").to_pylist() == prompts.column("id").to_pylist()
    assert set(table.column("verdict").to_pylist()) <= {"safe", "harmful", "unparsed"}

    again = EchoBackend()
    table2 = run_audit(prompts, again, GenParams(max_new_tokens=8), tmp_path, "rules", shard_size=5,
                       progress=False, report=False)
    assert again.calls == 0 and table2.equals(table)
    other = EchoBackend()  # new generation parameters are new keys: generated again
    run_audit(prompts, other, GenParams(max_new_tokens=9), tmp_path, "rules", progress=False,
              report=False)
    assert len(other.prompts) == 12


def test_interrupted_run_resumes_where_it_stopped(counterfactual, tmp_path):
    prompts = small(counterfactual, 20)
    with pytest.raises(KeyboardInterrupt):
        run_audit(prompts, EchoBackend(fail_after=2), GenParams(), tmp_path, "rules", shard_size=4,
                  progress=False, report=False)
    assert len(shard_files(tmp_path)) == 2 and not (tmp_path / "audit.parquet").exists()
    resumed = EchoBackend()
    table = run_audit(prompts, resumed, GenParams(), tmp_path, "rules", shard_size=4, progress=False,
                      report=False)
    assert len(resumed.prompts) == 12 and table.num_rows == 20
    keys = [k for f in shard_files(tmp_path) for k in pq.read_table(f).column("gen_key").to_pylist()]
    assert len(keys) == len(set(keys)) == 20


def test_failed_rows_are_kept_as_errors_then_retried(counterfactual, tmp_path):
    prompts = small(counterfactual, 6)

    class Flaky(EchoBackend):
        def generate(self, prompts, params, progress=True):
            return [Generation("", "HTTP 503 after 6 attempt(s)", 0.0) for _ in prompts]

    table = run_audit(prompts, Flaky(), GenParams(), tmp_path, "rules", progress=False, report=False)
    assert table.column("verdict").to_pylist() == ["error"] * 6
    fixed = EchoBackend()
    table = run_audit(prompts, fixed, GenParams(), tmp_path, "rules", progress=False, report=False)
    assert len(fixed.prompts) == 6 and "error" not in table.column("verdict").to_pylist()
    assert len(load_responses(tmp_path)) == 6


def test_empty_response_is_judged_not_safe(counterfactual, tmp_path):
    table = run_audit(small(counterfactual, 4), EchoBackend(text="   "), GenParams(), tmp_path,
                      "rules", progress=False, report=False)
    assert table.column("verdict").to_pylist() == [UNPARSED] * 4


def test_unknown_judge_fails_before_generating(counterfactual, tmp_path):
    backend = EchoBackend()
    with pytest.raises(MijaError, match="unknown judge kind"):
        run_audit(small(counterfactual, 4), backend, GenParams(), tmp_path, "oracle", progress=False,
                  report=False)
    assert backend.calls == 0 and not shard_files(tmp_path)


def test_unreachable_llm_judge_fails_before_generating(counterfactual, tmp_path, free_port):
    backend = EchoBackend()
    with pytest.raises(MijaError, match="connection refused"):
        run_audit(small(counterfactual, 4), backend, GenParams(), tmp_path,
                  f"ensemble:rules,llm:http://127.0.0.1:{free_port}", progress=False, report=False)
    assert backend.calls == 0


# --- SIGKILL mid-run, through the real CLI and a real HTTP server ---------------------------------
def test_sigkill_mid_run_then_restart_loses_and_duplicates_nothing(openai_stub, tmp_path):
    url, _ = openai_stub("--latency", "0.05")
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "mijabench", "audit", "--endpoint", url, "--model", "stub-model",
           "--concurrency", "1", "--shard-size", "4", "--limit", "96", "--out", str(out)]
    proc = subprocess.Popen(cmd, env=http_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(shard_files(out)) < 3 and proc.poll() is None:
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    killed_at = len(shard_files(out))
    assert 3 <= killed_at < 24, "the run should have been killed part-way"
    assert not (out / "audit.parquet").exists()
    for f in shard_files(out):  # every shard on disk is complete and readable
        assert pq.read_table(f).schema == SHARD_SCHEMA
    done = subprocess.run(cmd, env=http_env(), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    keys = [k for f in shard_files(out) for k in pq.read_table(f).column("gen_key").to_pylist()]
    assert len(keys) == len(set(keys)) == 96
    table = pq.read_table(out / "audit.parquet")
    assert table.num_rows == 96 and len(set(table.column("gen_key").to_pylist())) == 96
    assert table.column("error").to_pylist() == [""] * 96


# --- CLI -----------------------------------------------------------------------------------------
def run_cli(*args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mijabench", *args], capture_output=True, text=True,
                          timeout=timeout, env=http_env(), cwd=ROOT)


def test_cli_audit_offline_on_a_local_model(tiny_model_dir, tmp_path):
    result = run_cli("audit", "--model", str(tiny_model_dir), "--limit", "6", "--languages", "pt",
                     "--max-new-tokens", "4", "--out", str(tmp_path / "run"))
    assert result.returncode == 0, result.stderr[-2000:]
    table = pq.read_table(tmp_path / "run" / "audit.parquet")
    assert table.num_rows == 6 and set(table.column("language").to_pylist()) == {"pt"}
    assert (tmp_path / "run" / "report.md").is_file()


def test_cli_audit_errors_are_one_line(tmp_path, free_port):
    result = run_cli("audit", "--endpoint", f"http://127.0.0.1:{free_port}", "--model", "m",
                     "--limit", "2", "--out", str(tmp_path / "run"))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == (
        f"error: endpoint http://127.0.0.1:{free_port}: connection refused; start the server or "
        "fix --endpoint")
    result = run_cli("audit", "--judge", "oracle", "--out", str(tmp_path / "run"))
    assert result.returncode == 2 and "unknown judge kind 'oracle'" in result.stderr


def test_cli_audit_reads_a_built_dataset_folder(counterfactual, tmp_path):
    from mijabench.bench import writer as benchmark_dataset
    from mijabench.audit.prompts import load_prompts
    harmful = counterfactual.filter(pa.compute.equal(counterfactual.column("kind"), "harmful"))
    benign = counterfactual.filter(pa.compute.equal(counterfactual.column("kind"), "benign"))
    benchmark_dataset.write(tmp_path / "ds", {"counterfactual": {"harmful": harmful, "benign": benign}})
    table = load_prompts(tmp_path / "ds", "counterfactual", "en", 0, None)
    assert table.num_rows == 2 * 1560 and set(table.column("language").to_pylist()) == {"en"}
    with pytest.raises(MijaError, match="no data/paper"):
        load_prompts(tmp_path / "ds", "paper", "en", 0, None)


def test_cli_judge_scores_labels_and_explains_missing_columns(tmp_path):
    rows = [
        {"prompt": "p1", "response": "I'm sorry, but I can't help with that request.", "label": "safe"},
        {"prompt": "p2", "response": "I won't write that. Stereotypes about groups are harmful.",
         "label": "safe"},
        {"prompt": "p3", "response": "", "label": "safe"},
    ]
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in rows))
    result = run_cli("judge", "--input", str(src), "--judge", "rules", "--out", str(tmp_path / "out.parquet"))
    assert result.returncode == 0, result.stderr[-2000:]
    assert "accuracy" in result.stdout and "kappa" in result.stdout
    judged = pq.read_table(tmp_path / "out.parquet")
    assert judged.column("verdict").to_pylist()[2] == UNPARSED  # empty response: never safe
    bad = tmp_path / "bad.csv"
    bad.write_text("prompt,text\nx,y\n")
    result = run_cli("judge", "--input", str(bad), "--out", str(tmp_path / "o.jsonl"))
    assert result.returncode == 2
    assert result.stderr.strip() == f"error: {bad}: missing column 'response'; the input needs prompt and response"
