"""``mijabench release``: the tree, the manifest, the push plan, and the push (against a recording server)."""

from __future__ import annotations

import hashlib
from importlib.metadata import version
import os
import subprocess
import sys
from pathlib import Path

import pytest

from hub_fixtures import recording_hub
from mijabench.hub import cards as cards_mod
from mijabench.hub import loaders as hub_loaders
from mijabench.release import plan as release
from mijabench.errors import MijaError

TOKEN = "hf_recording_test_token"


@pytest.fixture(autouse=True)
def _hub_env(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", "1")
    monkeypatch.setenv("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    monkeypatch.setenv(hub_loaders.PINS_ENV, str(tmp_path / "pins.yaml"))


@pytest.fixture(scope="module")
def space_src(tmp_path_factory) -> Path:
    """A minimal Space source folder (the real one lives in spaces/probe)."""
    src = tmp_path_factory.mktemp("space_src")
    (src / "app.py").write_text("import gradio as gr\n")
    (src / "README.md").write_text("---\ntitle: Probe test\nsdk: gradio\nsdk_version: 5.0.0\n"
                                   "app_file: app.py\n---\n\n# Probe test\n\nConfiguration notes.\n")
    (src / "requirements.txt").write_text("mijabench\n")
    (src / "__pycache__").mkdir()
    (src / "__pycache__" / "app.cpython-311.pyc").write_bytes(b"\0")
    return src


def _sources(space_src: Path, **kw) -> release.Sources:
    return release.Sources(per_group=4, space=space_src, metric=None, include=("mijabench", "space"), **kw)


@pytest.fixture(scope="module")
def built(tmp_path_factory, space_src) -> Path:
    out = tmp_path_factory.mktemp("release") / "tree"
    release.build_release(out, "acme", _sources(space_src), progress=False)
    return out


def _copy(src: Path, dest: Path) -> Path:
    import shutil
    shutil.copytree(src, dest)
    return dest


def test_tree_has_one_folder_per_repo_and_the_manifest_hashes_them(built):
    manifest = release.read_manifest(built)
    repos = {r["repo_id"]: r for r in manifest["repos"]}
    assert set(repos) == {"acme/mijabench", "acme/mijabench-probe"}
    ds, space = repos["acme/mijabench"], repos["acme/mijabench-probe"]
    assert (ds["repo_type"], ds["private"], ds["gated"]) == ("dataset", True, "manual")
    assert (space["repo_type"], space["space_sdk"], space["gated"]) == ("space", "gradio", None)
    assert (built / "datasets/acme/mijabench/data/counterfactual").is_dir()
    own = sorted(f for f in space["files"] if not f.startswith("mijabench/"))
    card = (built / "spaces/acme/mijabench-probe/README.md").read_text()
    meta = cards_mod.validate_card(card, "space", folder=built / "spaces/acme/mijabench-probe")
    assert meta["title"] == "Probe test" and meta["sdk_version"] == version("gradio")  # re-pinned
    assert meta["datasets"] == ["acme/mijabench"]
    assert "# Probe test\n\nConfiguration notes." in card and "(https://huggingface.co/datasets/acme/mijabench)" in card
    assert own == ["README.md", "app.py", "requirements.txt"]  # no caches
    # the app imports the package from beside app.py, so the Space runs the released code
    assert "mijabench/__init__.py" in space["files"] and "mijabench/data/taxonomy.yaml" in space["files"]
    assert not any("__pycache__" in f or f.endswith(".pyc") for f in space["files"])
    for repo in repos.values():
        folder = built / f"{repo['repo_type']}s/{repo['repo_id']}"
        on_disk = {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
                   for p in folder.rglob("*") if p.is_file()}
        assert on_disk == repo["files"] and repo["revision"] is None
    assert len(manifest["source_commit"]) == 40 or manifest["source_commit"] == "unknown"
    assert sorted(p.name for p in built.iterdir()) == [".mijabench-output", "datasets", "release.json",
                                                       "spaces"]  # the marker: ours to rebuild


def test_rebuild_is_byte_identical(built, space_src, tmp_path):
    again = release.build_release(tmp_path / "again", "acme", _sources(space_src), progress=False)
    first = release.read_manifest(built)
    assert [r["tree_sha256"] for r in again["repos"]] == [r["tree_sha256"] for r in first["repos"]]


def test_an_invalid_card_stops_the_build_and_leaves_no_tree(space_src, tmp_path):
    metric = tmp_path / "metric"
    metric.mkdir()
    (metric / "app.py").write_text("print()\n")
    (metric / "README.md").write_text("---\ntitle: m\nsdk: gradio\ncolorFrom: orange\napp_file: app.py\n---\n# m\n")
    sources = release.Sources(per_group=4, space=space_src, metric=metric, include=("mijabench", "metric"))
    with pytest.raises(MijaError, match=r"README.md: card field 'colorFrom' has 'orange'"):
        release.build_release(tmp_path / "out", "acme", sources, progress=False)
    assert not (tmp_path / "out").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".out")] == []


