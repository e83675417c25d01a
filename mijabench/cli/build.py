"""``mijabench build mijabench|mijabench-align|securebreak``: build the Hub dataset folders."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer


def build_mijabench(
    config: str = typer.Option("counterfactual", help="counterfactual | paper | all | upstream "
                               "(only the --upstream rows; also called release)"),
    out: Path = typer.Option(Path("build/mijabench"), help="output dataset folder"),
    seeds: Optional[List[Path]] = typer.Option(None, help="seed sources for the paper config: a "
                                               "ToxiGen-style folder and/or ToxSyn-PT .parquet/.csv"),
    rewriter: str = typer.Option("template", help="template | llm:URL[|URL...][#model]"),
    rewrite_attempts: int = typer.Option(3, min=1, help="LLM rewriter: calls per prompt before a "
                                         "rejected rewrite falls back to the template draft"),
    seed: int = typer.Option(0, help="random seed: same inputs + seed give byte-identical Parquet"),
    per_group: Optional[int] = typer.Option(None, min=1, help="per group: attacks (counterfactual; "
                                            "each is written for every group) or seeds (paper)"),
    languages: str = typer.Option("en,pt", help="comma-separated languages"),
    upstream: Optional[List[Path]] = typer.Option(None, help="the MiJaBench authors' published rows "
                                                  "(CSV/Parquet/JSONL with jb_prompt); adds an 'upstream' config"),
    group_map: Optional[Path] = typer.Option(None, help="YAML `name: group id` lines for group "
                                             "names the seeds or --upstream rows spell another way"),
    overwrite: bool = typer.Option(False, "--overwrite", help="replace OUT even if mijabench did "
                                   "not create it"),
) -> None:
    """Build MiJaBench as Parquet shards + gated dataset card (load it with load_dataset(OUT, CONFIG))."""
    from mijabench import atomic
    from mijabench.bench import configs as benchmark
    from mijabench.bench import writer as benchmark_dataset
    from mijabench.bench.rewriters import make_rewriter
    from mijabench.bench.seeds import read_group_map
    from mijabench.errors import MijaError

    atomic.claim_output(out, overwrite)

    configs = benchmark.CONFIGS if config == "all" else (config,)
    if config in ("upstream", "release"):  # the authors' rows alone
        if not upstream:
            raise MijaError(f"--config {config}: pass the authors' rows with --upstream FILE")
        configs = ()
    rewriter_obj = make_rewriter(rewriter, max_attempts=rewrite_attempts)
    tables = benchmark.build_configs(configs, languages.split(","), seed=seed, per_group=per_group,
                                     seeds=seeds, rewriter=rewriter_obj, upstream=upstream,
                                     group_map=read_group_map(group_map) if group_map else None)
    benchmark_dataset.write(out, tables, rewriter=rewriter_obj.name, seed=seed)
    for name, splits in tables.items():
        sizes = ", ".join(f"{s}={t.num_rows}" for s, t in splits.items())
        typer.echo(f"{name}: {sizes}")
    typer.echo(f"wrote {out} (load_dataset('{out}', '{next(iter(tables))}'))")


def build_mijabench_align(
    runs: Optional[List[Path]] = typer.Option(None, "--runs", help="audit output folders (or audit "
                                              ".parquet files); more may follow as arguments"),
    more_runs: Optional[List[Path]] = typer.Argument(None, help="further audit outputs"),
    out: Path = typer.Option(Path("build/mijabench-align"), help="output dataset folder"),
    from_upstream: Optional[List[str]] = typer.Option(None, help="the MiJaBench authors' published "
                                                      "Align rows: file(s) (.parquet/.csv/.jsonl) or a Hub "
                                                      "dataset id ORG/NAME (with --revision)"),
    revision: Optional[str] = typer.Option(None, help="commit, tag or branch of a Hub --from-upstream"),
    config: Optional[str] = typer.Option(None, help="config of a Hub --from-upstream (default: its default)"),
    group_map: Optional[Path] = typer.Option(None, help="YAML `name: group id` lines for group "
                                             "names of --from-upstream rows (null skips a group)"),
    human: Optional[Path] = typer.Option(None, help="human_validation.parquet from `mijabench "
                                         "annotate import` (adds the human_validation config)"),
    repo_id: str = typer.Option("mijabench/mijabench-align", help="Hub id shown in the card"),
    overwrite: bool = typer.Option(False, "--overwrite", help="replace OUT even if mijabench did "
                                   "not create it"),
) -> None:
    """Merge audit outputs of many models and judges into MiJaBench-Align (Parquet + card)."""
    from mijabench import atomic
    from mijabench.bench.seeds import read_group_map
    from mijabench.derived import align_stream

    atomic.claim_output(out, overwrite)
    sources = [*(runs or []), *(more_runs or [])]
    result = align_stream.build(sources, out, upstream=from_upstream or [], human=human, repo_id=repo_id,
                                group_map=read_group_map(group_map) if group_map else None,
                                revision=revision, config=config)
    for report in result.imports:
        for row in (r for r in report.unparsed_rows() if r["unparsed"]):
            typer.secho(f"warning: {report.source}: judge {row['judge']}, model {row['model']}: "
                        f"{row['unparsed']} of {row['cells']} judge cells unparsed (kept as unparsed, "
                        "never safe)", fg="yellow", err=True)
    for row in result.coverage:
        typer.secho(f"warning: {row['model']} ({row['language']}, {row['kind']}) misses "
                    f"{row['n_missing']} of {row['n_union']} prompts", fg="yellow", err=True)
    typer.echo(f"{result.table.num_rows} rows, {len(set(result.table.column('model').to_pylist()))} "
               f"models; wrote {out} (load_dataset('{out}', 'en'))")


def build_securebreak(
    input: Optional[List[Path]] = typer.Option(None, "--input", help="annotated CSV / JSONL / Parquet file (repeatable)"),
    mapping: Optional[Path] = typer.Option(None, help="YAML mapping input columns to SecureBreak fields"),
    mijabench_align: Optional[List[Path]] = typer.Option(None, help="judged audit run / audit.parquet / MiJaBench-Align "
                                               "folder to add as judge-labeled rows (repeatable)"),
    judge_validation: bool = typer.Option(False, "--judge-validation", help="add the labeled judge "
                                          "validation set (two passes + adjudication) to the human "
                                          "config; its test rows stay in test"),
    judge_validation_dir: Optional[Path] = typer.Option(None, help="another folder laid out like "
                                                        "mijabench/data/judge_validation/ (implies "
                                                        "--judge-validation)"),
    out: Path = typer.Option(Path("build/securebreak"), help="output dataset folder"),
    seed: Optional[int] = typer.Option(None, help="split seed (default: the mapping's seed, else 0)"),
    splits: Optional[str] = typer.Option(None, help="split fractions, e.g. train=0.8,validation=0.1,test=0.1 "
                                         "(default: the mapping's, else that)"),
    overwrite: bool = typer.Option(False, "--overwrite", help="replace OUT even if mijabench did "
                                   "not create it"),
) -> None:
    """Import, validate, deduplicate and split annotated outputs into a gated Hub dataset folder."""
    from mijabench import atomic
    from mijabench.derived import securebreak_dataset
    from mijabench.derived.securebreak import parse_splits
    from mijabench.judge.trust import validation_dir

    atomic.claim_output(out, overwrite)
    labeled = judge_validation_dir or (validation_dir() if judge_validation else None)
    tables = securebreak_dataset.build(out, list(input or []), mapping, list(mijabench_align or []), seed,
                                       parse_splits(splits) if splits else None, labeled)
    for name, splits in tables.items():
        typer.echo(f"{name}: " + ", ".join(f"{s}={t.num_rows}" for s, t in splits.items()))
    typer.echo(f"wrote {out} (load_dataset('{out}', '{next(iter(tables))}'))")


def register(app: typer.Typer, build_app: typer.Typer) -> None:
    build_app.command("mijabench", epilog="\b\nExamples:\n  mijabench build mijabench --out build/mijabench\n"
                      "  mijabench build mijabench --config paper --seeds ../shared/seeds/toxigen "
                      "--per-group 2 --out build/paper")(build_mijabench)
    build_app.command("mijabench-align", epilog="\b\nExample:\n  mijabench build mijabench-align "
                      "runs/model-a runs/model-b --out build/mijabench-align")(build_mijabench_align)
    build_app.command("securebreak", epilog="\b\nExamples:\n  mijabench build securebreak --input "
                      "annotated.csv --mapping mapping.yaml --out build/securebreak\n"
                      "  mijabench build securebreak --judge-validation --out build/securebreak-human"
                      )(build_securebreak)
