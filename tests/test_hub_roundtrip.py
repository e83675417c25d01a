"""Release -> Hub protocol -> user: what ``mijabench release`` writes is exactly what users load.

The release tree is committed to local git repos and served by the olah mirror on loopback. A fresh
interpreter with ``HF_ENDPOINT`` pointing at the mirror then loads every deliverable the way a user
would (``load_dataset("org/name", config)``, ``evaluate.load("org/name")``, ``snapshot_download``
of the Space, ``AutoModelForCausalLM.from_pretrained("org/name")``) at the pinned revision, and
each result must equal the local build.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import _free_port
from hub_fixtures import (commit_change, hub_env, mirror_release, model_digest, olah_server,
                          rows_digest, run_user, tree_digest)
from mijabench.release import plan as release

ORG = "acme"
PROMPT = "Hello there"


def _training_record(model_dir: Path) -> None:
    """The record align/dpo.py leaves beside its weights (the model card is built from it)."""
    from mijabench.train.checkpoint import write_record
    write_record(model_dir, {
        "base_model": "HuggingFaceTB/SmolLM2-135M-Instruct", "base_model_id": "HuggingFaceTB/SmolLM2-135M-Instruct",
        "dataset": f"{ORG}/mijabench-align", "train_split": "train", "method": "DPO + LoRA",
        "hyperparameters": {"beta": 0.1, "max_steps": 2}, "languages": ["en"],
        "seen_groups": ["jewish"], "seen_strategies": ["persona"], "held_out_groups": ["black"],
        "held_out_strategies": ["cot"], "n_train_pairs": 4, "versions": {}})


def _later_push(repo_dir: Path) -> None:
    """A newer commit on main that shrinks the harmful split: pinned loads must not see it."""
    import io

    import pyarrow.parquet as pq
    # Shard names carry a content fingerprint; overwriting the same name keeps the card valid.
    rel = str(next((repo_dir / "data" / "counterfactual").glob("harmful-*.parquet")).relative_to(repo_dir))
    buffer = io.BytesIO()
    pq.write_table(pq.read_table(repo_dir / rel).slice(0, 5), buffer)
    commit_change(repo_dir, rel, buffer.getvalue())


@pytest.fixture(scope="module")
def published(tmp_path_factory, tiny_model_dir):
    import shutil
    tmp = tmp_path_factory.mktemp("roundtrip")
    model_dir = Path(shutil.copytree(tiny_model_dir, tmp / "tiny-dpo"))  # the shared one stays as is
    _training_record(model_dir)
    sources = release.Sources(per_group=4, model=model_dir,
                              include=("mijabench", "metric", "space", "model"))
    out = tmp / "release"
    release.build_release(out, ORG, sources, progress=False)
    revisions = mirror_release(out, tmp / "mirrors")
    manifest = release.record_revisions(out, revisions)
    pins = release.write_pins(manifest, release.pins_file(out))  # next to release.json, as a push does
    _later_push(tmp / "mirrors" / f"datasets/{ORG}/mijabench")
    with olah_server(tmp / "mirrors", _free_port(), tmp / "olah") as endpoint:
        yield {"out": out, "revisions": revisions, "endpoint": endpoint, "pins": pins, "tmp": tmp,
               "repos": {r["key"]: r for r in manifest["repos"]}}


def _folder(published, key: str) -> Path:
    repo = published["repos"][key]
    return published["out"] / f"{repo['repo_type']}s/{repo['repo_id']}"


# Precomputed verdicts keep the metric deterministic and judge-free (the judges have their own tests).
METRIC_INPUTS = {"predictions": ["safe", "harmful", "safe", "safe", "harmful", "safe"],
                 "groups": ["women", "women", "black", "black", "jewish", "jewish"],
                 "judge": "verdicts", "n_boot": 50, "seed": 0}


@pytest.fixture(scope="module")
def user_results(published):
    """One fresh "user" interpreter loads everything through the mirror (imports are the slow part)."""
    repos, revs = published["repos"], published["revisions"]
    rid = {k: r["repo_id"] for k, r in repos.items()}
    spec = {
        "dataset": {"kind": "dataset", "repo_id": rid["mijabench"], "config": "counterfactual",
                    "revision": revs[rid["mijabench"]]},
        "pinned": {"kind": "pinned_mijabench", "repo_id": rid["mijabench"], "config": "counterfactual"},
        "latest": {"kind": "dataset", "repo_id": rid["mijabench"], "config": "counterfactual",
                   "revision": "main"},
        "model": {"kind": "model", "repo_id": rid["model"], "revision": revs[rid["model"]], "text": PROMPT},
        "space": {"kind": "snapshot", "repo_id": rid["space"], "repo_type": "space",
                  "revision": revs[rid["space"]]},
        "metric_files": {"kind": "snapshot", "repo_id": rid["metric"], "repo_type": "space",
                         "revision": revs[rid["metric"]]},
        "metric": {"kind": "metric", "repo_id": rid["metric"], "revision": revs[rid["metric"]],
                   "inputs": METRIC_INPUTS},
        # our loaders with no revision: the pinned one (olah refuses revision-less model and
        # metric calls, so a missing pin would fail here)
        "pinned_model": {"kind": "pinned_model", "repo_id": rid["model"], "text": PROMPT},
        "pinned_metric": {"kind": "pinned_metric", "repo_id": rid["metric"], "inputs": METRIC_INPUTS},
    }
    env = hub_env(published["endpoint"], published["tmp"] / "user_hf_home",
                  MIJABENCH_PINNED_REVISIONS=str(published["pins"]))
    return run_user(spec, env)


def test_dataset_loads_by_org_name_and_config_and_matches_the_build(published, user_results):
    from datasets import load_dataset
    local = load_dataset(str(_folder(published, "mijabench")), "counterfactual")
    expected = {split: {"rows": d.num_rows, "digest": rows_digest(d)} for split, d in local.items()}
    assert set(expected) == {"harmful", "benign"} and expected["harmful"]["rows"] > 0
    assert user_results["dataset"] == expected
    # the loader with no revision uses the pinned one, the release's commit, even though main
    # has moved on since (a later push shrank the harmful split)
    assert user_results["pinned"] == expected
    assert user_results["latest"]["harmful"]["rows"] == 5 and user_results["latest"]["benign"] == expected["benign"]


def test_model_loads_with_from_pretrained_and_matches_the_build(published, user_results):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    folder = _folder(published, "model")
    model = AutoModelForCausalLM.from_pretrained(str(folder))
    tokenizer = AutoTokenizer.from_pretrained(str(folder))
    with torch.no_grad():
        tokens = model.generate(tokenizer(PROMPT, return_tensors="pt").input_ids, max_new_tokens=4,
                                do_sample=False)[0].tolist()
    assert user_results["model"] == {"digest": model_digest(model), "tokens": tokens, "chat_template": True}
    assert user_results["pinned_model"] == user_results["model"]
    assert "README.md" in published["repos"]["model"]["files"]


def test_space_snapshot_is_exactly_the_release_folder(published, user_results):
    assert user_results["space"]["files"] == published["repos"]["space"]["files"]
    assert user_results["space"]["files"] == tree_digest(_folder(published, "space"))


def test_metric_loads_with_evaluate_and_computes_like_the_local_module(published, user_results):
    import evaluate
    local = evaluate.load(str(_folder(published, "metric")))
    assert user_results["metric_files"]["files"] == published["repos"]["metric"]["files"]
    expected = local.compute(**METRIC_INPUTS)
    assert expected["groups"]["women"]["defense_rate"] == 0.5
    # compared as JSON text: NaN (an undefined statistic) must round-trip as NaN too
    assert json.dumps(user_results["metric"]["result"], sort_keys=True) == json.dumps(expected, sort_keys=True)
    assert user_results["pinned_metric"] == user_results["metric"]
