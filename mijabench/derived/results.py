"""The one loader of results: judged prompt x model rows (AUDIT_SCHEMA) from wherever they live.

A source is any of:

* an audit run folder (holding ``audit.parquet``) or an audit ``.parquet`` file;
* a folder of audit run folders (each run's ``audit.parquet``, merged as MiJaBench-Align merges);
* a built MiJaBench-Align folder (``data/<language>/*.parquet``; ``human_validation`` is skipped);
* the MiJaBench authors' released format (``jb_prompt``, ``jb_response_<model>``,
  ``jb_cls_<judge>_<model>`` with a JSON class in each judge cell), as a file or a folder of files,
  converted by :mod:`mijabench.derived.upstream_align` (the paper's majority vote);
* a Hub dataset in either format: ``owner/name`` or ``hub:owner/name[@revision]``, downloaded with
  :func:`mijabench.hub.loaders.snapshot` at that revision (else the pinned one, else the latest),
  then read as a folder. The commit actually read is recorded.

:func:`load_results` returns the rows; :func:`resolve` also says where they came from (for a
report's provenance). Every failure is one :class:`~mijabench.errors.MijaError` line naming the source.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from mijabench.errors import MijaError

HUB_PREFIX = "hub:"
TABLE_PATTERNS = ["*.parquet", "*.csv", "*.jsonl", "**/*.parquet", "**/*.csv", "**/*.jsonl"]
RUN_FIELDS = ("date", "command", "dataset_source", "dataset_revision")  # what rows cannot tell
KINDS = ("audit run", "audit runs", "MiJaBench-Align", "authors' release")


@dataclass(frozen=True)
class Results:
    """Rows of one source and where they came from."""
    table: pa.Table
    source: str               # as the user gave it
    kind: str                 # one of KINDS
    revision: str | None = None   # the Hub revision asked for (None: pinned or latest)
    commit: str | None = None     # the Hub commit actually read
    run_provenance: dict | None = None  # an audit run folder's own provenance (its summary.json)

    def provenance(self) -> dict:
        out = {k: v for k, v in (self.run_provenance or {}).items() if k in RUN_FIELDS}
        out.update({"source": self.source, "format": self.kind})
        if self.revision:
            out["revision"] = self.revision
        if self.commit:
            out["commit"] = self.commit
        return out


def load_results(source: str, revision: str | None = None) -> pa.Table:
    """AUDIT_SCHEMA rows of ``source`` (see the module docstring for what a source may be).

    ``revision`` pins a Hub source (a commit, tag or branch); ``hub:owner/name@REV`` does the same.

    >>> load_results("runs/smollm2-quick").num_rows                    # doctest: +SKIP
    >>> load_results("hub:acme/mijabench-align@0123abcd")              # doctest: +SKIP
    """
    return resolve(source, revision).table


def resolve(source, revision: str | None = None) -> Results:
    """:func:`load_results` with the source's format, revision and commit."""
    text = str(source).strip()
    repo, at = hub_parts(text)
    if repo is not None:
        if at and revision and at != revision:
            raise MijaError(f"results {text}: revision {at!r} in the id and {revision!r} given; pass one")
        return _from_hub(text, repo, at or revision)
    path = Path(text).expanduser()
    if revision:
        raise MijaError(f"results {text}: a revision applies to a Hub dataset (hub:owner/name); "
                        "this is a local path; drop the revision")
    if not path.exists():
        raise MijaError(f"results {text}: no such file or folder; pass an audit run folder, an "
                        "audit .parquet, a MiJaBench-Align folder or hub:owner/name[@revision]")
    table, kind = _read_local(path, text)
    return Results(table, text, kind, run_provenance=_run_provenance(path) if kind == KINDS[0] else None)


def _run_provenance(path: Path) -> dict | None:
    """The provenance an audit wrote into its summary.json (command, date, dataset), if readable."""
    import json

    summary = path / "summary.json" if path.is_dir() else path.with_name("summary.json")
    try:
        prov = json.loads(summary.read_text("utf-8")).get("provenance")
    except (OSError, ValueError, AttributeError):
        return None  # a run without a report: its rows still say model, judge and config
    return prov if isinstance(prov, dict) else None


def is_hub_source(source) -> bool:
    return hub_parts(str(source).strip())[0] is not None


def hub_parts(text: str) -> tuple[str | None, str | None]:
    """(repo, revision) of a Hub source, else (None, None). A bare ``owner/name`` is a Hub id
    only when no such local path exists."""
    from mijabench.derived.upstream_hub import HUB_ID, TABLE_SUFFIXES

    explicit = text.startswith(HUB_PREFIX)
    body = text[len(HUB_PREFIX):] if explicit else text
    repo, _, at = body.partition("@")
    maybe_hub = not Path(text).expanduser().exists() and Path(repo).suffix.lower() not in TABLE_SUFFIXES
    if HUB_ID.fullmatch(repo) and (explicit or maybe_hub):
        return repo, at or None
    if explicit:
        raise MijaError(f"results {text}: not a Hub dataset id; write hub:owner/name[@revision]")
    return None, None


