"""Fault injection: each case a careful user or an attacker tried ends in one ``error:`` line (or a
correct result), never a traceback, never a silent wrong answer, never a change outside ``--out``.

The CLI runs in-process through ``mijabench.cli.main`` (exit code + captured stdout/stderr) against
real files and a real loopback server (``tests/fault_server.py``) that answers 429, 500, a hang,
invalid JSON, empty choices, null content and an oversized reply.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import os
import stat
import sys
from dataclasses import dataclass
from pathlib import Path

import fault_server
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import ROOT

DATA = Path(__file__).resolve().parent / "data"


# --- helpers -------------------------------------------------------------------------------------
@dataclass
class Result:
    code: int
    out: str
    err: str

    @property
    def error_lines(self) -> list[str]:
        return [line for line in self.err.splitlines() if line.startswith("error:")]

    def assert_one_line_error(self, *needles: str) -> str:
        assert self.code == 2, (self.code, self.err[-2000:])
        assert "Traceback" not in self.err + self.out
        assert len(self.error_lines) == 1, self.err[-2000:]
        line = self.error_lines[0]
        assert self.err.rstrip().splitlines()[-1] == line  # the error is the last word
        for needle in needles:
            assert needle in line, line
        return line


def cli(*args: object) -> Result:
    """``mijabench ARGS`` in-process: exit code, stdout, stderr."""
    from mijabench.cli import main
    out, err = io.StringIO(), io.StringIO()
    argv = sys.argv
    sys.argv = ["mijabench", *map(str, args)]
    code = 0
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            main()
    except SystemExit as exc:
        code = exc.code or 0
    finally:
        sys.argv = argv
    return Result(int(code), out.getvalue(), err.getvalue())


def snapshot(root: Path, skip: Path | None = None) -> dict:
    """Path -> (mode, content hash) of everything under ``root`` except ``skip``."""
    state = {}
    for path in sorted(root.rglob("*")):
        if skip is not None and (path == skip or skip in path.parents):
            continue
        st = path.lstat()
        digest = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None
        state[str(path.relative_to(root))] = (st.st_mode, digest)
    return state


@pytest.fixture
def place(tmp_path, monkeypatch):
    """A working folder as the current directory; checks at teardown that nothing outside the
    test's output (registered with ``place.out``) changed."""
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)

    class Place:
        root = work

        def __init__(self):
            self.outs: list[Path] = []
            self.before: dict = {}

        def out(self, name: str) -> Path:
            path = work / name
            self.outs.append(path)
            return path

        def freeze(self) -> None:
            self.before = {k: v for k, v in snapshot(work).items() if not self._skipped(k)}

        def _skipped(self, rel: str) -> bool:
            path = work / rel
            return any(path == o or o in path.parents for o in self.outs)

        def unchanged(self) -> None:
            after = {k: v for k, v in snapshot(work).items() if not self._skipped(k)}
            assert after == self.before, "files outside the output changed"

    return Place()


@pytest.fixture(scope="module")
def faults():
    server = fault_server.start()
    yield server
    server.shutdown()


def audit_args(url: str, out: Path, *extra: object) -> list:
    return ["audit", "--endpoint", url, "--model", "m", "--languages", "en", "--limit", "4",
            "--max-retries", "0", "--timeout", "2", "--out", out, *extra]


@pytest.fixture(autouse=True)
def _loopback(monkeypatch):
    monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", "1")
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)


BUILD = ["build", "mijabench", "--per-group", "1", "--languages", "en"]


def foreign_folder(path: Path) -> None:
    """13 unrelated files, one of them an audit run: what --out must never wipe."""
    (path / "runs" / "model-a" / "responses").mkdir(parents=True)
    pq.write_table(pa.table({"x": [1]}), path / "runs" / "model-a" / "audit.parquet")
    for i in range(12):
        (path / f"notes-{i}.txt").write_text(f"my notes {i}\n")


# --- 1. --out never destroys user data -----------------------------------------------------------
def test_build_refuses_a_foreign_folder_and_keeps_every_file(place):
    out = place.root / "thesis"
    out.mkdir()
    foreign_folder(out)
    place.freeze()  # the foreign folder is NOT the test's output: all of it must stay
    result = cli(*BUILD, "--out", out)
    result.assert_one_line_error("--out", "thesis", "--overwrite")
    place.unchanged()


