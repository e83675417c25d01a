"""Rewriters turn a composed draft into the final jailbreak prompt.

``template`` keeps the composed text (offline, default). ``llm`` follows the paper's recipe, in
our own words (``data/rewriter.yaml``): any OpenAI-compatible endpoint gets an instruction holding
the strategy's description, one example of ours per strategy, the scenario, the premise and a
restriction layer (state the premise, never ask; name the group; ask for the prejudiced text
itself). The finished prompt ends with a prefix injection: the target is told to open with an
affirmative line.

A rewrite that refuses, drops the group, ends in a question or breaks the length limits is
rejected and asked for again (new sampling seed), up to ``max_attempts`` calls; then the row keeps
its template draft. Each row records the rewriter (``llm:<model>`` or ``template``) and the
attempts spent (``rewrite_attempts``). A counterfactual set is rewritten once with a ``[GROUP]``
marker that is then filled per group, so its groups still differ only by the group.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import pyarrow as pa
import yaml

from mijabench import taxonomy
from mijabench.bench import material as material_mod
from mijabench.errors import MijaError
from mijabench.specs import ENDPOINT, ENDPOINT_FORM, parse_model_spec, redact

log = logging.getLogger(__name__)
MARKER = "[GROUP]"
# Why a rewrite was rejected (counted in the log; the text itself is never logged).
EMPTY, REFUSED, NO_GROUP, QUESTION, TOO_SHORT, TOO_LONG = (
    "empty", "refused", "no group", "open question", "too short", "too long")


@lru_cache(maxsize=1)
def recipe() -> dict:
    text = resources.files("mijabench").joinpath("data/rewriter.yaml").read_text("utf-8")
    return yaml.safe_load(text)


class TemplateRewriter:
    name = "template"

    def apply(self, table: pa.Table) -> pa.Table:
        return table


@dataclass
class Limits:
    """What an accepted rewrite looks like; ``max_ratio`` bounds it against the draft's length."""
    min_chars: int = 200
    max_chars: int = 3000
    max_ratio: float = 6.0


def instruction(draft: str, language: str, strategy: str, scenario: str, seed: str = "",
                kind: str = "harmful") -> str:
    """The request sent to the rewriter model for one draft (its group already masked)."""
    lang = recipe()[taxonomy.check_language(language)]
    item = lang["strategies"][taxonomy.strategy(strategy).id]
    rules = lang["benign_restrictions" if kind == "benign" else "restrictions"]
    rules = "\n".join(f"- {r.format(marker=MARKER)}" for r in rules)
    return lang["instruction"].format(
        strategy=taxonomy.strategy(strategy).name(language), description=item["description"],
        example=item["example"].format(marker=MARKER), scenario=scenario or "-",
        premise=lang["premise"].format(seed=seed) if seed else "", restrictions=rules, draft=draft)


def prefix_injection(language: str) -> str:
    opening = material_mod.load(language).affirmative_opening
    return recipe()[language]["prefix_injection"].format(opening=opening)


def clean(text: str, language: str) -> str:
    """Strip what chat models wrap around an answer: a lead-in line, quotes, our own injection."""
    text = (text or "").strip()
    lowered = text.lower()
    for lead in recipe()[language]["lead_ins"]:
        if lowered.startswith(lead):
            text = text[len(lead):].strip()
            break
    injection = prefix_injection(language).split(":")[0]
    text = "\n".join(line for line in text.splitlines() if not line.startswith(injection)).strip()
    if len(text) > 1 and text[0] == text[-1] and text[0] in "\"'":
        text = text[1:-1].strip()
    return text


def rejection(text: str, draft: str, language: str, group_names: tuple[str, ...],
              limits: Limits) -> str | None:
    """Why a cleaned rewrite is unusable, or None when it is accepted."""
    if not text:
        return EMPTY
    head = text[:160].lower()
    if any(marker in head for marker in recipe()[language]["refusals"]):
        return REFUSED
    if MARKER not in text and not any(n and n.lower() in text.lower() for n in group_names):
        return NO_GROUP
    if text.rstrip().endswith("?"):
        return QUESTION
    if len(text) < limits.min_chars:
        return TOO_SHORT
    if len(text) > min(limits.max_chars, limits.max_ratio * max(len(draft), 1)):
        return TOO_LONG
    return None


