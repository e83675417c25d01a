"""The audit runner: prompts -> responses (checkpointed shards) -> verdicts -> audit.parquet -> report.

Responses are appended to ``OUT/responses/shard-XXXXX.parquet``, each written atomically and keyed
by ``schema.gen_key(prompt id, model, gen_params)``. A re-run skips finished keys, so a run killed
at any moment (even SIGKILL) and restarted loses and duplicates nothing; rows that failed with a
generation error are retried on the next run.
"""

from __future__ import annotations

import logging
import random
import re
from collections import defaultdict
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from mijabench import atomic
from mijabench.errors import MijaError
from mijabench.schema import (
    AUDIT_SCHEMA,
    PROMPT_DEFAULTS,
    PROMPT_SCHEMA,
    RESPONSE_SCHEMA,
    canonical_json,
    gen_key,
)

log = logging.getLogger("mijabench")

RESPONSES = "responses"
SHARD_RE = re.compile(r"^shard-(\d{5,})\.parquet$")
# ``truncated``: the reply was cut at the backend's response-length cap (``--max-response-chars``).
# It is recorded with the generation (and carried into audit.parquet); shards written before it
# existed read as False: no cap existed then.
SHARD_SCHEMA = pa.schema([("id", pa.string())] + list(RESPONSE_SCHEMA))
SHARD_REQUIRED = [n for n in SHARD_SCHEMA.names if n != "truncated"]
REQUIRED_PROMPT_COLUMNS = ("id", "prompt")


# --- prompts ------------------------------------------------------------------------------------
def normalize_prompts(prompts: pa.Table, where: str = "prompts") -> pa.Table:
    """PROMPT_SCHEMA columns in order (missing optional columns become ""); unique, non-empty ids."""
    for name in REQUIRED_PROMPT_COLUMNS:
        if name not in prompts.column_names:
            raise MijaError(f"{where}: missing column {name!r}; expected the MiJaBench prompt "
                            "columns (see mijabench.schema.PROMPT_SCHEMA)")
    if prompts.num_rows == 0:
        raise MijaError(f"{where}: no prompts to audit (empty table; check --languages/--limit)")
    n = prompts.num_rows
    columns = {}
    for field in PROMPT_SCHEMA:
        if field.name in prompts.column_names:
            values = _prompt_column(prompts, field, where)
        else:
            values = [PROMPT_DEFAULTS.get(field.name, "")] * n
        columns[field.name] = values
    seen: dict[str, int] = {}
    for row, (pid, text) in enumerate(zip(columns["id"], columns["prompt"])):
        if not pid:
            raise MijaError(f"{where}: row {row}: empty id; every prompt needs a unique id")
        if pid in seen:
            raise MijaError(f"{where}: rows {seen[pid]} and {row} share id {pid!r}; ids must be unique")
        seen[pid] = row
        if text is None or not str(text).strip():
            raise MijaError(f"{where}: row {row} (id {pid}): empty prompt")
    for name, values in columns.items():
        columns[name] = [PROMPT_DEFAULTS.get(name, "") if v is None else v for v in values]
    return pa.table(columns, schema=PROMPT_SCHEMA)


def _prompt_column(prompts: pa.Table, field: pa.Field, where: str) -> list:
    """Text columns as strings; typed ones (``rewrite_attempts``) cast, with a one-line error."""
    want = pa.string() if pa.types.is_string(field.type) else field.type
    try:
        return prompts.column(field.name).cast(want).to_pylist()
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        raise MijaError(f"{where}: column {field.name!r} is not {want}; fix or drop it") from None