def test_dry_run_prints_the_plan_and_uploads_nothing(built, tmp_path):
    tree = _copy(built, tmp_path / "tree")
    with recording_hub(TOKEN) as hub:
        proc = subprocess.run([sys.executable, "-m", "mijabench", "release", "--out", str(tree), "--resume",
                               "--dry-run", "--push", "--hub-url", hub.url],
                              capture_output=True, text=True, env=os.environ | {"OMP_NUM_THREADS": "1"})
    assert proc.returncode == 0, proc.stderr
    assert "dataset acme/mijabench" in proc.stdout and "gated=manual" in proc.stdout
    assert "space   acme/mijabench-probe" in proc.stdout and "dry run: nothing uploaded" in proc.stdout
    assert hub.requests == []


def test_push_without_a_token_fails_in_one_line_before_any_request(built, tmp_path):
    tree = _copy(built, tmp_path / "tree")
    env = {k: v for k, v in os.environ.items() if k != "HF_TOKEN"}
    env.update(HF_HOME=str(tmp_path / "empty_hf_home"), OMP_NUM_THREADS="1")
    with recording_hub(TOKEN) as hub:
        proc = subprocess.run([sys.executable, "-m", "mijabench", "release", "--out", str(tree), "--resume",
                               "--push", "--hub-url", hub.url], capture_output=True, text=True, env=env)
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "no Hugging Face token found" in proc.stderr
    assert hub.requests == []


def test_push_sends_the_expected_repos_payloads_and_files(built, tmp_path, monkeypatch):
    tree = _copy(built, tmp_path / "tree")
    manifest = release.read_manifest(tree)
    with recording_hub(TOKEN) as hub:
        results = release.push_release(tree, endpoint=hub.url, progress=False)
    assert [r.status for r in results] == ["pushed", "pushed"]
    assert all(r.authorized for r in hub.requests)
    # every card passed the Hub's validation before the first repo was created
    first_create = hub.requests.index(hub.calls("create")[0])
    assert len([r for r in hub.requests[:first_create] if r.path == "/api/validate-yaml"]) == 2
    created = {f"{c.body['organization']}/{c.body['name']}": c.body for c in hub.calls("create")}
    assert created["acme/mijabench"] == {"name": "mijabench", "organization": "acme",
                                         "visibility": "private", "type": "dataset"}
    assert created["acme/mijabench-probe"]["type"] == "space"
    assert created["acme/mijabench-probe"]["sdk"] == "gradio"
    # the dataset is gated before its first file lands
    settings = hub.calls("settings")
    assert [(s.path, s.body) for s in settings] == [("/api/datasets/acme/mijabench/settings", {"gated": "manual"})]
    assert hub.requests.index(settings[0]) < hub.requests.index(hub.calls("commit")[0])
    for repo in manifest["repos"]:
        commits = hub.commits[repo["repo_id"]]
        assert len(commits) == 1  # one commit per repo
        sent = {path: hashlib.sha256(data).hexdigest() for path, data in commits[0]["files"].items()}
        assert sent == repo["files"]
    readme = hub.commits["acme/mijabench"][0]["files"]["README.md"].decode()
    assert "extra_gated_prompt: 'CONTENT WARNING" in readme and "extra_gated_fields:" in readme
    # revisions are recorded in the manifest and pinned next to it, where the loaders read them
    # through MIJABENCH_PINNED_REVISIONS
    pushed = {r["repo_id"]: r["revision"] for r in release.read_manifest(tree)["repos"]}
    assert pushed == {r.repo_id: r.revision for r in results}
    assert release.pins_file(tree) == tree / "pinned_revisions.yaml"
    monkeypatch.setenv(hub_loaders.PINS_ENV, str(release.pins_file(tree)))
    assert hub_loaders.pinned_revision("acme/mijabench") == pushed["acme/mijabench"]
    assert hub_loaders.resolve_revision("acme/mijabench", None) == pushed["acme/mijabench"]
    assert hub_loaders.resolve_revision("acme/mijabench", "v1") == "v1"


