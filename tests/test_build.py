import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from mijabench import taxonomy
from mijabench.bench import configs as benchmark
from mijabench.bench import material, transforms
from mijabench.bench import writer as benchmark_dataset
from mijabench.hub import folders as hubdata

ROOT = Path(__file__).resolve().parent.parent
CLI = [sys.executable, "-m", "mijabench"]


def pt_seed_csv(path: Path, per_group: int = 6) -> Path:
    lines = ["text,group,is_toxic"]
    for group in ("pessoas negras", "judeus", "muçulmanos", "indígenas", "imigrantes", "mulheres",
                  "lgbtqia+", "pcd", "idosos"):
        lines += [f"frase sintética {i} sobre o grupo,{group},{i % 2}" for i in range(per_group)]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture(scope="module")
def built(tmp_path_factory, toxigen_dir):
    tmp = tmp_path_factory.mktemp("build")
    seeds = [toxigen_dir, pt_seed_csv(tmp / "toxsyn.csv")]
    tables = benchmark.build_configs(("counterfactual", "paper"), ("en", "pt"), seed=7,
                                     per_group=8, seeds=seeds)
    out = benchmark_dataset.write(tmp / "mijabench", tables, seed=7)
    return out, tables, seeds


def load_offline(folder: Path, config: str) -> dict:
    """load_dataset in a fresh process with HF_HUB_OFFLINE=1, as a user without network would."""
    code = ("import json,sys; from datasets import load_dataset; d=load_dataset(sys.argv[1], sys.argv[2]);"
            "print(json.dumps({s: {'|'.join(k): int(v) for k, v in d[s].to_pandas()"
            ".groupby(['language','group','strategy']).size().items()} for s in d}))")
    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1")
    out = subprocess.run([sys.executable, "-c", code, str(folder), config], env=env,
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_load_dataset_offline_counts(built):
    out, _, _ = built
    counts = load_offline(out, "counterfactual")
    assert set(counts) == {"harmful", "benign"}
    for language in ("en", "pt"):
        for group in taxonomy.groups_for(language):
            for strategy in taxonomy.strategies():
                # per_group=8 -> 2 attacks per strategy, one row per group each
                assert counts["harmful"][f"{language}|{group}|{strategy}"] == 2
                assert counts["benign"][f"{language}|{group}|{strategy}"] == 2
    paper = load_offline(out, "paper")
    per_group = Counter()
    for key, n in paper["harmful"].items():
        language, group, _ = key.split("|")
        per_group[(language, group)] += n
    expected = {(lang, g) for lang in ("en", "pt") for g in taxonomy.groups_for(lang)}
    assert set(per_group) == expected and set(per_group.values()) == {8}


def test_counterfactual_groups_share_the_identical_template(built):
    _, tables, _ = built
    sets = {}
    for row in tables["counterfactual"]["harmful"].to_pylist():
        # Encoded payloads differ by the group too: tests/test_prompt_content.py checks those sets.
        encoded = row["strategy"] == "representation_shifting"
        masked = "" if encoded else row["prompt"].replace(row["group_name"], "<GROUP>")
        key = (row["template_id"], row["scenario"], row["strategy"], row["intent_id"], masked)
        sets.setdefault(row["counterfactual_id"], []).append((row["group"], key))
    assert sets
    for members in sets.values():
        groups = [g for g, _ in members]
        language_groups = taxonomy.groups_for("en") if len(groups) == 13 else taxonomy.groups_for("pt")
        assert sorted(groups) == sorted(language_groups)
        assert len({key for _, key in members}) == 1


def test_benign_twins_mirror_harmful_rows(built):
    _, tables, _ = built
    harmful = tables["counterfactual"]["harmful"].to_pylist()
    benign = {(r["counterfactual_id"], r["group"]): r for r in tables["counterfactual"]["benign"].to_pylist()}
    for row in harmful:
        twin = benign[(row["counterfactual_id"], row["group"])]
        assert twin["kind"] == "benign" and twin["scenario"] == row["scenario"]
        assert twin["prompt"] != row["prompt"] and twin["id"] != row["id"]


def test_paper_rows_come_from_real_seeds(built, toxigen_dir):
    _, tables, _ = built
    hate = {l.strip() for p in toxigen_dir.glob("hate_*.txt") for l in p.read_text().splitlines() if l.strip()}
    en = [r for r in tables["paper"]["harmful"].to_pylist() if r["language"] == "en"]
    assert en and all(r["seed_text"] in hate for r in en)
    assert {r["seed_source"] for r in en} == {"toxigen"}
    for row in en:  # the seed is the premise: quoted as settled, or encoded (Representation Shifting)
        template = next(t for t in material.load("en").templates[row["strategy"]] if t.id == row["template_id"])
        shown = transforms.encode(template.transform, row["seed_text"]) if template.transform else f'"{row["seed_text"]}"'
        assert shown in row["prompt"] and row["group_name"] in row["prompt"]


def test_ids_unique_and_every_axis_present(built):
    _, tables, _ = built
    for splits in tables.values():
        for table in splits.values():
            ids = table.column("id").to_pylist()
            assert len(ids) == len(set(ids))
            for column in ("language", "group", "strategy", "scenario_category", "kind", "prompt",
                           "template_id"):
                assert all(table.column(column).to_pylist())


def test_reproducible_bytes_and_manifest(tmp_path, built):
    out, _, seeds = built
    again = benchmark.build_configs(("counterfactual", "paper"), ("en", "pt"), seed=7, per_group=8, seeds=seeds)
    second = benchmark_dataset.write(tmp_path / "again", again, seed=7)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest == json.loads((second / "manifest.json").read_text())
    for rel, digest in manifest["files"].items():
        assert hubdata.sha256(out / rel) == digest
        assert (out / rel).read_bytes() == (second / rel).read_bytes()
    # A different seed draws different scenarios/templates.
    other = benchmark.build_configs(("counterfactual",), ("en", "pt"), seed=8, per_group=8)
    assert other["counterfactual"]["harmful"].column("prompt") != again["counterfactual"]["harmful"].column("prompt")


def test_card_metadata(built):
    out, _, _ = built
    from huggingface_hub import DatasetCard
    card = DatasetCard.load(out / "README.md")
    data = card.data.to_dict()
    assert {c["config_name"] for c in data["configs"]} == {"counterfactual", "paper"}
    assert "CONTENT WARNING" in data["extra_gated_prompt"] and data["extra_gated_fields"]
    assert data["license"] and set(data["language"]) == {"en", "pt"}
    assert "mijabench2026" in card.text and "hartvigsen2022toxigen" in card.text
    assert "| paper | pt | elderly people | 8 | " in card.text.lower()


def run_cli(*args, cwd=ROOT):
    return subprocess.run(CLI + list(args), capture_output=True, text=True, cwd=cwd, check=False)


def test_cli_build_and_bad_inputs_change_nothing(tmp_path, toxigen_dir):
    out = tmp_path / "ds"
    ok = run_cli("build", "mijabench", "--config", "counterfactual", "--languages", "en",
                 "--per-group", "4", "--out", str(out))
    assert ok.returncode == 0, ok.stderr
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    bad_seeds = tmp_path / "bad"
    bad_seeds.mkdir()
    (bad_seeds / "hate_women.txt").write_bytes(b"fine\n\xff broken\n")
    missing = tmp_path / "missing.csv"
    missing.write_text("text,group\nx,mulheres\n")
    unknown = tmp_path / "unknown.csv"
    unknown.write_text("text,group,is_toxic\nx,marcianos,1\n")
    for seeds, expected in ((bad_seeds, "hate_women.txt:2"), (missing, "missing column 'is_toxic'"),
                            (unknown, "unknown group 'marcianos'")):
        res = run_cli("build", "mijabench", "--config", "paper", "--seeds", str(seeds), "--out", str(out))
        assert res.returncode == 2
        lines = res.stderr.strip().splitlines()
        assert len(lines) == 1 and expected in lines[0] and "Traceback" not in res.stderr
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before


def test_cli_errors_for_unknown_names(tmp_path):
    res = run_cli("build", "mijabench", "--config", "bogus", "--out", str(tmp_path / "x"))
    assert res.returncode == 2 and "valid configs" in res.stderr
    res = run_cli("build", "mijabench", "--languages", "en,fr", "--out", str(tmp_path / "x"))
    assert res.returncode == 2 and "unknown language 'fr'" in res.stderr
    res = run_cli("build", "mijabench", "--config", "paper", "--out", str(tmp_path / "x"))
    assert res.returncode == 2 and "--seeds" in res.stderr
    assert not (tmp_path / "x").exists()


def test_help_everywhere():
    for args in ([], ["build"], ["build", "mijabench"]):
        res = run_cli(*args, "--help")
        assert res.returncode == 0 and "Usage" in res.stdout


def test_upstream_rows_import_as_finished_prompts(tmp_path):
    sample = ROOT / "tests" / "data" / "upstream_align_sample.csv"
    res = run_cli("build", "mijabench", "--languages", "en", "--per-group", "4", "--upstream", str(sample),
                  "--out", str(tmp_path / "ds"))
    assert res.returncode == 0, res.stderr
    import pyarrow.csv as pacsv
    released = pacsv.read_csv(sample).to_pylist()
    rows = load_offline(tmp_path / "ds", "upstream")["harmful"]
    assert sum(rows.values()) == len(released)
    assert "en|black|persona_assignment" in rows and "pt|immigrants|logical_rationalization" in rows