def test_overwrite_replaces_a_foreign_folder_and_a_rebuild_needs_no_flag(place):
    out = place.out("thesis")
    out.mkdir()
    foreign_folder(out)
    place.freeze()
    assert cli(*BUILD, "--out", out, "--overwrite").code == 0
    assert not (out / "notes-0.txt").exists() and (out / "README.md").is_file()
    assert cli(*BUILD, "--out", out).code == 0  # our own folder (marker): replaced without asking
    assert [p.name for p in place.root.iterdir() if p.name.startswith(".")] == []
    place.unchanged()


def test_out_pointing_at_a_file_is_refused_and_the_file_is_not_renamed(place):
    target = place.root / "results.csv"
    target.write_text("a,b\n1,2\n")
    place.freeze()
    result = cli(*BUILD, "--out", target)
    result.assert_one_line_error("results.csv", "file")
    assert target.read_text() == "a,b\n1,2\n"
    place.unchanged()  # in particular: no .results.csv.old


@pytest.mark.parametrize("out", [".", ".."])
def test_out_the_current_folder_or_a_parent_is_refused(place, out):
    place.freeze()
    cli(*BUILD, "--out", out).assert_one_line_error("current folder")
    place.unchanged()


def test_built_folders_keep_the_users_umask(place):
    old = os.umask(0o022)
    try:
        out = place.out("ds")
        assert cli(*BUILD, "--out", out).code == 0
    finally:
        os.umask(old)
    assert stat.S_IMODE(out.stat().st_mode) == 0o755
    assert {stat.S_IMODE(p.stat().st_mode) for p in out.rglob("*") if p.is_dir()} == {0o755}


def test_pairs_refuses_a_foreign_folder_before_reading_anything(place, tmp_path):
    align = tmp_path / "not-read.parquet"
    out = place.root / "pairs"
    out.mkdir()
    foreign_folder(out)
    place.freeze()
    cli("pairs", "--mijabench-align", align, "--out", out).assert_one_line_error("--overwrite")
    place.unchanged()


# --- 2. strict text input ------------------------------------------------------------------------
NON_UTF8_CSV = b"prompt,response\nfirst,fine\nsecond,caf\xe9 au lait\n"


@pytest.mark.parametrize("command", [
    ["judge", "--input", "{file}", "--out", "judged.jsonl"],
    [*BUILD[:2], "--config", "paper", "--seeds", "{file}", "--out", "paper"],
    [*BUILD, "--upstream", "{file}", "--out", "up"],
])
def test_non_utf8_csv_is_rejected_naming_file_line_and_column(place, command):
    bad = place.root / "input.csv"
    bad.write_bytes(NON_UTF8_CSV.replace(b"prompt,response", b"text,response"
                                         if "--seeds" in command else b"jb_prompt,response"
                                         if "--upstream" in command else b"prompt,response"))
    place.freeze()
    args = [str(bad) if a == "{file}" else a for a in command]
    result = cli(*args)
    result.assert_one_line_error("input.csv:line 3", "column 'response'", "UTF-8")
    place.unchanged()


def test_binary_parquet_column_is_rejected_not_read_as_b_quotes(place):
    bad = place.root / "input.parquet"
    pq.write_table(pa.table({"prompt": pa.array([b"hello"], pa.binary()), "response": ["no"]}), bad)
    place.freeze()
    cli("judge", "--input", bad, "--out", "judged.jsonl").assert_one_line_error(
        "input.parquet", "column 'prompt'")
    place.unchanged()


def test_broken_jsonl_line_is_named(place):
    bad = place.root / "input.jsonl"
    bad.write_text('{"prompt": "a", "response": "b"}\n{"prompt": "a", "resp\n')
    place.freeze()
    cli("judge", "--input", bad, "--out", "judged.jsonl").assert_one_line_error("input.jsonl:line 2")
    place.unchanged()


