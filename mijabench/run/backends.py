"""Choosing a model backend from a model spec (:mod:`mijabench.specs`): the embedded model, a
local folder, a cached Hub model or endpoints.

* :class:`~mijabench.run.endpoints.EndpointBackend` -- OpenAI-compatible servers.
* :class:`~mijabench.run.local.TransformersBackend` -- batched greedy generation in-process.
"""

from __future__ import annotations

from pathlib import Path

from mijabench import sources
from mijabench.errors import MijaError
from mijabench.run.endpoints import EndpointBackend
from mijabench.specs import (
    EMBEDDED,
    ENDPOINT,
    ENDPOINT_FORM,
    ModelSpec,
    parse_model_spec,
)

ENDPOINT_OPTIONS = ("concurrency", "max_retries", "timeout", "token", "backoff_base",
                    "backoff_max", "http_client", "max_response_chars")
LOCAL_OPTIONS = ("device", "batch_size", "dtype", "threads")


def make_backend(spec: str | ModelSpec | None = None, where: str = "--model", **kw):
    """A backend for a model spec (``where`` names the option in errors). Options meant for the
    other kind of backend are ignored, so callers can pass both sets."""
    unknown = set(kw) - set(ENDPOINT_OPTIONS) - set(LOCAL_OPTIONS)
    if unknown:
        hint = "; name the served model in the spec (URL#model)" if "model" in unknown else ""
        raise TypeError(f"make_backend: unknown option(s) {', '.join(sorted(unknown))}{hint}")
    if not isinstance(spec, ModelSpec):
        spec = parse_model_spec(spec, where)
    if spec.kind == ENDPOINT:
        return EndpointBackend(list(spec.urls), model=spec.served_model,
                               **{k: v for k, v in kw.items() if k in ENDPOINT_OPTIONS})
    from mijabench.run.local import TransformersBackend

    local = {k: v for k, v in kw.items() if k in LOCAL_OPTIONS and v is not None}
    if spec.kind == EMBEDDED:
        from mijabench.run.embedded import default_model_dir
        return TransformersBackend(default_model_dir(), **local)
    return TransformersBackend(resolve_model_dir(spec.name, where), **local)


def resolve_model_dir(name: str, where: str = "--model") -> Path:
    """A local model folder, or the cached snapshot of a Hub id (never the network)."""
    path = sources.local_path(name)
    if path is not None and path.is_dir():
        return path
    repo = sources.hub_id(name)
    if repo is not None:
        try:
            from huggingface_hub import snapshot_download
            return Path(snapshot_download(repo, local_files_only=True))
        except Exception:  # noqa: BLE001 -- not downloaded (or not a model): reported below
            pass
    raise MijaError(f"{where} {name}: not a local model folder, a downloaded Hub model or an "
                    "http(s):// endpoint; pass a folder with config.json + weights (e.g. from "
                    f"`hf download`), an endpoint {ENDPOINT_FORM}, or nothing for the embedded "
                    "SmolLM2")