def test_private_release_creates_private_repos(space_src, tmp_path):
    tree = tmp_path / "tree"
    release.build_release(tree, "acme", _sources(space_src), private=True, progress=False)
    with recording_hub(TOKEN) as hub:
        release.push_release(tree, endpoint=hub.url, progress=False)
    assert {c.body["visibility"] for c in hub.calls("create")} == {"private"}


def test_a_failed_push_is_reported_per_repo_and_resumes(built, tmp_path):
    tree = _copy(built, tmp_path / "tree")
    with recording_hub(TOKEN) as hub:
        hub.fail_commit["acme/mijabench-probe"] = 403
        first = release.push_release(tree, endpoint=hub.url, progress=False)
        assert [(r.repo_id, r.status) for r in first] == [("acme/mijabench", "pushed"),
                                                          ("acme/mijabench-probe", "failed")]
        assert "acme/mijabench-probe" in first[1].error and "HTTP 403" in first[1].error
        assert TOKEN not in first[1].error
        state = {r["repo_id"]: r for r in release.read_manifest(tree)["repos"]}
        assert state["acme/mijabench-probe"]["revision"] is None
        assert "HTTP 403" in state["acme/mijabench-probe"]["push_error"]
        assert list(hub_loaders.load_pins(release.pins_file(tree))) == ["acme/mijabench"]

        del hub.fail_commit["acme/mijabench-probe"]
        n_before = len(hub.requests)
        second = release.push_release(tree, endpoint=hub.url, progress=False)
    assert [(r.repo_id, r.status) for r in second] == [("acme/mijabench", "skipped"),
                                                       ("acme/mijabench-probe", "pushed")]
    assert not any("/datasets/" in r.path or r.body == {"name": "mijabench", "organization": "acme",
                                                          "visibility": "private", "type": "dataset"}
                   for r in hub.requests[n_before:])
    assert len(hub.commits["acme/mijabench"]) == 1 and len(hub.commits["acme/mijabench-probe"]) == 1
    assert set(hub_loaders.load_pins(release.pins_file(tree))) == {"acme/mijabench", "acme/mijabench-probe"}


def test_a_tree_changed_after_the_build_is_not_pushed(built, tmp_path):
    tree = _copy(built, tmp_path / "tree")
    (tree / "spaces/acme/mijabench-probe/app.py").write_text("changed\n")
    with recording_hub(TOKEN) as hub:
        with pytest.raises(MijaError, match=r"mijabench-probe/app.py: differs from release.json"):
            release.push_release(tree, endpoint=hub.url, progress=False)
    assert hub.requests == []


