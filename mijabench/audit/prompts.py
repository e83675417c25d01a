"""The prompts an audit runs: one config of a built MiJaBench folder or Hub dataset, or a fresh build.

Shared by ``mijabench audit`` and the Python API (:func:`mijabench.run_audit`). A config whose rows
are in the MiJaBench authors' format (``jb_prompt``, ``jb_strategy``, ``group`` as written...) is
converted on the fly by :func:`mijabench.bench.upstream.prompt_rows_table`.

Config names: ``counterfactual`` and ``paper`` are ours; ``upstream`` holds the authors' published
rows (CONTRIBUTING.md glossary). ``release`` is accepted as another name for ``upstream``, the name
the authors' rows go by in the issue tracker.
"""

from __future__ import annotations

import re
from pathlib import Path

from mijabench.errors import MijaError

BUILT_CONFIGS = ("counterfactual", "paper")  # can be built in memory without --dataset
# The folder/Hub config names tried, in order, for each accepted --config.
CONFIG_NAMES = {"counterfactual": ("counterfactual",), "paper": ("paper",),
                "upstream": ("upstream", "release"), "release": ("upstream", "release")}
HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


def load_prompts(dataset: Path | str | None, config: str, languages: str, seed: int, seeds,
                 revision: str | None = None, group_map: dict | None = None):
    """Prompts of one config (harmful + benign) for the given languages.

    ``dataset``: a built MiJaBench folder, or ``ORG/NAME`` of a Hub dataset (at ``revision``, else
    the pinned one); ``None`` builds ``counterfactual``/``paper`` in memory.
    """
    import pyarrow as pa

    from mijabench import taxonomy

    langs = taxonomy.parse_list("language", languages)
    if not langs:
        raise MijaError("--languages: give at least one of en, pt")
    if config not in CONFIG_NAMES:
        raise MijaError(f"--config {config!r}: use counterfactual, paper or upstream (also called release)")
    if dataset is not None:
        table = read_dataset(dataset, config, revision=revision, group_map=group_map)
    elif config not in BUILT_CONFIGS:
        raise MijaError(f"--config {config}: the authors' rows are not built in memory; pass "
                        "--dataset DIR|ORG/NAME holding that config (mijabench build mijabench --upstream FILE)")
    else:
        from mijabench.bench.configs import build_configs
        splits = build_configs((config,), langs, seed=seed, seeds=seeds)[config]
        table = pa.concat_tables([splits[s] for s in ("harmful", "benign") if s in splits])
    if "language" in table.column_names:
        import pyarrow.compute as pc
        table = table.filter(pc.is_in(table.column("language"), value_set=pa.array(langs)))
    if table.num_rows == 0:
        raise MijaError(f"{dataset or 'prompts'}: no {config} prompts for languages {', '.join(langs)}")
    return table


def read_dataset(dataset: Path | str, config: str, revision: str | None = None,
                 group_map: dict | None = None):
    """One config of a built MiJaBench folder (``data/<config>/*.parquet``) or Hub dataset, as
    PROMPT_SCHEMA rows (authors'-format rows are converted)."""
    folder = Path(dataset)
    if folder.is_dir():
        if revision:
            raise MijaError(f"--revision {revision}: only for a Hub dataset; {folder} is a local folder")
        table, name = _read_folder(folder, config)
    elif HUB_ID.match(str(dataset)) and not folder.exists():
        table, name = _read_hub(str(dataset), config, revision)
    else:
        raise MijaError(f"--dataset {dataset}: not a folder or a Hub dataset id (ORG/NAME); build a "
                        "folder with `mijabench build mijabench`")
    from mijabench.bench import upstream

    if upstream.is_release_table(table.column_names):
        where = f"--dataset {dataset} config {name}"
        table = upstream.prompt_rows_table(table, where, group_map)
    return table


SHARD_SUFFIXES = ("*.parquet", "*.csv", "*.jsonl")


def _read_folder(folder: Path, config: str, where: str | None = None):
    import pyarrow as pa

    from mijabench.tables import read_table

    for name in CONFIG_NAMES[config]:
        files = sorted(f for pattern in SHARD_SUFFIXES for f in (folder / "data" / name).glob(pattern))
        if files:
            shards = [read_table(f, f"--dataset shard data/{name}/{f.name}") for f in files]
            return pa.concat_tables(shards, promote_options="default"), name
    raise MijaError(f"--dataset {where or folder}: no data/{config}/*.parquet; build that config "
                    f"(mijabench build mijabench --config {config}) or pick another --config")


def _read_hub(repo: str, config: str, revision: str | None):
    """Download only that config's shards at the revision (else the pinned one), then read them as
    a folder. Straight through huggingface_hub: a revision that cannot be fetched is an error, never
    a silently reused cached copy of another revision."""
    from mijabench.hub.loaders import snapshot

    patterns = [f"data/{name}/{suffix}" for name in CONFIG_NAMES[config] for suffix in SHARD_SUFFIXES]
    try:
        folder = snapshot(repo, "dataset", revision, allow_patterns=patterns)
    except Exception as exc:  # noqa: BLE001 -- network, auth, missing repo or revision: one line
        raise _hub_error(repo, config, revision, exc) from None
    return _read_folder(folder, config, where=f"{repo}{'@' + revision if revision else ''}")


def _hub_error(repo: str, config: str, revision: str | None, exc: Exception) -> MijaError:
    first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ""
    at = f" at revision {revision}" if revision else ""
    return MijaError(f"--dataset {repo}: could not load config {config!r}{at} "
                     f"({type(exc).__name__}{': ' + first if first else ''}); check the id, "
                     "--config and --revision (and HF_TOKEN for a gated dataset)")