def quick_sample(prompts: pa.Table, per_cell: int = 1, seed: int = 0, twin_share: float = 0.5) -> pa.Table:
    """A small stratified sample covering every (language, group, strategy) cell of the harmful
    rows, plus benign twins: those of ``twin_share`` of the drawn counterfactual sets of each
    language (every group of a drawn set keeps its twin), or of every sampled seed-based row.
    Half the twins keeps the quick audit of the embedded model within minutes on 2 cores with the
    paper-length prompts; over-refusal is then measured on fewer rows (``--full`` has them all).

    With counterfactual rows, whole counterfactual sets are drawn per (language, strategy), so
    every group meets exactly the same attacks -- the comparison the counterfactual config is for.
    Cells a drawn set does not cover get their own rows. Input order is kept.
    """
    if per_cell < 1:
        raise MijaError("--per-cell must be >= 1")
    cols = prompts.select([c for c in ("config", "language", "group", "strategy", "kind",
                                       "counterfactual_id", "id")
                           if c in prompts.column_names]).to_pydict()
    n = prompts.num_rows
    get = lambda name: cols.get(name) or [""] * n  # noqa: E731
    config, language, group, strategy = get("config"), get("language"), get("group"), get("strategy")
    kind, cf, ids = get("kind"), get("counterfactual_id"), get("id")
    if "counterfactual" in set(config):
        rows = [i for i in range(n) if config[i] == "counterfactual"]
    else:
        rows = list(range(n))
    harmful = [i for i in rows if kind[i] != "benign"]
    benign = [i for i in rows if kind[i] == "benign"]
    cell = lambda i: (language[i], group[i], strategy[i])  # noqa: E731
    chosen: set[int] = set()

    sets: dict[tuple, set] = defaultdict(set)  # (language, strategy) -> counterfactual ids
    for i in harmful:
        if cf[i]:
            sets[(language[i], strategy[i])].add(cf[i])
    picked_sets = set()
    for key in sorted(sets):
        rng = random.Random(f"{seed}-quick-{key[0]}-{key[1]}")
        pool = sorted(sets[key])
        picked_sets.update(rng.sample(pool, min(per_cell, len(pool))))
    chosen.update(i for i in harmful if cf[i] in picked_sets)

    per: dict[tuple, list[int]] = defaultdict(list)
    for i in harmful:
        per[cell(i)].append(i)
    covered: dict[tuple, int] = defaultdict(int)
    for i in chosen:
        covered[cell(i)] += 1
    for key in sorted(per):
        missing = per_cell - covered[key]
        if missing > 0:
            rng = random.Random(f"{seed}-quick-cell-{'-'.join(key)}")
            pool = sorted((i for i in per[key] if i not in chosen), key=lambda i: ids[i])
            chosen.update(rng.sample(pool, min(missing, len(pool))))

    twin_sets = _twin_sets(chosen, language, strategy, cf, twin_share, seed)
    twins = {(cf[i], group[i]) for i in chosen if cf[i] in twin_sets}
    chosen.update(i for i in benign if cf[i] and (cf[i], group[i]) in twins)
    loose = [i for i in chosen if not cf[i]]  # seed-based rows: sample benign rows per cell
    need: dict[tuple, int] = defaultdict(int)
    for i in loose:
        need[cell(i)] += 1
    by_cell: dict[tuple, list[int]] = defaultdict(list)
    for i in benign:
        if not cf[i]:
            by_cell[cell(i)].append(i)
    for key in sorted(need):
        rng = random.Random(f"{seed}-quick-benign-{'-'.join(key)}")
        pool = sorted(by_cell[key], key=lambda i: ids[i])
        chosen.update(rng.sample(pool, min(need[key], len(pool))))
    return prompts.take(sorted(chosen))


def _twin_sets(chosen, language, strategy, cf, share: float, seed: int) -> set[str]:
    """``share`` of the drawn counterfactual sets of each language (at least one), drawn with the
    sample's seed across strategies."""
    if not 0 < share <= 1:
        raise MijaError(f"twin share {share}: must be in (0, 1]")
    by_language: dict[str, set] = defaultdict(set)
    for i in chosen:
        if cf[i]:
            by_language[language[i]].add((strategy[i], cf[i]))
    keep = set()
    for lang, sets in sorted(by_language.items()):
        pool = sorted(sets)
        rng = random.Random(f"{seed}-quick-twins-{lang}")
        keep.update(c for _, c in rng.sample(pool, max(1, round(share * len(pool)))))
    return keep


def limit_rows(prompts: pa.Table, limit: int | None) -> pa.Table:
    """At most ``limit`` rows, spread as widely as possible: round-robin over (language, group)
    buckets (languages interleaved), one counterfactual unit (a harmful prompt and its benign twin)
    at a time, so a small run still covers many groups and keeps twins together."""
    if limit is None or limit >= prompts.num_rows:
        return prompts
    if limit < 1:
        raise MijaError("--limit must be >= 1")
    n = prompts.num_rows
    col = lambda name: (prompts.column(name).to_pylist() if name in prompts.column_names  # noqa: E731
                        else [""] * n)
    language, group, cf, ids = col("language"), col("group"), col("counterfactual_id"), col("id")
    units: dict[tuple, dict[str, list[int]]] = defaultdict(dict)
    for i in range(n):
        units[(language[i], group[i])].setdefault(cf[i] or ids[i], []).append(i)
    rank: dict[str, list[tuple]] = defaultdict(list)
    for key in units:
        rank[key[0]].append(key)
    buckets = sorted(units, key=lambda k: (rank[k[0]].index(k), k[0]))
    queues = {k: list(units[k].values()) for k in buckets}
    order: list[int] = []
    depth = 0
    while len(order) < limit:
        for key in buckets:
            if depth < len(queues[key]):
                order.extend(queues[key][depth][:limit - len(order)])
                if len(order) >= limit:
                    break
        depth += 1
    return prompts.take(sorted(order))


