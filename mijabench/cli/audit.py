"""``mijabench audit`` (generate + judge + report) and ``mijabench judge`` (judge existing responses)."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from mijabench.audit import defaults
from mijabench.errors import MijaError


def audit(
    model: Optional[str] = typer.Option(None, "--model", help="FOLDER | OWNER/NAME (a cached Hub "
                                        "id) | URL[|URL...][#model] | embedded (default: the "
                                        "embedded SmolLM2-135M-Instruct); with --endpoint: the "
                                        "served model name sent on each request"),
    endpoint: Optional[List[str]] = typer.Option(None, "--endpoint", help="OpenAI-compatible server "
                                                 "URL (TGI, vLLM, transformers serve); repeat for "
                                                 "several: --endpoint A --endpoint B --model M is "
                                                 "--model 'A|B#M'"),
    config: str = typer.Option("counterfactual", help="counterfactual | paper | upstream (the "
                               "authors' rows; also called release; needs --dataset)"),
    languages: str = typer.Option("en,pt", help="comma-separated languages"),
    judge: str = typer.Option("intent", help="intent | rules | llm:URL[|URL...][#model] | "
                              "ensemble:SPEC,SPEC,... | guard:FOLDER"),
    limit: Optional[int] = typer.Option(None, min=1, help="audit at most N prompts (spread over cells)"),
    dataset: Optional[str] = typer.Option(None, help="DIR | ORG/NAME: a built MiJaBench folder or "
                                          "Hub dataset (mijabench build mijabench); default: "
                                          "build the prompts in memory"),
    revision: Optional[str] = typer.Option(None, help="--dataset ORG/NAME: the Hub revision "
                                           "(default: the pinned one)"),
    group_map: Optional[Path] = typer.Option(None, help="YAML `name: group id` lines for group "
                                             "names the authors' rows spell another way"),
    full: bool = typer.Option(False, "--full", help="audit every prompt instead of the quick "
                              "stratified sample (every language x group x strategy cell + twins of half its sets)"),
    per_cell: int = typer.Option(1, min=1, help="quick sample: harmful prompts per (language, "
                                 "group, strategy) cell (build's --per-group counts attacks per group)"),
    seeds: Optional[List[Path]] = typer.Option(None, help="seed sources for --config paper "
                                               "(without --dataset)"),
    max_new_tokens: Optional[int] = typer.Option(None, min=1, help=f"response token limit (default "
                                                 f"{defaults.QUICK_MAX_NEW_TOKENS} for the quick sample, "
                                                 "256 with --full)"),
    temperature: float = typer.Option(0.0, min=0.0, help="0 = greedy"),
    seed: int = typer.Option(0, help="sampling and quick-sample seed"),
    out: Optional[Path] = typer.Option(None, help="output folder (default runs/<model>); re-running "
                                       "with the same folder resumes"),
    batch_size: int = typer.Option(32, min=1, help="local backend: prompts per batch"),
    device: Optional[str] = typer.Option(None, help="local backend: cpu | cuda (default: auto)"),
    dtype: Optional[str] = typer.Option(None, help="local backend: auto | float32 | bfloat16 | "
                                        "float16 (auto: bfloat16 on GPUs and CPUs with native "
                                        "bfloat16, else float32)"),
    concurrency: int = typer.Option(16, min=1, help="endpoint backend: requests in flight"),
    timeout: float = typer.Option(120, min=0.001, help="endpoint backend: seconds per request"),
    max_retries: int = typer.Option(5, min=0, help="endpoint backend: retries of a failed request "
                                    "(429, 5xx, timeout, empty reply)"),
    http_client: str = typer.Option("aiohttp", help="endpoint backend: aiohttp | hub "
                                    "(huggingface_hub.AsyncInferenceClient)"),
    shard_size: int = typer.Option(32, min=1, help="responses per checkpoint shard"),
    max_response_chars: Optional[int] = typer.Option(None, min=1, help="endpoint backend: keep at "
                                                     "most N characters of each reply (the row is "
                                                     "flagged truncated)"),
    warn_error_share: float = typer.Option(0.05, min=0.0, max=1.0, help="warn when more than this "
                                           "share of rows failed to generate"),
) -> None:
    """Audit a model: per-group Defense Rate, disparities and over-refusal (audit.parquet + report)."""
    from mijabench.audit.prompts import load_prompts
    from mijabench.audit.runner import (
        check_outcome,
        limit_rows,
        quick_sample,
        run_audit,
        truncated_count,
    )
    from mijabench.judge.registry import make_judge
    from mijabench.run.backends import make_backend
    from mijabench.run.types import GenParams
    from mijabench.specs import endpoint_spec, parse_model_spec

    judge_obj = make_judge(judge)  # fail in a second on a bad judge name, before loading a model
    spec = endpoint_spec(endpoint, model) if endpoint else parse_model_spec(model, "--model")
    from mijabench.bench.seeds import read_group_map
    prompts = load_prompts(dataset, config, languages, seed, seeds, revision=revision,
                           group_map=read_group_map(group_map) if group_map else None)
    if not full:
        prompts = quick_sample(prompts, per_cell=per_cell, seed=seed)
    if limit is not None:
        prompts = limit_rows(prompts, limit)
    backend = make_backend(spec, batch_size=batch_size, device=device, dtype=dtype,
                           concurrency=concurrency, timeout=timeout, http_client=http_client,
                           max_retries=max_retries,
                           max_response_chars=max_response_chars)  # each kind takes its own
    tokens = defaults.max_new_tokens(full, max_new_tokens)
    params = GenParams(max_new_tokens=tokens, temperature=temperature, seed=seed)
    out_dir = out or defaults.out_dir(backend.model_id)
    typer.echo(f"auditing {backend.model_id} on {prompts.num_rows} prompts "
               f"({'full' if full else 'quick sample'}, {tokens} new tokens) -> {out_dir}", err=True)
    table = run_audit(prompts, backend, params, out_dir, judge_obj, shard_size=shard_size)
    check_outcome(table, warn_error_share)  # all failed / all unparsed: one error line, exit 2
    _print_summary(table, out_dir)
    cut = truncated_count(table)
    if cut:
        typer.echo(f"{cut} responses were cut at the response-length cap (--max-response-chars); "
                   f"flagged 'truncated' in {out_dir / 'audit.parquet'}")


def _print_summary(table, out_dir: Path) -> None:
    from collections import Counter

    verdicts = Counter(table.column("verdict").to_pylist())
    kinds = table.column("kind").to_pylist()
    harm = [v for v, k in zip(table.column("verdict").to_pylist(), kinds) if k != "benign"]
    judged = [v for v in harm if v != "error"]
    dr = sum(v == "safe" for v in judged) / len(judged) if judged else float("nan")
    typer.echo(f"{table.num_rows} responses; verdicts: "
               + ", ".join(f"{k}={verdicts[k]}" for k in sorted(verdicts))
               + f"; overall DR on harmful prompts = {dr:.3f}")
    typer.echo(f"wrote {out_dir / 'audit.parquet'} and {out_dir / 'report.md'}")


# --- judge existing responses ----------------------------------------------------------------------
LABELS = {"safe": "safe", "harmful": "harmful", "unsafe": "harmful", "0": "safe", "1": "harmful"}


def judge_cmd(
    input: Path = typer.Option(..., "--input", help="JSONL, Parquet or CSV with prompt, response "
                               "(and optional language, error, label=safe|harmful)"),
    judge: str = typer.Option("intent", help="intent | rules | llm:URL[|URL...][#model] | "
                              "ensemble:SPEC,... | guard:FOLDER"),
    out: Path = typer.Option(..., "--out", help="output file (.parquet, .jsonl or .csv)"),
) -> None:
    """Judge existing responses; with a ``label`` column, print accuracy and Cohen's kappa."""
    from mijabench.judge.registry import judge_table, make_judge
    from mijabench.tables import read_table, write_table

    from mijabench.atomic import check_file_target

    judge_obj = make_judge(judge)
    check_file_target(out)  # before judging: a folder or a file in the way fails in a second
    table = read_table(input, "--input file (JSONL, Parquet or CSV with prompt and response)")
    for column in ("prompt", "response"):
        if column not in table.column_names:
            raise MijaError(f"{input}: missing column {column!r}; the input needs prompt and response")
    table = _with_defaults(table)
    labels = _labels(table, input) if "label" in table.column_names else None
    judged = judge_table(table, judge_obj)
    write_table(out, judged, "--out file")
    verdicts = judged.column("verdict").to_pylist()
    typer.echo(f"judged {judged.num_rows} responses with {judge_obj.id} -> {out}")
    if labels is not None:
        typer.echo(agreement(labels, verdicts))


