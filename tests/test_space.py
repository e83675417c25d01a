"""The probe Space: its logic (allow-list, caps, composition, cards) and the running app, driven
through gradio_client on loopback (probe, leaderboard, compare, bad input, no secrets)."""

from __future__ import annotations

import csv
import json
import urllib.request
from pathlib import Path

import pandas as pd
import pytest

from mijabench.analysis import figures
from mijabench.bench import material
from mijabench.analysis import metrics
from mijabench.space import config as space_config
from mijabench.space import paper as space_paper
from mijabench.space import probe as space_probe
from mijabench.errors import MijaError
from space_fixtures import (FAKE_TOKEN, KNOWN_DR, PAPER_NAME, REFUSAL,  # noqa: F401
                            SECRET_PATH, SHARED_PAPER, known_results, space_app)

TESTS = Path(__file__).resolve().parent


def request(**kw) -> space_probe.ProbeRequest:
    base = dict(model="m", language="en", groups=("black", "jewish"), strategy="persona_assignment",
                scenario_category="economy_work", intent_id="leadership_exclusion")
    return space_probe.ProbeRequest(**{**base, **kw})


@pytest.fixture
def config(tmp_path) -> space_config.SpaceConfig:
    (tmp_path / "model").mkdir()
    path = tmp_path / "space.yaml"
    path.write_text("models:\n  m: model\n  remote: {spec: 'http://10.0.0.1:80', family: llama}\n"
                    "results:\n  r: results.parquet\nlimits:\n  max_groups: 3\n  max_custom_chars: 40\n")
    return space_config.load_config(env={space_config.CONFIG_ENV: str(path)})


# --- logic ----------------------------------------------------------------------------------------
def test_config_allow_list_caps_and_credentials(config, tmp_path):
    assert list(config.models) == ["m", "remote"]
    assert config.model("m").spec == str((tmp_path / "model").resolve())  # relative to the YAML
    assert config.model("remote").family == "llama"
    assert config.limits.max_groups == 3 and config.limits.max_new_tokens == 96
    with pytest.raises(MijaError, match="not offered by this Space"):
        config.model("http://evil.example")
    with pytest.raises(MijaError, match="not offered"):
        config.results_source("/etc")
    for spec in ("http://user:pw@host:80", "https://host/x?token=abc"):
        with pytest.raises(MijaError, match="credentials") as err:
            space_config.models_from_env(f"a={spec}")
        assert "pw" not in str(err.value) and "abc" not in str(err.value)
    env_models = space_config.models_from_env("a=http://h1:1|http://h2:2;b=")
    assert env_models["a"].spec == "http://h1:1|http://h2:2" and env_models["b"].spec is None
    bad = tmp_path / "bad.yaml"
    bad.write_text("limits: {max_groups: 0}\n")
    with pytest.raises(MijaError, match="at least 1"):
        space_config.load_config(env={space_config.CONFIG_ENV: str(bad)})


@pytest.mark.parametrize("source, message", [
    ("hub:acme/results", "hub:owner/name@<revision>"),     # a Hub dataset must be pinned
    ("hub:not a repo@abc", "hub:owner/name@<revision>"),
    ("acme/results", "for a Hub dataset write hub:acme/results@<revision>"),
])
def test_results_sources_must_be_pinned(tmp_path, source, message):
    path = tmp_path / "space.yaml"
    path.write_text(f"results:\n  mine: '{source}'\n")
    with pytest.raises(MijaError, match=message) as err:
        space_config.load_config(env={space_config.CONFIG_ENV: str(path)})
    assert "results.mine" in str(err.value) and "\n" not in str(err.value)
    path.write_text("results:\n  Paper: paper\n  Hub: hub:acme/results@0123abc\n")
    config = space_config.load_config(env={space_config.CONFIG_ENV: str(path)})
    assert config.results == {"Paper": "paper", "Hub": "hub:acme/results@0123abc"}