# --- response shards ----------------------------------------------------------------------------
def shard_files(out_dir: Path) -> list[Path]:
    folder = Path(out_dir) / RESPONSES
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if SHARD_RE.match(p.name))


def load_responses(out_dir: Path) -> dict[str, dict]:
    """gen_key -> response row from every shard. When a key was written more than once (a failed
    row retried), the last successful record wins, else the last record."""
    best: dict[str, dict] = {}
    for path in shard_files(out_dir):
        try:
            table = pq.read_table(path)
        except Exception as exc:  # noqa: BLE001 -- atomic writes make this a foreign/damaged file
            raise MijaError(f"{path}: unreadable response shard ({type(exc).__name__}); move it "
                            "away and re-run to regenerate its rows") from None
        missing = [c for c in SHARD_REQUIRED if c not in table.column_names]
        if missing:
            raise MijaError(f"{path}: not a response shard written by mijabench (no column "
                            f"{missing[0]!r}); move it out of {path.parent} and re-run")
        for row in table.to_pylist():
            row.setdefault("truncated", False)  # shards written before the column existed
            old = best.get(row["gen_key"])
            if old is None or not row["error"] or old["error"]:
                best[row["gen_key"]] = row
    return best


def _next_shard(out_dir: Path) -> int:
    names = [SHARD_RE.match(p.name) for p in shard_files(out_dir)]
    return max((int(m.group(1)) + 1 for m in names if m), default=0)


def _write_shard(out_dir: Path, rows: list[dict]) -> Path:
    path = Path(out_dir) / RESPONSES / f"shard-{_next_shard(out_dir):05d}.parquet"
    table = pa.table({f.name: [r[f.name] for r in rows] for f in SHARD_SCHEMA}, schema=SHARD_SCHEMA)
    return atomic.write_parquet(path, table)


def generate_responses(prompts: pa.Table, backend, params, out_dir: Path, shard_size: int = 32,
                       model_meta: dict | None = None, progress: bool = True) -> list[str]:
    """Generate every missing response into shards; returns the gen_keys in prompt order."""
    from filelock import FileLock, Timeout
    from tqdm.auto import tqdm

    if shard_size < 1:
        raise MijaError("--shard-size must be >= 1")
    out_dir = Path(out_dir)
    check = getattr(backend, "check", None)
    if check is not None:
        check()  # fail fast (unreachable endpoint) before anything is written
    model = backend.model_id
    meta = {"model_family": "", "model_params": None, **(getattr(backend, "meta", None) or {}),
            **(model_meta or {})}
    gp = params.to_dict()
    gp_json = canonical_json(gp)
    ids = prompts.column("id").to_pylist()
    texts = prompts.column("prompt").to_pylist()
    keys = [gen_key(pid, model, gp) for pid in ids]
    atomic.make_folder(out_dir)  # one-line error for a file in the way or no permission
    atomic.make_folder(out_dir / RESPONSES)
    lock = FileLock(str(out_dir / RESPONSES / ".lock"))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        raise MijaError(f"{out_dir}: another audit is writing here; wait for it or pick another "
                        "--out") from None
    try:
        done = load_responses(out_dir)
        todo = [i for i, k in enumerate(keys) if k not in done or done[k]["error"]]
        if len(todo) < len(keys):
            log.info("resuming: %d of %d responses already in %s", len(keys) - len(todo), len(keys),
                     out_dir / RESPONSES)
        bar = tqdm(total=len(keys), initial=len(keys) - len(todo), unit="resp",
                   desc=f"responses ({model})", disable=not progress)
        buffer: list[dict] = []

        def add(i: int, g) -> None:
            buffer.append({"id": ids[i], "model": model, "model_family": meta["model_family"] or "",
                           "model_params": meta["model_params"], "gen_params": gp_json,
                           "gen_key": keys[i], "response": g.text or "", "error": g.error or "",
                           "latency_s": float(g.latency_s),
                           "truncated": bool(getattr(g, "truncated", False))})

        def flush() -> None:
            if buffer:
                _write_shard(out_dir, buffer)
                bar.update(len(buffer))
                buffer.clear()

        try:
            if hasattr(backend, "generate_iter"):  # results in completion order: no chunk tails
                for j, g in backend.generate_iter([texts[i] for i in todo], params):
                    add(todo[j], g)
                    if len(buffer) >= shard_size:
                        flush()
            else:
                for start in range(0, len(todo), shard_size):
                    idx = todo[start:start + shard_size]
                    gens = backend.generate([texts[i] for i in idx], params, progress=False)
                    if len(gens) != len(idx):
                        raise MijaError(f"backend {model}: returned {len(gens)} responses for "
                                        f"{len(idx)} prompts")
                    for i, g in zip(idx, gens):
                        add(i, g)
                    flush()
        finally:
            flush()  # on Ctrl-C, keep every finished response (the write is atomic)
            bar.close()
    finally:
        lock.release()
    return keys


