"""Preference pairs for DPO: loading, validation and held-out group/strategy splits.

Reads a `mijabench pairs` folder (or any TRL preference dataset), checks that every row has a
non-empty ``chosen`` and ``rejected`` (errors name the split, row and field, never the text), and
removes the pairs of held-out groups/strategies from training. Held-out names declared by the
pairs builder (``pairs.json`` and the ``test_unseen_*`` splits) are read back, so the training
record and the model card list them even when the user does not repeat them.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from mijabench import sources, taxonomy
from mijabench.errors import MijaError

log = logging.getLogger("mijabench.dpo")

PREFERENCE_COLUMNS = ("chosen", "rejected")
UNSEEN_GROUP_SPLITS = ("test_unseen_group", "test_unseen_both")
UNSEEN_STRATEGY_SPLITS = ("test_unseen_strategy", "test_unseen_both")


def load_preferences(name: str | None, config: str | None = None, revision: str | None = None):
    """A ``DatasetDict`` from a pairs folder, a data file, or a Hub dataset id (at ``revision``,
    default: the pinned release revision for our repos, see ``hub_loaders``)."""
    from datasets import DatasetDict, load_dataset
    if not name:
        raise MijaError("--dataset_name: required; pass a folder built by `mijabench pairs` or a "
                        "TRL preference dataset (prompt/chosen/rejected)")
    path, repo = sources.local_path(name), sources.hub_id(name)
    builders = {".jsonl": "json", ".json": "json", ".parquet": "parquet", ".csv": "csv"}
    try:
        if path is not None and path.is_dir():
            data = load_dataset(str(path), config)
        elif path is not None and path.is_file() and path.suffix in builders:
            data = load_dataset(builders[path.suffix], data_files=str(path))
        elif repo is None or Path(repo).suffix in builders:  # a data file name is never a Hub id
            raise MijaError(f"--dataset_name {name}: not found or not a folder/.jsonl/.json/.parquet/"
                            ".csv, and not a Hub dataset id (owner/name)")
        else:
            from mijabench.hub.loaders import resolve_revision
            data = load_dataset(repo, config, revision=resolve_revision(repo, revision))
    except MijaError:
        raise
    except Exception as exc:  # datasets raises many types; the message must stay one line
        raise MijaError(f"--dataset_name {name}: could not load it ({type(exc).__name__}); pass a "
                        "folder from `mijabench pairs` or a TRL preference dataset") from None
    return data if isinstance(data, DatasetDict) else DatasetDict({"train": data})


def validate_preferences(data, split: str, where: str):
    """Check the split exists and every row has non-empty ``chosen``/``rejected`` (by row index)."""
    if split not in data:
        raise MijaError(f"{where}: no split {split!r}; available splits: {', '.join(data)}")
    ds = data[split]
    for column in PREFERENCE_COLUMNS:
        if column not in ds.column_names:
            raise MijaError(f"{where}: split {split!r} has no {column!r} column; a preference dataset "
                            "needs prompt/chosen/rejected (TRL format), e.g. from `mijabench pairs`")
    if ds.num_rows == 0:
        raise MijaError(f"{where}: split {split!r} has no rows")
    for column in PREFERENCE_COLUMNS:
        for i, value in enumerate(ds[column]):
            if not _has_text(value):
                raise MijaError(f"{where}: split {split!r} row {i}: field {column!r} is empty or "
                                "malformed; expected text or [{'role': 'assistant', 'content': ...}]")
    return ds


def _has_text(value) -> bool:
    if isinstance(value, str):
        return bool(value.strip())
    if isinstance(value, list) and value:
        return all(isinstance(m, dict) and isinstance(m.get("content"), str) and m["content"].strip()
                   for m in value)
    return False


def infer_held_out(data, train_split: str = "train", folder: str | None = None) -> tuple[list[str], list[str]]:
    """Held-out names of a `mijabench pairs` folder: declared in its pairs.json, plus groups and
    strategies of its unseen test splits that never occur in training."""
    declared = _pairs_summary(folder)
    train = data[train_split]
    found = []
    for column, splits, key in (("group", UNSEEN_GROUP_SPLITS, "heldout_groups"),
                                ("strategy", UNSEEN_STRATEGY_SPLITS, "heldout_strategies")):
        seen = set(train[column]) if column in train.column_names else set()
        unseen = {v for s in splits if s in data and column in data[s].column_names for v in data[s][column]}
        found.append(sorted((unseen - seen) | set(declared.get(key, []))))
    return found[0], found[1]


def _pairs_summary(folder: str | None) -> dict:
    path = Path(folder) / "pairs.json" if folder else None
    if not path or not path.is_file():
        return {}
    try:
        return json.loads(path.read_text("utf-8"))
    except json.JSONDecodeError:
        log.warning("%s: not valid JSON; held-out names are taken from the splits only", path)
        return {}


def held_out_names(groups, strategies) -> tuple[list[str], list[str]]:
    """Validate user-given held-out names against the taxonomy (a typo must not train on them)."""
    return ([taxonomy.group(g, "--held_out_groups").id for g in flatten_names(groups)],
            [taxonomy.strategy(s, "--held_out_strategies").id for s in flatten_names(strategies)])


def hold_out(train, groups: list[str], strategies: list[str], where: str):
    """Drop training pairs of held-out groups/strategies."""
    groups, strategies = held_out_names(groups, strategies)
    for column, names in (("group", groups), ("strategy", strategies)):
        if names and column not in train.column_names:
            raise MijaError(f"{where}: --held_out_{column}s needs a {column!r} column in the pairs; "
                            "build them with `mijabench pairs`")
    if not groups and not strategies:
        return train, 0
    none = [None] * train.num_rows
    pairs = zip(train["group"] if groups else none, train["strategy"] if strategies else none)
    keep = [i for i, (g, s) in enumerate(pairs) if g not in groups and s not in strategies]
    if not keep:
        raise MijaError(f"{where}: holding out {', '.join(groups + strategies)} leaves no training pairs")
    return train.select(keep), train.num_rows - len(keep)


def flatten_names(values) -> list[str]:
    """YAML gives lists, the command line may give "a,b": accept both."""
    if isinstance(values, str):
        values = [values]
    return [v.strip() for item in values or [] for v in str(item).split(",") if v.strip()]


def truncate_prompts(train, tokenizer, max_tokens: int):
    """Keep the last ``max_tokens`` tokens of each user turn (plain-text prompts likewise)."""
    def cut(text: str) -> str:
        ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        return text if len(ids) <= max_tokens else tokenizer.decode(ids[-max_tokens:]).lstrip()

    def row(example):
        prompt = example["prompt"]
        if isinstance(prompt, str):
            return {"prompt": cut(prompt)}
        return {"prompt": [{**m, "content": cut(m["content"])} if m.get("role") == "user" else m
                           for m in prompt]}
    return train.map(row, desc="truncating prompts")
