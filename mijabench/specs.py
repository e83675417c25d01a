"""Naming a model: one spec syntax for every option that takes a model or an endpoint.

A model spec is one of::

    (nothing)                 the embedded SmolLM2-135M-Instruct (offline, the default)
    embedded | embedded:smollm2
    URL[|URL...][#model]      OpenAI-compatible server(s): TGI, vLLM, `transformers serve`, ...
    FOLDER                    a local model folder (config.json + weights)
    OWNER/NAME                a Hub model id already in the local cache (runs stay offline)

* ``URL`` is ``http(s)://HOST[:PORT][/PATH]``. Several URLs (replicas of one model; requests are
  shared between them) are separated by ``|``, and ``#model`` names the served model sent on
  every request (``transformers serve`` and vLLM need it; default: asked from ``/v1/models``).
* ``|`` is the only list separator because it can never be part of a URL (RFC 3986), while
  ``,`` separates the members of ``--judge ensemble:A,B`` and ``;`` the entries of the Space's
  ``MIJABENCH_SPACE_MODELS="name=spec;name=spec"``. Quote a spec with ``|`` in a shell.
* ``llm:SPEC`` in ``--judge`` and ``--rewriter`` means "an endpoint spec follows"
  (``llm:URL[|URL...][#model]``); those take endpoints only.
* Whether ``OWNER/NAME`` is a folder or a Hub id follows :mod:`mijabench.sources`: what exists on
  disk is a folder.

Used by ``--model`` (``audit``, ``filter``), ``--aligned``/``--base`` (``dpo-eval``),
``audit --endpoint`` (shorthand: ``--endpoint A --endpoint B --model M`` is ``--model "A|B#M"``),
``--judge llm:``, ``--rewriter llm:`` and the Space's model allow-list. Parsing only reads the
text and whether a path exists; loading happens in :func:`mijabench.run.backends.make_backend`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from mijabench import sources
from mijabench.errors import MijaError

EMBEDDED, ENDPOINT, FOLDER, HUB = "embedded", "endpoint", "folder", "hub"
KINDS = (EMBEDDED, ENDPOINT, FOLDER, HUB)
EMBEDDED_MODELS = ("smollm2",)
URL_SEP, MODEL_SEP = "|", "#"
ENDPOINT_FORM = "URL[|URL...][#model]"          # the short form every --help text shows
SPEC_FORM = f"FOLDER | OWNER/NAME | {ENDPOINT_FORM} | embedded"


@dataclass(frozen=True)
class ModelSpec:
    """A parsed model spec; ``str(spec)`` is its canonical text (parses back to itself)."""

    kind: str                          # EMBEDDED | ENDPOINT | FOLDER | HUB
    name: str = ""                     # embedded model, folder path or Hub id; "" for endpoints
    urls: tuple[str, ...] = ()         # endpoints only
    served_model: str | None = None    # endpoints only: the name after '#'

    def __str__(self) -> str:
        if self.kind == EMBEDDED:
            return f"{EMBEDDED}:{self.name}"
        if self.kind == ENDPOINT:
            return URL_SEP.join(self.urls) + (f"{MODEL_SEP}{self.served_model}"
                                              if self.served_model else "")
        return self.name


def parse_model_spec(text: object, where: str = "--model", kinds: tuple[str, ...] = KINDS,
                     prefix: str = "") -> ModelSpec:
    """Parse ``text`` (see the module docstring). ``where`` names the option in errors, ``prefix``
    is what preceded the spec there (``llm:``), ``kinds`` the kinds that option accepts."""
    raw = "" if text is None else str(text).strip()
    head = f"{where} {prefix}{redact(raw)}" if raw else f"{where} {prefix}".rstrip(": ")
    if "://" in raw:
        spec = _endpoint(raw, head, prefix)
    else:
        spec = _local(raw, head)
    if spec.kind not in kinds:
        wanted = (f"{prefix}http(s)://HOST[:PORT][|URL...][#model]" if kinds == (ENDPOINT,)
                  else " | ".join(_FORMS[k] for k in kinds))
        raise MijaError(f"{head}: expected {wanted}; got {_WORDS[spec.kind]}")
    return spec


def endpoint_spec(urls: list[str], served_model: str | None = None,
                  where: str = "--endpoint") -> ModelSpec:
    """The ``--endpoint URL`` (repeatable) + ``--model NAME`` shorthand, as one endpoint spec."""
    text = URL_SEP.join(u.strip() for u in urls)
    if served_model and served_model.strip():
        if MODEL_SEP in text:
            raise MijaError(f"{where}: the served model is named twice (URL#model and --model); "
                            "keep one")
        text += MODEL_SEP + served_model.strip()
    return parse_model_spec(text, where, kinds=(ENDPOINT,))


def redact(text: str) -> str:
    """The spec as shown in messages: user:password@ and ?query (where tokens hide) removed."""
    text = re.sub(r"(?<=//)[^/@|#\s]*@", "", text)
    return re.sub(r"\?[^|#]*", "?...", text)


_FORMS = {EMBEDDED: "embedded", ENDPOINT: ENDPOINT_FORM, FOLDER: "FOLDER", HUB: "OWNER/NAME"}
_WORDS = {EMBEDDED: "the embedded model", ENDPOINT: "endpoint URLs", FOLDER: "a folder name",
          HUB: "a Hub id"}


def _endpoint(raw: str, head: str, prefix: str) -> ModelSpec:
    urls_text, sep, served = raw.partition(MODEL_SEP)
    served = served.strip()
    if sep and (not served or MODEL_SEP in served or URL_SEP in served):
        raise MijaError(f"{head}: after '#' give one served model name, e.g. "
                        f"{prefix}http://HOST:8080#org/model, or drop the '#'")
    urls = tuple(u.strip() for u in urls_text.split(URL_SEP))
    for url in urls:
        _check_url(url, head)
    return ModelSpec(ENDPOINT, urls=urls, served_model=served or None)


def _check_url(url: str, head: str) -> None:
    if not url:
        raise MijaError(f"{head}: an empty URL in the list; separate URLs with one '|' and no "
                        "'|' at either end")
    if re.search(r"[,;]\s*https?://", url):  # the two older list syntaxes: say what replaced them
        raise MijaError(f"{head}: separate several URLs with '|', e.g. http://a:8080|http://b:8080")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 -- raises ValueError on a bad port
    except ValueError:
        raise MijaError(f"{head}: not a valid URL; expected http(s)://HOST[:PORT]") from None
    if parts.scheme not in ("http", "https") or not parts.hostname or re.search(r"\s", url):
        raise MijaError(f"{head}: expected http(s)://HOST[:PORT] for each URL (only http and "
                        "https endpoints are supported)")


def _local(raw: str, head: str) -> ModelSpec:
    if not raw:
        return ModelSpec(EMBEDDED, EMBEDDED_MODELS[0])
    keyword, colon, which = raw.partition(":")
    if keyword == EMBEDDED:  # the keyword wins over a folder that happens to be called "embedded"
        which = which.strip() if colon else EMBEDDED_MODELS[0]
        if which not in EMBEDDED_MODELS:
            raise MijaError(f"{head}: unknown embedded model; use {EMBEDDED} or "
                            + ", ".join(f"{EMBEDDED}:{m}" for m in EMBEDDED_MODELS))
        return ModelSpec(EMBEDDED, which)
    if sources.local_path(raw) is None and (MODEL_SEP in raw or URL_SEP in raw):
        raise MijaError(f"{head}: '#model' and '|' belong to endpoint specs ({ENDPOINT_FORM}); "
                        "a folder or Hub id takes neither")
    repo = sources.hub_id(raw)
    return ModelSpec(HUB, repo) if repo else ModelSpec(FOLDER, raw)
