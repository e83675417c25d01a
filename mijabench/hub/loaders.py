"""Load the published deliverables from the Hub at a pinned revision.

Every loader takes ``repo_id`` and ``revision``. Without a revision it uses the one pinned in the
pin file: ``$MIJABENCH_PINNED_REVISIONS`` when set, else the read-only copy shipped in the package
(``mijabench/data/pinned_revisions.yaml``), so results are reproducible and a later push cannot
change what an old run loads. ``mijabench release --push`` writes ``pinned_revisions.yaml`` into
the release folder, next to its ``release.json``; point ``MIJABENCH_PINNED_REVISIONS`` at it (or
copy it to ``mijabench/data/`` before building the next wheel). Nothing here writes a pin file.
One of our repos with no pin loads its latest revision and logs a warning.
"""

from __future__ import annotations

import logging
import os
from functools import lru_cache
from importlib import resources
from pathlib import Path

import yaml

from mijabench.errors import MijaError

log = logging.getLogger(__name__)

DEFAULT_ORG = "mijabench"
PINS_ENV = "MIJABENCH_PINNED_REVISIONS"
PINS_FILE = "pinned_revisions.yaml"  # its name in a release folder and in the package's data/
PINS_HEADER = ("# Written by `mijabench release --push` from the release manifest; do not edit.\n"
               "# mijabench.hub.loaders default to these revisions when MIJABENCH_PINNED_REVISIONS\n"
               "# names this file, or when it ships as mijabench/data/pinned_revisions.yaml.\n")

# Deliverable key -> (repo type, repo name under the org). The release builds exactly these repos.
REPOS = {
    "mijabench": ("dataset", "mijabench"),
    "mijabench_align": ("dataset", "mijabench-align"),
    "securebreak": ("dataset", "securebreak"),
    "metric": ("space", "selective_safety"),
    "space": ("space", "mijabench-probe"),
    "model": ("model", "SmolLM2-135M-Instruct-MiJaBench-DPO"),
}


def repo_id(key: str, org: str = DEFAULT_ORG) -> str:
    if key not in REPOS:
        raise MijaError(f"unknown deliverable {key!r}; valid: {', '.join(REPOS)}")
    return f"{org}/{REPOS[key][1]}"


def pins_path() -> Path:
    """The pin file the loaders read: ``$MIJABENCH_PINNED_REVISIONS`` when set, else the copy
    shipped in the package (read-only: the release writes its pins next to ``release.json``)."""
    env = os.environ.get(PINS_ENV)
    if env:
        return Path(env).expanduser()
    return Path(str(resources.files("mijabench").joinpath(f"data/{PINS_FILE}")))


@lru_cache(maxsize=8)
def _read_pins(path: str, mtime: float) -> dict:
    try:
        raw = yaml.safe_load(Path(path).read_text("utf-8")) or {}
    except yaml.YAMLError:
        raise MijaError(f"{path}: not valid YAML; rerun `mijabench release --push` to rewrite it") from None
    repos = raw.get("repos") if isinstance(raw, dict) else None
    if not isinstance(repos, dict):
        raise MijaError(f"{path}: expected a 'repos' mapping of repo id -> {{type, revision}}")
    return repos


def load_pins(path: Path | None = None) -> dict[str, dict]:
    """``{repo_id: {"type": ..., "revision": ...}}``; empty when the pin file does not exist."""
    path = Path(path) if path else pins_path()
    if not path.is_file():
        return {}
    return dict(_read_pins(str(path), path.stat().st_mtime))


def pinned_revision(repo: str, path: Path | None = None) -> str | None:
    entry = load_pins(path).get(repo) or {}
    return entry.get("revision")


def resolve_revision(repo: str, revision: str | None) -> str | None:
    """The revision to load: the caller's, else the pinned one, else latest (with a warning)."""
    if revision:
        return revision
    pinned = pinned_revision(repo)
    ours = repo.rsplit("/", 1)[-1] in {name for _, name in REPOS.values()}
    if pinned is None and ours:  # third-party repos are never pinned here; ours should be
        log.warning("%s has no pinned revision; loading its latest revision (pass revision=...)", repo)
    return pinned


def pins_text(repos: dict[str, dict]) -> str:
    body = yaml.safe_dump({"repos": {k: repos[k] for k in sorted(repos)}}, sort_keys=True)
    return PINS_HEADER + body


# --- loaders --------------------------------------------------------------------------------------
def load_mijabench(config: str = "counterfactual", split: str | None = None, repo: str | None = None,
                   revision: str | None = None, **kwargs):
    """``datasets.load_dataset`` of the MiJaBench dataset at the pinned revision."""
    return _load_dataset(repo or repo_id("mijabench"), config, split, revision, **kwargs)


def load_mijabench_align(config: str | None = None, split: str | None = None, repo: str | None = None,
               revision: str | None = None, **kwargs):
    return _load_dataset(repo or repo_id("mijabench_align"), config, split, revision, **kwargs)


def load_securebreak(config: str | None = None, split: str | None = None, repo: str | None = None,
                     revision: str | None = None, **kwargs):
    return _load_dataset(repo or repo_id("securebreak"), config, split, revision, **kwargs)


def _load_dataset(repo: str, config, split, revision, **kwargs):
    from datasets import load_dataset
    return load_dataset(repo, config, split=split, revision=resolve_revision(repo, revision), **kwargs)


def load_metric(repo: str | None = None, revision: str | None = None, *,
                allow_unpinned: bool = False, **kwargs):
    """``evaluate.load`` of the selective-safety metric Space at the pinned revision.

    A metric is Python code that runs here, so a Hub repo with neither ``revision`` nor a pin is
    refused: its latest code is whatever was pushed last. ``allow_unpinned=True`` opts in. A local
    folder (``mijabench metric-path``) is loaded as is.
    """
    repo = repo or repo_id("metric")
    if Path(repo).is_dir():
        import evaluate
        return evaluate.load(repo, **kwargs)
    pinned = revision or pinned_revision(repo)
    if pinned is None and not allow_unpinned:
        raise MijaError(f"metric {repo}: no pinned revision, and its code would run here; pass "
                        f"revision=COMMIT, set {PINS_ENV} to a pins file, or allow_unpinned=True")
    import evaluate
    return evaluate.load(repo, revision=pinned, **kwargs)


def load_aligned_model(repo: str | None = None, revision: str | None = None, **kwargs):
    """``(model, tokenizer)`` of the aligned model at the pinned revision."""
    from transformers import AutoModelForCausalLM, AutoTokenizer
    repo = repo or repo_id("model")
    revision = resolve_revision(repo, revision)
    model = AutoModelForCausalLM.from_pretrained(repo, revision=revision, **kwargs)
    tokenizer = AutoTokenizer.from_pretrained(repo, revision=revision)
    return model, tokenizer


def snapshot(repo: str, repo_type: str, revision: str | None = None, **kwargs) -> Path:
    """Download a whole repo (e.g. a Space) at the pinned revision; returns the local folder."""
    from huggingface_hub import snapshot_download
    return Path(snapshot_download(repo, repo_type=repo_type,
                                  revision=resolve_revision(repo, revision), **kwargs))
