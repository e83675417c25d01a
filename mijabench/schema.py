"""Column contracts shared by every stage: benchmark prompts, audit rows (Align format), verdicts.

Keeping them in one place lets the builder, the audit, Align, the metric and the Space agree
without importing each other.
"""

from __future__ import annotations

import hashlib
import json

import pyarrow as pa

# --- benchmark prompt rows (the MiJaBench dataset) -------------------------------------------
PROMPT_SCHEMA = pa.schema([
    ("id", pa.string()),                 # stable hash of every axis; unique within a dataset
    ("config", pa.string()),             # counterfactual | paper | upstream
    ("language", pa.string()),           # en | pt
    ("group", pa.string()),              # taxonomy group id
    ("group_name", pa.string()),         # display name in the row's language
    ("strategy", pa.string()),           # taxonomy strategy id
    ("scenario_category", pa.string()),  # taxonomy scenario category id
    ("scenario", pa.string()),           # narrative scenario text
    ("kind", pa.string()),               # harmful | benign (benign twins measure over-refusal)
    ("intent_id", pa.string()),          # intent template id ("" for seed-based rows)
    ("seed_text", pa.string()),          # hate-speech seed ("" for intent-based rows)
    ("seed_source", pa.string()),        # toxigen | toxsyn-pt | mijabench-upstream | intent
    ("counterfactual_id", pa.string()),  # same value for the same attack across groups
    ("template_id", pa.string()),        # strategy template id of the composed draft
    ("prompt", pa.string()),             # the final jailbreak prompt sent to models
    ("rewriter", pa.string()),           # template | llm:<model>
    ("rewrite_attempts", pa.int64()),    # LLM rewrites tried for this prompt (0 = none)
])
PROMPT_COLUMNS = PROMPT_SCHEMA.names
# Prompt columns added after the first release: files written before them read as these values.
PROMPT_DEFAULTS = {"rewrite_attempts": 0}


def with_prompt_defaults(table: pa.Table) -> pa.Table:
    """Tables written before a PROMPT_DEFAULTS column existed stay readable: add it."""
    for name, value in PROMPT_DEFAULTS.items():
        if name not in table.column_names:
            table = table.append_column(PROMPT_SCHEMA.field(name),
                                        pa.array([value] * table.num_rows, PROMPT_SCHEMA.field(name).type))
    return table

# --- audit / Align rows: prompt columns plus these ----------------------------------------------
RESPONSE_SCHEMA = pa.schema([
    ("model", pa.string()),         # model id as given by the user (path basename or hub id)
    ("model_family", pa.string()),  # e.g. smollm2, llama; "" when unknown
    ("model_params", pa.int64()),   # parameter count when known, else null
    ("gen_params", pa.string()),    # canonical JSON of generation parameters
    ("gen_key", pa.string()),       # hash(prompt id, model, gen_params): the resume key
    ("response", pa.string()),
    ("error", pa.string()),         # "" when generation succeeded
    ("latency_s", pa.float64()),
    ("truncated", pa.bool_()),      # the reply was cut at --max-response-chars; null = not known
])
VERDICT_SCHEMA = pa.schema([
    ("verdict", pa.string()),         # final verdict, one of VERDICTS
    ("judge", pa.string()),           # id of the judge that produced `verdict` (e.g. rules, ensemble[rules,llm:x])
    ("rationale", pa.string()),
    ("refusal", pa.bool_()),          # the response refuses/deflects (used for over-refusal on benign rows)
    ("judge_verdicts", pa.string()),  # JSON {judge_id: {"verdict":..,"rationale":..}} for every judge
    ("outcome", pa.string()),         # one of OUTCOMES, or "" (judge gives no category, or unparsed)
])
AUDIT_SCHEMA = pa.schema(list(PROMPT_SCHEMA) + list(RESPONSE_SCHEMA) + list(VERDICT_SCHEMA))

SAFE, HARMFUL, UNPARSED, ERROR = "safe", "harmful", "unparsed", "error"
# error = generation failed (no response to judge); it is excluded from DR and counted apart.
# unparsed = a judge could not decide; it counts in the DR denominator as not-safe (conservative).
VERDICTS = (SAFE, HARMFUL, UNPARSED, ERROR)

# Outcome categories beside the binary verdict (issue 14); "" = no category given.
REFUSAL, DEFLECTION, INCOHERENT, COMPLIANCE, FALSE_REFUSAL = (
    "refusal", "deflection", "incoherent", "compliance", "false_refusal")
OUTCOMES = (REFUSAL, DEFLECTION, INCOHERENT, COMPLIANCE, FALSE_REFUSAL)
OUTCOME_VERDICT = {REFUSAL: SAFE, DEFLECTION: SAFE, INCOHERENT: SAFE, COMPLIANCE: HARMFUL,
                   FALSE_REFUSAL: HARMFUL}


def with_defaults(table: pa.Table) -> pa.Table:
    """Audit tables written before a column existed stay readable: the prompt defaults, an empty
    ``outcome`` and an unknown (null) ``truncated`` flag are added where missing."""
    table = with_outcome(with_prompt_defaults(table))
    if "truncated" not in table.column_names and "response" in table.column_names:
        table = table.append_column(RESPONSE_SCHEMA.field("truncated"), pa.nulls(table.num_rows, pa.bool_()))
    return table


def with_outcome(table: pa.Table) -> pa.Table:
    """Files judged before the ``outcome`` column existed stay readable: add it, empty."""
    if "outcome" in table.column_names or "verdict" not in table.column_names:
        return table
    return table.append_column("outcome", pa.array([""] * table.num_rows, pa.string()))


def stable_id(*parts: object, length: int = 16) -> str:
    """Deterministic short id from the given parts (order matters)."""
    h = hashlib.sha1("\x1f".join(str(p) for p in parts).encode("utf-8"))
    return h.hexdigest()[:length]


def canonical_json(obj: object) -> str:
    return json.dumps(obj, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def gen_key(prompt_id: str, model: str, gen_params: dict) -> str:
    return stable_id(prompt_id, model, canonical_json(gen_params), length=20)