@dataclass
class _Unit:
    """One LLM rewrite: a counterfactual set (every group) or a single seed row."""
    rows: list[dict]
    draft: str
    request: str
    text: str | None = None
    attempts: int = 0

    @property
    def head(self) -> dict:
        return self.rows[0]

    @property
    def is_set(self) -> bool:
        return bool(self.head["counterfactual_id"])


class LLMRewriter:
    def __init__(self, backend, limits: Limits | None = None, max_attempts: int = 3,
                 max_new_tokens: int = 512, temperature: float = 0.7, seed: int = 0):
        if max_attempts < 1:
            raise MijaError(f"--rewrite-attempts {max_attempts}: give at least 1")
        self.backend = backend
        self.name = f"llm:{backend.model_id}"
        self.limits = limits or Limits()
        self.max_attempts, self.max_new_tokens = max_attempts, max_new_tokens
        self.temperature, self.seed = temperature, seed
        self.rejected: Counter = Counter()  # reason -> rewrites rejected, for the build log

    def apply(self, table: pa.Table) -> pa.Table:
        rows = table.to_pylist()
        units = [self._unit(group) for group in _units(rows).values()]
        for attempt in range(1, self.max_attempts + 1):
            pending = [u for u in units if u.text is None]
            if not pending:
                break
            self._attempt(pending, attempt)
        for unit in units:
            self._finish(unit)
        if self.rejected:
            log.info("LLM rewriter %s: rejected %s", self.name,
                     ", ".join(f"{n} {reason}" for reason, n in sorted(self.rejected.items())))
        return pa.Table.from_pylist(rows, schema=table.schema)

    def _unit(self, rows: list[dict]) -> _Unit:
        head = rows[0]
        draft = head["prompt"].replace(head["group_name"], MARKER)
        request = instruction(draft, head["language"], head["strategy"], head["scenario"],
                              head.get("seed_text") or "", head.get("kind") or "harmful")
        return _Unit(rows, draft, request)

    def _attempt(self, pending: list[_Unit], attempt: int) -> None:
        from mijabench.run.types import GenParams

        # A new seed per attempt, so a retry samples a different rewrite.
        params = GenParams(max_new_tokens=self.max_new_tokens, temperature=self.temperature,
                           seed=self.seed + attempt)
        outputs = self.backend.generate([u.request for u in pending], params, progress=False)
        for unit, out in zip(pending, outputs):
            unit.attempts = attempt
            language = unit.head["language"]
            text = "" if out.error else clean(out.text, language)
            # A set's text is filled for every group, so only the marker can name its group.
            names = () if unit.is_set else (unit.head["group_name"],)
            reason = rejection(text, unit.draft, language, names, self.limits)
            if reason is None:
                unit.text = text
            else:
                self.rejected[reason] += 1

    def _finish(self, unit: _Unit) -> None:
        for row in unit.rows:
            row["rewrite_attempts"] = unit.attempts
            if unit.text is None:  # budget spent: the template draft stays
                row["rewriter"] = "template"
                continue
            body = unit.text.replace(MARKER, row["group_name"])
            row["prompt"] = f"{body}\n\n{prefix_injection(row['language'])}"
            row["rewriter"] = self.name


def _units(rows: list[dict]) -> dict[str, list[dict]]:
    """One LLM call per counterfactual set, or per row for seed prompts."""
    units: dict[str, list[dict]] = {}
    for row in rows:
        units.setdefault(row["counterfactual_id"] or row["id"], []).append(row)
    return units


def make_rewriter(spec: str | None, max_attempts: int = 3):
    """``template`` (default) or ``llm:URL[|URL...][#model]`` (endpoint syntax: mijabench.specs)."""
    if spec in (None, "", "template"):
        return TemplateRewriter()
    if spec.startswith("llm:"):
        from mijabench.run.endpoints import EndpointBackend
        endpoint = parse_model_spec(spec[4:], "--rewriter", kinds=(ENDPOINT,), prefix="llm:")
        return LLMRewriter(EndpointBackend(list(endpoint.urls), model=endpoint.served_model),
                           max_attempts=max_attempts)
    raise MijaError(f"--rewriter {redact(spec)}: unknown rewriter; valid rewriters: template, "
                    f"llm:{ENDPOINT_FORM}")
