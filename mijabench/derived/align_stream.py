"""Build MiJaBench-Align from the authors' release while it streams in: bounded memory at any size.

:func:`build` is what ``mijabench build mijabench-align`` calls. With audit runs among the
sources it merges everything in memory (:func:`mijabench.derived.mijabench_align.build`: duplicate
checks and sorting need every row). An import of the authors' release alone streams instead:
each record batch of every file becomes Align rows (:func:`upstream_align.align_batches`) that
go straight into Parquet shards of the usual layout (``data/<language>/<kind>-*.parquet``, shards
of :data:`mijabench.hub.folders.MAX_ROWS_PER_SHARD` rows). Only a few small columns per row
(model, language, kind, verdict) stay in memory, for the card's DR table. Rows keep the release's
order, model by model within each batch. The folder is staged and swapped in at the end, so a
failed import leaves the old one as it was.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from mijabench import atomic, taxonomy
from mijabench.derived import mijabench_align, upstream_align, upstream_hub
from mijabench.errors import MijaError
from mijabench.hub import folders as hubdata
from mijabench.schema import AUDIT_SCHEMA

SUMMARY_COLUMNS = ("model", "model_family", "model_params", "language", "kind", "verdict")
IMPORT_REPORT = "upstream_import.json"


@dataclass
class WrittenSplit:
    """One config/split written as shards (stands in for its table in the card and manifest)."""
    num_rows: int
    fingerprint: str
    paths: list[str] = field(default_factory=list)


class SplitWriter:
    """Appends tables to one split's shards as they come; names them once the split is done."""

    def __init__(self, folder: Path, config: str, split: str, schema: pa.Schema = AUDIT_SCHEMA):
        self.folder, self.config, self.split, self.schema = Path(folder), config, split, schema
        self.parts: list[Path] = []
        self.writer: pq.ParquetWriter | None = None
        self.in_shard = self.num_rows = 0

    def write(self, table: pa.Table) -> None:
        while table.num_rows:
            if self.writer is None:
                self._open()
            head = table.slice(0, hubdata.MAX_ROWS_PER_SHARD - self.in_shard)
            table = table.slice(head.num_rows)
            self.writer.write_table(head)
            self.in_shard += head.num_rows
            self.num_rows += head.num_rows
            if self.in_shard == hubdata.MAX_ROWS_PER_SHARD:
                self._close()

    def _open(self) -> None:
        part = self.folder / "data" / self.config / f".{self.split}-{len(self.parts):05d}.part"
        part.parent.mkdir(parents=True, exist_ok=True)
        self.parts.append(part)
        # The options of mijabench.atomic.write_parquet, so both paths write alike.
        self.writer = pq.ParquetWriter(part, self.schema, compression="zstd", write_statistics=True)
        self.in_shard = 0

    def _close(self) -> None:
        self.writer.close()
        self.writer = None

    def finish(self) -> WrittenSplit:
        if self.writer is None and not self.parts:
            self._open()  # an empty split still gets its one (empty) shard
        if self.writer is not None:
            self._close()
        # A content hash in the shard names: datasets caches a local folder by its card configs.
        digest = hashlib.sha256("".join(hubdata.sha256(p) for p in self.parts).encode()).hexdigest()
        paths = hubdata.shard_paths(self.config, self.split, self.num_rows, digest[:10])
        for part, rel in zip(self.parts, paths, strict=True):
            part.rename(self.folder / rel)
        return WrittenSplit(self.num_rows, digest[:10], paths)


def configs_entries(tables: dict[str, dict[str, WrittenSplit]], default: str | None) -> list[dict]:
    """The card's ``configs:`` entry for written splits (as ``hubdata.configs_yaml`` for tables)."""
    entries = []
    for config, splits in tables.items():
        entry = {"config_name": config,
                 "data_files": [{"split": s, "path": w.paths} for s, w in splits.items()]}
        if config == (default or next(iter(tables))):
            entry["default"] = True
        entries.append(entry)
    return entries


