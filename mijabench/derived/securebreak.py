"""SecureBreak: import hand-labeled LLM outputs into one schema, deduplicate, split, write.

SecureBreak rows are (prompt, response) pairs with per-annotator safe/unsafe labels and a risk
category, for training detectors that sit after a model. The pipeline:

1. :mod:`mijabench.derived.securebreak_import`: CSV / JSONL / Parquet + a column-mapping YAML; every row
   is validated (empty response, missing or unknown label, unknown category) and gets a final label
   by the configured rule (:func:`final_label`; ``conservative`` = unsafe if any annotator says so).
2. ``from_align``: MiJaBench-Align audit rows become SecureBreak rows whose labels come from the
   judge, kept in ``judge_labels`` (never in ``annotator_labels``) with ``label_source = judge``.
3. ``dedupe``: rows whose normalised (prompt, response) hash collide are merged *before* splitting,
   so no text can sit in two splits (no train/test leakage), human labels winning over judge labels.
4. ``split``: stratified by (risk_category, final_label), deterministic for a seed.

The card lives in :mod:`mijabench.derived.securebreak_dataset`; the CLI in :mod:`mijabench.cli.guard`.
"""

from __future__ import annotations

import json
import random
import re
import unicodedata
from pathlib import Path

import pyarrow as pa

from mijabench.errors import MijaError, unknown_name
from mijabench.risk import SAFE_LABEL, UNSAFE_LABEL, vocabulary
from mijabench.schema import HARMFUL, SAFE, stable_id

HUMAN, JUDGE = "human", "judge"
RULES = ("conservative", "majority", "strict")
SPLITS = ("train", "validation", "test")

_VOTE = pa.struct([("annotator", pa.string()), ("label", pa.string())])
SECUREBREAK_SCHEMA = pa.schema([
    ("id", pa.string()),               # normalised hash of (prompt, response): the dedup key
    ("source", pa.string()),           # securebreak | mijabench-align | the mapping's `source`
    ("origin", pa.string()),           # input file name and row/line, for tracing back
    ("language", pa.string()),         # en | pt | ... ("" when unknown)
    ("prompt", pa.string()),
    ("response", pa.string()),
    ("source_model", pa.string()),     # the model that wrote the response
    ("attack_type", pa.string()),      # jailbreak strategy / attack family ("" when none)
    ("risk_category", pa.string()),    # a category id of data/securebreak.yaml
    ("annotator_labels", pa.list_(_VOTE)),  # human labels only
    ("judge_labels", pa.list_(_VOTE)),      # automatic judge labels only (MiJaBench-Align)
    ("final_label", pa.string()),      # safe | unsafe
    ("label_source", pa.string()),     # human | judge
    ("label_rule", pa.string()),       # conservative | majority | strict | judge:<judge id>
    ("outcome", pa.string()),          # annotators' outcome category (refusal, compliance, ...) or ""
    ("adjudicated_label", pa.string()),  # adjudicator's safe|unsafe, "" when not adjudicated
    ("adjudication_note", pa.string()),  # why (the guide rule applied); decides the row when set
    ("source_split", pa.string()),     # split in the labeled source (dev | test) or "": test stays test
])
STRATA = ("risk_category", "final_label")


def category_key(value: object) -> str:
    return re.sub(r"[\s\-/]+", "_", str(value).strip().lower())


def parse_category(value: object, where: str, extra: dict | None = None) -> str:
    vocab = vocabulary()
    key = category_key(value) if value is not None else ""
    if not key:
        raise MijaError(f"{where}: field risk_category is empty; give every row a category "
                        f"({', '.join(vocab.categories)})")
    aliases = {**vocab.category_aliases, **{category_key(k): v for k, v in (extra or {}).items()}}
    key = aliases.get(key, key)
    if key not in vocab.categories:
        raise unknown_name("risk category", str(value), list(vocab.categories), where)
    return key


def label_key(value: object) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip().lower()


