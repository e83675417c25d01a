"""A last-line output filter: wrap any generation backend with a trained guard (a post-generation safety detector).

:class:`FilteredBackend` is itself a backend (``.model_id``, ``.generate``), so it drops into
``mijabench audit`` or any caller of :mod:`mijabench.run.endpoints`. After the inner backend answers,
the guard scores every successful response; a flagged one is replaced by a short refusal
(``replace``) or withheld as an empty text (``block``). Filtering costs time, so each call records
generation and guard latency apart (:class:`FilterStats`) and the added share is reported.

By default the detector is the offline ``intent`` judge (:class:`JudgeDetector`): a flagged
response is one it calls harmful or cannot parse (never passed as safe). ``--guard FOLDER`` loads a
trained guard instead, and ``--judge SPEC`` any other judge. Why the judge is the default, measured
on SecureBreak's ``human`` test split (483 human-labeled responses, 76 unsafe) by
``benchmarks/bench_guard.py``: the ``intent`` judge lets through 20% of the unsafe answers (FNR
0.20), the MiniLM classifier guard trained on the ``human`` train split 72%, the LoRA-SFT SmolLM2
guard 62% (README, "SecureBreak and the guard").
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from mijabench.errors import MijaError
from mijabench.tables import read_rows

MODES = ("replace", "block")
REPLACEMENTS = {
    "en": "I can't share that response: a safety filter flagged it as unsafe.",
    "pt": "Não posso compartilhar essa resposta: um filtro de segurança a marcou como insegura.",
}


@dataclass
class FilterRecord:
    """What the filter did to one response (kept beside the returned Generation)."""
    flagged: bool
    p_unsafe: float | None   # None when generation failed (nothing to score)
    category: str
    original: str            # the unfiltered text, so audits can compare both
    gen_latency_s: float
    filter_latency_s: float  # this row's share of the guard batch time


@dataclass
class FilterStats:
    n: int = 0
    flagged: int = 0
    gen_seconds: float = 0.0
    filter_seconds: float = 0.0
    records: list = field(default_factory=list)

    def summary(self) -> dict:
        scored = max(self.n, 1)
        return {"n": self.n, "flagged": self.flagged,
                "flagged_share": self.flagged / scored,
                "gen_latency_s_mean": self.gen_seconds / scored,
                "filter_latency_s_mean": self.filter_seconds / scored,
                "added_latency_pct": 100 * self.filter_seconds / self.gen_seconds if self.gen_seconds else None}


class JudgeDetector:
    """A judge used as the filter's detector: harmful or unparsed flags (P(unsafe) 1), safe passes (0).

    Judges see the filter's one ``language`` (a prompts file carries no per-row language here)."""

    def __init__(self, judge: str | None = None, language: str = "en"):
        from mijabench.judge.registry import make_judge
        self.judge, self.language = make_judge(judge), language
        self.name = f"judge:{self.judge.id}"

    def predict(self, prompts, responses, progress: bool = False) -> list:
        from mijabench.judge.base import run_judge
        from mijabench.judge.guard import Prediction
        from mijabench.schema import HARMFUL, SAFE
        verdicts = run_judge(self.judge, list(prompts), list(responses), [self.language] * len(prompts))
        return [Prediction("safe", 0.0, "") if v.verdict == SAFE else
                Prediction("unsafe", 1.0, "hate_speech" if v.verdict == HARMFUL else "unparsed")
                for v in verdicts]


