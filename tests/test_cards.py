"""Cards: rendered through huggingface_hub, validated like the Hub does, invalid fields refused."""

from __future__ import annotations

from importlib.metadata import version
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml

from hub_fixtures import recording_hub
from mijabench.bench import configs as benchmark
from mijabench.bench import writer as benchmark_dataset
from mijabench.hub import cards
from mijabench.hub import folders as hubdata
from mijabench.errors import MijaError


@pytest.fixture(scope="module")
def mijabench_folder(tmp_path_factory) -> Path:
    tables = benchmark.build_configs(("counterfactual",), languages=("en",), per_group=4)
    out = tmp_path_factory.mktemp("cards") / "mijabench"
    card = benchmark_dataset.card_text(tables, "template", 0, repo_id="acme/mijabench")
    return hubdata.write_dataset(out, tables, card)


def _with_metadata(text: str, **changes) -> str:
    """The same card with some YAML fields replaced (None removes one)."""
    _, block, body = text.split("---\n", 2)
    data = yaml.safe_load(block)
    for key, value in changes.items():
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value
    return f"---\n{yaml.safe_dump(data, sort_keys=False)}---\n{body}"


def _space_card(**overrides) -> str:
    data = {"title": "MiJaBench probe", "emoji": "🛡️", "colorFrom": "indigo", "colorTo": "gray",
            "sdk": "gradio", "sdk_version": version("gradio"), "app_file": "app.py",
            "license": "apache-2.0", "short_description": "Same jailbreak, every group"}
    data.update(overrides)
    data = {k: v for k, v in data.items() if v is not None}
    return cards.render_space_card("space", data, related=[], judge="rules",
                                   citation=cards.CITATION_MIJABENCH)


def test_mijabench_card_is_valid_gated_and_carries_statistics(mijabench_folder):
    text = (mijabench_folder / "README.md").read_text()
    data = cards.validate_card(text, "dataset", folder=mijabench_folder)
    assert data["pretty_name"] == "MiJaBench" and data["license"] == "cc-by-4.0"
    assert data["configs"][0]["config_name"] == "counterfactual" and data["size_categories"] == ["n<1K"]
    assert data["extra_gated_prompt"].startswith("CONTENT WARNING")
    assert "Intended use" in data["extra_gated_fields"]
    # statistics come from the data: the total matches the Parquet rows
    rows = sum(pq.read_metadata(p).num_rows for p in mijabench_folder.rglob("*.parquet"))
    assert f"Total rows: {rows}." in text
    assert 'load_dataset("acme/mijabench", "counterfactual")' in text and "@article{mijabench2026" in text


@pytest.mark.parametrize("field, value", [
    ("license", "cc-by-5.0"),
    ("size_categories", ["tiny"]),
    ("task_categories", ["jailbreaking"]),
    ("language", ["english"]),
    ("configs", [{"config_name": "counterfactual", "data_files": [{"splitname": "harmful", "path": "x"}]}]),
    ("extra_gated_fields", {"Affiliation": "textbox"}),
    ("extra_gated_prompt", None),
])
def test_an_invalid_dataset_field_fails_validation(mijabench_folder, field, value):
    text = _with_metadata((mijabench_folder / "README.md").read_text(), **{field: value})
    expected = "extra_gated_prompt" if field == "extra_gated_prompt" else field
    with pytest.raises(MijaError, match=f"card field '{expected}'"):
        cards.validate_card(text, "dataset")


def test_configs_must_point_at_files_in_the_folder(mijabench_folder, tmp_path):
    text = (mijabench_folder / "README.md").read_text()
    (tmp_path / "data").mkdir()
    with pytest.raises(MijaError, match=r"configs.*matches no file"):
        cards.validate_card(text, "dataset", folder=tmp_path)


def test_a_card_without_metadata_or_with_broken_yaml_fails():
    with pytest.raises(MijaError, match="no YAML metadata block"):
        cards.validate_card("# just a title\n", "dataset")
    with pytest.raises(MijaError, match="card metadata is invalid"):
        cards.validate_card("---\nlicense: [mit\n---\n# x\n", "model")


def test_space_card_pins_gradio_and_validates(tmp_path):
    (tmp_path / "app.py").write_text("print('app')\n")
    text = _space_card()
    data = cards.validate_card(text, "space", folder=tmp_path)
    assert data["sdk"] == "gradio" and data["sdk_version"] == version("gradio") and data["app_file"] == "app.py"
    assert "Content warning" in text


@pytest.mark.parametrize("overrides, field", [
    ({"sdk_version": None}, "sdk_version"),
    ({"sdk": "flask"}, "sdk"),
    ({"colorFrom": "orange"}, "colorFrom"),
    ({"short_description": "x" * 61}, "short_description"),
    ({"license": "apache"}, "license"),
])
def test_an_invalid_space_field_fails_validation(overrides, field):
    with pytest.raises(MijaError, match=f"card field '{field}'"):
        cards.validate_card(_space_card(**overrides), "space")


def test_space_app_file_must_exist(tmp_path):
    with pytest.raises(MijaError, match="card field 'app_file'"):
        cards.validate_card(_space_card(), "space", folder=tmp_path)


def test_model_card_index_and_pipeline_tag_are_checked():
    good = ("---\nlicense: apache-2.0\npipeline_tag: text-generation\nbase_model: HuggingFaceTB/SmolLM2-135M-Instruct\n"
            "model-index:\n- name: m\n  results:\n  - task: {type: text-generation}\n"
            "    dataset: {name: MiJaBench, type: acme/mijabench}\n"
            "    metrics:\n    - {type: defense_rate, value: 0.9, name: DR}\n---\n# m\n")
    assert cards.validate_card(good, "model")["base_model"] == "HuggingFaceTB/SmolLM2-135M-Instruct"
    no_dataset = good.replace("    dataset: {name: MiJaBench, type: acme/mijabench}\n", "")
    with pytest.raises(MijaError, match="model_index"):
        cards.validate_card(no_dataset, "model")
    with pytest.raises(MijaError, match="card field 'pipeline_tag'"):
        cards.validate_card(good.replace("text-generation\nbase", "chatting\nbase"), "model")
    with pytest.raises(MijaError, match="card field 'base_model'"):
        cards.validate_card(good.replace("HuggingFaceTB/SmolLM2-135M-Instruct", "/home/me/base"), "model")


def test_the_hubs_own_validation_is_called_and_its_errors_reported(mijabench_folder, monkeypatch):
    monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", "1")
    text = (mijabench_folder / "README.md").read_text()
    with recording_hub(token="hf_test_token") as hub:
        cards.validate_card_on_hub(text, "dataset", endpoint=hub.url, token="hf_test_token")
        hub.card_errors = ['"license" must be one of the Hub licenses']
        with pytest.raises(MijaError, match=r"README.md: the Hub rejected the card metadata \(\"license\""):
            cards.validate_card_on_hub(text, "dataset", endpoint=hub.url, token="hf_test_token")
    sent = hub.calls("validate")
    assert [r.body["repoType"] for r in sent] == ["dataset", "dataset"]
    assert sent[0].body["content"] == text
