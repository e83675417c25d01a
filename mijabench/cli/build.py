"""``mijabench build mijabench``: build the benchmark dataset folder."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer


def build_mijabench(
    config: str = typer.Option("counterfactual", help="counterfactual | paper | all"),
    out: Path = typer.Option(Path("build/mijabench"), help="output dataset folder"),
    seeds: Optional[List[Path]] = typer.Option(None, help="seed sources for the paper config: a "
                                               "ToxiGen-style folder and/or ToxSyn-PT .parquet/.csv"),
    rewriter: str = typer.Option("template", help="template | llm:URL[#model]"),
    seed: int = typer.Option(0, help="random seed: same inputs + seed give byte-identical Parquet"),
    per_group: Optional[int] = typer.Option(None, help="attacks (counterfactual) or seeds (paper) per group"),
    languages: str = typer.Option("en,pt", help="comma-separated languages"),
    release: Optional[List[Path]] = typer.Option(None, help="the MiJaBench authors' released rows "
                                                 "(CSV/Parquet/JSONL with jb_prompt); adds a 'release' config"),
) -> None:
    """Build MiJaBench as Parquet shards + gated dataset card (load it with load_dataset(OUT, CONFIG))."""
    from mijabench.bench import configs as benchmark
    from mijabench.bench import writer as benchmark_dataset
    from mijabench.bench.rewriters import make_rewriter

    configs = benchmark.CONFIGS if config == "all" else (config,)
    rewriter_obj = make_rewriter(rewriter)
    tables = benchmark.build_configs(configs, languages.split(","), seed=seed, per_group=per_group,
                                     seeds=seeds, rewriter=rewriter_obj, release=release)
    benchmark_dataset.write(out, tables, rewriter=rewriter_obj.name, seed=seed)
    for name, splits in tables.items():
        sizes = ", ".join(f"{s}={t.num_rows}" for s, t in splits.items())
        typer.echo(f"{name}: {sizes}")
    typer.echo(f"wrote {out} (load_dataset('{out}', '{configs[0]}'))")


def register(app: typer.Typer, build_app: typer.Typer) -> None:
    build_app.command("mijabench")(build_mijabench)