def test_packaged_paper_numbers_equal_the_shared_yaml():
    """Every number of mijabench/data/paper_results.yaml is the published one, read in place."""
    import yaml
    if not SHARED_PAPER.is_file():
        pytest.skip(f"{SHARED_PAPER} not present (it sits beside the checkout in CI)")
    shared = yaml.safe_load(SHARED_PAPER.read_text("utf-8"))
    published = shared["defense_rate_and_group_deviation"]
    ours = space_paper.data()
    assert set(ours["results"]) == set(published) == {"en", "pt"}
    for language, by_model in published.items():
        models = [m for m in by_model if m != "Average"]
        assert len(models) == 12 and list(ours["results"][language]) == models
        for model in models:
            assert ours["results"][language][model] == by_model[model], (language, model)
        assert ours["average"][language] == by_model["Average"]
    assert [m["checkpoint"] for m in ours["models"].values()] == shared["checkpoints"]
    assert ours["by_strategy"] == {"en": shared["dr_by_strategy_en_all_models"]}
    assert ours["source"]["title"] == shared["paper"]["title"] and ours["source"]["status"] == "reported"
    assert "@article" in ours["source"]["citation"]


def test_paper_frame_is_what_the_heatmap_draws():
    long = space_paper.frame(models=["Llama 3.3 70B"], languages=["pt"])
    numbers = space_paper.data()["results"]["pt"]["Llama 3.3 70B"]
    assert dict(zip(long["group"], long["deviation"])) == numbers["deviation"]
    assert set(long["ref_dr"]) == {numbers["dr"]} and long["n"].isna().all()
    assert long["dr"].tolist() == pytest.approx([numbers["dr"] + d for d in numbers["deviation"].values()])
    fig = figures.deviation_heatmap(long, intervals=False)
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert {f"{d * 100:+.1f}".replace("-", "\u2212") for d in numbers["deviation"].values()} == set(texts)
    assert not any("n=" in t for t in texts)  # no cell size is published
    with pytest.raises(MijaError, match="no reported results match"):
        space_paper.frame(models=["no-such-model"])


def test_compose_rows_are_counterfactual(config):
    rows = space_probe.compose_rows(request(groups=("black", "jewish", "women")), config)
    assert [r["group"] for r in rows] == ["black", "jewish", "women"]
    assert len({r["counterfactual_id"] for r in rows}) == 1
    names = [r["group_name"] for r in rows]
    # Removing the group name leaves the very same prompt: only the group changes.
    assert len({r["prompt"].replace(n, "<G>") for r, n in zip(rows, names)}) == 1
    custom = space_probe.compose_rows(request(source="custom", text="a poem mocking {group}"), config)
    assert "a poem mocking Black people" in custom[0]["prompt"]
    seed = space_probe.compose_rows(request(source="seed", text="{group} are a test seed"), config)
    assert seed[1]["seed_text"] == "{group} are a test seed" and "Jewish people are a test seed" in seed[1]["prompt"]
    benign = space_probe.compose_rows(request(kind="benign"), config)
    assert material.load("en").intent("leadership_exclusion").benign.split("{group}")[0] in benign[0]["prompt"]


@pytest.mark.parametrize("kw, message", [
    (dict(groups=("black",)), "at least two groups"),
    (dict(groups=("black", "jewish", "women", "asian")), "at most 3"),
    (dict(groups=("black", "elderly")), "not part of the en benchmark"),
    (dict(source="custom", text="x" * 41 + "{group}"), "at most 40"),
    (dict(source="custom", text="a poem"), "write {group}"),
    (dict(source="seed", text="   "), "empty"),
    (dict(model="other"), "not offered"),
    (dict(strategy="nope"), "unknown strategy"),
    (dict(scenario_index=99), "out of range"),
])
def test_bad_requests_get_one_line_messages(config, kw, message):
    with pytest.raises(MijaError, match=message) as err:
        space_probe.compose_rows(request(**kw), config)
    assert "\n" not in str(err.value) and "x" * 41 not in str(err.value)


def test_cards_hide_harmful_and_escape_html():
    cells = [{"group": g, "group_name": n, "prompt": "p<b>", "response": r, "verdict": v,
              "outcome": o, "rationale": "why", "refusal": False, "latency_s": 0.1, "error": ""}
             for g, n, r, v, o in (("black", "Black people", "<script>alert(1)</script>", "safe", "incoherent"),
                                   ("jewish", "Jewish people", "bad text", "harmful", "false_refusal"))]
    html = space_probe.render_cards(cells)
    assert "<script>" not in html and "&lt;script&gt;" in html and "p&lt;b&gt;" in html
    safe_card, harmful_card = html.split('<div class="mb-card')[1:]
    assert "Content warning" not in safe_card
    hidden = harmful_card.split('<details class="mb-hidden">')[1]
    assert "Content warning" in hidden and "bad text" in hidden.split("</details>")[0]
    assert space_probe.verdict_rows(cells)[1][:4] == ["jewish", "Jewish people", "harmful", "false_refusal"]
    # The outcome stands beside the verdict: "safe" because incoherent is not "safe" by refusal.
    assert 'data-outcome="incoherent"' in safe_card and "safe · " in safe_card
    assert "false refusal" in harmful_card.split("<details")[0]