def test_a_card_the_hub_rejects_stops_the_push_before_any_upload(built, tmp_path):
    tree = _copy(built, tmp_path / "tree")
    with recording_hub(TOKEN) as hub:
        hub.card_errors = ['"sdk_version" is not a supported gradio version']
        with pytest.raises(MijaError, match="the Hub rejected the card metadata"):
            release.push_release(tree, endpoint=hub.url, progress=False)
    assert hub.calls("create") == [] and hub.calls("commit") == []


def test_pin_file_round_trip_and_bad_pin_file(tmp_path, monkeypatch):
    manifest = {"repos": [{"key": "mijabench", "repo_id": "acme/mijabench", "repo_type": "dataset",
                           "private": False, "files": {}, "tree_sha256": "t", "revision": "abc",
                           "pushed_tree_sha256": "t"}]}
    path = release.write_pins(manifest, tmp_path / "pins.yaml")
    assert hub_loaders.load_pins(path) == {"acme/mijabench": {"type": "dataset", "revision": "abc"}}
    assert path.read_text().startswith("# Written by `mijabench release --push`")
    (tmp_path / "bad.yaml").write_text("repos: [1, 2]\n")
    monkeypatch.setenv(hub_loaders.PINS_ENV, str(tmp_path / "bad.yaml"))
    with pytest.raises(MijaError, match="bad.yaml: expected a 'repos' mapping"):
        hub_loaders.pinned_revision("acme/mijabench")


