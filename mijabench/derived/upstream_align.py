"""The MiJaBench authors' published Align rows as MiJaBench-Align rows (AUDIT_SCHEMA).

Each upstream row (see :mod:`mijabench.bench.upstream`) becomes one row per model, with the
model's response and the upstream judges' classes combined by our ensemble rule.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pyarrow as pa

from mijabench.bench.seeds import fold_name
from mijabench.bench.upstream import RESPONSE_PREFIX, ReleaseColumns, upstream_rows
from mijabench.errors import MijaError
from mijabench.judge.base import vote
from mijabench.schema import (
    AUDIT_SCHEMA,
    ERROR,
    HARMFUL,
    SAFE,
    UNPARSED,
    canonical_json,
    gen_key,
)

CLASS_VERDICTS = {"safe": SAFE, "segura": SAFE, "seguro": SAFE,
                  "dangerous": HARMFUL, "perigosa": HARMFUL, "perigoso": HARMFUL}
RATIONALE_KEYS = ("reason", "rationale", "justification", "explanation", "justificativa", "motivo")
UPSTREAM_GEN_PARAMS: dict = {}  # the upstream release does not record generation parameters


def parse_class(value, where: str) -> tuple[str, str]:
    """(verdict, rationale) from one ``jb_cls_*`` cell; a missing judgement is ``unparsed``."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return UNPARSED, "no judge output in the release"
    try:
        obj = json.loads(value) if isinstance(value, str) else value
    except json.JSONDecodeError:
        obj = None
    label = obj.get("class") if isinstance(obj, dict) else None
    if label is None:
        raise MijaError(f"{where}: not a JSON object with a 'class' key; expected e.g. "
                        '{"class": "safe"} (safe/dangerous or segura/perigosa)')
    verdict = CLASS_VERDICTS.get(fold_name(str(label)))
    if verdict is None:
        raise MijaError(f"{where}: class {label!r} is not one of {', '.join(CLASS_VERDICTS)}")
    rationale = next((str(obj[k]) for k in RATIONALE_KEYS if obj.get(k)), "")
    return verdict, rationale


def model_family(model: str) -> str:
    """Family from a released model name (``Llama-3.2-1B`` -> ``llama``); '' when unknown."""
    match = re.match(r"[A-Za-z]+", model.split("/")[-1])
    return match.group(0).lower() if match else ""


def model_params(model: str) -> int | None:
    """Parameter count from a name like ``Qwen2.5-7B`` or ``SmolLM2-135M``; None when absent."""
    match = re.search(r"(?<![A-Za-z0-9.])(\d+(?:\.\d+)?)\s*([BbMm])(?![A-Za-z])",
                      model.split("/")[-1].replace("_", "-"))
    if not match:
        return None
    return int(float(match.group(1)) * (1e9 if match.group(2).lower() == "b" else 1e6))


def _align_row(prompt: dict, raw: dict, model: str, cols: ReleaseColumns, where: str) -> dict:
    judged = {judge: parse_class(raw[column], f"{where} column {column!r}")
              for column, judge, owner in cols.judges if owner == model}
    response = raw[RESPONSE_PREFIX + model]
    failed = response is None
    verdicts = {j: v for j, (v, _) in judged.items()}
    # Several released judges combine by the ensemble rule our own audits use.
    verdict = ERROR if failed else (vote(list(verdicts.values())) if verdicts else UNPARSED)
    judge_ids = sorted(judged)
    return {**prompt, "model": model, "model_family": model_family(model),
            "model_params": model_params(model), "gen_params": canonical_json(UPSTREAM_GEN_PARAMS),
            "gen_key": gen_key(prompt["id"], model, UPSTREAM_GEN_PARAMS),
            "response": "" if failed else str(response),
            "error": "no response in the release" if failed else "", "latency_s": None,
            "verdict": verdict,
            "judge": judge_ids[0] if len(judge_ids) == 1 else f"ensemble[{','.join(judge_ids)}]",
            "rationale": "; ".join(f"{j}: {v}" for j, v in sorted(verdicts.items())),
            "refusal": None,  # the release does not say whether a safe answer refused
            "judge_verdicts": canonical_json({j: {"verdict": v, "rationale": r}
                                              for j, (v, r) in sorted(judged.items())})}


def align_table(path: Path) -> pa.Table:
    """Released Align rows -> one AUDIT_SCHEMA row per prompt x model."""
    cols, rows = upstream_rows(path, need_models=True)
    out = [_align_row(prompt, raw, model, cols, where)
           for where, raw, prompt in rows for model in cols.models]
    return pa.Table.from_pylist(out, schema=AUDIT_SCHEMA)
