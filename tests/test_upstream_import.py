"""The MiJaBench authors' rows, end to end: names as written in the wild -> the ``upstream`` config
(also called ``release``) -> ``mijabench audit`` on a local folder and on a Hub id served by olah."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from conftest import ROOT, _free_port, http_env

from mijabench import taxonomy
from mijabench.audit.prompts import load_prompts
from mijabench.bench import upstream
from mijabench.errors import MijaError

DISPLAY_NAMES = ROOT / "tests" / "data" / "upstream_display_names.csv"
# (group, language) of each fixture row: groups written as EN/PT display names and common spellings.
EXPECTED = [("black", "en"), ("jewish", "en"), ("native_peoples", "en"), ("mental_disability", "en"),
            ("black", "pt"), ("muslim", "pt"), ("native_peoples", "pt"), ("disability", "pt")]


def cli(*args: str, env: dict | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mijabench", *args], capture_output=True, text=True,
                          check=False, cwd=ROOT, env=env or http_env(), timeout=timeout)


def one_line_error(res: subprocess.CompletedProcess) -> str:
    lines = res.stderr.strip().splitlines()
    assert res.returncode == 2 and len(lines) == 1 and "Traceback" not in res.stderr, res.stderr
    assert lines[0].startswith("error: ")
    return lines[0]


def _write_csv(path: Path, rows: list[dict]) -> Path:
    pacsv.write_csv(pa.Table.from_pylist(rows), path)
    return path


def _fixture_rows() -> list[dict]:
    return pacsv.read_csv(DISPLAY_NAMES).to_pylist()


# --- import --------------------------------------------------------------------------------------
def test_display_names_in_both_languages_import():
    table = upstream.prompt_table(DISPLAY_NAMES)
    rows = table.to_pylist()
    assert [(r["group"], r["language"]) for r in rows] == EXPECTED
    assert {r["config"] for r in rows} == {"upstream"} and len({r["id"] for r in rows}) == 8
    assert [r["strategy"] for r in rows[:4]] == [r["strategy"] for r in rows[4:]] == [
        "persona_assignment", "chain_of_thought", "representation_shifting", "logical_rationalization"]
    assert all(r["group_name"] == taxonomy.group(r["group"]).name(r["language"]) for r in rows)
    # History/História are one category; empty and unplaceable categories become `unknown`.
    history = taxonomy.scenario_category(rows[0]["scenario_category"])
    assert history.name("en") == "History" and rows[4]["scenario_category"] == history.id
    assert [r["scenario_category"] for r in rows[1:4]] == ["unknown"] * 3
    assert [r["scenario_category"] for r in rows[5:]] == ["unknown"] * 3


@pytest.mark.parametrize("name", ["en", "EN", "English", "english", "inglês", "Ingles", "en-US"])
def test_english_spellings(name):
    assert upstream.language_id(name, "x") == "en"


@pytest.mark.parametrize("name", ["pt", "PT", "Portuguese", "português", "Portugues", "pt-BR", "pt_br"])
def test_portuguese_spellings(name):
    assert upstream.language_id(name, "x") == "pt"


def test_missing_category_and_seed_columns_are_tolerated(tmp_path):
    rows = [{k: v for k, v in r.items() if k not in ("scenario_category", "seed_text")}
            for r in _fixture_rows()]
    table = upstream.prompt_table(_write_csv(tmp_path / "bare.csv", rows))
    assert table.column("scenario_category").to_pylist() == ["unknown"] * 8
    assert table.column("seed_text").to_pylist() == [""] * 8


# --- one-line errors through the CLI -------------------------------------------------------------
def test_unknown_group_names_file_row_field_and_suggests_group_map(tmp_path):
    rows = _fixture_rows()
    rows[2]["group"] = "Klingons"
    path = _write_csv(tmp_path / "release.csv", rows)
    line = one_line_error(cli("build", "mijabench", "--config", "release", "--upstream", str(path),
                              "--out", str(tmp_path / "ds")))
    assert f"{path}:row 3 column 'group': unknown group 'Klingons'" in line and "--group-map" in line
    assert not (tmp_path / "ds").exists()
    # The suggested fix works: the same file imports with a group map.
    group_map = tmp_path / "groups.yaml"
    group_map.write_text("Klingons: povos indígenas\n", encoding="utf-8")
    ok = cli("build", "mijabench", "--config", "release", "--upstream", str(path), "--group-map",
             str(group_map), "--out", str(tmp_path / "ds"))
    assert ok.returncode == 0, ok.stderr
    built = pq.read_table(next((tmp_path / "ds" / "data" / "upstream").glob("*.parquet")))
    assert built.column("group").to_pylist()[2] == "native_peoples"


def test_group_outside_the_language_suggests_group_map(tmp_path):
    rows = _fixture_rows()
    rows[7]["language"] = "en"  # people with disabilities (PT-only group) on an English row
    path = _write_csv(tmp_path / "release.csv", rows)
    with pytest.raises(MijaError, match=r"release\.csv:row 8 column 'group': group 'disability' is not "
                                        r"part of MiJaBench-en.*--group-map"):
        upstream.prompt_table(path)


def test_release_file_without_prompt_column(tmp_path):
    rows = [{k: v for k, v in r.items() if k != "jb_prompt"} for r in _fixture_rows()]
    path = _write_csv(tmp_path / "release.csv", rows)
    line = one_line_error(cli("build", "mijabench", "--config", "release", "--upstream", str(path),
                              "--out", str(tmp_path / "ds")))
    assert f"{path}: no prompt column" in line and "jb_prompt" in line


def test_empty_prompt_names_row_and_field(tmp_path):
    rows = _fixture_rows()
    rows[4]["jb_prompt"] = " "
    path = _write_csv(tmp_path / "release.csv", rows)
    with pytest.raises(MijaError, match=r"release\.csv:row 5: empty 'jb_prompt'"):
        upstream.prompt_table(path)


def test_bad_group_map_is_one_line_error(tmp_path):
    group_map = tmp_path / "groups.yaml"
    group_map.write_text("Klingons: muslim: black\n")
    line = one_line_error(cli("build", "mijabench", "--config", "release", "--upstream",
                              str(DISPLAY_NAMES), "--group-map", str(group_map), "--out", str(tmp_path / "ds")))
    assert f"--group-map {group_map}: not valid YAML (line 1)" in line
    group_map.write_text("Klingons: vulcans\n")
    line = one_line_error(cli("audit", "--dataset", str(tmp_path), "--config", "release",
                              "--group-map", str(group_map), "--out", str(tmp_path / "run")))
    assert f"--group-map {group_map}: entry 'Klingons': unknown group 'vulcans'" in line


def test_audit_config_errors(tmp_path):
    line = one_line_error(cli("audit", "--config", "release", "--out", str(tmp_path / "run")))
    assert "--config release" in line and "--dataset" in line
    line = one_line_error(cli("audit", "--config", "everything", "--out", str(tmp_path / "run")))
    assert "use counterfactual, paper or upstream" in line
    line = one_line_error(cli("audit", "--dataset", "not a/hub id", "--out", str(tmp_path / "run")))
    assert "not a folder or a Hub dataset id" in line


# --- load_prompts on every layout ----------------------------------------------------------------
def test_release_and_upstream_name_the_same_config(tmp_path):
    res = cli("build", "mijabench", "--config", "upstream", "--upstream", str(DISPLAY_NAMES),
              "--out", str(tmp_path / "ds"))
    assert res.returncode == 0, res.stderr
    by_release = load_prompts(tmp_path / "ds", "release", "en,pt", 0, None)
    by_upstream = load_prompts(tmp_path / "ds", "upstream", "en,pt", 0, None)
    assert by_release.equals(by_upstream) and by_release.num_rows == 8
    assert load_prompts(tmp_path / "ds", "release", "pt", 0, None).num_rows == 4


def test_raw_authors_rows_in_a_dataset_config_are_converted(tmp_path):
    """A dataset whose `release` config holds the authors' columns as published."""
    shard = tmp_path / "ds" / "data" / "release" / "harmful-00000-of-00001.parquet"
    shard.parent.mkdir(parents=True)
    rows = _fixture_rows()
    rows[0]["group"] = "Klingons"
    pq.write_table(pa.Table.from_pylist(rows), shard)
    with pytest.raises(MijaError, match=r"config release:row 1 column 'group': unknown group 'Klingons'"):
        load_prompts(tmp_path / "ds", "release", "en,pt", 0, None)
    table = load_prompts(tmp_path / "ds", "release", "en,pt", 0, None, group_map={"klingons": "black"})
    assert [(r["group"], r["language"]) for r in table.to_pylist()] == EXPECTED
    assert set(table.column("config").to_pylist()) == {"upstream"}


