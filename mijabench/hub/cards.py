"""Render Hub cards from the Jinja templates in ``cards/`` through huggingface_hub's card classes.

``RepoCard.from_template`` renders the template with the YAML front matter built from ``CardData``,
so the metadata is validated by the same code the Hub client uses.
"""

from __future__ import annotations

from pathlib import Path

from mijabench.errors import MijaError
from mijabench.resources import project_folder

CITATION_MIJABENCH = """@article{mijabench2026,
  title   = {MiJaBench: Revealing Minority Biases in Large Language Models via Hate Speech Jailbreaking},
  author  = {{MiJaBench authors}},
  journal = {arXiv preprint},
  year    = {2026}
}"""
CITATION_TOXIGEN = """@inproceedings{hartvigsen2022toxigen,
  title     = {ToxiGen: A Large-Scale Machine-Generated Dataset for Adversarial and Implicit Hate Speech Detection},
  author    = {Hartvigsen, Thomas and Gabriel, Saadia and Palangi, Hamid and Sap, Maarten and Ray, Dipankar and Kamar, Ece},
  booktitle = {ACL},
  year      = {2022}
}"""
CITATION_SECUREBREAK = """@article{securebreak2026,
  title   = {SecureBreak: A Conservatively Labeled Dataset of LLM Outputs for Post-Generation Safety Detection},
  author  = {{SecureBreak authors}},
  journal = {arXiv preprint},
  year    = {2026}
}"""

GATED_PROMPT = (
    "CONTENT WARNING: this dataset contains hate speech and jailbreak prompts targeting minority "
    "groups, written or collected to test the safety of language models. By requesting access you "
    "agree to use it only for safety research, evaluation and alignment, not to train models to "
    "produce hateful content, and not to redistribute it outside this gated repository.")
GATED_FIELDS = {
    "Affiliation": "text",
    "Intended use": {"type": "select",
                     "options": ["Safety evaluation", "Alignment research", "Content moderation", "Other"]},
    "I agree to use this dataset only for safety research and not to train models to generate hate speech": "checkbox",
}


def template_path(name: str) -> Path:
    path = project_folder("cards") / f"{name}.md"
    if not path.exists():
        raise MijaError(f"{path}: card template not found; reinstall mijabench or restore cards/{name}.md")
    return path


def size_category(n: int) -> str:
    for limit, label in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"),
                         (1_000_000, "100K<n<1M"), (10_000_000, "1M<n<10M")):
        if n < limit:
            return label
    return "10M<n<100M"


def render_dataset_card(template: str, card_data: dict, **context) -> str:
    from huggingface_hub import DatasetCard, DatasetCardData
    data = DatasetCardData(**card_data)
    card = DatasetCard.from_template(data, template_path=str(template_path(template)), **context)
    return str(card)


def render_model_card(template: str, card_data: dict, **context) -> str:
    from huggingface_hub import ModelCard, ModelCardData
    data = ModelCardData(**card_data)
    card = ModelCard.from_template(data, template_path=str(template_path(template)), **context)
    return str(card)


def render_space_card(template: str, card_data: dict, **context) -> str:
    from huggingface_hub import SpaceCard, SpaceCardData
    data = SpaceCardData(**card_data)
    card = SpaceCard.from_template(data, template_path=str(template_path(template)), **context)
    return str(card)


