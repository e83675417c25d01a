"""The probe Space's logic: compose one attack for several groups, generate, judge, render.

``spaces/probe/app.py`` only wires widgets to these functions. Everything returns plain data
(lists of dicts, DataFrames, HTML strings), so gradio_client and the tests see what the page shows.
Bad input raises :class:`MijaError` with a one-line message; the app shows it as a visible error.
"""

from __future__ import annotations

import html
import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass

import pyarrow as pa

from mijabench import taxonomy
from mijabench.bench import compose
from mijabench.bench import material as material_mod
from mijabench.bench.material import Intent
from mijabench.errors import MijaError
from mijabench.schema import ERROR, HARMFUL, SAFE
from mijabench.space.config import SpaceConfig

log = logging.getLogger("mijabench")
SOURCES = ("intent", "custom", "seed")
VERDICT_COLUMNS = ["group", "group_name", "verdict", "outcome", "rationale", "refusal", "latency_s"]


@dataclass(frozen=True)
class ProbeRequest:
    """One visitor's choices. ``text`` is the custom intent (with ``{group}``) or the seed."""
    model: str
    language: str
    groups: tuple[str, ...]
    strategy: str
    scenario_category: str
    scenario_index: int = 0
    template_index: int = 0
    source: str = "intent"
    intent_id: str = ""
    text: str = ""
    kind: str = "harmful"


# --- choices offered to the page -----------------------------------------------------------------
def choices(language: str) -> dict:
    """Display choices for one language: ``(label, id)`` pairs the dropdowns can show."""
    material = material_mod.load(language)
    return {
        "groups": [(taxonomy.group(g).name(language), g) for g in taxonomy.groups_for(language)],
        "strategies": [(s.name(language), s.id) for s in taxonomy.strategies().values()],
        "scenario_categories": [(c.name(language), c.id)
                                for c in taxonomy.scenario_categories().values()],
        "intents": [(i.id.replace("_", " "), i.id) for i in material.intents],
    }


def all_group_choices() -> list[tuple[str, str]]:
    """Every group of every language: what API callers may send (the page narrows it by language)."""
    seen = {}
    for language in taxonomy.LANGUAGES:
        for label, group in choices(language)["groups"]:
            seen.setdefault(group, label)
    return [(label, group) for group, label in seen.items()]


def scenario_choices(language: str, category: str) -> list[tuple[str, int]]:
    """The neutral scenario sentences of a category (they never name a group)."""
    taxonomy.scenario_category(category, "scenario category")
    return [(text, i) for i, text in enumerate(material_mod.load(language).scenarios[category])]


def max_template_count() -> int:
    return max(template_count(lang, s) for lang in taxonomy.LANGUAGES for s in taxonomy.strategies())


def template_count(language: str, strategy: str) -> int:
    taxonomy.strategy(strategy, "strategy")
    return len(material_mod.load(language).templates[strategy])


# --- validation and composition -------------------------------------------------------------------
def check_request(req: ProbeRequest, config: SpaceConfig) -> None:
    limits = config.limits
    config.model(req.model)
    taxonomy.check_language(req.language, "language")
    twice = sorted({g for g in req.groups if req.groups.count(g) > 1})
    if twice:
        raise MijaError(f"groups: {twice[0]!r} is picked more than once; pick each group once")
    if len(req.groups) < 2:
        raise MijaError("groups: pick at least two groups to compare side by side")
    if len(req.groups) > limits.max_groups:
        raise MijaError(f"groups: {len(req.groups)} picked; this Space allows at most "
                        f"{limits.max_groups} per probe")
    available = taxonomy.groups_for(req.language)
    for group in req.groups:
        taxonomy.group(group, "groups")
        if group not in available:
            raise MijaError(f"groups: {group!r} is not part of the {req.language} benchmark; "
                            f"pick from: {', '.join(available)}")
    taxonomy.strategy(req.strategy, "strategy")
    taxonomy.scenario_category(req.scenario_category, "scenario category")
    if req.source not in SOURCES:
        raise MijaError(f"source: {req.source!r} is not one of {', '.join(SOURCES)}")
    if req.kind not in ("harmful", "benign"):
        raise MijaError("kind: use harmful (the attack) or benign (its respectful twin)")
    _check_text(req, limits.max_custom_chars)


def _check_text(req: ProbeRequest, cap: int) -> None:
    label = "custom intent" if req.source == "custom" else "seed"
    if req.source == "intent":
        if not req.intent_id:
            raise MijaError("intent: pick an intent from the list")
        return
    text = req.text.strip()
    if not text:
        raise MijaError(f"{label}: the text is empty; write one or pick a bundled intent")
    if len(text) > cap:
        raise MijaError(f"{label}: {len(text)} characters; this Space accepts at most {cap}")
    if req.source == "custom" and "{group}" not in text:
        raise MijaError("custom intent: write {group} where the group's name goes, so every "
                        "group gets the same request")
    if req.kind == "benign":
        raise MijaError(f"{label}: benign twins exist only for bundled intents; pick 'harmful'")


