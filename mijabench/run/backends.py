"""Choosing a model backend from a user spec: the embedded model, a local folder or endpoints.

* :class:`~mijabench.run.endpoints.EndpointBackend` -- OpenAI-compatible servers.
* :class:`~mijabench.run.local.TransformersBackend` -- batched greedy generation in-process.
"""

from __future__ import annotations

from pathlib import Path

from mijabench.errors import MijaError
from mijabench.run.endpoints import EndpointBackend

ENDPOINT_OPTIONS = ("model", "concurrency", "max_retries", "timeout", "token", "backoff_base",
                    "backoff_max", "http_client")
LOCAL_OPTIONS = ("device", "batch_size", "dtype", "threads")


def make_backend(spec: str | None = None, **kw):
    """``None`` -> the embedded SmolLM2; a local folder (or a Hub id already in the local cache)
    -> :class:`TransformersBackend`; ``http(s)://...`` (comma-separated for several servers) ->
    :class:`EndpointBackend`. Options meant for the other kind of backend are ignored."""
    unknown = set(kw) - set(ENDPOINT_OPTIONS) - set(LOCAL_OPTIONS)
    if unknown:
        raise TypeError(f"make_backend: unknown option(s) {', '.join(sorted(unknown))}")
    spec = (spec or "").strip()
    if spec.startswith(("http://", "https://")):
        urls = [u for u in spec.split(",") if u.strip()]
        return EndpointBackend(urls, **{k: v for k, v in kw.items() if k in ENDPOINT_OPTIONS})
    from mijabench.run.local import TransformersBackend

    local = {k: v for k, v in kw.items() if k in LOCAL_OPTIONS and v is not None}
    if not spec:
        from mijabench.run.embedded import default_model_dir
        return TransformersBackend(default_model_dir(), **local)
    return TransformersBackend(resolve_model_dir(spec), **local)


def resolve_model_dir(spec: str) -> Path:
    path = Path(spec).expanduser()
    if path.is_dir():
        return path
    if spec.count("/") == 1 and not path.exists() and not spec.startswith((".", "/", "~")):
        try:  # a Hub id that is already downloaded: use the cached snapshot, never the network
            from huggingface_hub import snapshot_download
            return Path(snapshot_download(spec, local_files_only=True))
        except Exception:  # noqa: BLE001 -- reported below as one line
            pass
    raise MijaError(f"--model {spec}: not a local model folder, a downloaded Hub model or an "
                    "http(s):// endpoint; pass a folder with config.json + weights (e.g. from "
                    "`hf download`), --endpoint URL, or nothing for the embedded SmolLM2")