def test_securebreak_import_rejects_non_utf8_naming_the_column(place):
    bad = place.root / "annotated.csv"
    raw = (DATA / "securebreak_annotated.csv").read_bytes().splitlines(keepends=True)
    raw[2] = raw[2].replace(b"I won't", b"I w\xf6n't")
    bad.write_bytes(b"".join(raw))
    place.freeze()
    cli("build", "securebreak", "--input", bad, "--mapping", DATA / "securebreak_mapping.yaml",
        "--out", place.out("sb")).assert_one_line_error("annotated.csv:line 3", "column 'answer'")
    place.unchanged()


# --- 3. validated options ------------------------------------------------------------------------
@pytest.mark.parametrize("args, option", [
    ([*BUILD[:2], "--per-group", "-5", "--out", "x"], "--per-group"),
    (["audit", "--endpoint", "http://127.0.0.1:9", "--max-new-tokens", "-1"], "--max-new-tokens"),
    (["audit", "--endpoint", "http://127.0.0.1:9", "--temperature", "-3"], "--temperature"),
    (["dpo-eval", "--aligned", "x", "--per-group", "0"], "--per-group"),
    (["filter", "--guard", "g", "--prompts", "p", "--threshold", "2"], "--threshold"),
])
def test_out_of_range_options_are_one_line_usage_errors(place, args, option):
    place.freeze()
    cli(*args).assert_one_line_error(option)
    place.unchanged()


def test_generation_parameters_are_checked_for_api_callers_too():
    from mijabench.errors import MijaError
    from mijabench.run.types import GenParams
    for bad, option in (({"max_new_tokens": 0}, "--max-new-tokens"), ({"temperature": -3}, "--temperature"),
                        ({"top_p": 0}, "--top-p"), ({"top_p": 1.5}, "--top-p")):
        with pytest.raises(MijaError, match=f"^{option}"):
            GenParams(**bad)


def test_unknown_language_is_one_line(place):
    place.freeze()
    cli(*BUILD[:2], "--languages", "klingon", "--out", "x").assert_one_line_error("'klingon'")
    place.unchanged()


# --- 4. endpoints: empty replies are errors, retried, re-requested; a length cap ------------------
@pytest.mark.parametrize("fault", ["empty_choices", "null_content"])
def test_empty_reply_is_an_error_and_the_next_run_requests_it_again(faults, place, fault):
    out = place.out(f"run-{fault}")
    place.freeze()
    faults.reset()
    result = cli(*audit_args(f"{faults.url}/{fault}", out))
    result.assert_one_line_error("all 4 rows failed", "empty reply")
    shards = pq.read_table(out / "audit.parquet")
    assert shards.column("verdict").to_pylist() == ["error"] * 4  # never an empty "response"
    assert faults.requests[fault] == 4
    fixed = cli(*audit_args(f"{faults.url}/ok", out))  # the server is fixed: every row again
    assert fixed.code == 0, fixed.err[-2000:]
    table = pq.read_table(out / "audit.parquet")
    assert table.column("error").to_pylist() == [""] * 4
    assert set(table.column("verdict").to_pylist()) <= {"safe", "harmful"}
    assert "overall DR on harmful prompts = nan" not in fixed.out
    place.unchanged()


def test_an_empty_reply_is_retried_within_the_run(faults, place):
    out = place.out("run")
    faults.reset()
    result = cli(*audit_args(f"{faults.url}/empty_once", out)[:-2], "--max-retries", "2", "--out", out)
    assert result.code == 0, result.err[-2000:]
    assert faults.requests["empty_once"] == 8  # each of 4 rows: one empty reply, one good one
    assert pq.read_table(out / "audit.parquet").column("error").to_pylist() == [""] * 4


def test_an_oversized_reply_is_cut_at_the_cap_and_flagged(faults, place):
    out = place.out("run")
    result = cli(*audit_args(f"{faults.url}/oversized", out, "--max-response-chars", "500"))
    assert result.code == 0, result.err[-2000:]
    table = pq.read_table(out / "audit.parquet")
    assert {len(r) for r in table.column("response").to_pylist()} == {500}
    assert table.column("error").to_pylist() == [""] * 4
    assert table.column("truncated").to_pylist() == [True] * 4  # in audit.parquet, beside each row
    shards = pa.concat_tables(pq.read_table(p) for p in sorted((out / "responses").glob("shard-*")))
    assert shards.column("truncated").to_pylist() == [True] * 4
    assert "4 responses were cut at the response-length cap" in result.out