def build(runs: list[Path], out: Path, upstream=(), human: Path | None = None,
          repo_id: str = "mijabench/mijabench-align", group_map: dict | None = None,
          revision: str | None = None, config: str | None = None,
          batch_rows: int = upstream_align.BATCH_ROWS) -> mijabench_align.Merged:
    """Build the Align folder: streamed for the authors' release alone, merged in memory with runs."""
    files = upstream_hub.resolve(list(upstream), revision, config)
    if runs or not files:
        return mijabench_align.build(list(runs), out, upstream=files, human=human, repo_id=repo_id,
                                     group_map=group_map)
    with atomic.staged_folder(out) as tmp:
        merged, tables = _stream(files, tmp, group_map, batch_rows)
        _finish(tmp, merged, tables, len(files), human, repo_id)
    return merged


def _stream(files, tmp: Path, group_map, batch_rows: int):
    writers: dict[tuple[str, str], SplitWriter] = {}
    summary, reports, seen = [], [], set()
    for file in files:
        report = upstream_align.ImportReport(file.label)
        reports.append(report)
        for table in upstream_align.align_batches(file.path, group_map, batch_rows, report, seen,
                                                  file.label):
            for key, part in _splits(table):
                writers.setdefault(key, SplitWriter(tmp, *key)).write(part)
            summary.append(table.select(list(SUMMARY_COLUMNS)))
    if not summary:
        raise MijaError(f"{', '.join(r.source for r in reports)}: no rows imported "
                        f"({sum(r.skipped for r in reports)} rows of groups not imported); check "
                        "the group names or --group-map")
    tables: dict[str, dict[str, WrittenSplit]] = {}
    for language in taxonomy.LANGUAGES:
        kinds = [k for k in mijabench_align.KINDS if (language, k) in writers]
        if kinds:  # every language config has a harmful split, as in mijabench_align.configs
            tables[language] = {k: writers.setdefault((language, k), SplitWriter(tmp, language, k)).finish()
                                for k in mijabench_align.KINDS if k in kinds or k == "harmful"}
    merged = mijabench_align.Merged(pa.concat_tables(summary), [],
                                    sum(r.duplicates for r in reports), reports)
    return merged, tables


def _splits(table: pa.Table):
    for language in pc.unique(table.column("language")).to_pylist():
        in_language = table.filter(pc.equal(table.column("language"), language))
        for kind in pc.unique(in_language.column("kind")).to_pylist():
            yield (language, kind), in_language.filter(pc.equal(in_language.column("kind"), kind))


def _finish(tmp: Path, merged, tables: dict, n_sources: int, human: Path | None,
            repo_id: str) -> None:
    from mijabench.derived import human_validation
    extra = {"coverage.csv": mijabench_align.coverage_csv([]),  # every model answers every prompt
             IMPORT_REPORT: json.dumps([r.record() for r in merged.imports], indent=2) + "\n"}
    human_report = None
    if human:
        human_table = human_validation.read_human(human)
        human_report = human_validation.agreement(human_table)
        writer = SplitWriter(tmp, mijabench_align.HUMAN_CONFIG, "test", human_table.schema)
        writer.write(human_table)
        tables[mijabench_align.HUMAN_CONFIG] = {"test": writer.finish()}
        extra["human_validation.json"] = json.dumps(human_report, indent=2, sort_keys=True) + "\n"
    languages = [c for c in tables if c in taxonomy.LANGUAGES]
    judges = sorted({j for r in merged.imports for j, _ in r.cells})
    card = mijabench_align.card_text(merged, tables, n_sources, human_report, repo_id,
                                     data_files=configs_entries(tables, languages[0]), judges=judges)
    atomic.write_text(tmp / "README.md", card)
    for rel, text in extra.items():
        atomic.write_text(tmp / rel, text)
    hubdata.write_manifest(tmp, tables)  # reads only num_rows of each split