def _with_defaults(table):
    import pyarrow as pa
    n = table.num_rows
    for name, value in (("language", "en"), ("error", "")):
        if name not in table.column_names:
            table = table.append_column(name, pa.array([value] * n, pa.string()))
    for name in ("prompt", "response", "language", "error"):
        i = table.column_names.index(name)
        values = ["" if v is None else str(v) for v in table.column(name).to_pylist()]
        table = table.set_column(i, name, pa.array(values, pa.string()))
    return table


def _labels(table, path: Path) -> list[str | None]:
    out = []
    for row, value in enumerate(table.column("label").to_pylist()):
        if value is None or str(value).strip() == "":
            out.append(None)
            continue
        key = str(value).strip().lower()
        if key not in LABELS:
            raise MijaError(f"{path}: row {row}, column 'label': {value!r} is not safe/harmful")
        out.append(LABELS[key])
    return out


def agreement(labels: list[str | None], verdicts: list[str]) -> str:
    """Accuracy and Cohen's kappa of the verdicts against safe/harmful labels. Error verdicts are
    left out; unparsed stays in as its own answer (it never matches a label)."""
    from mijabench.analysis import (
        reliability,  # lazy: sklearn stays out of CLI start-up
    )

    pred = [None if v == "error" else v for v in verdicts]
    got = reliability.agreement(pred, labels)
    if not got["n"]:
        return "no labelled rows to score"
    unparsed = sum(p == "unparsed" for p, lab in zip(pred, labels) if lab is not None)
    return (f"labelled rows {got['n']}: accuracy {got['accuracy']:.3f}, Cohen's kappa {got['kappa']:.3f} "
            f"(unparsed {unparsed})")


def register(app: typer.Typer, build_app: typer.Typer) -> None:
    app.command("audit", epilog="\b\nExamples:\n  mijabench audit --limit 20 --out runs/smollm2\n"
                "  mijabench audit --endpoint http://127.0.0.1:8080 --model my-model --out runs/my-model"
                )(audit)
    app.command("judge", epilog="\b\nExample:\n  mijabench judge --input responses.jsonl --judge rules "
                "--out judged.parquet")(judge_cmd)