def assemble(prompts: pa.Table, keys: list[str], responses: dict[str, dict]) -> pa.Table:
    """Prompt columns + response columns, in prompt order (every key must have a response)."""
    missing = [k for k in keys if k not in responses]
    if missing:
        raise MijaError(f"responses: {len(missing)} prompt(s) have no response yet; re-run the audit")
    table = prompts
    for field in RESPONSE_SCHEMA:
        table = table.append_column(field, pa.array([responses[k][field.name] for k in keys],
                                                    type=field.type))
    return table


# --- the whole audit ----------------------------------------------------------------------------
def check_judge(judge) -> None:
    """Probe the endpoints of LLM judges (also inside ensembles) before a long generation run."""
    for member in [judge, *getattr(judge, "members", [])]:
        check = getattr(getattr(member, "backend", None), "check", None)
        if check is not None:
            check()


def run_audit(prompts: pa.Table, backend, params, out_dir, judge, shard_size: int = 32,
              model_meta: dict | None = None, progress: bool = True, report: bool = True,
              provenance: dict | None = None) -> pa.Table:
    """Generate (resumable), judge, write ``audit.parquet`` (AUDIT_SCHEMA) and the report.

    The report's provenance gets the command line, the date and a content hash of the audited
    prompts (``dataset_revision``) here; ``provenance`` adds or overrides fields (e.g.
    ``dataset_source``); model, generation parameters, judge and config come from the rows."""
    from mijabench.judge.registry import judge_table, make_judge

    out_dir = Path(out_dir)
    prompts = normalize_prompts(prompts)
    provenance = {**run_provenance(prompts), **_precision(backend), **(provenance or {})}
    if judge is None or isinstance(judge, str):
        judge = make_judge(judge)  # before generating: a bad judge name fails in a second
    check_judge(judge)
    keys = generate_responses(prompts, backend, params, out_dir, shard_size, model_meta, progress)
    table = assemble(prompts, keys, load_responses(out_dir))
    judged = judge_table(table, judge, progress=progress)
    judged = judged.select(AUDIT_SCHEMA.names).cast(AUDIT_SCHEMA)
    atomic.write_parquet(out_dir / "audit.parquet", judged)
    if report:
        from mijabench.analysis.report import write_report
        write_report(judged, out_dir, provenance_info=provenance)
    return judged


def _precision(backend) -> dict:
    """A local model's weight precision: bf16 and fp32 give different greedy answers. (Only the
    dtype: an endpoint backend's repr could name a URL with credentials in it.)"""
    dtype = getattr(backend, "dtype", None)
    return {"precision": str(dtype).removeprefix("torch.")} if dtype is not None else {}


def run_provenance(prompts: pa.Table) -> dict:
    """Command line, UTC date and the audited prompts' content hash, for the report header."""
    import shlex
    import sys
    from datetime import datetime, timezone

    from mijabench.hub.folders import fingerprint

    return {"command": shlex.join(sys.argv), "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S"),
            "dataset_revision": f"prompts sha256:{fingerprint(prompts)} ({prompts.num_rows} rows)"}


def check_outcome(table: pa.Table, warn_error_share: float = 0.05) -> None:
    """Raise a one-line MijaError when the audit measured nothing: every row failed to generate,
    or the judge could not read a single response. Warn when more than ``warn_error_share`` of the
    rows failed. Failed rows are requested again when the audit is re-run with the same --out."""
    verdicts = table.column("verdict").to_pylist()
    n, errors = len(verdicts), sum(v == "error" for v in verdicts)
    if n and errors == n:
        first = next((e for e in table.column("error").to_pylist() if e), "unknown error")
        raise MijaError(f"all {n} rows failed to generate (first: {first}); nothing was judged. "
                        "Fix the model or endpoint and re-run with the same --out to retry them")
    if n and sum(v == "unparsed" for v in verdicts) == n - errors:
        raise MijaError(f"the judge could not read any of the {n - errors} responses (all "
                        "unparsed); check the judge (--judge) and the responses in audit.parquet")
    if n and errors / n > warn_error_share:
        log.warning("%d of %d rows (%.0f%%) failed to generate and are left out of the Defense "
                    "Rate; re-run with the same --out to retry them", errors, n, 100 * errors / n)


def truncated_count(table: pa.Table) -> int:
    """How many of ``table``'s responses were cut at the response-length cap."""
    return sum(bool(v) for v in table.column("truncated").to_pylist()) if "truncated" in table.column_names else 0
