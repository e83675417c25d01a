"""Write a Hub dataset folder: Parquet shards per config/split, a README card, and a manifest.

``datasets`` 5.x refuses loading scripts, so the folder itself is the dataset: ``load_dataset(dir,
config)`` reads it offline and ``push_to_hub``/``upload_folder`` publishes the same layout. The
folder is built next to ``out`` and swapped in at the end, so a failure leaves the old one intact.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pyarrow as pa

from mijabench import atomic

MAX_ROWS_PER_SHARD = 50_000


def shard_paths(config: str, split: str, n_rows: int, fingerprint: str = "") -> list[str]:
    n = max(1, -(-n_rows // MAX_ROWS_PER_SHARD))
    suffix = f"-{fingerprint}" if fingerprint else ""
    return [f"data/{config}/{split}-{i:05d}-of-{n:05d}{suffix}.parquet" for i in range(n)]


def fingerprint(table: pa.Table) -> str:
    """Content hash put in shard names and in the card's ``configs``: datasets caches a local
    folder by its card configs, so a folder rebuilt in place with new rows must change the card,
    or ``load_dataset`` silently returns the old rows."""
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:  # IPC: slices serialise by content
        writer.write_table(table)
    return hashlib.sha256(sink.getvalue()).hexdigest()[:10]


def configs_yaml(tables: dict[str, dict[str, pa.Table]], default: str | None = None) -> list[dict]:
    """The card's ``configs:`` entry: one config per name, the exact shard files per split."""
    entries = []
    for config, splits in tables.items():
        entry = {"config_name": config, "data_files": [
            {"split": s, "path": shard_paths(config, s, t.num_rows, fingerprint(t))}
            for s, t in splits.items()]}
        if config == (default or next(iter(tables))):
            entry["default"] = True
        entries.append(entry)
    return entries


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def write_dataset(out: Path, tables: dict[str, dict[str, pa.Table]], card_text: str,
                  extra_files: dict[str, str] | None = None) -> Path:
    """Write the folder atomically (build in a sibling temp dir, then swap)."""
    out = Path(out)
    with atomic.staged_folder(out) as tmp:  # refuses a foreign folder or a file before any work
        for config, splits in tables.items():
            for split, table in splits.items():
                paths = shard_paths(config, split, table.num_rows, fingerprint(table))
                for i, rel in enumerate(paths):
                    shard = table.slice(i * MAX_ROWS_PER_SHARD, MAX_ROWS_PER_SHARD)
                    atomic.write_parquet(tmp / rel, shard)
        atomic.write_text(tmp / "README.md", card_text)
        for rel, text in (extra_files or {}).items():
            atomic.write_text(tmp / rel, text)
        write_manifest(tmp, tables)
    return out


def write_manifest(folder: Path, tables: dict[str, dict[str, pa.Table]]) -> None:
    files = {str(p.relative_to(folder)): sha256(p)
             for p in sorted(folder.rglob("*")) if p.is_file() and p.name != "manifest.json"}
    rows = {c: {s: t.num_rows for s, t in splits.items()} for c, splits in tables.items()}
    manifest = {"files": files, "rows": rows}
    atomic.write_text(folder / "manifest.json", json.dumps(manifest, indent=2, sort_keys=True) + "\n")


def swap_folder(tmp: Path, out: Path) -> None:
    """Replace folder ``out`` by the finished ``tmp``: :func:`mijabench.atomic.swap_folder`."""
    atomic.swap_folder(tmp, out)
