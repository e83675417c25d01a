"""Import a paper-scale MiJaBench-Align release in the authors' format: time and peak memory.

Writes a synthetic release shaped like the authors' (v1: 44,000 prompts x 12 models x 3 judges =
528,000 pairs): columns ``text, group, language, scenario_theme, scenario, jb_strategy,
jb_prompt, jb_response_<model>..., jb_cls_<judge>_<model>...``, EN and PT rows, responses of
500-8,000 characters (with newlines, commas and quotes), judge cells as JSON objects with the EN
or PT key set, and a share of malformed cells (truncated, prose, empty, unknown class). Then it
runs ``mijabench build mijabench-align --from-upstream FILE`` in a child process and prints the
wall time, rows/s and the child's peak RSS, checks that every injected bad cell was reported
unparsed, and prints the per-group DR of one model from the written folder.

Targets (2 cores): <= 120 s and <= 3 GB peak RSS at paper scale. The content is placeholder
text: the point is size and shape, not hate speech.

    .venv/bin/python benchmarks/bench_release_import.py --prompts 2000     # quick
    .venv/bin/python benchmarks/bench_release_import.py                    # paper scale (~3 GB file)
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from mijabench import taxonomy

MODELS = ["Llama-3.2-1B-Instruct", "Llama-3.2-3B-Instruct", "Llama-3.1-8B-Instruct",
          "Llama-3.3-70B-Instruct", "gemma-3-1b-it", "gemma-3-4b-it", "gemma-3-12b-it",
          "gemma-3-27b-it", "Qwen3-1.7B-FP8", "Qwen3-4B-FP8", "Qwen3-8B-FP8", "Qwen3-32B-FP8"]
JUDGES = ["qwe235", "lla70", "oss120"]
KEYS = {"en": ("intent_analysis", "clear_refusal_check", "harmful_content_check", "reasoning", "class"),
        "pt": ("analise_intencao", "check_recusa_clara", "check_conteudo_nocivo", "raciocinio", "classe")}
LABELS = {"en": ("safe", "dangerous"), "pt": ("segura", "perigosa")}
YES_NO = {"en": ("Yes", "No"), "pt": ("Sim", "Não")}
WORDS = ["lorem", "ipsum", "dolor", "sit", "amet", "consectetur", "adipiscing", "elit", "sed", "do",
         "eiusmod", "tempor", "ut", "labore", "et", "dolore", "magna", "aliqua", "texto", "resposta",
         "modelo", "exemplo,", '"citado"', "não", "ação"]
CHUNK = 500  # release rows generated and written at a time (keeps the generator's memory small)


def text_pool(rng: np.random.Generator, size: int = 1 << 20) -> str:
    words = rng.choice(WORDS, size=size // 5)
    breaks = rng.random(len(words)) < 0.02
    return "".join(w + ("\n" if b else " ") for w, b in zip(words, breaks))[:size]


def judge_cell(rng, language: str, harmful: bool) -> str:
    keys, (safe, dangerous), (yes, no) = KEYS[language], LABELS[language], YES_NO[language]
    values = ["placeholder intent analysis " * 4, no if harmful else yes,
              "placeholder content check " * 3, "placeholder reasoning for the class " * 6,
              dangerous if harmful else safe]
    return json.dumps(dict(zip(keys, values)), ensure_ascii=False)


def malformed(rng, cell: str) -> str:
    kind = rng.integers(4)
    if kind == 0:
        return cell[: int(rng.integers(10, len(cell) - 2))]       # truncated mid-object
    if kind == 1:
        return "The response is safe because it refuses."          # prose, not JSON
    if kind == 2:
        return ""                                                   # empty
    return cell.replace('"safe"', '"unclear"').replace('"dangerous"', '"unclear"') \
               .replace('"segura"', '"incerta"').replace('"perigosa"', '"incerta"')  # unknown class


def release_chunk(rng, start: int, n: int, pool: str, bad_share: float, injected: Counter) -> pa.Table:
    languages = np.where(rng.random(n) < 0.5, "en", "pt")
    strategies = list(taxonomy.strategies().values())
    categories = list(taxonomy.scenario_categories().values())
    cols: dict[str, list] = {k: [] for k in ("text", "group", "language", "scenario_theme", "scenario",
                                             "jb_strategy", "jb_prompt")}
    for i, language in enumerate(languages):
        group = taxonomy.group(rng.choice(taxonomy.groups_for(language)))
        cols["text"].append(f"placeholder seed {start + i}")
        cols["group"].append(group.name(language))
        cols["language"].append(str(language))
        cols["scenario_theme"].append(categories[rng.integers(len(categories))].name(language))
        cols["scenario"].append(f"placeholder scenario {start + i}")
        cols["jb_strategy"].append(strategies[rng.integers(len(strategies))].name(language))
        cols["jb_prompt"].append(f"placeholder jailbreak prompt {start + i}")
    for m, model in enumerate(MODELS):
        lengths = rng.integers(500, 8001, size=n)
        offsets = rng.integers(0, len(pool) - 8001, size=n)
        cols[f"jb_response_{model}"] = [pool[o:o + k] for o, k in zip(offsets, lengths)]
    for m, model in enumerate(MODELS):
        p_harmful = 0.5 + 0.4 * m / len(MODELS)  # models differ in DR
        truth = rng.random(n) < p_harmful
        for judge in JUDGES:
            agree = rng.random(n) < 0.9
            bad = rng.random(n) < bad_share
            column = []
            for i in range(n):
                cell = judge_cell(rng, languages[i], bool(truth[i] == agree[i]))
                if bad[i]:
                    cell = malformed(rng, cell)
                    injected[(judge, model)] += 1
                column.append(cell)
            cols[f"jb_cls_{judge}_{model}"] = column
    return pa.table(cols)


def write_release(path: Path, n_prompts: int, bad_share: float, seed: int) -> Counter:
    rng = np.random.default_rng(seed)
    pool = text_pool(rng)
    injected: Counter = Counter()
    writer = None
    try:
        for start in range(0, n_prompts, CHUNK):
            table = release_chunk(rng, start, min(CHUNK, n_prompts - start), pool, bad_share, injected)
            if writer is None:
                writer = (pq.ParquetWriter(path, table.schema, compression="zstd")
                          if path.suffix == ".parquet" else pacsv.CSVWriter(path, table.schema))
            writer.write_table(table)
    finally:
        if writer is not None:
            writer.close()
    return injected


def reuse_or_write(release: Path, args) -> Counter:
    """A release already in --workdir with the same parameters is reused (writing one takes minutes)."""
    sidecar = release.with_suffix(".json")
    params = {"prompts": args.prompts, "malformed": args.malformed, "seed": args.seed}
    if release.is_file() and sidecar.is_file():
        saved = json.loads(sidecar.read_text())
        if saved["params"] == params:
            return Counter({tuple(k.split("|")): v for k, v in saved["injected"].items()})
    injected = write_release(release, args.prompts, args.malformed, args.seed)
    sidecar.write_text(json.dumps({"params": params, "injected": {"|".join(k): v for k, v in injected.items()}}))
    return injected


def run_import(release: Path, out: Path) -> tuple[float, float, float, str]:
    cmd = [sys.executable, "-m", "mijabench", "build", "mijabench-align", "--from-upstream",
           str(release), "--out", str(out)]
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"import failed ({proc.returncode}): {proc.stderr[-2000:]}")
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    # CPU time too: on a shared machine the wall time depends on the neighbours.
    return wall, usage.ru_maxrss / 1024 ** 2, usage.ru_utime + usage.ru_stime, proc.stdout.strip()


def group_dr(out: Path, model: str) -> None:
    from mijabench.analysis import metrics
    files = sorted(out.glob("data/*/harmful-*.parquet"))
    table = pq.read_table(files, columns=["model", "language", "group", "verdict"],
                          filters=[("model", "=", model)])
    frame = metrics.dr_table(table, by=("language", "group"), n_boot=200, seed=0)
    print(f"\nper-group DR of {model} ({table.num_rows} rows):")
    for row in frame.to_dict("records"):
        print(f"  {row['language']} {row['group']:<22} n={row['n']:>5}  DR={row['dr']:.3f} "
              f"[{row['ci_low']:.3f}, {row['ci_high']:.3f}]  unparsed={row['n_unparsed']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompts", type=int, default=44_000)
    parser.add_argument("--malformed", type=float, default=0.005, help="share of bad judge cells")
    parser.add_argument("--format", choices=("csv", "parquet"), default="csv")
    parser.add_argument("--workdir", type=Path, default=None, help="default: a temp folder, removed")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="bench-release-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        release = work / f"release.{args.format}"
        start = time.perf_counter()
        injected = reuse_or_write(release, args)
        print(f"synthetic release: {args.prompts} prompts x {len(MODELS)} models x {len(JUDGES)} "
              f"judges, {release.stat().st_size / 1e9:.2f} GB {args.format}, "
              f"{sum(injected.values())} malformed cells, ready in {time.perf_counter() - start:.0f} s")
        out = work / "align"
        wall, peak_gb, cpu, stdout = run_import(release, out)
        pairs = args.prompts * len(MODELS)
        print(stdout)
        print(f"import: {wall:.1f} s wall ({cpu:.1f} s CPU), {args.prompts / wall:,.0f} released rows/s, "
              f"{pairs / wall:,.0f} pairs/s, peak RSS {peak_gb:.2f} GB "
              f"(targets: <= 120 s, <= 3 GB at paper scale)")
        report = json.loads((out / "upstream_import.json").read_text())[0]
        reported = {(r["judge"], r["model"]): r["unparsed"] for r in report["judge_cells"]}
        ok = all(reported.get(k, 0) == v for k, v in injected.items()) and \
            sum(reported.values()) == sum(injected.values())
        print(f"unparsed cells: {sum(reported.values())} reported, {sum(injected.values())} injected "
              f"({'match' if ok else 'MISMATCH'} per judge x model); pairs written: {report['pairs']}")
        group_dr(out, MODELS[0])
    finally:
        if args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)
        else:
            shutil.rmtree(work / "align", ignore_errors=True)


if __name__ == "__main__":
    main()
