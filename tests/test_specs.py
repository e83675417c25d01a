"""The one model-spec syntax (mijabench.specs) and the one Hub-id-or-path rule (mijabench.sources)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mijabench import sources
from mijabench.errors import MijaError
from mijabench.specs import (EMBEDDED, ENDPOINT, ENDPOINT_FORM, FOLDER, HUB, endpoint_spec,
                             parse_model_spec)

# (input, kind, name, urls, served model)
GOOD = [
    ("", EMBEDDED, "smollm2", (), None),
    ("   ", EMBEDDED, "smollm2", (), None),
    ("embedded", EMBEDDED, "smollm2", (), None),
    ("embedded:smollm2", EMBEDDED, "smollm2", (), None),
    ("http://127.0.0.1:8080", ENDPOINT, "", ("http://127.0.0.1:8080",), None),
    ("https://tgi.example/v1#org/model", ENDPOINT, "", ("https://tgi.example/v1",), "org/model"),
    ("http://a:1|http://b:2", ENDPOINT, "", ("http://a:1", "http://b:2"), None),
    (" http://a:1 | https://b:2 #served ", ENDPOINT, "", ("http://a:1", "https://b:2"), "served"),
    ("http://a:1#/models/tiny", ENDPOINT, "", ("http://a:1",), "/models/tiny"),
    ("HuggingFaceTB/SmolLM2-135M-Instruct", HUB, "HuggingFaceTB/SmolLM2-135M-Instruct", (), None),
    ("./runs/model", FOLDER, "./runs/model", (), None),
    ("runs/aligned/merged", FOLDER, "runs/aligned/merged", (), None),
    ("~/models/base", FOLDER, "~/models/base", (), None),
    ("/no/such/model", FOLDER, "/no/such/model", (), None),
]

# (bad input, message fragment)
BAD = [
    ("http://", "expected http(s)://HOST[:PORT]"),
    ("ftp://host/model", "only http and https"),
    ("http://a:1|", "an empty URL in the list"),
    ("|http://a:1", "an empty URL in the list"),
    ("http://a:1||http://b:2", "an empty URL in the list"),
    ("http://a:1|b:2", "expected http(s)://HOST[:PORT]"),
    ("http://a:1,http://b:2", "separate several URLs with '|'"),
    ("http://a:1;http://b:2", "separate several URLs with '|'"),
    ("http://a:1#", "after '#' give one served model name"),
    ("http://a:1#m#n", "after '#' give one served model name"),
    ("http://a:1#m|http://b:2", "after '#' give one served model name"),
    ("http://host:port", "not a valid URL"),
    ("http://a host:1", "expected http(s)://HOST[:PORT]"),
    ("org/model#served", "belong to endpoint specs"),
    ("models|other", "belong to endpoint specs"),
    ("embedded:gpt2", "unknown embedded model"),
    ("embedded:", "unknown embedded model"),
]


@pytest.mark.parametrize("text, kind, name, urls, served", GOOD)
def test_good_specs_parse_to_their_fields(text, kind, name, urls, served):
    spec = parse_model_spec(text)
    assert (spec.kind, spec.name, spec.urls, spec.served_model) == (kind, name, urls, served)
    assert parse_model_spec(str(spec)) == spec  # the canonical text parses back to the same spec


def test_no_spec_at_all_is_the_embedded_model():
    assert parse_model_spec(None) == parse_model_spec("embedded:smollm2")


@pytest.mark.parametrize("text, fragment", BAD)
def test_bad_specs_fail_with_one_line_naming_the_option(text, fragment):
    with pytest.raises(MijaError) as err:
        parse_model_spec(text, "--base")
    message = str(err.value)
    assert fragment in message and message.startswith("--base ") and "\n" not in message


def test_an_existing_folder_wins_over_the_hub_id_shape(tmp_path, monkeypatch):
    (tmp_path / "org" / "model#2").mkdir(parents=True)
    monkeypatch.chdir(tmp_path)
    assert parse_model_spec("org/model#2") == parse_model_spec("org/model#2", kinds=(FOLDER,))
    assert parse_model_spec("org/model#2").kind == FOLDER  # '#' is only a separator after URLs
    assert parse_model_spec("org").kind == FOLDER


@pytest.mark.parametrize("text, fragment", [
    ("localhost", ("--judge llm:localhost: expected llm:http(s)://HOST[:PORT][|URL...][#model]; "
                   "got a folder name")),
    ("", "--judge llm: expected llm:http(s)://"),
    ("embedded", "got the embedded model"),
])
def test_llm_prefix_takes_endpoint_specs_only(text, fragment):
    with pytest.raises(MijaError) as err:
        parse_model_spec(text, "--judge", kinds=(ENDPOINT,), prefix="llm:")
    assert fragment in str(err.value)


@pytest.mark.parametrize("text, secret", [("http://user:hunter2@h:1|", "hunter2"),
                                          ("http://h:1?token=hf_abc|", "hf_abc")])
def test_messages_never_show_credentials(text, secret):
    with pytest.raises(MijaError) as err:
        parse_model_spec(text)
    assert "empty URL" in str(err.value) and secret not in str(err.value)


@pytest.mark.parametrize("urls, served, expected", [
    (["http://a:1"], None, "http://a:1"),
    (["http://a:1", "http://b:2"], "org/m", "http://a:1|http://b:2#org/m"),
    (["http://a:1|http://b:2"], "m", "http://a:1|http://b:2#m"),
])
def test_endpoint_shorthand_is_the_same_spec(urls, served, expected):
    assert str(endpoint_spec(urls, served)) == expected
    assert endpoint_spec(urls, served) == parse_model_spec(expected)


@pytest.mark.parametrize("urls, served, fragment", [
    (["http://a:1#x"], "m", "named twice"),
    (["http://a:1,http://b:2"], None, "separate several URLs with '|'"),
    (["./model"], None, "--endpoint ./model: expected http(s)://"),
])
def test_endpoint_shorthand_errors(urls, served, fragment):
    with pytest.raises(MijaError, match="^--endpoint") as err:
        endpoint_spec(urls, served)
    assert fragment in str(err.value)


# --- every option goes through the same parser ---------------------------------------------------
def test_judge_rewriter_backend_and_space_share_the_parser():
    from mijabench.bench.rewriters import make_rewriter
    from mijabench.judge.registry import make_judge
    from mijabench.run.backends import make_backend
    from mijabench.space.config import models_from_env

    spec = "http://a:1|http://b:2#served"
    assert make_judge(f"llm:{spec}").backend.urls == ["http://a:1", "http://b:2"]
    assert make_judge(f"llm:{spec}").id == "llm:served"
    assert make_judge(f"ensemble:rules,llm:{spec}").id == "ensemble[rules,llm:served]"
    rewriter = make_rewriter(f"llm:{spec}")
    assert (rewriter.backend.urls, rewriter.backend.model) == (["http://a:1", "http://b:2"], "served")
    backend = make_backend(spec)
    assert (backend.urls, backend.model) == (["http://a:1", "http://b:2"], "served")
    assert models_from_env(f"x={spec};y=embedded")["x"].spec == spec
    for call, where in ((lambda: make_judge("llm:http://a:1,http://b:2"), "--judge llm:"),
                        (lambda: make_rewriter("llm:http://a:1;http://b:2"), "--rewriter llm:"),
                        (lambda: make_backend("http://a:1,http://b:2"), "--model "),
                        (lambda: models_from_env("x=http://a:1,http://b:2"), "x http://")):
        with pytest.raises(MijaError, match="separate several URLs with '|'") as err:
            call()
        assert where in str(err.value)


def test_make_backend_takes_the_served_model_from_the_spec_only():
    from mijabench.run.backends import make_backend
    with pytest.raises(TypeError, match="URL#model"):
        make_backend("http://a:1", model="m")


def test_training_refuses_endpoints_and_evaluation_accepts_them():
    from mijabench.specs import KINDS
    from mijabench.train.checkpoint import resolve_model_path
    with pytest.raises(MijaError, match="--model_name_or_path http://a:1: expected embedded | "
                                        "FOLDER | OWNER/NAME; got endpoint URLs"):
        resolve_model_path("http://a:1")
    assert resolve_model_path("http://a:1#m", "--base", KINDS) == "http://a:1#m"
    assert resolve_model_path("org/model") == "org/model"


def test_every_help_text_shows_the_same_short_form():
    import typer

    from mijabench.cli import app
    command = typer.main.get_command(app)
    helps = {}
    for name, sub in command.commands.items():
        for group_name, leaf in getattr(sub, "commands", {name: sub}).items():
            for param in leaf.params:
                helps[f"{group_name} {param.name}"] = getattr(param, "help", "") or ""
    mentioning = {k: h for k, h in helps.items() if "llm:" in h or k in (
        "audit model", "filter model", "dpo-eval base", "dpo-eval aligned")}
    assert {"audit judge", "judge judge", "dpo-eval judge", "mijabench rewriter", "audit model",
            "filter model", "dpo-eval base", "dpo-eval aligned"} <= set(mentioning)
    for key, text in mentioning.items():
        assert ENDPOINT_FORM in text, key
    from typer.testing import CliRunner
    shown = CliRunner().invoke(app, ["audit", "--help"]).output  # no markup eats the brackets
    assert f"llm:{ENDPOINT_FORM}" in shown and f"| {ENDPOINT_FORM} |" in " ".join(shown.split())


# --- Hub id or local path --------------------------------------------------------------------------
HUB_IDS = [
    ("owner/name", "owner/name"),
    ("HuggingFaceTB/SmolLM2-135M-Instruct", "HuggingFaceTB/SmolLM2-135M-Instruct"),
    ("mijabench/mijabench-align", "mijabench/mijabench-align"),
    ("  owner/name.v2 ", "owner/name.v2"),
    ("./owner/name", None),
    ("/owner/name", None),
    ("~/name", None),
    ("runs/aligned/merged", None),
    ("owner\\name", None),
    ("gpt2", None),
    ("owner/", None),
    ("owner/na me", None),
    ("-owner/name", None),
    ("owner/name.", None),
    ("owner--x/name", None),
    ("owner/na..me", None),
    ("", None),
    (None, None),
]


@pytest.mark.parametrize("name, expected", HUB_IDS)
def test_hub_id_rule(name, expected):
    assert sources.hub_id(name) == expected


def test_what_exists_on_disk_is_local(tmp_path, monkeypatch):
    (tmp_path / "org" / "model").mkdir(parents=True)
    (tmp_path / "org" / "pairs.jsonl").write_text("{}\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert sources.hub_id("org/model") is None and sources.looks_like_path("org/model")
    assert sources.local_path("org/model") == Path("org/model")
    assert sources.local_path("org/pairs.jsonl") == Path("org/pairs.jsonl")
    assert sources.local_path("~/org") == tmp_path / "org"
    assert sources.local_path("org/missing") is None and sources.hub_id("org/missing") == "org/missing"
    assert sources.local_path("") is None and sources.local_path(None) is None
    assert sources.looks_like_path(Path("org")) and not sources.looks_like_path("owner/name")


def test_model_folders_and_preference_data_use_the_rule(tmp_path, monkeypatch):
    from mijabench.run.backends import resolve_model_dir
    from mijabench.train.dpo_data import load_preferences
    monkeypatch.chdir(tmp_path)  # no HF_* variables here: huggingface_hub reads them once, at import
    (tmp_path / "org" / "model").mkdir(parents=True)
    assert resolve_model_dir("org/model") == Path("org/model")  # a folder, not the Hub id
    missing = "mijabench-tests/never-downloaded-7f3a"  # the cache lookup never uses the network
    with pytest.raises(MijaError, match=f"^--base {missing}: not a local model folder"):
        resolve_model_dir(missing, "--base")
    for name in ("./missing", "missing", "org/pairs.jsonl"):
        with pytest.raises(MijaError, match="not a Hub dataset id"):
            load_preferences(name)
