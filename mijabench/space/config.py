"""The probe Space's configuration: the model and results allow-lists and the input caps.

Visitors only ever pick a *name* from these lists; the spec behind a name (a local folder, an
endpoint URL, a Hub dataset id) never leaves the server, so the Space cannot be pointed at an
arbitrary URL and no endpoint address is shown. Tokens are never part of the config: endpoint
backends read ``HF_TOKEN`` from the environment (a Space secret).

Sources, later ones override earlier ones:

1. the defaults: the embedded SmolLM2, the bundled demo results and the paper's reported numbers;
2. ``MIJABENCH_SPACE_CONFIG=path.yaml`` (see ``spaces/probe/README.md`` for the format);
3. ``MIJABENCH_SPACE_MODELS="name=spec;name=spec"`` (handy as a Space variable). A spec is a
   model spec (:mod:`mijabench.specs`): a folder, a cached Hub id, ``embedded`` or
   ``URL[|URL...][#model]``; ``;`` separates entries, ``|`` the URLs inside one spec.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from urllib.parse import urlsplit

import yaml

from mijabench.errors import MijaError
from mijabench.specs import FOLDER, HUB, SPEC_FORM, parse_model_spec

CONFIG_ENV = "MIJABENCH_SPACE_CONFIG"
MODELS_ENV = "MIJABENCH_SPACE_MODELS"
EMBEDDED_NAME = "SmolLM2-135M-Instruct (embedded)"
PAPER_SOURCE = "paper"  # the MiJaBench authors' published numbers (mijabench.space.paper)


@dataclass(frozen=True)
class Limits:
    """Caps that keep one visitor from monopolising a shared Space."""
    max_custom_chars: int = 300     # custom intent / seed text
    max_groups: int = 6             # groups in one probe
    max_new_tokens: int = 96        # per response
    compare_per_group: int = 4      # prompts per group in a live compare
    concurrency: int = 1            # model calls at once (Gradio queue)
    queue_size: int = 16            # waiting requests before "queue full"


@dataclass(frozen=True)
class ModelEntry:
    name: str
    spec: str | None  # a model spec (mijabench.specs); None = embedded SmolLM2. Never shown.
    family: str = ""


@dataclass(frozen=True)
class SpaceConfig:
    models: dict[str, ModelEntry] = field(default_factory=dict)
    # display name -> a folder or file, "hub:owner/name@revision", or "paper" (reported numbers)
    results: dict[str, str] = field(default_factory=dict)
    judge: str = "intent"
    limits: Limits = Limits()

    def model(self, name: str) -> ModelEntry:
        """The allow-listed model called ``name``; anything else is refused."""
        entry = self.models.get(name or "")
        if entry is None:
            raise MijaError(f"model {name!r} is not offered by this Space; pick one of: "
                            + ", ".join(self.models))
        return entry

    def results_source(self, name: str) -> str:
        source = self.results.get(name or "")
        if source is None:
            raise MijaError(f"results {name!r} are not offered by this Space; pick one of: "
                            + ", ".join(self.results))
        return source


def check_spec(spec: str | None, where: str) -> str | None:
    """The canonical model spec (None = embedded). Malformed specs fail at start-up, and specs
    that embed credentials are refused: tokens belong in the HF_TOKEN secret."""
    if spec is None or not str(spec).strip():
        return None
    parsed = parse_model_spec(str(spec), where)
    for url in parsed.urls:
        parts = urlsplit(url)
        if parts.username or parts.password or "token" in parts.query.lower():
            raise MijaError(f"{where}: the endpoint URL carries credentials; remove them and "
                            "set the HF_TOKEN secret instead")
    return str(parsed)


def _resolve(spec: str | None, base: Path) -> str | None:
    """Relative folders in a YAML file are relative to that file, not to the working directory."""
    if spec is None or parse_model_spec(spec).kind not in (FOLDER, HUB):
        return spec
    path = Path(spec).expanduser()
    if not path.is_absolute() and (base / path).exists():
        return str((base / path).resolve())
    return spec


def _results_source(value: object, where: str, base: Path) -> str:
    """A results source as the leaderboard reads it. Hub datasets must name a revision, so every
    visitor sees the same rows whatever is pushed to the repo later."""
    from mijabench.derived.results import HUB_PREFIX, hub_parts
    from mijabench.derived.upstream_hub import HUB_ID
    text = str(value or "").strip()
    if text == PAPER_SOURCE:
        return text
    if text.startswith(HUB_PREFIX):
        try:
            revision = hub_parts(text)[1]
        except MijaError:  # not owner/name: the message below says how to write it
            revision = None
        if not (revision or "").strip():
            raise MijaError(f"{where}: write a Hub dataset as hub:owner/name@<revision> (a commit "
                            "or tag), so the results cannot change under the Space")
        return text
    resolved = _resolve(text, base) or ""
    if HUB_ID.fullmatch(text) and not Path(resolved).exists():
        raise MijaError(f"{where}: no such file or folder; for a Hub dataset write "
                        f"hub:{text}@<revision>")
    return resolved


def _model_entries(raw: object, where: str, base: Path) -> dict[str, ModelEntry]:
    if not isinstance(raw, dict):
        raise MijaError(f"{where}: 'models' must map a display name to a model spec "
                        f"(null = embedded SmolLM2, {SPEC_FORM})")
    entries = {}
    for name, value in raw.items():
        item = value if isinstance(value, dict) else {"spec": value}
        spec = check_spec(item.get("spec"), f"{where}: models.{name}")
        entries[str(name)] = ModelEntry(str(name), _resolve(spec, base), str(item.get("family") or ""))
    return entries


def _limits(raw: object, where: str) -> Limits:
    if raw is None:
        return Limits()
    names = {f.name for f in fields(Limits)}
    if not isinstance(raw, dict) or set(raw) - names:
        raise MijaError(f"{where}: 'limits' accepts only {', '.join(sorted(names))}")
    try:
        values = {k: int(v) for k, v in raw.items()}
    except (TypeError, ValueError):
        raise MijaError(f"{where}: every value under 'limits' must be a whole number") from None
    if any(v < 1 for v in values.values()):
        raise MijaError(f"{where}: every value under 'limits' must be at least 1")
    return Limits(**values)


def from_yaml(path: Path, base_config: SpaceConfig) -> SpaceConfig:
    path = Path(path)
    where = str(path)
    if not path.is_file():
        raise MijaError(f"{CONFIG_ENV}={where}: no such file; point it at the Space's YAML config")
    try:
        raw = yaml.safe_load(path.read_text("utf-8")) or {}
    except yaml.YAMLError as exc:
        line = getattr(getattr(exc, "problem_mark", None), "line", None)
        raise MijaError(f"{where}{f':{line + 1}' if line is not None else ''}: not valid YAML") from None
    if not isinstance(raw, dict):
        raise MijaError(f"{where}: expected a mapping with models/results/judge/limits")
    unknown = set(raw) - {"models", "results", "judge", "limits"}
    if unknown:
        raise MijaError(f"{where}: unknown keys {', '.join(sorted(unknown))}; "
                        "use models, results, judge, limits")
    config = base_config
    if "models" in raw:
        config = replace(config, models=_model_entries(raw["models"], where, path.parent))
    if "results" in raw:
        if not isinstance(raw["results"], dict):
            raise MijaError(f"{where}: 'results' must map a display name to a folder, a Parquet "
                            "file, hub:owner/name@<revision> or paper")
        config = replace(config, results={
            str(k): _results_source(v, f"{where}: results.{k}", path.parent)
            for k, v in raw["results"].items()})
    if raw.get("judge"):
        config = replace(config, judge=str(raw["judge"]))
    return replace(config, limits=_limits(raw.get("limits"), where))


def models_from_env(text: str) -> dict[str, ModelEntry]:
    entries = {}
    for item in (t.strip() for t in text.split(";")):
        name, sep, spec = item.partition("=")
        if not item:
            continue
        if not sep or not name.strip():
            raise MijaError(f"{MODELS_ENV}: expected name=spec[;name=spec...] (several URLs in "
                            "one spec: URL|URL); got an entry without 'name='")
        spec = check_spec(spec, f"{MODELS_ENV}: {name.strip()}")
        entries[name.strip()] = ModelEntry(name.strip(), spec)
    return entries


def load_config(default_results: dict[str, str] | None = None, env=None) -> SpaceConfig:
    """Defaults, then the YAML file named by the environment, then the models variable."""
    env = os.environ if env is None else env
    config = SpaceConfig(models={EMBEDDED_NAME: ModelEntry(EMBEDDED_NAME, None, "smollm2")},
                         results=dict(default_results or {}))
    if env.get(CONFIG_ENV):
        config = from_yaml(Path(env[CONFIG_ENV]), config)
    if env.get(MODELS_ENV):
        config = replace(config, models=models_from_env(env[MODELS_ENV]))
    if not config.models:
        raise MijaError("the Space config lists no models; add at least one under 'models'")
    from mijabench.judge.registry import make_judge
    make_judge(config.judge)  # fail at start-up, not on a visitor's first probe
    return config
