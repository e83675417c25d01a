"""Build each release repo folder, exactly as it is uploaded, and check it before anything is pushed.

One builder per deliverable. MiJaBench is built here (the counterfactual config needs no inputs);
the metric and the Space are copied from ``eval/selective_safety`` and ``spaces/probe`` (the
checkout's, or the installed wheel's copies under ``mijabench/_project``, see
``mijabench.resources``) with their cards rendered through huggingface_hub; the aligned model,
Align and SecureBreak are copied from folders their own commands built.
"""

from __future__ import annotations

import fnmatch
import logging
import shutil
from pathlib import Path

from mijabench import atomic
from mijabench.errors import MijaError
from mijabench.hub import cards
from mijabench.resources import BUNDLED, PACKAGE_DIR

log = logging.getLogger(__name__)

# Never part of a Hub repo: caches, local tests, hidden files (push_folder skips those anyway,
# so keeping them would make the tree differ from what is uploaded).
EXCLUDE = ("__pycache__", "*.pyc", ".*", "tests", "*.egg-info")
REQUIRED_FILES = {"dataset": ("README.md", "*.parquet"), "space": ("README.md",),
                  "model": ("README.md", "config.json", "*.safetensors")}
SPACE_RELATED = (("Benchmark dataset", "mijabench", "datasets/"),
                 ("Prompt-response pairs with verdicts (MiJaBench-Align)", "mijabench_align", "datasets/"),
                 ("Safety-detector dataset (SecureBreak)", "securebreak", "datasets/"),
                 ("Metric", "metric", "spaces/"), ("Aligned model", "model", ""))


def available(key: str, sources) -> bool:
    """Whether this release can include ``key``: its source exists (MiJaBench can always be built)."""
    if key == "mijabench":
        return True
    path = getattr(sources, key, None)
    return path is not None and Path(path).is_dir() and any(_files(Path(path)))


def build(entry, dest: Path, sources, entries) -> None:
    builders = {"mijabench": _build_mijabench, "metric": _build_metric, "space": _build_space,
                "model": _build_model}
    builder = builders.get(entry.key, _copy_built)
    builder(entry, Path(dest), sources, entries)
    # a repo folder inside the release tree is not an output folder of its own: no marker
    (Path(dest) / atomic.MARKER).unlink(missing_ok=True)


def _files(folder: Path):
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder)
        if path.is_file() and not any(fnmatch.fnmatch(part, pat) for part in rel.parts for pat in EXCLUDE):
            yield path, rel


def copy_tree(src: Path, dest: Path, skip: tuple[str, ...] = ()) -> None:
    src = Path(src)
    if not src.is_dir():
        raise MijaError(f"{src}: not a folder; build it first")
    for path, rel in _files(src):
        if rel.parts[0] in skip:
            continue
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, dest / rel)


def _copy_built(entry, dest: Path, sources, entries) -> None:
    """A dataset folder its own command built (Align, SecureBreak), copied as it is."""
    copy_tree(getattr(sources, entry.key), dest)
    readme = dest / "README.md"
    if readme.is_file() and entry.repo_id not in readme.read_text("utf-8"):
        log.warning("%s: the card's usage example names another repo than %s; rebuild the %s "
                    "folder for that repo id", getattr(sources, entry.key), entry.repo_id, entry.key)


def _build_mijabench(entry, dest: Path, sources, entries) -> None:
    from mijabench.bench import configs as benchmark
    from mijabench.bench import writer as benchmark_dataset
    from mijabench.hub import folders as hubdata
    if sources.mijabench is not None:
        copy_tree(sources.mijabench, dest)
        return
    tables = benchmark.build_configs(("counterfactual",), seed=sources.seed, per_group=sources.per_group)
    card = benchmark_dataset.card_text(tables, "template", sources.seed, repo_id=entry.repo_id)
    hubdata.write_dataset(dest, tables, card)


def _related(entries) -> list[dict]:
    by_key = {e.key: e for e in entries}
    return [{"what": what, "repo_id": by_key[key].repo_id,
             "url": f"https://huggingface.co/{prefix}{by_key[key].repo_id}"}
            for what, key, prefix in SPACE_RELATED if key in by_key]


def _gradio_version() -> str:
    from importlib.metadata import version
    return version("gradio")


