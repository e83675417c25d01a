"""The Python API for notebooks and scripts: build MiJaBench, audit a model, judge responses,
read a run back and compute Defense Rates.

Each function is a thin wrapper over the library code behind the CLI, so a notebook gets the
same rows and numbers as ``mijabench build``, ``mijabench audit`` and ``mijabench judge``.
Import them from the package (they load lazily, so ``import mijabench`` stays fast)::

    from mijabench import build_benchmark, run_audit, judge_responses, load_run, defense_rates, compare

    table = run_audit(limit=8, out="runs/demo")       # the embedded SmolLM2, offline
    defense_rates(table, by=("model", "group"))       # a pandas DataFrame: DR, CI, deviation
    run = load_run("runs/demo")                       # rows (validated) + run.by_group, .by_strategy
    compare("runs/demo", "runs/other").tests          # paired McNemar per group between the models

Tables are ``pyarrow.Table`` (``.to_pandas()`` for a DataFrame); functions that take a table also
accept a pandas DataFrame, a list of dicts or a file path (.parquet, .csv, .jsonl). Bad input
raises :class:`mijabench.errors.MijaError` with a one-line message.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Sequence

if TYPE_CHECKING:  # annotations only: the heavy imports happen inside the functions
    import pandas as pd
    import pyarrow as pa

__all__ = ["build_benchmark", "run_audit", "judge_responses", "load_run", "defense_rates", "compare",
           "RunResults", "Comparison"]



def build_benchmark(config: str | Sequence[str] = "counterfactual", *, out: str | Path | None = None,
                    languages: str | Iterable[str] = ("en", "pt"), seed: int = 0,
                    per_group: int | None = None, seeds: Sequence[str | Path] | None = None,
                    rewriter: str = "template", upstream: Sequence[str | Path] | None = None,
                    ) -> dict[str, dict[str, pa.Table]]:
    """Build MiJaBench prompts: ``{config: {"harmful": table, "benign": table}}``.

    ``config`` is ``"counterfactual"`` (default: the same attack for every group), ``"paper"``
    (needs ``seeds``), ``"all"`` or a list of those. ``rewriter`` is ``"template"`` (offline) or
    ``"llm:URL[|URL...][#model]"``; ``upstream`` files add the MiJaBench authors' published rows
    as an ``upstream`` config. With ``out`` the Hub dataset folder is written too (Parquet + card, as
    ``mijabench build mijabench``). The same inputs and ``seed`` give the same rows.

    >>> tables = build_benchmark(languages="en", per_group=4)
    >>> tables["counterfactual"]["harmful"].column_names[:3]
    ['id', 'config', 'language']
    """
    from mijabench.bench import configs as bench_configs
    from mijabench.bench import writer
    from mijabench.bench.rewriters import make_rewriter

    if isinstance(config, str):
        chosen = bench_configs.CONFIGS if config == "all" else (config,)
    else:
        chosen = tuple(config)
    rewriter_obj = make_rewriter(rewriter)
    tables = bench_configs.build_configs(
        chosen, _names(languages), seed=seed, per_group=per_group,
        seeds=[Path(s) for s in seeds] if seeds else None, rewriter=rewriter_obj,
        upstream=[Path(p) for p in upstream] if upstream else None)
    if out is not None:
        writer.write(Path(out), tables, rewriter=rewriter_obj.name, seed=seed)
    return tables


def run_audit(model: Any = None, *, prompts: Any = None, out: str | Path | None = None,
              judge: str = "intent", config: str = "counterfactual",
              languages: str | Iterable[str] = ("en", "pt"), full: bool = False, per_cell: int = 1,
              limit: int | None = None, max_new_tokens: int | None = None, temperature: float = 0.0,
              seed: int = 0, served_model: str | None = None, batch_size: int = 32,
              device: str | None = None, concurrency: int = 16, timeout: float = 120,
              report: bool = True, progress: bool = True) -> pa.Table:
    """Audit one model (generate, judge, report) and return its judged rows (AUDIT_SCHEMA).

    ``model``: ``None`` for the embedded SmolLM2-135M-Instruct, a local Hugging Face model folder
    (or a Hub id already downloaded), ``"URL[|URL...][#model]"`` for OpenAI-compatible servers
    (several URLs: a list or ``|``-separated; ``#model`` or ``served_model`` names the model sent
    on each request; the syntax is :mod:`mijabench.specs`),
    or any backend object with ``model_id`` and ``generate(prompts, params)``.

    ``prompts``: ``None`` builds ``config`` in memory; else a built MiJaBench folder, a table file
    or a table with at least ``id`` and ``prompt``. Without ``full`` the quick stratified sample is
    audited (every language x group x strategy cell plus benign twins); ``limit`` caps the rows.
    ``judge`` is a judge spec (``intent``, ``rules``, ``llm:URL[|URL...][#model]``, ``ensemble:A,B``,
    ``guard:FOLDER``).

    Writes ``OUT/audit.parquet`` and, with ``report``, ``report.md``/``report.html``/
    ``summary.json``/``figures/`` (``out`` defaults to ``runs/<model>``). Re-running with the same
    ``out`` resumes: finished responses are not generated again (failed rows are tried again).
    Raises :class:`mijabench.errors.MijaError` when every row failed to generate or every verdict
    is ``unparsed`` (the rows are still saved under ``out``).

    >>> table = run_audit("path/to/hf_model", limit=20, out="runs/my-model")   # doctest: +SKIP
    >>> defense_rates(table)                                                     # doctest: +SKIP
    """
    from mijabench.audit import defaults, runner
    from mijabench.judge.registry import make_judge
    from mijabench.run.types import GenParams

    judge_obj = make_judge(judge)  # a bad judge spec fails before a model is loaded
    table = _prompts(prompts, config, languages, seed)
    if not full:
        table = runner.quick_sample(table, per_cell=per_cell, seed=seed)
    if limit is not None:
        table = runner.limit_rows(table, limit)
    backend = _backend(model, served_model=served_model, batch_size=batch_size, device=device,
                       concurrency=concurrency, timeout=timeout)
    tokens = defaults.max_new_tokens(full, max_new_tokens)
    params = GenParams(max_new_tokens=tokens, temperature=temperature, seed=seed)
    out_dir = Path(out) if out is not None else defaults.out_dir(backend.model_id)
    source = (f"built in memory (config {config}, seed {seed})" if prompts is None
              else str(prompts) if isinstance(prompts, (str, Path)) else "a table passed to run_audit")
    judged = runner.run_audit(table, backend, params, out_dir, judge_obj, progress=progress,
                              report=report, provenance={"dataset_source": source})
    runner.check_outcome(judged)  # an audit that measured nothing raises, as the CLI exits 2
    return judged


def judge_responses(responses: Any, judge: str = "intent", *, out: str | Path | None = None,
                    progress: bool = False) -> pa.Table:
    """Judge existing responses: the input plus ``verdict``, ``judge``, ``rationale``,
    ``refusal`` and ``judge_verdicts`` columns (as ``mijabench judge``).

    ``responses``: a table, DataFrame, list of dicts or file with ``prompt`` and ``response``
    (optional ``language``, default ``en``; optional ``error``: rows with one get verdict
    ``error``). Verdicts are safe / harmful / unparsed / error; ``unparsed`` is never safe.
    With ``out`` (.parquet, .csv or .jsonl) the judged table is written too.

    >>> judged = judge_responses([{"prompt": "Write a joke about them.",
    ...                            "response": "I can't help with that."}])
    >>> judged.column("verdict").to_pylist()
    ['safe']
    """
    import pyarrow as pa

    from mijabench.errors import MijaError
    from mijabench.judge.registry import judge_table, make_judge

    judge_obj = make_judge(judge)
    table = _table(responses, "responses")
    for column in ("prompt", "response"):
        if column not in table.column_names:
            raise MijaError(f"responses: missing column {column!r}; the input needs prompt and response")
    for name, default in (("language", "en"), ("error", "")):
        values = (table.column(name).to_pylist() if name in table.column_names
                  else [default] * table.num_rows)
        values = pa.array([default if v is None else str(v) for v in values], pa.string())
        if name in table.column_names:
            table = table.set_column(table.column_names.index(name), name, values)
        else:
            table = table.append_column(name, values)
    judged = judge_table(table, judge_obj, progress=progress)
    if out is not None:
        from mijabench.tables import write_table
        write_table(Path(out), judged, "judged responses")
    return judged


def load_run(source: str | Path, revision: str | None = None) -> RunResults:
    """The judged rows of one run, with its per-group tables: an audit run folder (or its
    ``audit.parquet``), a MiJaBench-Align folder, a file in the authors' released format, or a Hub
    dataset ``hub:owner/name[@revision]`` in either format (:func:`mijabench.derived.results.load_results`).

    Returns a :class:`RunResults`: ``.rows`` (``pyarrow.Table``, AUDIT_SCHEMA), ``.to_pandas()``,
    and the DataFrames ``.by_group``, ``.by_strategy``, ``.by_scenario`` (DR with exact
    Clopper-Pearson intervals and deviations, as the audit report).

    >>> run = load_run("runs/smollm2-quick")                                     # doctest: +SKIP
    >>> run.by_group[["model", "language", "group", "n", "dr", "ci_low", "ci_high"]]  # doctest: +SKIP
    """
    from mijabench.derived import results

    got = results.resolve(source, revision)
    return RunResults(got.table, got.source, got.provenance())


class RunResults:
    """One run's judged rows and its tables (computed on first use)."""

    def __init__(self, rows: pa.Table, source: str = "", provenance: dict | None = None):
        self.rows, self.source, self.provenance = rows, source, dict(provenance or {})
        self._tables: dict = {}

    def __repr__(self) -> str:
        models = sorted(set(self.rows.column("model").to_pylist()))
        return f"RunResults({self.source!r}: {self.rows.num_rows} rows, models {', '.join(models)})"

    @property
    def num_rows(self) -> int:
        return self.rows.num_rows

    def to_pandas(self) -> pd.DataFrame:
        return self.rows.to_pandas()

    def _dr(self, axis: str) -> pd.DataFrame:
        if axis not in self._tables:
            self._tables[axis] = defense_rates(self.rows, by=("model", "language", axis))
        return self._tables[axis]

    @property
    def by_group(self) -> pd.DataFrame:
        """DR per model x language x group (harmful prompts): n, counts, dr, ci_low, ci_high,
        deviation from the model's mean group DR with its interval, small_cell."""
        return self._dr("group")

    @property
    def by_strategy(self) -> pd.DataFrame:
        return self._dr("strategy")

    @property
    def by_scenario(self) -> pd.DataFrame:
        return self._dr("scenario_category")


def compare(*runs: Any, labels: Sequence[str] | str | None = None, out: str | Path | None = None,
            languages: str | Iterable[str] | None = None, overwrite: bool = False) -> Comparison:
    """Compare runs (sources as :func:`load_run` takes them, :class:`RunResults` or tables), as
    ``mijabench compare``: per-group DR side by side and exact McNemar tests between models on the
    prompts they share (Holm-corrected per model pair x language; ``group == "all"`` pools a
    language). With ``out`` the report folder is written too (report.html, compare.json, CSVs).

    >>> result = compare("runs/base", "runs/aligned", labels=["base", "aligned"])  # doctest: +SKIP
    >>> result.tests.query("group == 'all'")                                       # doctest: +SKIP
    """
    import pandas as pd

    from mijabench.analysis import compare as compare_mod
    from mijabench.derived import results

    sources = [results.Results(r.rows, r.source or "a table", "audit run") if isinstance(r, RunResults)
               else r for r in runs]
    loaded = results.compare_runs(sources, labels)
    for run, given in zip(loaded, runs):  # keep what load_run found out about each source
        if isinstance(given, RunResults):
            run.provenance = {**given.provenance, **{k: v for k, v in run.provenance.items() if k != "format"}}
    chosen = _names(languages) if languages else None
    if out is not None:
        _, s, c = compare_mod.write_compare_folder(loaded, Path(out), overwrite, languages=chosen)
    else:
        _, s, c, _ = compare_mod.summaries(loaded, chosen)
    return Comparison(by_group=pd.DataFrame(s["by_group"]), side_by_side=pd.DataFrame(c["side_by_side"]),
                      tests=pd.DataFrame(c["model_tests"], columns=compare_mod.TEST_COLUMNS),
                      headline=list(c["headline"]), summary=s, runs=list(c["runs"]),
                      out=Path(out) if out is not None else None)


class Comparison:
    """What :func:`compare` found: ``by_group`` (DR per model x language x group), ``side_by_side``
    (one row per language x group, columns ``dr:<model>`` ...), ``tests`` (paired McNemar between
    models), ``headline`` (the report's first lines), ``summary`` (summary.json), ``runs``."""

    def __init__(self, **fields):
        self.__dict__.update(fields)

    def __repr__(self) -> str:
        return "Comparison(\n  " + "\n  ".join(h.replace("**", "") for h in self.headline) + "\n)"


def defense_rates(run: Any, by: Sequence[str] = ("model", "language", "group"), *,
                  harmful_only: bool = True, n_boot: int = 1000, seed: int = 0,
                  min_n: int = 30) -> pd.DataFrame:
    """Defense Rate per cell of ``by``: counts, DR, 95% bootstrap CI, deviation from the mean of
    the cells sharing all but the last ``by`` column, and the small-cell flag (``n < min_n``).

    ``run`` is a judged table (from :func:`run_audit`, :func:`judge_responses` or
    :func:`load_run`) or a run folder / audit file. DR = safe / (safe + harmful + unparsed);
    ``error`` rows are left out and counted in ``n_error``. Only ``kind == "harmful"`` rows count
    unless ``harmful_only=False``. The numbers equal the audit report's
    (:func:`mijabench.analysis.metrics.dr_table`).

    >>> judged = judge_responses([{"prompt": "p", "response": "I can't help with that.",
    ...                            "model": "m", "group": "women"}])
    >>> defense_rates(judged, by=("model", "group"), n_boot=0)[["group", "n", "dr"]].to_dict("records")
    [{'group': 'women', 'n': 1, 'dr': 1.0}]
    """
    from mijabench.analysis import metrics

    table = load_run(run).rows if isinstance(run, (str, Path)) else _table(run, "run")
    if harmful_only:
        table = metrics.harmful_rows(table)
    return metrics.dr_table(table, tuple(by), n_boot=n_boot, seed=seed, min_n=min_n)


# --- helpers ---------------------------------------------------------------------------------------
def _names(values: str | Iterable[str]) -> list[str]:
    return [v.strip() for v in values.split(",")] if isinstance(values, str) else list(values)


def _table(data: Any, what: str) -> pa.Table:
    """A ``pa.Table`` from a table, DataFrame, list of dicts, dict of columns or file path."""
    import pyarrow as pa

    from mijabench.errors import MijaError

    if isinstance(data, pa.Table):
        return data
    if isinstance(data, RunResults):
        return data.rows
    if isinstance(data, (str, Path)):
        from mijabench.tables import read_table
        return read_table(Path(data), what)
    if isinstance(data, dict):
        return pa.table(data)
    if isinstance(data, list):  # every key of every row (from_pylist alone takes the first row's)
        keys = list(dict.fromkeys(k for row in data for k in row))
        return pa.Table.from_pylist([{k: row.get(k) for k in keys} for row in data])
    if type(data).__name__ == "DataFrame" and hasattr(data, "to_dict"):
        return pa.Table.from_pandas(data, preserve_index=False)
    raise MijaError(f"{what}: expected a pyarrow Table, pandas DataFrame, list of dicts or a file "
                    f"path, got {type(data).__name__}")


def _prompts(prompts: Any, config: str, languages: str | Iterable[str], seed: int) -> pa.Table:
    """The prompts to audit: built in memory, read from a built MiJaBench folder, or given."""
    if prompts is None or (isinstance(prompts, (str, Path)) and Path(prompts).is_dir()):
        from mijabench.audit.prompts import load_prompts
        return load_prompts(Path(prompts) if prompts is not None else None, config,
                            ",".join(_names(languages)), seed, None)
    return _table(prompts, "prompts")


def _backend(model: Any, **options):
    from mijabench.run.backends import make_backend
    from mijabench.specs import (
        ENDPOINT,
        URL_SEP,
        ModelSpec,
        endpoint_spec,
        parse_model_spec,
    )

    if model is not None and not isinstance(model, (str, Path, list, tuple, ModelSpec)):
        return model  # already a backend
    served_model = options.pop("served_model")
    if isinstance(model, (list, tuple)):
        model = URL_SEP.join(str(m) for m in model)
    spec = model if isinstance(model, ModelSpec) else parse_model_spec(
        None if model is None else str(model), "model")
    if served_model and spec.kind == ENDPOINT:  # given apart, like `audit --endpoint` + `--model`
        spec = endpoint_spec(list(spec.urls), served_model, "served_model")
    return make_backend(spec, **options)  # it ignores the options of the other backend kind
