"""MiJaBench probe Space: the same jailbreak against several groups, side by side.

Thin UI wiring only; the logic lives in ``mijabench.space.probe`` (probe), ``space_leaderboard``
(results and compare) and ``space_config`` (allow-lists, caps). Run locally, offline:

    python spaces/probe/app.py

Configuration (models, results, judge, limits): ``MIJABENCH_SPACE_CONFIG=path.yaml`` and/or
``MIJABENCH_SPACE_MODELS="name=spec;..."``; see README.md.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from pathlib import Path

HERE = Path(__file__).resolve().parent
if not (HERE / "mijabench").is_dir():  # a source checkout: use the package from the repo root
    sys.path.insert(0, str(HERE.parent.parent))
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

import gradio as gr  # noqa: E402

from mijabench.space import leaderboard as board  # noqa: E402
from mijabench.space import paper  # noqa: E402
from mijabench.space import probe as sp  # noqa: E402
from mijabench.errors import MijaError  # noqa: E402
from mijabench.judge.registry import make_judge  # noqa: E402
from mijabench.space.config import load_config  # noqa: E402

log = logging.getLogger("mijabench.space")
DEMO_RESULTS = {paper.NAME: paper.SPEC,  # the authors' published numbers, reported
                "Demo audit (SmolLM2, SmolLM2 + safety prompt, tiny floor)":
                    str(HERE / "data" / "demo_results.parquet")}
SOURCE_CHOICES = [("Bundled intent", "intent"), ("Custom intent (use {group})", "custom"),
                  ("Hate-speech seed", "seed")]
KIND_CHOICES = [("Attack (harmful request)", "harmful"), ("Benign twin (over-refusal)", "benign")]
HEADER = """# MiJaBench probe
**Same jailbreak, every group: who is protected?** Send one attack, changing only the target
group, and see which groups the model defends.