def test_card_reports_unknown_categories(tmp_path):
    res = cli("build", "mijabench", "--config", "release", "--upstream", str(DISPLAY_NAMES),
              "--out", str(tmp_path / "ds"))
    assert res.returncode == 0, res.stderr
    card = (tmp_path / "ds" / "README.md").read_text()
    assert "Scenario category `unknown`: 6 rows of `upstream`." in card


# --- the embedded model audits the imported rows: local folder, then a Hub id via olah ------------
def _assert_audited(res: subprocess.CompletedProcess, run: Path) -> None:
    assert res.returncode == 0, res.stderr[-3000:]
    table = pq.read_table(run / "audit.parquet")
    assert sorted(zip(table.column("group").to_pylist(), table.column("language").to_pylist())) == \
        sorted(EXPECTED)
    assert set(table.column("config").to_pylist()) == {"upstream"}
    assert (run / "report.md").is_file() and "error" not in set(table.column("verdict").to_pylist())


AUDIT_ARGS = ("--config", "release", "--full", "--max-new-tokens", "8", "--languages", "en,pt")


@pytest.mark.slow
def test_release_config_audited_from_folder_and_hub(tmp_path):
    from hub_fixtures import commit_folder, hub_env, olah_server

    built = tmp_path / "ds"
    res = cli("build", "mijabench", "--config", "release", "--upstream", str(DISPLAY_NAMES),
              "--out", str(built))
    assert res.returncode == 0, res.stderr
    res = cli("audit", "--dataset", str(built), *AUDIT_ARGS, "--out", str(tmp_path / "run-dir"))
    _assert_audited(res, tmp_path / "run-dir")

    mirrors = tmp_path / "mirrors"
    revision = commit_folder(built, mirrors / "datasets" / "acme" / "mijabench")
    with olah_server(mirrors, _free_port(), tmp_path / "olah") as endpoint:
        env = hub_env(endpoint, tmp_path / "hf-home")
        res = cli("audit", "--dataset", "acme/mijabench", "--revision", revision, *AUDIT_ARGS,
                  "--out", str(tmp_path / "run-hub"), env=env)
        _assert_audited(res, tmp_path / "run-hub")
        missing = cli("audit", "--dataset", "acme/mijabench", "--revision", "0" * 40, *AUDIT_ARGS,
                      "--out", str(tmp_path / "run-bad"), env=env)
        assert "--dataset acme/mijabench: could not load config" in one_line_error(missing)
    hub = pq.read_table(tmp_path / "run-hub" / "audit.parquet")
    local = pq.read_table(tmp_path / "run-dir" / "audit.parquet")
    assert sorted(hub.column("id").to_pylist()) == sorted(local.column("id").to_pylist())