def test_a_body_past_the_byte_limit_is_a_row_error(faults, monkeypatch):
    from mijabench.run import http
    from mijabench.run.endpoints import EndpointBackend
    from mijabench.run.types import GenParams
    monkeypatch.setattr(http, "MAX_BODY_BYTES", 10_000)
    backend = EndpointBackend(f"{faults.url}/oversized", model="m", max_retries=0)
    try:
        [gen] = backend.generate(["hello"], GenParams(), progress=False)
    finally:
        backend.close()
    assert gen.text == "" and gen.error.startswith("reply body over")


# --- 5. total failure never looks like success ---------------------------------------------------
@pytest.mark.parametrize("fault, reason", [("500", "HTTP 500"), ("429", "HTTP 429"),
                                           ("invalid_json", "invalid chat completion"),
                                           ("hang_rows", "timeout")])
def test_an_audit_where_every_row_failed_exits_non_zero(faults, place, fault, reason):
    out = place.out(f"run-{fault}")
    place.freeze()
    faults.hang_s = 3.0
    extra = ["--timeout", "0.5"] if fault == "hang_rows" else []
    result = cli(*audit_args(f"{faults.url}/{fault}", out, *extra))
    line = result.assert_one_line_error("all 4 rows failed", reason, "re-run")
    assert "nan" not in result.out + line
    place.unchanged()


def test_a_server_that_hangs_fails_the_probe_in_one_line(faults, place):
    faults.hang_s = 3.0
    out = place.out("run")
    place.freeze()
    cli(*audit_args(f"{faults.url}/hang", out, "--timeout", "0.5")).assert_one_line_error(
        "no answer within 0.5s")
    place.unchanged()


def test_an_audit_whose_every_verdict_is_unparsed_exits_non_zero(faults, place, tmp_path):
    from mijabench.audit.runner import check_outcome
    from mijabench.errors import MijaError
    table = pa.table({"verdict": ["unparsed", "unparsed", "error"], "error": ["", "", "HTTP 500"]})
    with pytest.raises(MijaError, match="could not read any of the 2 responses"):
        check_outcome(table)


def test_a_high_error_share_warns(caplog):
    from mijabench.audit.runner import check_outcome
    table = pa.table({"verdict": ["safe"] * 8 + ["error"] * 2, "error": [""] * 8 + ["HTTP 500"] * 2})
    check_outcome(table, warn_error_share=0.5)
    assert not caplog.records
    check_outcome(table, warn_error_share=0.1)
    assert "2 of 10 rows (20%) failed" in caplog.text


# --- 6. tracebacks that became one line ----------------------------------------------------------
def test_a_foreign_parquet_in_responses_is_one_line(faults, place):
    out = place.out("run")
    (out / "responses").mkdir(parents=True)
    pq.write_table(pa.table({"something": ["else"]}), out / "responses" / "shard-00000.parquet")
    cli(*audit_args(f"{faults.url}/ok", out)).assert_one_line_error("shard-00000.parquet",
                                                                    "not a response shard")


def test_a_zero_byte_parquet_for_pairs_is_one_line(place):
    empty = place.root / "align.parquet"
    empty.write_bytes(b"")
    place.freeze()
    cli("pairs", "--mijabench-align", empty, "--out", place.out("pairs")).assert_one_line_error(
        "align.parquet")
    place.unchanged()


def test_audit_out_pointing_at_a_file_is_one_line(faults, place):
    target = place.root / "run.txt"
    target.write_text("keep me\n")
    place.freeze()
    cli(*audit_args(f"{faults.url}/ok", target)).assert_one_line_error("run.txt", "is a file")
    place.unchanged()


def test_judge_out_pointing_at_a_folder_is_one_line(place):
    source = place.root / "in.jsonl"
    source.write_text('{"prompt": "p", "response": "I cannot help with that."}\n')
    (place.root / "judged.jsonl").mkdir()
    place.freeze()
    cli("judge", "--input", source, "--out", place.root / "judged.jsonl").assert_one_line_error(
        "judged.jsonl", "is a folder")
    place.unchanged()