# --- local files and folders ---------------------------------------------------------------------
def _read_local(path: Path, where: str) -> tuple[pa.Table, str]:
    from mijabench.derived import mijabench_align

    if path.is_file():
        if _is_release(path):
            return _release([path], where), KINDS[3]
        return mijabench_align.read_run(path), KINDS[0]
    if (path / "audit.parquet").is_file():
        return mijabench_align.read_run(path), KINDS[0]
    shards = sorted(path.glob("data/*/*.parquet"))
    if shards and not _is_release(shards[0]):
        return mijabench_align.read_align(path), KINDS[2]
    runs = sorted(p.parent for p in path.glob("*/audit.parquet"))
    if runs:
        merged = mijabench_align.merge([(str(r), mijabench_align.read_run(r)) for r in runs])
        return merged.table, KINDS[1]
    releases = _release_files(path)
    if releases:
        return _release(releases, where), KINDS[3]
    raise MijaError(f"results {where}: no audit.parquet, no MiJaBench-Align data/<language>/*.parquet "
                    "and no file in the authors' released format (jb_prompt, jb_response_<model>); "
                    "pass a folder written by `mijabench audit` or `mijabench build mijabench-align`")


def _columns(path: Path) -> list[str]:
    from mijabench.tables import iter_batches

    for batch in iter_batches(path, 1, "results table"):
        return batch.column_names
    return []


def _is_release(path: Path) -> bool:
    from mijabench.bench.upstream import RESPONSE_PREFIX, is_release_table

    try:
        columns = _columns(path)
    except MijaError:  # a side file (a report's summary.json, a broken table) is not a release
        return False
    return is_release_table(columns) and any(c.startswith(RESPONSE_PREFIX) for c in columns)


def _release_files(folder: Path) -> list[Path]:
    from mijabench.derived.upstream_hub import TABLE_SUFFIXES

    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in TABLE_SUFFIXES
                   and not any(part.startswith(".") for part in p.relative_to(folder).parts))
    return [f for f in files if _is_release(f)]


def _release(files: list[Path], where: str) -> pa.Table:
    """The authors' rows of every file, one row per prompt x model; a prompt repeated across files
    (a config holding a subset of another) is kept once."""
    from mijabench.derived import upstream_align
    from mijabench.derived.mijabench_align import conform

    seen: set = set()
    parts = []
    for file in files:
        label = f"{where}:{file.name}" if len(files) > 1 or str(file) != where else where
        report = upstream_align.ImportReport(label)
        parts += list(upstream_align.align_batches(file, report=report, seen=seen, where=label))
    table = pa.concat_tables(parts) if parts else None
    if table is None or table.num_rows == 0:
        raise MijaError(f"results {where}: the released rows hold no prompt of a known group")
    return conform(table, where)


# --- the Hub -------------------------------------------------------------------------------------
def _from_hub(text: str, repo: str, revision: str | None) -> Results:
    from mijabench.hub import loaders

    try:
        folder = loaders.snapshot(repo, "dataset", revision, allow_patterns=TABLE_PATTERNS)
    except Exception as exc:  # noqa: BLE001 -- network, auth, missing repo or revision: one line
        local = "" if text.startswith(HUB_PREFIX) else "no such local path, and "
        raise MijaError(f"results {text}: {local}cannot download it as a Hub dataset "
                        f"({type(exc).__name__}); check the path, or the id, revision, HF_ENDPOINT "
                        "and HF_TOKEN for a gated dataset") from None
    where = f"{repo}@{revision or folder.name}"
    table, kind = _read_local(folder, where)
    return Results(table, text, kind, revision=revision, commit=folder.name)


# --- several sources, for a comparison -----------------------------------------------------------
def compare_runs(sources, labels=None):
    """One :class:`mijabench.analysis.compare.Run` per source (paths, Hub ids, tables or
    :class:`Results`), labelled by ``labels`` (a list or comma-separated text, one per source)."""
    from mijabench.analysis.compare import Run

    sources = list(sources)
    if isinstance(labels, str):
        labels = [x.strip() for x in labels.split(",")]
    labels = list(labels) if labels else [None] * len(sources)
    if len(labels) != len(sources):
        raise MijaError(f"--labels: {len(labels)} label(s) for {len(sources)} run(s); give one per run, "
                        "comma-separated, in the order of the runs")
    if any(label is not None and not str(label).strip() for label in labels):
        raise MijaError("--labels: an empty label; give one non-empty label per run")
    runs = []
    for source, label in zip(sources, labels):
        if isinstance(source, pa.Table):
            runs.append(Run(source, label, {"source": "a table", "format": "table"}))
            continue
        got = source if isinstance(source, Results) else resolve(source)
        runs.append(Run(got.table, label, got.provenance()))
    return runs