def parse_label(value: object, where: str, extra: dict | None = None) -> str | None:
    """``safe``/``unsafe`` for a known alias, None for an empty cell; MijaError otherwise."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, float) and value != value:  # NaN from pandas-written files
        return None
    key = label_key(value)
    found = {**vocabulary().label_aliases, **(extra or {})}.get(key)
    if found is None:
        raise MijaError(f"{where}: unknown label value {key[:20]!r}; accepted: safe/unsafe, 0/1, "
                        "segura/perigosa ... (see mijabench/data/securebreak.yaml) or add it to "
                        "label_aliases in the mapping YAML")
    return found


def final_label(labels: list[str], rule: str, where: str, adjudicated: str | None = None,
                note: str = "") -> str:
    """Combine per-annotator labels by ``rule`` (see ``rules`` in data/securebreak.yaml).

    A documented adjudication (an adjudicated label *and* a non-empty note naming why) decides the
    row under every rule; an adjudicated label without a note is ignored, so it cannot silently
    turn an annotator's unsafe into safe.
    """
    if adjudicated and note.strip():
        return adjudicated
    n_unsafe = labels.count(UNSAFE_LABEL)
    if rule == "strict" and 0 < n_unsafe < len(labels):
        raise MijaError(f"{where}: annotators disagree ({n_unsafe} unsafe, {len(labels) - n_unsafe} "
                        "safe) under rule 'strict'; adjudicate the row or use rule: conservative")
    if rule == "majority":
        return UNSAFE_LABEL if 2 * n_unsafe >= len(labels) else SAFE_LABEL
    return UNSAFE_LABEL if n_unsafe else SAFE_LABEL


# --- splits ----------------------------------------------------------------------------------
def parse_splits(text: str) -> dict:
    """``train=0.8,validation=0.1,test=0.1`` -> dict (checked)."""
    out = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, _, value = part.partition("=")
        try:
            out[name.strip()] = float(value)
        except ValueError:
            raise MijaError(f"--splits: {part!r} is not NAME=FRACTION (e.g. train=0.8,validation=0.1,test=0.1)") from None
    check_splits(out, "--splits")
    return out


def check_splits(splits: dict, where: str) -> None:
    for name in splits:
        if name not in SPLITS:
            raise unknown_name("split", name, list(SPLITS), where)
    total = sum(float(v) for v in splits.values())
    if abs(total - 1.0) > 1e-6 or any(float(v) < 0 for v in splits.values()) or "test" not in splits:
        raise MijaError(f"{where}: splits must include test and their fractions must be >= 0 and sum "
                        f"to 1 (got {total:g})")


def make_row(prompt: str, response: str, category: str, final: str, *, source: str, origin: str,
             language: str = "", source_model: str = "", attack_type: str = "",
             annotator_labels: list | None = None, judge_labels: list | None = None,
             label_source: str = HUMAN, label_rule: str = "conservative", outcome: str = "",
             adjudicated_label: str = "", adjudication_note: str = "", source_split: str = "") -> dict:
    return {"id": text_hash(prompt, response), "source": source, "origin": origin,
            "language": language, "prompt": prompt, "response": response,
            "source_model": source_model, "attack_type": attack_type, "risk_category": category,
            "annotator_labels": annotator_labels or [], "judge_labels": judge_labels or [],
            "final_label": final, "label_source": label_source, "label_rule": label_rule,
            "outcome": outcome, "adjudicated_label": adjudicated_label,
            "adjudication_note": adjudication_note, "source_split": source_split}


# --- MiJaBench-Align -> SecureBreak ------------------------------------------------------------
ALIGN_SOURCE = "mijabench-align"
_JUDGE_TO_LABEL = {SAFE: SAFE_LABEL, HARMFUL: UNSAFE_LABEL}


def read_align(path: Path) -> pa.Table:
    """Judged rows from an audit run folder / audit .parquet, or a built MiJaBench-Align folder."""
    from mijabench.derived import mijabench_align
    path = Path(path)
    if path.is_dir() and (path / "audit.parquet").is_file():
        return mijabench_align.read_run(path)
    if not path.exists():
        raise MijaError(f"{path}: not found; pass an audit run folder, an audit .parquet or an Align folder")
    return mijabench_align.read_align(path)


def from_align(table: pa.Table, where: str = "align") -> list[dict]:
    """SecureBreak rows from judged MiJaBench(-Align) rows; unparsed/error verdicts are skipped.

    MiJaBench attacks ask for hate speech, so every row's risk category is ``hate_speech``; the
    attack type is the jailbreak strategy (``benign`` for the benign twins).
    """
    need = ("prompt", "response", "verdict", "judge", "judge_verdicts")
    missing = [c for c in need if c not in table.column_names]
    if missing:
        raise MijaError(f"{where}: not a judged audit/Align table (missing columns {', '.join(missing)}); "
                        "run mijabench audit first")
    out = []
    for i, r in enumerate(table.to_pylist()):
        final = _JUDGE_TO_LABEL.get(r["verdict"])
        if final is None or not (r.get("response") or "").strip():
            continue
        members = json.loads(r["judge_verdicts"] or "{}")
        votes = [{"annotator": jid, "label": _JUDGE_TO_LABEL.get(m.get("verdict"), m.get("verdict"))}
                 for jid, m in sorted(members.items())] or [{"annotator": r["judge"], "label": final}]
        attack = r.get("strategy", "") if r.get("kind", "harmful") != "benign" else "benign"
        out.append(make_row(r["prompt"], r["response"], "hate_speech", final, source=ALIGN_SOURCE,
                            origin=f"{Path(where).name} row {i + 1}", language=r.get("language") or "",
                            source_model=r.get("model") or "", attack_type=attack or "",
                            judge_labels=votes, label_source=JUDGE, label_rule=f"judge:{r['judge']}"))
    return out


# --- dedupe and split --------------------------------------------------------------------------
def normalise(text: str) -> str:
    """Case, Unicode form, punctuation and whitespace differences do not make a new example."""
    text = unicodedata.normalize("NFKC", text or "").casefold()
    return " ".join(re.sub(r"[\W_]+", " ", text).split())


def text_hash(prompt: str, response: str) -> str:
    return stable_id(normalise(prompt), normalise(response), length=20)


def dedupe(rows: list[dict], rule: str = "conservative") -> tuple[list[dict], int]:
    """One row per normalised hash; returns (rows, number removed).

    Human rows win over judge rows; duplicate human rows pool their annotator labels and the rule
    is applied again (so under ``strict`` a duplicate with a conflicting label is an error). A
    text that sits in any source's test split keeps ``source_split = test`` (it stays in test).
    """
    groups: dict[str, list[dict]] = {}
    for row in rows:
        groups.setdefault(row["id"], []).append(row)
    out = []
    for rid, group in groups.items():
        human = [r for r in group if r["label_source"] == HUMAN]
        keep = dict((human or group)[0])
        if len(human) > 1:
            votes = [v for r in human for v in r["annotator_labels"]]
            where = " and ".join(r["origin"] for r in human[:2])
            keep["annotator_labels"] = votes
            adjudicated = next((r for r in human if r.get("adjudication_note")), keep)
            keep.update({k: adjudicated.get(k, "") for k in ("adjudicated_label", "adjudication_note")})
            keep["final_label"] = final_label([v["label"] for v in votes], rule, f"duplicate rows {where}",
                                              keep["adjudicated_label"], keep["adjudication_note"])
        elif not human and len(group) > 1:
            keep["judge_labels"] = [v for r in group for v in r["judge_labels"]]
            keep["final_label"] = UNSAFE_LABEL if any(r["final_label"] == UNSAFE_LABEL for r in group) \
                else SAFE_LABEL
        if any(r.get("source_split") == "test" for r in group):
            keep["source_split"] = "test"
        out.append(keep)
    return out, len(rows) - len(out)


def allocate(n: int, fractions: dict) -> dict:
    """Split sizes by largest remainder; with n >= #splits every split gets at least one row."""
    names = list(fractions)
    counts = {s: int(n * fractions[s]) for s in names}
    order = sorted(names, key=lambda s: (-(n * fractions[s] - counts[s]), names.index(s)))
    for s in order[: n - sum(counts.values())]:
        counts[s] += 1
    positive = [s for s in names if fractions[s] > 0]
    if n >= len(positive):
        for s in positive:
            if counts[s] == 0:
                donor = max(names, key=lambda d: counts[d])
                counts[donor] -= 1
                counts[s] += 1
    return counts


def split(rows: list[dict], fractions: dict, seed: int = 0, by: tuple = STRATA) -> dict[str, list[dict]]:
    """Stratified by ``by`` (default risk_category, final_label); same rows + seed, same splits.

    Rows whose labeled source put them in its test split (``source_split = test``) all go to
    ``test``, so a held-out response is never trained on; the others are split by ``fractions``.
    """
    strata: dict[tuple, list[dict]] = {}
    pinned = []
    for row in sorted(rows, key=lambda r: r["id"]):
        if row.get("source_split") == "test":
            pinned.append(row)
            continue
        strata.setdefault(tuple(row[c] for c in by), []).append(row)
    out = {s: [] for s in fractions}
    out["test"] = out.get("test", []) + pinned
    for key in sorted(strata):
        members = strata[key]
        random.Random(f"{seed}-" + "-".join(key)).shuffle(members)
        start = 0
        for name, count in allocate(len(members), fractions).items():
            out[name] += members[start:start + count]
            start += count
    return {s: sorted(r, key=lambda x: x["id"]) for s, r in out.items()}


def to_table(rows: list[dict]) -> pa.Table:
    return pa.Table.from_pylist(rows, schema=SECUREBREAK_SCHEMA)