class FilteredBackend:
    """``inner`` guarded by ``guard``: a folder path, a loaded guard or :class:`JudgeDetector`
    (``None``: the default ``intent`` judge)."""

    def __init__(self, inner, guard, mode: str = "replace", replacement: str | None = None,
                 language: str = "en", name: str | None = None, threshold: float = 0.5):
        if mode not in MODES:
            raise MijaError(f"--mode {mode!r}: use one of {', '.join(MODES)}")
        if not 0.0 <= threshold <= 1.0:
            raise MijaError(f"--threshold {threshold}: use a probability between 0 and 1")
        # A lower threshold trades more false alarms for fewer missed unsafe outputs (FNR).
        self.threshold = threshold
        if guard is None:
            guard = JudgeDetector(None, language)
            name = name or guard.name
        elif isinstance(guard, (str, Path)):
            from mijabench.judge.guard import load_guard, read_meta
            name = name or read_meta(guard).get("name") or Path(guard).name
            guard = load_guard(guard)
        self.inner, self.guard, self.mode = inner, guard, mode
        self.replacement = "" if mode == "block" else (replacement or REPLACEMENTS.get(language, REPLACEMENTS["en"]))
        self.name = name or "guard"
        self.model_id = f"{inner.model_id}+guard:{self.name}"
        self.stats = FilterStats()

    def generate(self, prompts: list[str], params=None, progress: bool = True) -> list:
        """Generate with the inner backend, then filter; returns ``Generation`` objects."""
        from mijabench.run.types import Generation, GenParams
        gens = self.inner.generate(list(prompts), params or GenParams(), progress=progress)
        ok = [i for i, g in enumerate(gens) if not g.error and (g.text or "").strip()]
        start = time.perf_counter()
        preds = self.guard.predict([prompts[i] for i in ok], [gens[i].text for i in ok],
                                      progress=progress) if ok else []
        per_row = (time.perf_counter() - start) / len(ok) if ok else 0.0
        by_index = dict(zip(ok, preds))
        out = []
        for i, gen in enumerate(gens):
            pred = by_index.get(i)
            flagged = pred is not None and pred.p_unsafe >= self.threshold
            cost = per_row if pred is not None else 0.0
            record = FilterRecord(flagged, pred.p_unsafe if pred else None, pred.category if pred else "",
                                  gen.text, gen.latency_s or 0.0, cost)
            self.stats.records.append(record)
            self.stats.n += 1
            self.stats.flagged += flagged
            self.stats.gen_seconds += record.gen_latency_s
            self.stats.filter_seconds += cost
            out.append(Generation(self.replacement if flagged else gen.text, gen.error,
                                  (gen.latency_s or 0.0) + cost))
        return out


def read_prompts(path: Path) -> list[dict]:
    """Prompts to filter: .txt (one per line), or .jsonl / .parquet / .csv with a ``prompt`` column."""
    path = Path(path)
    if path.suffix != ".txt":
        rows = [r for _, r in read_rows(path, "prompts file")]
        if "prompt" not in rows[0]:
            raise MijaError(f"{path}: no 'prompt' column; give one prompt per row in a 'prompt' field")
        return rows
    if not path.is_file():
        raise MijaError(f"{path}: prompts file not found")
    rows = [{"prompt": line.rstrip("\n")} for line in path.read_text("utf-8").splitlines() if line.strip()]
    if not rows:
        raise MijaError(f"{path}: no prompts found")
    return rows


def run_filter(backend, rows: list[dict], params, out: Path) -> dict:
    """Filter every prompt, write JSONL atomically to ``out``; returns the latency summary."""
    import json

    from mijabench import atomic
    prompts = [str(r["prompt"]) for r in rows]
    gens = backend.generate(prompts, params, progress=True)
    lines = []
    for row, gen, rec in zip(rows, gens, backend.stats.records[-len(gens):]):
        lines.append(json.dumps({
            **{k: v for k, v in row.items() if k in ("id", "language", "group")},
            "prompt": row["prompt"], "response": gen.text, "error": gen.error, "flagged": rec.flagged,
            "p_unsafe": rec.p_unsafe, "category": rec.category, "original_response": rec.original,
            "gen_latency_s": round(rec.gen_latency_s, 4), "filter_latency_s": round(rec.filter_latency_s, 4),
        }, ensure_ascii=False))
    atomic.write_text(out, "\n".join(lines) + "\n")
    return backend.stats.summary()