def test_pins_go_next_to_the_release_never_into_the_package(built, tmp_path, monkeypatch):
    monkeypatch.delenv(hub_loaders.PINS_ENV)
    shipped = hub_loaders.pins_path()  # no env: the read-only copy inside the package
    assert shipped.parent.name == "data" and shipped.parent.parent.name == "mijabench"
    before = shipped.read_bytes(), shipped.stat().st_mtime_ns
    tree = _copy(built, tmp_path / "tree")
    env = dict(os.environ, HF_TOKEN=TOKEN, OMP_NUM_THREADS="1")
    with recording_hub(TOKEN) as hub:
        proc = subprocess.run([sys.executable, "-m", "mijabench", "release", "--out", str(tree),
                               "--resume", "--push", "--hub-url", hub.url],
                              capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stderr
    pins = tree / "pinned_revisions.yaml"
    assert f"pinned revisions written to {pins}; load at these revisions with " \
           f"MIJABENCH_PINNED_REVISIONS={pins}" in proc.stdout
    assert set(hub_loaders.load_pins(pins)) == {"acme/mijabench", "acme/mijabench-probe"}
    assert (shipped.read_bytes(), shipped.stat().st_mtime_ns) == before
    assert hub_loaders.pinned_revision("acme/mijabench") is None  # the shipped copy is untouched
    monkeypatch.setenv(hub_loaders.PINS_ENV, str(pins))
    assert hub_loaders.pins_path() == pins and hub_loaders.pinned_revision("acme/mijabench")
    # --pins chooses another file
    other = _copy(built, tmp_path / "other")
    with recording_hub(TOKEN) as hub:
        release.push_release(other, endpoint=hub.url, pins=tmp_path / "mine.yaml", progress=False)
    assert set(hub_loaders.load_pins(tmp_path / "mine.yaml")) == {"acme/mijabench", "acme/mijabench-probe"}
    assert not release.pins_file(other).exists()


def test_unknown_deliverable_and_missing_source_are_one_line_errors(tmp_path):
    with pytest.raises(MijaError, match="unknown deliverable 'models'"):
        release.build_release(tmp_path / "o", "acme", release.Sources(include=("models",)), progress=False)
    with pytest.raises(MijaError, match="model was asked for but its source folder is missing"):
        release.build_release(tmp_path / "o", "acme", release.Sources(include=("model",)), progress=False)
    with pytest.raises(MijaError, match="--org 'a b'"):
        release.build_release(tmp_path / "o", "a b", release.Sources(), progress=False)
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    with pytest.raises(MijaError, match="exists and is not a release tree"):
        release.build_release(tmp_path / "mine", "acme", release.Sources(include=("mijabench",)), progress=False)
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"


def test_release_pins_the_metric_spaces_gradio_and_keeps_its_card(space_src, tmp_path):
    metric_src = Path(__file__).resolve().parent.parent / "eval" / "selective_safety"
    sources = release.Sources(per_group=4, space=space_src, metric=metric_src, include=("mijabench", "metric"))
    release.build_release(tmp_path / "tree", "acme", sources, progress=False)
    folder = tmp_path / "tree/spaces/acme/selective_safety"
    data = cards_mod.validate_card((folder / "README.md").read_text(), "space", folder=folder)
    assert data["sdk"] == "gradio" and data["sdk_version"] == version("gradio")
    original = (metric_src / "README.md").read_text()
    assert original.split("\n---\n", 1)[1] in (folder / "README.md").read_text()  # body unchanged
    assert (folder / "selective_safety.py").read_bytes() == (metric_src / "selective_safety.py").read_bytes()


def test_a_space_pinned_to_another_gradio_is_refused(tmp_path):
    from mijabench.release import cards as release_cards
    (tmp_path / "app.py").write_text("x\n")
    (tmp_path / "README.md").write_text("---\ntitle: s\nsdk: gradio\nsdk_version: 3.19.1\napp_file: app.py\n---\n# s\n")
    entry = release.RepoEntry(key="space", repo_id="acme/s", repo_type="space", private=False)
    with pytest.raises(MijaError, match=r"card field 'sdk_version' is '3.19.1' but this kit runs gradio"):
        release_cards.validate_folder(entry, tmp_path)


def test_align_and_securebreak_are_released_gated(tmp_path):
    from mijabench.derived import mijabench_align
    from mijabench.derived import securebreak_dataset
    data = Path(__file__).resolve().parent / "data"
    mijabench_align.build([], tmp_path / "align", upstream=[data / "upstream_align_sample.csv"],
                        repo_id="acme/mijabench-align")
    securebreak_dataset.build(tmp_path / "sb", [data / "securebreak_annotated.csv"],
                              data / "securebreak_mapping.yaml")
    sources = release.Sources(per_group=4, mijabench_align=tmp_path / "align", securebreak=tmp_path / "sb",
                              include=("mijabench", "mijabench_align", "securebreak"))
    manifest = release.build_release(tmp_path / "tree", "acme", sources, progress=False)
    assert [(r["repo_id"], r["gated"]) for r in manifest["repos"]] == [
        ("acme/mijabench", "manual"), ("acme/mijabench-align", "manual"), ("acme/securebreak", "manual")]
    with recording_hub(TOKEN) as hub:
        release.push_release(tmp_path / "tree", endpoint=hub.url, progress=False)
    assert sorted(s.path for s in hub.calls("settings")) == [
        "/api/datasets/acme/mijabench-align/settings", "/api/datasets/acme/mijabench/settings",
        "/api/datasets/acme/securebreak/settings"]
    for repo in manifest["repos"]:
        files = hub.commits[repo["repo_id"]][0]["files"]
        assert {p: hashlib.sha256(b).hexdigest() for p, b in files.items()} == repo["files"]
        assert b"extra_gated_fields:" in files["README.md"]


def test_rebuilding_an_unchanged_release_keeps_its_pushes(space_src, tmp_path):
    tree = tmp_path / "tree"
    release.build_release(tree, "acme", _sources(space_src), progress=False)
    with recording_hub(TOKEN) as hub:
        first = release.push_release(tree, endpoint=hub.url, progress=False)
        rebuilt = release.build_release(tree, "acme", _sources(space_src), progress=False)
        assert [r["revision"] for r in rebuilt["repos"]] == [r.revision for r in first]
        assert set(hub_loaders.load_pins(release.pins_file(tree))) == {r.repo_id for r in first}
        n_before = len(hub.requests)
        again = release.push_release(tree, endpoint=hub.url, progress=False)
    assert [r.status for r in again] == ["skipped", "skipped"] and len(hub.requests) == n_before
