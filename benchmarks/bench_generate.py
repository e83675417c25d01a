"""Local batched generation vs a plain one-prompt-at-a-time ``generate`` loop, on real prompts.

Prompts: the issue-13 MiJaBench prompts the kit builds (counterfactual config, EN + PT, the audit's
quick sample spread by ``limit_rows``: attacks and their benign twins). Model: the embedded
SmolLM2-135M-Instruct. Both sides use the chat template, greedy decoding and the same
``--max-new-tokens``:

* baseline: ``model.generate`` on each prompt alone (float32, torch's default threads), and
  optionally ``baseline-matched`` (the same with the kit's thread choice: on a busy machine
  torch's default of one thread per core spin-waits, which flatters the ratio);
* kit: ``TransformersBackend(...).generate(prompts, GenParams(...))`` with its defaults (batches
  by length, static KV cache, bfloat16 on CPUs with native bfloat16), and optionally
  ``kit-fp32`` (the same in float32, to show batching alone changes no greedy answer).

Each side runs in its own process (its own peak RSS). Prints new tokens/s (generated tokens up to
EOS / wall seconds), prompt tokens/s, CPU seconds, peak RSS, settings, the ratio kit/baseline
(target >= 4x) and how many answers are identical to the baseline's and get the same verdict from
the default judge. Exit status 1 when the ratio misses the target.

    flock /tmp/mijabench-cpu.lock .venv/bin/python benchmarks/bench_generate.py \
        [--prompts 48] [--max-new-tokens 96] [--phases baseline,kit,kit-fp32]

Measured 2026-12-01 on the 2-core AMD EPYC (Zen 4, avx512_bf16), under the CPU lock but with
another helper's tests running (load average 1.1-2.8): 48 prompts (33 attacks, 15 benign twins,
EN 25 / PT 23; 203-383 prompt tokens, median 267), 96 new tokens, 4,546 tokens generated per side:

    side       new tokens/s  wall   CPU    prompt tok/s  peak RSS  settings
    baseline       12.4      368 s  638 s       39       1.1 GB   one at a time, float32, 2 threads
    kit            77.8       58 s   58 s      244       1.3 GB   batch 32, bfloat16, static cache, 1 thread
    kit-fp32       49.2       92 s   92 s      155       2.3 GB   batch 32, float32, static cache, 1 thread

kit / baseline = 6.3x (target >= 4x); kit-fp32 / baseline = 4.0x. Greedy answers identical to the
baseline's: kit-fp32 48/48 (batching and padding change nothing), kit (bfloat16) 23/48, with the
same verdict from the default judge on 47/48. The kit picked 1 thread because the load average was
high when it started (``set_cpu_threads``); the baseline used torch's default 2 threads (638 CPU
seconds in 368 wall seconds). ``baseline-matched`` (1 thread) was not measured for lack of time.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET = 4.0


def bench_prompts(n: int):
    """``n`` quick-sample rows of the counterfactual config, EN + PT, spread over cells."""
    from mijabench.audit.prompts import load_prompts
    from mijabench.audit.runner import limit_rows, quick_sample
    return limit_rows(quick_sample(load_prompts(None, "counterfactual", "en,pt", 0, None)), n)


def run_baseline(prompts: list[str], max_new_tokens: int, threads: int | None = None) -> dict:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from mijabench.run.embedded import default_model_dir
    if threads is not None:
        torch.set_num_threads(threads)
    path = str(default_model_dir())
    tok = AutoTokenizer.from_pretrained(path)
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).eval()
    texts, new_tokens, prompt_tokens = [], 0, 0
    start, cpu = time.perf_counter(), time.process_time()
    for prompt in prompts:
        text = tok.apply_chat_template([{"role": "user", "content": prompt}], tokenize=False,
                                       add_generation_prompt=True)
        enc = tok(text, return_tensors="pt", add_special_tokens=False)
        with torch.no_grad():
            out = model.generate(**enc, max_new_tokens=max_new_tokens, do_sample=False,
                                 pad_token_id=tok.pad_token_id)
        new = out[0, enc["input_ids"].shape[1]:]
        new_tokens += len(new)
        prompt_tokens += enc["input_ids"].shape[1]
        texts.append(tok.decode(new, skip_special_tokens=True).strip())
    return {"texts": texts, "new_tokens": new_tokens, "prompt_tokens": prompt_tokens,
            "wall_s": time.perf_counter() - start, "cpu_s": time.process_time() - cpu,
            "settings": f"one prompt at a time, float32, dynamic cache, {torch.get_num_threads()} threads"}


def run_kit(prompts: list[str], max_new_tokens: int, options: dict) -> dict:
    from mijabench.run.embedded import default_model_dir
    from mijabench.run.local import TransformersBackend
    from mijabench.run.types import GenParams

    backend = TransformersBackend(default_model_dir(), **options)
    start, cpu = time.perf_counter(), time.process_time()
    outs = backend.generate(prompts, GenParams(max_new_tokens=max_new_tokens), progress=False)
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    run = backend.last_run
    dtype = str(backend.dtype).removeprefix("torch.")
    return {"texts": [o.text for o in outs], "errors": sum(bool(o.error) for o in outs),
            "new_tokens": run["new_tokens"], "prompt_tokens": run["prompt_tokens"],
            "wall_s": wall, "cpu_s": cpu,
            "settings": f"batch_size {backend.batch_size}, batch_tokens {backend.batch_tokens}, "
                        f"{run['batches']} batches, {dtype}, "
                        f"{'static' if backend.static_cache else 'dynamic'} cache, "
                        f"{backend.threads} threads; padded/real prompt tokens "
                        f"{run['padded_tokens'] / run['prompt_tokens']:.2f}"}


def phase(name: str, args) -> dict:
    """Runs one side in this process and returns its figures."""
    prompts = bench_prompts(args.prompts).column("prompt").to_pylist()
    options = {k: v for k, v in (("batch_size", args.batch_size), ("batch_tokens", args.batch_tokens),
                                 ("threads", args.threads)) if v is not None}
    if name == "baseline":
        result = run_baseline(prompts, args.max_new_tokens)
    elif name == "baseline-matched":  # the kit's thread choice, to show what batching alone buys
        from mijabench.run.local import set_cpu_threads
        result = run_baseline(prompts, args.max_new_tokens, set_cpu_threads(args.threads))
    else:
        result = run_kit(prompts, args.max_new_tokens,
                         dict(options, dtype="float32" if name == "kit-fp32" else args.dtype))
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return result


def verdicts(table, texts: list[str]) -> list[str]:
    import pyarrow as pa

    from mijabench.judge.registry import judge_table, make_judge
    judged = table.append_column("response", pa.array(texts)).append_column(
        "error", pa.array([""] * len(texts)))
    return judge_table(judged, make_judge(None), progress=False).column("verdict").to_pylist()


def report(table, results: dict, args) -> float:
    from transformers import AutoTokenizer

    from mijabench.run.embedded import default_model_dir
    tok = AutoTokenizer.from_pretrained(str(default_model_dir()))
    lengths = sorted(len(tok.apply_chat_template([{"role": "user", "content": p}], tokenize=True,
                                                 add_generation_prompt=True, return_dict=False))
                     for p in table.column("prompt").to_pylist())
    def q(f):
        return lengths[min(len(lengths) - 1, int(f * len(lengths)))]
    kinds = table.column("kind").to_pylist()
    print(f"{len(lengths)} prompts ({kinds.count('harmful')} attacks, {kinds.count('benign')} benign "
          f"twins; EN {table.column('language').to_pylist().count('en')}), prompt tokens with the "
          f"chat template: min {lengths[0]}, p10 {q(0.1)}, median {q(0.5)}, p90 {q(0.9)}, "
          f"max {lengths[-1]}; max_new_tokens {args.max_new_tokens}; load average "
          f"{os.getloadavg()[0]:.1f} at the end")
    base = results.get("baseline")
    base_verdicts = verdicts(table, base["texts"]) if base else None
    for name, r in results.items():
        line = (f"{name:9s} {r['new_tokens'] / r['wall_s']:6.1f} new tokens/s ({r['new_tokens']} in "
                f"{r['wall_s']:.0f} s wall, {r['cpu_s']:.0f} s CPU), {r['prompt_tokens'] / r['wall_s']:6.0f} "
                f"prompt tokens/s, peak RSS {r['peak_rss_mb']:.0f} MB; {r['settings']}")
        print(line)
        if base and name != "baseline":
            same = sum(a == b for a, b in zip(r["texts"], base["texts"]))
            agree = sum(a == b for a, b in zip(verdicts(table, r["texts"]), base_verdicts))
            ratio = (r["new_tokens"] / r["wall_s"]) / (base["new_tokens"] / base["wall_s"])
            print(f"          vs baseline: {ratio:.2f}x tokens/s (target >= {TARGET:g}x); identical "
                  f"answers {same}/{len(base['texts'])}; same verdict (default judge) "
                  f"{agree}/{len(base['texts'])}; errors {r.get('errors', 0)}")
    if base and "kit" in results:
        k = results["kit"]
        return (k["new_tokens"] / k["wall_s"]) / (base["new_tokens"] / base["wall_s"])
    return float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompts", type=int, default=48)
    parser.add_argument("--max-new-tokens", type=int, default=96)
    parser.add_argument("--phases", default="baseline,kit,kit-fp32",
                        help="comma-separated: baseline, baseline-matched, kit, kit-fp32")
    parser.add_argument("--batch-size", type=int, default=None, help="kit: rows per batch")
    parser.add_argument("--batch-tokens", type=int, default=None, help="kit: padded tokens per batch")
    parser.add_argument("--dtype", default="auto", help="kit: auto, float32, bfloat16")
    parser.add_argument("--threads", type=int, default=None, help="kit: torch threads")
    parser.add_argument("--phase", default=None, help=argparse.SUPPRESS)  # internal: one side
    parser.add_argument("--dump", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        Path(args.dump).write_text(json.dumps(phase(args.phase, args)), encoding="utf-8")
        return
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in [p.strip() for p in args.phases.split(",") if p.strip()]:
            dump = Path(tmp) / f"{name}.json"
            cmd = [sys.executable, __file__, "--phase", name, "--dump", str(dump)]
            subprocess.run(cmd + _without_phases(sys.argv[1:]), check=True)
            results[name] = json.loads(dump.read_text(encoding="utf-8"))
    ratio = report(bench_prompts(args.prompts), results, args)
    sys.exit(1 if not math.isnan(ratio) and ratio < TARGET else 0)


def _without_phases(cmd: list[str]) -> list[str]:
    """The command line minus ``--phases X`` (each child runs one phase)."""
    out, skip = [], False
    for a in cmd:
        if not skip and a != "--phases" and not a.startswith("--phases="):
            out.append(a)
        skip = a == "--phases"
    return out


if __name__ == "__main__":
    main()