# --- validation -----------------------------------------------------------------------------------
# The Hub's own check (``RepoCard.validate`` / ``/api/validate-yaml``) needs the network, and
# ``create_commit`` runs it again on every push. This offline check runs at build time so a release
# never starts uploading with a card the Hub would reject: it parses the card with the same
# huggingface_hub/datasets classes the Hub client uses, then applies the Hub's documented rules.
HUB_LICENSES = frozenset("""
apache-2.0 mit openrail bigscience-openrail-m creativeml-openrail-m bigscience-bloom-rail-1.0
bigcode-openrail-m afl-3.0 artistic-2.0 bsl-1.0 bsd bsd-2-clause bsd-3-clause bsd-3-clause-clear
c-uda cc cc0-1.0 cc-by-2.0 cc-by-2.5 cc-by-3.0 cc-by-4.0 cc-by-sa-3.0 cc-by-sa-4.0 cc-by-nc-2.0
cc-by-nc-3.0 cc-by-nc-4.0 cc-by-nd-4.0 cc-by-nc-nd-3.0 cc-by-nc-nd-4.0 cc-by-nc-sa-2.0
cc-by-nc-sa-3.0 cc-by-nc-sa-4.0 cdla-sharing-1.0 cdla-permissive-1.0 cdla-permissive-2.0 wtfpl
ecl-2.0 epl-1.0 epl-2.0 etalab-2.0 eupl-1.1 eupl-1.2 agpl-3.0 gfdl gpl gpl-2.0 gpl-3.0 lgpl
lgpl-2.1 lgpl-3.0 isc h-research intel-research lppl-1.3c ms-pl apple-ascl apple-amlr mpl-2.0
odc-by odbl openmdw-1.0 openrail++ osl-3.0 postgresql ofl-1.1 ncsa unlicense zlib pddl lgpl-lr
deepfloyd-if-license fair-noncommercial-research-license llama2 llama3 llama3.1 llama3.2 llama3.3
llama4 gemma unknown other
""".split())
HUB_TASKS = frozenset("""
text-classification token-classification table-question-answering question-answering
zero-shot-classification translation summarization feature-extraction text-generation
text2text-generation fill-mask sentence-similarity text-ranking text-to-speech text-to-audio
automatic-speech-recognition audio-to-audio audio-classification voice-activity-detection
depth-estimation image-classification object-detection image-segmentation text-to-image
image-to-text image-to-image image-to-video unconditional-image-generation video-classification
reinforcement-learning robotics tabular-classification tabular-regression tabular-to-text
table-to-text multiple-choice time-series-forecasting visual-question-answering
document-question-answering zero-shot-image-classification graph-ml mask-generation
zero-shot-object-detection text-to-3d image-to-3d image-feature-extraction video-text-to-text
image-text-to-text any-to-any visual-document-retrieval keypoint-detection text-retrieval
text-to-video other
""".split())
SPACE_COLORS = frozenset({"red", "yellow", "green", "blue", "indigo", "purple", "pink", "gray"})
GATED_FIELD_TYPES = frozenset({"text", "checkbox", "date_picker", "country"})
SHORT_DESCRIPTION_MAX = 60  # the Hub truncates/refuses longer Space short descriptions


def _fail(where: str, field_name: str, problem: str) -> MijaError:
    return MijaError(f"{where}: card field '{field_name}' {problem}")


def _resource(name: str) -> set:
    import json
    from importlib import resources
    raw = json.loads(resources.files("datasets.utils.resources").joinpath(name).read_text("utf-8"))
    return set(raw)


def _as_list(value) -> list:
    return value if isinstance(value, list) else [value]


def _check_in(where: str, data: dict, key: str, allowed, what: str) -> None:
    for item in _as_list(data.get(key)) if data.get(key) is not None else []:
        if item not in allowed:
            raise _fail(where, key, f"has {item!r}, which is not a Hub {what}; fix the card template data")


def _check_gating(where: str, data: dict) -> None:
    fields_ = data.get("extra_gated_fields")
    if fields_ is None:
        return
    if not isinstance(data.get("extra_gated_prompt"), str) or not data["extra_gated_prompt"].strip():
        raise _fail(where, "extra_gated_prompt", "must be a non-empty text when gated fields are set")
    if not isinstance(fields_, dict) or not fields_:
        raise _fail(where, "extra_gated_fields", "must map a question to a field type")
    for label, kind in fields_.items():
        spec = kind if isinstance(kind, dict) else {"type": kind}
        ok = spec.get("type") in GATED_FIELD_TYPES or (
            spec.get("type") == "select" and isinstance(spec.get("options"), list) and spec["options"])
        if not ok:
            raise _fail(where, "extra_gated_fields", f"entry {label!r} needs a type in "
                        f"{sorted(GATED_FIELD_TYPES)} or select with options")


def _check_dataset(where: str, data: dict, card, folder: Path | None) -> None:
    from datasets.utils.metadata import MetadataConfigs
    _check_in(where, data, "size_categories", _resource("size_categories.json"), "size category")
    _check_in(where, data, "task_categories", HUB_TASKS, "task category")
    if not isinstance(data.get("pretty_name", ""), str):
        raise _fail(where, "pretty_name", "must be text")
    try:
        configs = MetadataConfigs.from_dataset_card_data(card.data)
    except ValueError:
        raise _fail(where, "configs", "is not a valid list of "
                    "{config_name, data_files:[{split, path}]}") from None
    if folder is not None:
        for name, config in configs.items():
            for entry in _as_list(config.get("data_files", [])):
                for pattern in _as_list(entry["path"] if isinstance(entry, dict) else entry):
                    if not any(folder.glob(pattern)):
                        raise _fail(where, "configs", f"config {name!r} points at {pattern!r}, which "
                                    "matches no file in the folder; rebuild the dataset")


def _check_model(where: str, data: dict) -> None:
    _check_in(where, data, "pipeline_tag", HUB_TASKS, "pipeline tag")
    for base in _as_list(data.get("base_model")) if data.get("base_model") else []:
        if not isinstance(base, str) or base.count("/") != 1:
            raise _fail(where, "base_model", "must be a Hub model id like org/name")