SPACE_DEFAULTS = {"title": "MiJaBench probe", "emoji": "🛡️", "colorFrom": "indigo", "colorTo": "gray",
                  "app_file": "app.py", "pinned": False, "license": "apache-2.0",
                  "short_description": "Same jailbreak, every group: who is protected?",
                  "tags": ["safety", "jailbreak", "bias", "evaluation"]}


def _build_space(entry, dest: Path, sources, entries) -> None:
    """The probe Space: the app folder, the ``mijabench`` package beside ``app.py`` (the app
    imports it from there), and the card rendered from ``cards/space.md``: the folder's README
    text and metadata, with the gradio pin and this release's repos filled in."""
    from mijabench import __version__
    src = Path(sources.space)
    copy_tree(src, dest)
    copy_tree(PACKAGE_DIR, dest / "mijabench", skip=(BUNDLED.name,))  # not the wheel's copies of the project
    own, body = _readme_parts(src)
    data = {**SPACE_DEFAULTS, **own, "sdk": "gradio", "sdk_version": _gradio_version(),
            "datasets": [e.repo_id for e in entries if e.repo_type == "dataset"] or None,
            "models": [e.repo_id for e in entries if e.repo_type == "model"] or None}
    text = cards.render_space_card("space", data, related=_related(entries), body=body,
                                   version=__version__, citation=cards.CITATION_MIJABENCH)
    atomic.write_text(dest / "README.md", text)


def _readme_parts(folder: Path) -> tuple[dict, str]:
    """A folder's README.md as (metadata, markdown body); ``({}, "")`` when there is none."""
    from huggingface_hub import SpaceCard
    readme = Path(folder) / "README.md"
    if not readme.is_file():
        return {}, ""
    card = SpaceCard(readme.read_text("utf-8"))
    return card.data.to_dict(), card.text.strip()


def _build_metric(entry, dest: Path, sources, entries) -> None:
    """The metric Space, as written in ``eval/selective_safety``, with its card's ``sdk_version``
    pinned to the gradio this kit runs (a Space installs mijabench, which needs that gradio)."""
    from huggingface_hub import SpaceCard
    copy_tree(sources.metric, dest)
    readme = dest / "README.md"
    if not readme.is_file():
        raise MijaError(f"{Path(sources.metric) / 'README.md'}: the metric has no card; write it first")
    card = SpaceCard(readme.read_text("utf-8"))
    if card.data.get("sdk") == "gradio":
        card.data.sdk_version = _gradio_version()
    atomic.write_text(readme, str(card))


def _build_model(entry, dest: Path, sources, entries) -> None:
    """The aligned model via ``artifacts.build_folder``: from the align/dpo.py output (or a
    folder it built before, which it rebuilds identically), with the card naming this repo id."""
    from mijabench.train import artifacts
    src = Path(sources.model)
    evaluation = src / artifacts.EVAL_FILE
    artifacts.build_folder(src, dest, evaluation=evaluation if evaluation.is_file() else None,
                               repo_id=entry.repo_id)


def validate_folder(entry, folder: Path) -> None:
    """The folder is a complete repo of its type and its card passes validation."""
    folder = Path(folder)
    for pattern in REQUIRED_FILES[entry.repo_type]:
        if not any(folder.rglob(pattern)):
            raise MijaError(f"{folder}: no {pattern} for the {entry.repo_type} repo {entry.repo_id}; "
                            "rebuild that deliverable")
    rels = (p.relative_to(folder) for p in folder.rglob("*"))
    hidden = [rel for rel in rels if any(part.startswith(".") for part in rel.parts)]
    if hidden:
        raise MijaError(f"{folder}/{hidden[0]}: hidden files are not uploaded; remove them")
    readme = folder / "README.md"
    data = cards.validate_card(readme.read_text("utf-8"), entry.repo_type, where=str(readme), folder=folder)
    pinned = str(data.get("sdk_version"))
    if entry.repo_type == "space" and data.get("sdk") == "gradio" and pinned != _gradio_version():
        raise MijaError(f"{readme}: card field 'sdk_version' is {data.get('sdk_version')!r} but this "
                        f"kit runs gradio {_gradio_version()}; pin the version the Space was tested with")
    if entry.repo_type == "dataset" and entry.gated and not data.get("extra_gated_fields"):
        raise MijaError(f"{readme}: card field 'extra_gated_fields' is missing; the dataset is gated "
                        "and its card must carry the access form")