# --- the running app ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def client(space_app, tmp_path_factory):
    from gradio_client import Client
    url, _, _ = space_app
    return Client(url, verbose=False, download_files=str(tmp_path_factory.mktemp("downloads")))


PROBE_DEFAULTS = dict(model_name="scripted", lang="en", src="intent", intent_id="leadership_exclusion",
                      custom="", strat="persona_assignment", cat="economy_work", scen=0, tmpl=0,
                      grps=["black", "jewish"], knd="harmful")


def probe(client, **kw):
    args = {**PROBE_DEFAULTS, **kw}
    return client.submit(*args.values(), api_name="/probe")


def frame(value) -> pd.DataFrame:
    return pd.DataFrame(value["data"], columns=value["headers"])


def test_probe_streams_side_by_side_verdicts(client, space_app):
    job = probe(client, grps=["black", "jewish", "women"])
    status, cards, verdicts = job.result(timeout=120)
    table = frame(verdicts).set_index("group")
    assert table.loc["black", "verdict"] == "safe" and table.loc["black", "rationale"] == "refusal"
    assert table.loc["jewish", "verdict"] == table.loc["women", "verdict"] == "harmful"
    assert table.loc["black", "outcome"] == "refusal"  # the category beside each verdict
    assert table.loc["jewish", "outcome"] == table.loc["women", "outcome"] == "compliance"
    assert cards.count('data-outcome="compliance"') == 2
    assert "defended 1 of 3 groups" in status
    assert cards.count('class="mb-card') == 3 and cards.count('<details class="mb-hidden">') == 2
    assert REFUSAL.split(".")[0].replace("'", "&#x27;") in cards
    updates = job.outputs()
    assert len(updates) > 3  # streamed: partial states came before the judged result
    assert any('data-verdict="pending"' in u[1] for u in updates[:-1])


def test_probe_local_tiny_model(client):
    status, cards, verdicts = probe(client, model_name="tiny", lang="pt", grps=["black", "elderly"],
                                    intent_id="leadership_exclusion").result(timeout=120)
    table = frame(verdicts)
    assert list(table["group"]) == ["black", "elderly"]
    assert set(table["verdict"]) <= {"safe", "harmful", "unparsed"}  # judged, not failed
    assert list(table["group_name"]) == ["pessoas negras", "pessoas idosas"]


@pytest.mark.parametrize("kw, message", [
    (dict(grps=[]), "pick at least two groups"),
    (dict(src="custom", custom="{group} " + "y" * 400), "accepts at most 300"),
    # Gradio's own choice check answers first; the config allow-list stands behind it.
    (dict(model_name="http://127.0.0.1:1"), "not in the list of choices|not offered"),
])
def test_bad_input_is_a_visible_message(client, kw, message):
    from gradio_client.exceptions import AppError
    with pytest.raises(AppError, match=message) as err:
        probe(client, **kw).result(timeout=60)
    assert "Traceback" not in str(err.value)


def test_unreachable_endpoint_is_reported(client):
    status, cards, verdicts = probe(client, model_name="offline").result(timeout=120)
    assert "failed for 2 of 2 groups" in status and "unreachable" in status
    assert set(frame(verdicts)["verdict"]) == {"error"}
    assert "127.0.0.1" not in status + cards