def _intent(req: ProbeRequest, material: material_mod.Material) -> Intent:
    if req.source == "intent":
        return material.intent(req.intent_id)
    text = " ".join(req.text.split())  # one line: newlines would break the template's framing
    if req.source == "seed":
        text = compose.seed_task(material, text)
    return Intent(req.source, text, text)


def compose_rows(req: ProbeRequest, config: SpaceConfig) -> list[dict]:
    """The counterfactual prompt rows: the same attack, one row per group (PROMPT_SCHEMA)."""
    check_request(req, config)
    material = material_mod.load(req.language)
    templates = material.templates[req.strategy]
    scenarios = material.scenarios[req.scenario_category]
    if not 0 <= req.scenario_index < len(scenarios):
        raise MijaError(f"scenario: index {req.scenario_index} is out of range 0-{len(scenarios) - 1}")
    if not 0 <= req.template_index < len(templates):
        raise MijaError(f"template: index {req.template_index} is out of range 0-{len(templates) - 1}")
    attack = compose.Attack(req.language, req.strategy, req.scenario_category, req.scenario_index,
                            templates[req.template_index])
    rows = compose.counterfactual_rows(attack, _intent(req, material), list(req.groups), req.kind)
    if req.source == "seed":
        for row in rows:
            row.update(seed_text=req.text.strip(), seed_source="visitor", intent_id="")
    return rows


# --- models ------------------------------------------------------------------------------------
class ModelPool:
    """Backends built lazily per allow-listed name, once, shared by all visitors."""

    def __init__(self, config: SpaceConfig):
        self.config = config
        self._backends: dict[str, object] = {}
        self._lock = threading.Lock()

    def get(self, name: str):
        entry = self.config.model(name)
        with self._lock:
            if name not in self._backends:
                from mijabench.run.backends import make_backend
                try:
                    # Few retries: a visitor waits on the page; a batch audit can retry longer.
                    self._backends[name] = make_backend(entry.spec, max_retries=1, timeout=60)
                except MijaError as exc:
                    log.error("Space model %r is misconfigured: %s", name, exc)
                    raise MijaError(f"model {name!r} is misconfigured on this Space; its owner "
                                    "can see why in the Space logs") from None
            return self._backends[name]

    def warm(self) -> None:
        """Load the first model ahead of the first visitor (run in a background thread)."""
        try:
            self.get(next(iter(self.config.models)))
        except Exception as exc:  # noqa: BLE001 -- the first probe reports it to the visitor
            log.warning("Space warm-up failed: %s", type(exc).__name__)

    def params(self):
        from mijabench.run.types import GenParams
        return GenParams(max_new_tokens=self.config.limits.max_new_tokens, temperature=0.0,
                         top_p=1.0, seed=0)


# --- probing -----------------------------------------------------------------------------------
def _cell(row: dict) -> dict:
    from mijabench.judge.base import META_COLUMNS
    # The row's claim, strategy and kind go to the judge with the response (the intent judge
    # reads them); they are not shown.
    meta = {c: row.get(c) or "" for c in META_COLUMNS if c != "language"}
    return {"group": row["group"], "group_name": row["group_name"], "prompt": row["prompt"],
            "language": row["language"], "response": "", "error": "", "latency_s": 0.0,
            "verdict": "", "outcome": "", "rationale": "", "refusal": False, "meta": meta}


def judge_cells(cells: list[dict], judge) -> list[dict]:
    """Fill verdict/outcome/rationale/refusal through ``judges.judge_table`` (its error/empty rules
    apply). ``outcome`` is the judge's category (refusal, deflection, incoherent, compliance,
    false_refusal), or "" for judges that name none."""
    from mijabench.judge.registry import judge_table
    columns = {k: [c[k] for c in cells] for k in ("prompt", "response", "language", "error")}
    for key in cells[0].get("meta", {}) if cells else ():
        columns[key] = [str(c["meta"].get(key) or "") for c in cells]
    table = pa.table(columns)
    judged = judge_table(table, judge, progress=False).to_pydict()
    for i, cell in enumerate(cells):
        outcome = judged["outcome"][i] if "outcome" in judged else ""
        cell.update(verdict=judged["verdict"][i], outcome=outcome or "",
                    rationale=judged["rationale"][i], refusal=bool(judged["refusal"][i]))
        if cell["verdict"] == ERROR:
            # The backend's own message may hold an internal URL: show a generic reason instead.
            cell["rationale"] = "generation failed: the model could not be reached or errored"
    return cells


def probe_stream(req: ProbeRequest, config: SpaceConfig, pool: ModelPool,
                 judge) -> Iterator[list[dict]]:
    """Yield the cells as they fill: partial text while streaming, then the judged result."""
    rows = compose_rows(req, config)
    backend = pool.get(req.model)
    params = pool.params()
    cells = [_cell(row) for row in rows]
    yield cells
    if hasattr(backend, "stream"):
        yield from _stream_cells(backend, cells, params)
    else:
        for cell, gen in zip(cells, generate_all(backend, [c["prompt"] for c in cells], params)):
            cell.update(response=gen.text, error=gen.error, latency_s=gen.latency_s)
    yield judge_cells(cells, judge)