def _check_space(where: str, data: dict, folder: Path | None) -> None:
    import re

    from huggingface_hub.constants import SPACES_SDK_TYPES
    if data.get("sdk") not in SPACES_SDK_TYPES:
        raise _fail(where, "sdk", f"must be one of {', '.join(SPACES_SDK_TYPES)}")
    version = str(data.get("sdk_version") or "")
    if data["sdk"] in ("gradio", "streamlit") and not re.fullmatch(r"\d+\.\d+(\.\d+)?", version):
        raise _fail(where, "sdk_version", "must pin a version like 6.31.0 for gradio/streamlit Spaces")
    for key in ("colorFrom", "colorTo"):
        _check_in(where, data, key, SPACE_COLORS, "Space color")
    if len(str(data.get("short_description") or "")) > SHORT_DESCRIPTION_MAX:
        raise _fail(where, "short_description", f"is longer than {SHORT_DESCRIPTION_MAX} characters")
    app_file = data.get("app_file")
    if data["sdk"] != "docker" and not app_file:
        raise _fail(where, "app_file", "is required (the Space's entry point)")
    if folder is not None and app_file and not (folder / app_file).is_file():
        raise _fail(where, "app_file", f"names {app_file!r}, which is not in the folder")


def validate_card(text: str, repo_type: str, where: str = "README.md", folder: Path | None = None) -> dict:
    """Check a card the way the Hub would before it is uploaded; return its metadata.

    ``folder`` (the repo folder as uploaded) also checks that ``configs`` globs and ``app_file``
    point at files that exist. Raises a one-line :class:`MijaError` naming the field.
    """
    from huggingface_hub import DatasetCard, ModelCard, SpaceCard
    from huggingface_hub.repocard import REGEX_YAML_BLOCK
    classes = {"dataset": DatasetCard, "model": ModelCard, "space": SpaceCard}
    if repo_type not in classes:
        raise MijaError(f"{where}: unknown repo type {repo_type!r}; use dataset, model or space")
    if not REGEX_YAML_BLOCK.search(text):
        raise MijaError(f"{where}: the card has no YAML metadata block (---) at the top")
    try:
        card = classes[repo_type](text, ignore_metadata_errors=False)
    except Exception as exc:  # yaml / huggingface_hub parse errors (card metadata, never data rows)
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        raise MijaError(f"{where}: the card metadata is invalid ({reason}); fix the YAML block") from None
    data = card.data.to_dict()
    _check_in(where, data, "license", HUB_LICENSES, "license id")
    if repo_type in ("dataset", "model"):
        _check_in(where, data, "language", _resource("languages.json"), "language code")
    tags = data.get("tags")
    if tags is not None and not all(isinstance(t, str) for t in _as_list(tags)):
        raise _fail(where, "tags", "must be a list of strings")
    _check_gating(where, data)
    if repo_type == "dataset":
        _check_dataset(where, data, card, folder)
    elif repo_type == "model":
        _check_model(where, data)
    else:
        _check_space(where, data, folder)
    return data


def validate_card_on_hub(text: str, repo_type: str, where: str = "README.md",
                         endpoint: str | None = None, token: str | None = None) -> None:
    """The Hub's own check (what ``RepoCard.validate`` and ``create_commit`` call), at ``endpoint``.

    ``RepoCard.validate`` always uses the endpoint fixed at import time; releases pass theirs, so
    this sends the same request (``POST /api/validate-yaml``) to the endpoint being pushed to.
    """
    from huggingface_hub import constants
    from huggingface_hub.errors import BadRequestError, HfHubHTTPError
    from huggingface_hub.utils import build_hf_headers, get_session, hf_raise_for_status
    response = get_session().post(f"{endpoint or constants.ENDPOINT}/api/validate-yaml",
                                  json={"content": text, "repoType": repo_type},
                                  headers=build_hf_headers(token=token))
    try:
        hf_raise_for_status(response)
    except BadRequestError:
        try:
            errors = [e.get("message", "") for e in response.json().get("errors", [])]
        except ValueError:
            errors = []
        detail = "; ".join(e for e in errors if e) or "no details given"
        raise MijaError(f"{where}: the Hub rejected the card metadata ({detail}); fix the card") from None
    except HfHubHTTPError as exc:  # 401/403 (a rejected token), 5xx: one line, nothing uploaded
        status = getattr(getattr(exc, "response", None), "status_code", "?")
        hint = ("check the token (HF_TOKEN or `hf auth login`)" if status in (401, 403)
                else "check the Hub endpoint and retry")
        raise MijaError(f"{where}: the Hub refused the card check (HTTP {status}); {hint}; "
                        "nothing was uploaded") from None