def test_leaderboard_known_results(client):
    summary, heatmap, strategy_png, dr, over, over_png, csv_file = client.predict(
        "known", [], [], [], api_name="/leaderboard")
    table = frame(dr)
    got = {(r.model, r.group): r.dr for r in table.itertuples()}
    assert got == pytest.approx(KNOWN_DR)
    row = table[(table.model == "base") & (table.group == "black")].iloc[0]
    assert row.ci_low <= 0.5 <= row.ci_high and row.n == 4
    assert row.deviation == pytest.approx(0.5 - (0.5 + 0.25 + 1.0) / 3, abs=1e-3)
    assert all(Path(p).read_bytes()[:4] == b"\x89PNG" for p in (heatmap, strategy_png, over_png))
    assert frame(over).set_index("model")["over_refusal"].to_dict() == pytest.approx(
        {"base": 0.25, "aligned": 0.25})
    with open(csv_file, newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 6 and {(r["group"], r["group_name"]) for r in rows} == {
        (g, figures.group_label(g)) for g in ("black", "jewish", "women")}
    assert "aligned" in summary and "gap" in summary
    _, _, _, dr_one, *_ = client.predict("known", ["aligned"], ["en"], ["fam-aligned"],
                                         api_name="/leaderboard")
    assert set(frame(dr_one)["model"]) == {"aligned"}


def test_demo_results_carry_outcomes_and_match_the_readme():
    """The bundled demo was judged by the intent judge (outcome categories), and the DR table in
    spaces/probe/README.md is what the bundled rows give."""
    import re

    from mijabench.space.leaderboard import read_results
    from space_fixtures import DEMO_RESULTS
    table = read_results(str(DEMO_RESULTS))
    assert set(table.column("judge").to_pylist()) == {"intent"}
    assert metrics.has_outcomes(table)
    dr = metrics.dr_table(metrics.harmful_rows(table), ("model", "language")).set_index(["model", "language"])
    readme = (DEMO_RESULTS.parent.parent / "README.md").read_text("utf-8")
    rows = re.findall(r"^\| `([^`]+)` \|.*\| (\d+)% / (\d+)% \|$", readme, flags=re.M)
    assert {m for m, *_ in rows} == set(dr.index.get_level_values("model"))
    for model, en, pt in rows:
        assert (round(dr.loc[(model, "en"), "dr"] * 100), round(dr.loc[(model, "pt"), "dr"] * 100)) == \
            (int(en), int(pt)), model


def test_leaderboard_bundled_demo_and_empty_filter(client):
    from gradio_client.exceptions import AppError
    from mijabench.space.leaderboard import read_results
    from space_fixtures import DEMO_RESULTS
    _, _, _, dr, *_ = client.predict("demo", [], [], [], api_name="/leaderboard")
    expected = metrics.dr_table(metrics.harmful_rows(read_results(str(DEMO_RESULTS))))
    assert len(frame(dr)) == len(expected) and frame(dr)["dr"].round(3).tolist() == \
        expected["dr"].astype(float).round(3).tolist()
    with pytest.raises(AppError, match="no results match"):
        client.predict("demo", ["no-such-model"], [], [], api_name="/leaderboard")


def test_leaderboard_reported_paper_numbers(client):
    """The paper's source shows the published numbers, labelled as reported, as the same heatmap."""
    summary, heatmap, strategy_png, dr, _, over_png, csv_file = client.predict(
        PAPER_NAME, [], [], [], api_name="/leaderboard")
    assert "not reproduced" in summary and "Reported by the MiJaBench authors" in summary
    published = space_paper.data()["results"]
    table = frame(dr).set_index("group")
    for language in ("en", "pt"):
        numbers = published[language]["Llama 3.3 70B"]
        column = table[f"Llama 3.3 70B · {language.upper()}"]
        assert column["model mean DR"] == pytest.approx(numbers["dr"] * 100)
        for group, deviation in numbers["deviation"].items():
            assert column[figures.group_label(group)] == pytest.approx(deviation * 100), (language, group)
    assert len(table.columns) == 2 * 13  # 12 models and the average, in each language
    assert all(Path(f).read_bytes()[:4] == b"\x89PNG" for f in (heatmap, strategy_png)) and over_png is None
    with open(csv_file, newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 13 * 13 + 13 * 9  # (12 models + average) x groups, EN and PT
    _, _, _, dr_one, *_ = client.predict(PAPER_NAME, ["Gemma 3 4B"], ["pt"], [], api_name="/leaderboard")
    assert list(frame(dr_one).columns) == ["group", "Gemma 3 4B · PT"]


def test_compare_live_and_from_results(client):
    summary, plot, table = client.predict("Live (run now)", "tiny", "scripted", "en",
                                          ["black", "jewish"], 2, api_name="/compare")
    assert Path(plot).read_bytes()[:4] == b"\x89PNG"
    wide = frame(table).set_index("group")
    assert wide.loc["black", "dr_b"] == 1.0 and wide.loc["jewish", "dr_b"] == 0.0
    assert wide["n_a"].tolist() == [2, 2] and wide["n_b"].tolist() == [2, 2]
    assert wide.loc["jewish", "delta"] == pytest.approx(-wide.loc["jewish", "dr_a"])
    assert "scripted" in summary
    summary, _, table = client.predict("known", "base", "aligned", "en", [], 1, api_name="/compare")
    wide = frame(table).set_index("group")
    assert wide["delta"].to_dict() == pytest.approx({"black": 0.5, "jewish": 0.5, "women": 0.0})
    # Paired on the same prompts: exact McNemar per group (scipy's binomial test, computed here
    # independently), Holm over the three groups, exact Clopper-Pearson intervals per model.
    from scipy.stats import binomtest
    from statsmodels.stats.multitest import multipletests
    assert wide["n_pairs"].tolist() == [4, 4, 4]
    assert wide["b_only_safe"].to_dict() == {"black": 2, "jewish": 2, "women": 0}
    assert wide["a_only_safe"].tolist() == [0, 0, 0]
    expected = [binomtest(2, 2, 0.5).pvalue, binomtest(2, 2, 0.5).pvalue, 1.0]
    assert wide["p_value"].tolist() == pytest.approx(expected, abs=1e-4)
    assert wide["p_holm"].tolist() == pytest.approx(multipletests(expected, method="holm")[1], abs=1e-4)
    from statsmodels.stats.proportion import proportion_confint
    low, high = proportion_confint(2, 4, method="beta")
    assert wide.loc["black", "ci_a"] == f"{low:.2f}–{high:.2f}"
    assert wide.loc["black", "outcomes_a"] == "refusal 2, compliance 2"
    assert wide.loc["black", "outcomes_b"] == "refusal 4"
    assert "no group's DR differs significantly" in summary
    _, _, table = client.predict("known", "aligned", "base", "en", [], 1, api_name="/compare")
    reverse = frame(table).set_index("group")  # A and B swapped: the same test, mirrored
    assert reverse["a_only_safe"].to_dict() == wide["b_only_safe"].to_dict()
    assert reverse["p_value"].tolist() == wide["p_value"].tolist()

    def bounds(text):
        return [float(v) for v in text.split("–")]
    low, high = bounds(wide.loc["black", "delta_ci"])
    assert low < 0.5 < high and bounds(reverse.loc["black", "delta_ci"]) == pytest.approx([-high, -low])


def test_compare_refuses_reported_numbers(client):
    from gradio_client.exceptions import AppError
    with pytest.raises(AppError, match="reported by the paper|not in the list of choices"):
        client.predict(PAPER_NAME, "Llama 3.3 70B", "Gemma 3 4B", "en", [], 1, api_name="/compare")


def test_compare_bad_models_are_messages(client):
    from gradio_client.exceptions import AppError
    with pytest.raises(AppError, match="failed to generate"):
        client.predict("Live (run now)", "scripted", "offline", "en", ["black"], 1,
                       api_name="/compare")
    with pytest.raises(AppError, match="not offered by this Space"):
        client.predict("Live (run now)", "tiny", "http://127.0.0.1:1", "en", ["black"], 1,
                       api_name="/compare")
    with pytest.raises(AppError, match="greater than maximum|allows 1 to 2"):
        client.predict("Live (run now)", "tiny", "scripted", "en", ["black"], 3,
                       api_name="/compare")


def test_model_calls_wait_in_one_queue(client, space_app):
    """concurrency 1, shared by probe and compare: overlapping visitors never overlap model calls."""
    _, _, server = space_app
    server.delay, server.max_inflight = 0.3, 0
    try:
        jobs = [probe(client, grps=["black", "jewish"]), probe(client, grps=["women", "muslim"]),
                client.submit("Live (run now)", "scripted", "tiny", "en", ["black"], 1,
                              api_name="/compare")]
        for job in jobs:
            job.result(timeout=120)
    finally:
        server.delay = 0.0
    assert server.max_inflight == 1


def test_no_endpoint_or_token_in_page_api_or_logs(client, space_app):
    url, log, server = space_app
    probe(client, grps=["black", "women"]).result(timeout=120)
    assert server.requests > 0  # the scripted endpoint (and the token) were really used
    page = urllib.request.urlopen(url + "/").read().decode()
    config = urllib.request.urlopen(url + "/config").read().decode()
    info = json.dumps(client.view_api(print_info=False, return_format="dict"))
    for text in (page, config, info):
        assert SECRET_PATH not in text and FAKE_TOKEN not in text
    assert FAKE_TOKEN not in log.read_text(errors="replace")


def test_space_card_pins_the_tested_gradio():
    from importlib.metadata import version

    from huggingface_hub import SpaceCard
    folder = Path(__file__).resolve().parent.parent / "spaces" / "probe"
    data = SpaceCard.load(folder / "README.md").data
    assert data.sdk == "gradio" and str(data.sdk_version) == version("gradio")
    assert (folder / data.app_file).is_file() and (folder / "requirements.txt").is_file()


# --- Hub-hosted results through the olah mirror ----------------------------------------------------
HUB_LEADERBOARD = """
import json, os, sys
from mijabench.space import config, leaderboard
c = config.load_config(env={config.CONFIG_ENV: sys.argv[1]})
out = {}
for name in c.results:
    dr = leaderboard.leaderboard(c, name)["dr"]
    out[name] = [[r["model"], r["language"], r["group"], r["n"], r["dr"]] for r in dr.to_dict("records")]
print(json.dumps(out))
"""


def _release_dr() -> dict:
    """DR per (model, language, group) of the authors' release fixture, from its hand-computed
    verdicts (tests/data/upstream_align_authors_expected.csv)."""
    with open(TESTS / "data" / "upstream_align_authors_expected.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    cells: dict = {}
    for row in rows:
        if row["verdict"] != "error":
            cells.setdefault((row["model"], row["language"], row["group"]), []).append(row["verdict"] == "safe")
    return {key: (len(v), sum(v) / len(v)) for key, v in cells.items()}  # n, DR


def test_hub_results_at_a_pinned_revision(tmp_path):
    """A Space config names Hub datasets (MiJaBench-Align layout and the authors' released format)
    at pinned revisions; the leaderboard reads them through the Hub protocol (olah), and a later
    push to the repo does not change what the Space shows."""
    import shutil
    import subprocess
    import sys

    import yaml

    from conftest import _free_port
    from hub_fixtures import commit_change, commit_folder, hub_env, olah_server
    mirrors = tmp_path / "mirrors" / "datasets" / "acme"
    align_src = tmp_path / "align" / "data" / "en"
    align_src.mkdir(parents=True)
    known_results(align_src / "train.parquet")
    align_rev = commit_folder(tmp_path / "align", mirrors / "space-align")
    later = known_results(tmp_path / "later.parquet").read_bytes()  # same rows: a new commit id
    head = commit_change(mirrors / "space-align", "data/en/extra.parquet", later)
    release_src = tmp_path / "release" / "data"
    release_src.mkdir(parents=True)
    shutil.copy(TESTS / "data" / "upstream_align_authors.csv", release_src / "release.csv")
    release_rev = commit_folder(tmp_path / "release", mirrors / "space-release")
    config = tmp_path / "space.yaml"
    config.write_text(yaml.safe_dump({"results": {
        "Align": f"hub:acme/space-align@{align_rev}", "Release": f"hub:acme/space-release@{release_rev}"}}))
    with olah_server(tmp_path / "mirrors", _free_port(), tmp_path / "olah") as endpoint:
        env = hub_env(endpoint, tmp_path / "hf-home")
        proc = subprocess.run([sys.executable, "-c", HUB_LEADERBOARD, str(config)], env=env,
                              capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert head != align_rev
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    align = {(m, g): dr for m, lang, g, n, dr in got["Align"]}
    assert align == pytest.approx(KNOWN_DR)  # only the pinned commit's rows, not the later file
    assert all(n == 4 for *_, n, _ in got["Align"])
    release = {(m, lang, g): (n, round(dr, 6)) for m, lang, g, n, dr in got["Release"]}
    assert release == {key: (n, round(dr, 6)) for key, (n, dr) in _release_dr().items()}
