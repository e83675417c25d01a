"""The prompts an audit runs: one config of a built MiJaBench folder, or a fresh build.

Shared by ``mijabench audit`` and the Python API (:func:`mijabench.run_audit`).
"""

from __future__ import annotations

from pathlib import Path

from mijabench.errors import MijaError


def load_prompts(dataset: Path | None, config: str, languages: str, seed: int, seeds):
    """Prompts of one config (harmful + benign) for the given languages."""
    import pyarrow as pa

    from mijabench import taxonomy

    langs = taxonomy.parse_list("language", languages)
    if not langs:
        raise MijaError("--languages: give at least one of en, pt")
    if config not in ("counterfactual", "paper"):
        raise MijaError(f"--config {config!r}: use counterfactual or paper")
    if dataset is not None:
        table = read_dataset(dataset, config)
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


def read_dataset(folder: Path, config: str):
    """A built MiJaBench folder: ``data/<config>/<split>-*.parquet`` (Hub layout)."""
    import pyarrow as pa

    from mijabench.tables import read_table

    folder = Path(folder)
    if not folder.is_dir():
        raise MijaError(f"--dataset {folder}: not a folder; build one with `mijabench build mijabench`")
    files = sorted((folder / "data" / config).glob("*.parquet"))
    if not files:
        raise MijaError(f"--dataset {folder}: no data/{config}/*.parquet; build that config "
                        f"(mijabench build mijabench --config {config}) or pick another --config")
    return pa.concat_tables([read_table(f, f"--dataset shard data/{config}/{f.name}") for f in files],
                            promote_options="default")