def test_annotate_import_out_pointing_at_a_file_is_one_line(place, tmp_path):
    from mijabench_align_fixtures import two_model_align

    from mijabench.derived import human_validation
    items = human_validation.sample(two_model_align(("en",), per_group=1), seed=0)
    paths = human_validation.export(items, tmp_path / "hv", "csv")
    with open(paths["sheet"], newline="") as fh:
        rows = [{**row, "label": "safe"} for row in csv.DictReader(fh)]
    with open(paths["sheet"], "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    target = place.root / "report.txt"
    target.write_text("keep me\n")
    place.freeze()
    cli("annotate", "import", "--sample", paths["sample"], "--sheets", paths["sheet"],
        "--out", target).assert_one_line_error("report.txt")
    place.unchanged()


def test_an_unwritable_output_place_is_one_line(place):
    source = place.root / "in.jsonl"
    source.write_text('{"prompt": "p", "response": "I cannot help with that."}\n')
    place.freeze()
    # /proc refuses new entries even for root, where a chmod-ed folder would not
    cli("judge", "--input", source, "--out", "/proc/mijabench-test/judged.jsonl").assert_one_line_error(
        "/proc/mijabench-test")
    place.unchanged()


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_output_folder_is_one_line(place):
    folder = place.root / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    place.freeze()
    try:
        cli("judge", "--input", ROOT / "tests" / "data" / "judge_cases.jsonl", "--judge", "rules",
            "--out", folder / "judged.jsonl").assert_one_line_error("ro")
    finally:
        folder.chmod(0o755)
    place.unchanged()


def test_release_push_with_a_rejected_token_is_one_line(place, monkeypatch):
    from hub_fixtures import recording_hub
    tree = place.out("release")
    assert cli("release", "--out", tree, "--only", "metric").code == 0
    place.freeze()
    monkeypatch.setenv("HF_TOKEN", "hf_rejected")
    with recording_hub("hf_the_right_one") as hub:
        hub.answer = lambda method, path, headers, raw: (401, {"error": "Invalid credentials"})
        result = cli("release", "--out", tree, "--resume", "--push", "--hub-url", hub.url)
    result.assert_one_line_error("HTTP 401", "token", "nothing was uploaded")
    assert "hf_rejected" not in result.err + result.out
    place.unchanged()


def test_the_no_token_message_names_only_options_that_exist(monkeypatch, tmp_path):
    from mijabench.errors import MijaError
    from mijabench.hub.publish import resolve_token
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "empty-hf-home"))
    with pytest.raises(MijaError) as err:
        resolve_token(None, "release --push")
    assert "--token" not in str(err.value) and "HF_TOKEN" in str(err.value)


# --- 7. the Space ----------------------------------------------------------------------------------
def test_space_writes_to_a_private_temp_folder():
    from mijabench.space import leaderboard
    folder = leaderboard._out_dir("a", "view")
    root = folder.parent
    assert root.name != "mijabench-space" and root.name.startswith("mijabench-space-")
    assert stat.S_IMODE(root.stat().st_mode) == 0o700


def test_space_rejects_a_group_picked_twice():
    from mijabench.errors import MijaError
    from mijabench.space import leaderboard
    from mijabench.space.config import ModelEntry, SpaceConfig
    from mijabench.space.probe import ProbeRequest, check_request
    config = SpaceConfig(models={"m": ModelEntry("m", None)})
    req = ProbeRequest(model="m", language="en", groups=("black", "black", "women"),
                       strategy="persona_assignment", scenario_category="economy_work",
                       intent_id="leadership_exclusion")
    with pytest.raises(MijaError, match="'black' is picked more than once"):
        check_request(req, config)
    with pytest.raises(MijaError, match="'women' is picked more than once"):
        leaderboard._check_unique(["women", "black", "women"])


# --- 8. the metric loader --------------------------------------------------------------------------
def test_metric_loader_refuses_unpinned_remote_code(monkeypatch, tmp_path):
    from mijabench.errors import MijaError
    from mijabench.hub import loaders
    pins = tmp_path / "pins.yaml"
    pins.write_text("repos: {}\n")
    monkeypatch.setenv(loaders.PINS_ENV, str(pins))
    with pytest.raises(MijaError, match="no pinned revision"):
        loaders.load_metric("someone/selective_safety")
    with pytest.raises(MijaError, match="no pinned revision"):
        loaders.load_metric()  # our own metric, when the pin file lacks it