STREAM_EVERY_S = 0.1  # page updates while streaming: often enough to read along, not per token


def _stream_cells(backend, cells: list[dict], params) -> Iterator[list[dict]]:
    """Stream the groups one after another into their cells."""
    import time
    last = 0.0
    for i, cell in enumerate(cells):
        for text, gen in _stream_one(backend, cell["prompt"], params):
            cell["response"] = text
            if gen is not None:
                cell.update(error=gen.error, latency_s=gen.latency_s, response=gen.text)
            if gen is not None or time.monotonic() - last >= STREAM_EVERY_S:
                last = time.monotonic()
                yield cells
        if cell["error"] and not cell["response"]:
            # Unreachable: the other groups would only wait for the same failure.
            for rest in cells[i + 1:]:
                rest["error"] = cell["error"]
            yield cells
            return


def generate_all(backend, prompts: list[str], params) -> list:
    """``backend.generate``, with a failed health check turned into per-prompt error rows.

    The backend's message names the endpoint URL, so only the exception type is kept."""
    from mijabench.run.types import Generation
    try:
        return backend.generate(prompts, params, progress=False)
    except Exception as exc:  # noqa: BLE001 -- shown as error cells plus one status line
        log.warning("Space generation failed: %s", type(exc).__name__)
        return [Generation("", type(exc).__name__, 0.0) for _ in prompts]


def _stream_one(backend, prompt: str, params):
    """(text so far, None) while streaming, then (final text, Generation)."""
    import time

    from mijabench.run.types import Generation
    start, text = time.monotonic(), ""
    try:
        for chunk in backend.stream(prompt, params):
            text += chunk
            yield text, None
    except Exception as exc:  # noqa: BLE001 -- any transport failure becomes an error cell
        log.warning("Space streaming failed: %s", type(exc).__name__)
        yield text, Generation(text, type(exc).__name__, time.monotonic() - start)
        return
    yield text.strip(), Generation(text.strip(), "", time.monotonic() - start)


def probe(req: ProbeRequest, config: SpaceConfig, pool: ModelPool, judge) -> list[dict]:
    """The final judged cells (the last state of :func:`probe_stream`)."""
    cells: list[dict] = []
    for cells in probe_stream(req, config, pool, judge):
        pass
    return cells


def status_line(cells: list[dict], model: str) -> str:
    """One line for the page: the visible message for failed generations, else a summary."""
    if not cells or not cells[0]["verdict"]:
        return f"Generating with **{model}**…"
    failed = sum(c["verdict"] == ERROR for c in cells)
    if failed:
        return (f"**{model}** failed for {failed} of {len(cells)} groups: the endpoint is "
                "unreachable or returned an error. Try again later or pick another model.")
    safe = sum(c["verdict"] == SAFE for c in cells)
    return f"**{model}** defended {safe} of {len(cells)} groups against the same attack."


def verdict_rows(cells: list[dict]) -> list[list]:
    """The verdict table (no response text: harmful content stays behind the cards' control)."""
    return [[c[k] if k != "latency_s" else round(c[k], 2) for k in VERDICT_COLUMNS] for c in cells]


# --- HTML cards -----------------------------------------------------------------------------------
_BADGE = {SAFE: ("safe", "safe"), HARMFUL: ("harmful", "harmful"), "unparsed": ("unparsed", "unparsed"),
          ERROR: ("error", "error"), "": ("pending", "generating…")}


def render_cards(cells: list[dict]) -> str:
    """Side-by-side cards. Responses judged harmful are collapsed behind a content warning."""
    cards = [_card(c) for c in cells]
    return f'<div class="mb-grid">{"".join(cards)}</div>'


def _card(cell: dict) -> str:
    css, badge = _BADGE.get(cell["verdict"], _BADGE[""])
    response = html.escape(cell["response"] or ("" if cell["verdict"] else "…"))
    if cell["verdict"] == HARMFUL:
        body = ('<details class="mb-hidden"><summary>Content warning: this response was judged '
                f'harmful and may contain hate speech. Show content</summary><pre>{response}</pre>'
                '</details>')
    else:
        body = f"<pre>{response}</pre>"
    rationale = html.escape(cell["rationale"]) if cell["rationale"] else "&nbsp;"
    prompt = html.escape(cell["prompt"])
    outcome = html.escape(cell.get("outcome") or "")
    if outcome:  # the category beside the verdict: "safe · incoherent" is not "safe · refusal"
        badge = f'{badge} · <span class="mb-outcome">{outcome.replace("_", " ")}</span>'
    return (f'<div class="mb-card mb-{css}" data-group="{html.escape(cell["group"])}" '
            f'data-verdict="{css}" data-outcome="{outcome}"><div class="mb-head"><span class="mb-group">'
            f'{html.escape(cell["group_name"])}</span><span class="mb-badge">{badge}</span></div>'
            f'<div class="mb-rationale">{rationale}</div>{body}'
            f'<details class="mb-prompt"><summary>Prompt sent</summary><pre>{prompt}</pre>'
            '</details></div>')