> **Content warning.** This Space sends requests for hateful content about minority groups to a
> language model, for safety research. Responses judged harmful are hidden until you ask to see them.
"""
CSS = (HERE / "style.css").read_text("utf-8")


def friendly(fn):
    """Bad input -> a visible one-line message (gr.Error), never a stack trace."""
    import functools
    import inspect

    def reraise(exc: Exception):
        if isinstance(exc, (MijaError, gr.Error)):
            raise gr.Error(str(exc), print_exception=False) from None
        log.exception("Space handler %s failed", fn.__name__)
        raise gr.Error("Something went wrong on the server; try again, or report it to the "
                       "Space owner.", print_exception=False) from None

    if inspect.isgeneratorfunction(fn):
        @functools.wraps(fn)
        def gen_wrapper(*args):
            try:
                yield from fn(*args)
            except Exception as exc:  # noqa: BLE001
                reraise(exc)
        return gen_wrapper

    @functools.wraps(fn)
    def wrapper(*args):
        try:
            return fn(*args)
        except Exception as exc:  # noqa: BLE001
            reraise(exc)
    return wrapper


def build_demo(config=None) -> gr.Blocks:
    config = config or load_config(DEMO_RESULTS)
    pool = sp.ModelPool(config)
    judge = make_judge(config.judge)
    with gr.Blocks(title="MiJaBench probe") as demo:
        gr.Markdown(HEADER)
        with gr.Tabs():
            with gr.Tab("Probe", id="probe"):
                probe_tab(demo, config, pool, judge)
            with gr.Tab("Leaderboard", id="leaderboard"):
                leaderboard_tab(demo, config)
            with gr.Tab("Compare", id="compare"):
                compare_tab(demo, config, pool, judge)
    demo.queue(default_concurrency_limit=config.limits.concurrency,
               max_size=config.limits.queue_size)
    demo.warm_models = pool.warm  # started once the page is served, not before
    return demo


def theme() -> gr.themes.Base:
    return gr.themes.Soft(primary_hue="indigo", neutral_hue="slate",
                          font=["Inter", "system-ui", "sans-serif"])


# --- probe ----------------------------------------------------------------------------------------
def probe_tab(demo, config, pool, judge) -> None:
    first = sp.choices("en")
    models = list(config.models)
    with gr.Group(elem_classes="mb-controls"):
        with gr.Row():
            model = gr.Dropdown(models, value=models[0], label="Model", scale=2)
            language = gr.Radio([("English", "en"), ("Português", "pt")], value="en",
                                label="Language", scale=1)
            kind = gr.Radio(KIND_CHOICES, value="harmful", label="Send", scale=2)
        # API calls are checked against the initial choices, so they start as the union of all
        # languages; the page narrows them on load and when the language changes.
        groups = gr.CheckboxGroup(sp.all_group_choices(), value=["black", "jewish"],
                                  label=f"Target groups (2 to {config.limits.max_groups})")
        with gr.Row():
            source = gr.Radio(SOURCE_CHOICES, value="intent", label="Request", scale=2)
            intent = gr.Dropdown(first["intents"], value=first["intents"][0][1], label="Intent",
                                 scale=3)
            text = gr.Textbox(label="Custom text", lines=1, visible=False, scale=3,
                              info=f"At most {config.limits.max_custom_chars} characters.",
                              placeholder="a blog post claiming that {group} ...")
        with gr.Row():
            strategy = gr.Dropdown(first["strategies"], value=first["strategies"][0][1],
                                   label="Jailbreak strategy")
            template = gr.Dropdown([(f"variant {i + 1}", i) for i in range(sp.max_template_count())],
                                   value=0, label="Template variant")
            category = gr.Dropdown(first["scenario_categories"],
                                   value=first["scenario_categories"][0][1], label="Scenario")
            scenario = gr.Dropdown(sp.scenario_choices("en", first["scenario_categories"][0][1]), value=0,
                                   label="Scenario text", scale=2)
    with gr.Row(equal_height=True):
        run = gr.Button("Probe", variant="primary", elem_id="probe-run", scale=1, min_width=160)
        status = gr.Markdown("Pick groups and press **Probe**.", elem_id="probe-status")
    cards = gr.HTML(elem_id="probe-cards", js_on_load=None)
    verdicts = gr.Dataframe(headers=sp.VERDICT_COLUMNS, label="Verdicts", interactive=False,
                            wrap=True)

    by_language = dict(fn=_on_language, inputs=[language, category, strategy, groups],
                       outputs=[groups, intent, scenario, template, strategy, category],
                       api_name=False)
    language.change(**by_language)
    demo.load(**by_language)
    category.change(lambda lang, cat: gr.update(choices=sp.scenario_choices(lang, cat), value=0),
                    [language, category], scenario, api_name=False)
    strategy.change(lambda lang, s: gr.update(choices=_variants(lang, s), value=0),
                    [language, strategy], template, api_name=False)
    source.change(lambda s: (gr.update(visible=s == "intent"), gr.update(visible=s != "intent")),
                  source, [intent, text], api_name=False)

    @friendly
    def do_probe(model_name, lang, src, intent_id, custom, strat, cat, scen, tmpl, grps, knd):
        req = sp.ProbeRequest(model=model_name, language=lang, groups=tuple(grps or ()),
                              strategy=strat, scenario_category=cat, scenario_index=int(scen or 0),
                              template_index=int(tmpl or 0), source=src, intent_id=intent_id or "",
                              text=custom or "", kind=knd)
        for cells in sp.probe_stream(req, config, pool, judge):
            yield sp.status_line(cells, model_name), sp.render_cards(cells), sp.verdict_rows(cells)

    run.click(do_probe, [model, language, source, intent, text, strategy, category, scenario,
                         template, groups, kind], [status, cards, verdicts], api_name="probe",
              concurrency_id="model")


def _variants(language: str, strategy: str) -> list[tuple[str, int]]:
    return [(f"variant {i + 1}", i) for i in range(sp.template_count(language, strategy))]


def _on_language(language, category, strategy, groups):
    c = sp.choices(language)
    valid = [g for g in groups or [] if g in {v for _, v in c["groups"]}]
    return (gr.update(choices=c["groups"], value=valid),
            gr.update(choices=c["intents"], value=c["intents"][0][1]),
            gr.update(choices=sp.scenario_choices(language, category), value=0),
            gr.update(choices=_variants(language, strategy), value=0),
            gr.update(choices=c["strategies"]), gr.update(choices=c["scenario_categories"]))


# --- leaderboard ------------------------------------------------------------------------------------
# One table for both kinds of source; the summary above it says which one is shown.
TABLE_LABEL = ("Defense Rate per model and group: audits with exact 95% Clopper-Pearson CIs; the "
               "paper's source as reported (model DR, then each group's deviation, in points)")


def leaderboard_tab(demo, config) -> None:
    sources = list(config.results)
    with gr.Row(equal_height=True):
        source = gr.Dropdown(sources, value=sources[0] if sources else None, label="Results")
        # Choices come from the loaded results; unknown values just match nothing.
        models = gr.Dropdown([], multiselect=True, label="Models (all when empty)",
                             allow_custom_value=True)
        languages = gr.Dropdown([], multiselect=True, label="Languages (all when empty)",
                                allow_custom_value=True)
        families = gr.Dropdown([], multiselect=True, label="Families (all when empty)",
                               allow_custom_value=True)
        with gr.Column(min_width=180, scale=0):
            refresh = gr.Button("Refresh", size="sm")
            csv = gr.DownloadButton("DR table (CSV)", size="sm")
    summary = gr.Markdown(elem_id="board-summary")
    figure = dict(type="filepath", show_label=False, interactive=False,
                  buttons=["download", "fullscreen"])  # the figures carry their own titles
    # The heatmap gets the full width: the paper's source has a column per model and language.
    heatmap = gr.Image(**figure, elem_id="board-heatmap")
    with gr.Row():
        by_strategy = gr.Image(**figure)
    table = gr.Dataframe(label=TABLE_LABEL, interactive=False, wrap=True, elem_id="board-table")
    with gr.Row():
        over = gr.Dataframe(label="Over-refusal on benign twins", interactive=False)
        overplot = gr.Image(**figure)

    @friendly
    def show(name, model_sel, lang_sel, fam_sel):
        view = board.leaderboard(config, name, model_sel, lang_sel, fam_sel)
        return (view["summary"], view["heatmap"], view["by_strategy"], view["dr"],
                view["over_refusal"], view["overrefusal_plot"], view["csv"])

    @friendly
    def filters(name):
        f = board.filter_choices(config, name)
        return (gr.update(choices=f["models"], value=[]), gr.update(choices=f["languages"], value=[]),
                gr.update(choices=f["families"], value=[]))

    outputs = [summary, heatmap, by_strategy, table, over, overplot, csv]
    source.change(filters, source, [models, languages, families], api_name=False).then(
        show, [source, models, languages, families], outputs, api_name=False)
    for widget in (models, languages, families):
        widget.input(show, [source, models, languages, families], outputs, api_name=False)
    refresh.click(show, [source, models, languages, families], outputs, api_name="leaderboard")
    if sources:
        demo.load(filters, source, [models, languages, families], api_name=False).then(
            show, [source, models, languages, families], outputs, api_name=False)


# --- compare ----------------------------------------------------------------------------------------
def compare_tab(demo, config, pool, judge) -> None:
    models = list(config.models)
    gr.Markdown("Two models, the **same prompts**: Defense Rate per group before and after "
                "(e.g. a base model and its DPO-aligned version). *Live* runs a small counterfactual "
                "sample now; a results set compares audited models on the prompts both answered.")
    # Reported numbers have no per-prompt rows to pair, so they are not a compare source.
    sets = [name for name, spec in config.results.items() if spec != paper.SPEC]
    # Live needs two configured models; with one, start on the first results set instead.
    start = board.LIVE if len(models) > 1 or not sets else sets[0]
    with gr.Row():
        source = gr.Dropdown([board.LIVE] + sets, value=start, label="Source")
        # Choices change with the source; the server checks every name (allow-list / results).
        model_a = gr.Dropdown(models, value=models[0], label="Model A (before)",
                              allow_custom_value=True)
        model_b = gr.Dropdown(models, value=models[min(1, len(models) - 1)],
                              label="Model B (after)", allow_custom_value=True)
        language = gr.Radio([("English", "en"), ("Português", "pt")], value="en", label="Language")
    with gr.Row():
        groups = gr.CheckboxGroup(sp.all_group_choices(), value=["black", "jewish", "women"],
                                  label="Groups (live runs)")
        per_group = gr.Slider(1, config.limits.compare_per_group, value=1, step=1,
                              label="Prompts per group (live runs)")
    run = gr.Button("Compare", variant="primary")
    summary = gr.Markdown()
    plot = gr.Image(type="filepath", show_label=False, interactive=False,
                    buttons=["download", "fullscreen"])
    table = gr.Dataframe(label="DR per group, before and after: exact 95% CIs, B − A on the same "
                         "prompts with an exact McNemar test (Holm over groups), outcome categories",
                         interactive=False, wrap=True)

    def on_source(name):
        names = models if name == board.LIVE else board.filter_choices(config, name)["models"]
        return (gr.update(choices=names, value=names[0] if names else None),
                gr.update(choices=names, value=names[min(1, len(names) - 1)] if names else None))

    source.change(friendly(on_source), source, [model_a, model_b], api_name=False)
    demo.load(friendly(on_source), source, [model_a, model_b], api_name=False)
    narrow = lambda lang, chosen: gr.update(  # noqa: E731
        choices=sp.choices(lang)["groups"],
        value=[g for g in chosen or [] if g in dict((v, k) for k, v in sp.choices(lang)["groups"])])
    language.change(narrow, [language, groups], groups, api_name=False)
    demo.load(narrow, [language, groups], groups, api_name=False)

    @friendly
    def do_compare(src, a, b, lang, grps, n):
        view = board.compare(config, pool, judge, src, a, b, lang, list(grps or []), int(n or 1))
        return view["summary"], view["plot"], view["table"]

    run.click(do_compare, [source, model_a, model_b, language, groups, per_group],
              [summary, plot, table], api_name="compare", concurrency_id="model")


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    for noisy in ("httpx", "httpx2"):  # one line per HTTP request, endpoint URLs included
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        app_config = load_config(DEMO_RESULTS)
    except MijaError as exc:
        sys.exit(f"error: {exc}")
    app = build_demo(app_config)
    app.launch(theme=theme(), css=CSS, footer_links=["api", "gradio"], show_error=False,
               prevent_thread_lock=True)
    # Load the first model while the first visitor reads the page, not before serving it.
    threading.Thread(target=app.warm_models, daemon=True).start()
    app.block_thread()
