"""HTTP transports for OpenAI-compatible chat completions, and how their failures are classified.

Two interchangeable transports send the same request body (the one
``huggingface_hub.AsyncInferenceClient.chat_completion`` sends):

* ``aiohttp`` (default): a lean keep-alive session, about 0.4 ms of client CPU per request, so one
  process keeps hundreds of requests per second in flight (``benchmarks/bench_endpoints.py``);
* ``hub``: ``huggingface_hub.AsyncInferenceClient(base_url=...)`` -- the reference client, about
  3 ms of client CPU per request on a small CPU (httpx), fine for tens of requests per second.

Failures never carry server bodies (they may echo the prompt) or headers (they may hold a token).
Also here: the private event loop each endpoint backend keeps (:class:`LoopThread`), backoff and
the one-line explanations of a failed health probe.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import logging
import os
import random
import threading
from urllib.parse import urlparse

log = logging.getLogger("mijabench")

try:  # orjson (installed with gradio) encodes/decodes ~10x faster; the stdlib is the fallback
    import orjson

    _dumps, _loads = orjson.dumps, orjson.loads
except ImportError:  # pragma: no cover
    _dumps, _loads = (lambda obj: json.dumps(obj).encode()), json.loads

TRANSPORTS = ("aiohttp", "hub")
RETRY_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504})
HF_HOSTS = ("huggingface.co", "huggingface.cloud", "hf.space")


class HTTPStatus(Exception):
    """A non-2xx answer: only the status and the server's Retry-After are kept."""

    def __init__(self, status: int, retry_after: float | None = None):
        super().__init__(f"HTTP {status}")
        self.status, self.retry_after = status, retry_after


class BadResponse(Exception):
    """A 2xx answer that is not a chat completion."""


class EmptyReply(BadResponse):
    """A chat completion with no choices or no content: a failed row, retried, never a response."""


class BodyTooLarge(BadResponse):
    """A reply body above MAX_BODY_BYTES: not read further."""


# Far above any chat completion of a few thousand tokens; a body past it is a broken server.
MAX_BODY_BYTES = 8 << 20


def chat_url(base_url: str) -> str:
    """``http://h:p`` -> ``http://h:p/v1/chat/completions`` (as huggingface_hub builds it)."""
    path = urlparse(base_url).path.rstrip("/")
    base = base_url.rstrip("/")
    if path.endswith("/chat/completions"):
        return base
    if path.endswith("/v1"):
        return f"{base}/chat/completions"
    return f"{base}/v1/chat/completions"


def is_hf_host(url: str) -> bool:
    host = (urlparse(url).hostname or "").lower()
    return any(host == h or host.endswith("." + h) for h in HF_HOSTS)


def bearer(url: str, token: str | None) -> str | None:
    """The token to send: the given one, else the stored HF token for Hugging Face hosts only
    (never leak the user's HF token to a third-party server)."""
    if token:
        return token
    if is_hf_host(url):
        from huggingface_hub import get_token
        return get_token()
    return None


def _retry_after(value) -> float | None:
    try:
        return float(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def classify(exc: BaseException) -> tuple[str, bool, float | None]:
    """(short reason, retryable, Retry-After seconds or None) for any transport's failure."""
    import aiohttp
    import httpx2
    from huggingface_hub.errors import HfHubHTTPError

    if isinstance(exc, HTTPStatus):
        return f"HTTP {exc.status}", exc.status in RETRY_STATUS, exc.retry_after
    if isinstance(exc, HfHubHTTPError) and getattr(exc, "response", None) is not None:
        status = exc.response.status_code
        return f"HTTP {status}", status in RETRY_STATUS, _retry_after(exc.response.headers.get("retry-after"))
    if isinstance(exc, (TimeoutError, asyncio.TimeoutError, httpx2.TimeoutException)):
        return "timeout", True, None
    if isinstance(exc, aiohttp.ClientConnectorError):
        dns = getattr(aiohttp, "ClientConnectorDNSError", ())
        if dns and isinstance(exc, dns):
            return "host not found", False, None
        return "connection refused", True, None
    if isinstance(exc, httpx2.ConnectError):
        return "connection refused", True, None
    if isinstance(exc, (aiohttp.ClientError, httpx2.TransportError, ConnectionError)):
        return f"connection error ({type(exc).__name__})", True, None
    if isinstance(exc, EmptyReply):
        return "empty reply", True, None
    if isinstance(exc, BodyTooLarge):
        return f"reply body over {MAX_BODY_BYTES >> 20} MiB", False, None
    if isinstance(exc, BadResponse):
        return "invalid chat completion response", False, None
    return type(exc).__name__, False, None


class AiohttpChat:
    """One aiohttp session (keep-alive pool) for all URLs of one run."""

    def __init__(self, token: str | None, timeout: float, limit: int):
        import aiohttp
        self._token, self._limit = token, limit
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session = None
        self._routes: dict[str, tuple[str, dict]] = {}

    def _route(self, url: str) -> tuple:
        """(parsed chat completions URL, headers) for a base URL, computed once."""
        if url not in self._routes:
            from yarl import URL
            headers = {"Content-Type": "application/json"}
            token = bearer(url, self._token)
            if token:
                headers["Authorization"] = f"Bearer {token}"
            self._routes[url] = (URL(chat_url(url)), headers)
        return self._routes[url]

    async def complete(self, url: str, messages: list[dict], payload: dict) -> str:
        import aiohttp
        if self._session is None:
            connector = aiohttp.TCPConnector(limit=self._limit, limit_per_host=0, ttl_dns_cache=300)
            self._session = aiohttp.ClientSession(connector=connector, timeout=self._timeout)
        target, headers = self._route(url)
        body = _dumps({**payload, "messages": messages})
        async with self._session.post(target, data=body, headers=headers) as resp:
            if resp.status >= 300:
                raise HTTPStatus(resp.status, _retry_after(resp.headers.get("Retry-After")))
            raw = await _read_capped(resp.content)
        try:
            choices = _loads(raw)["choices"]
            content = choices[0]["message"].get("content") if choices else None
        except (ValueError, KeyError, IndexError, TypeError, AttributeError):
            raise BadResponse() from None
        return _content(content)

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


async def _read_capped(stream) -> bytes:
    chunks, size = [], 0
    async for chunk in stream.iter_chunked(1 << 16):
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise BodyTooLarge()
        chunks.append(chunk)
    return b"".join(chunks)


def _content(content) -> str:
    """The reply text; an empty or missing one is an error (retried), never an empty response."""
    if not isinstance(content, str):
        if content is None:
            raise EmptyReply()
        raise BadResponse()
    if not content.strip():
        raise EmptyReply()
    return content


class HubChat:
    """``huggingface_hub.AsyncInferenceClient(base_url=URL)``, one client per URL."""

    def __init__(self, token: str | None, timeout: float, limit: int):
        self._token, self._timeout = token, timeout
        self._clients: dict = {}

    def _client(self, url: str):
        if url not in self._clients:
            from huggingface_hub import AsyncInferenceClient
            # A None header value is dropped: no implicit HF token sent to third-party hosts.
            headers = {} if (self._token or is_hf_host(url)) else {"authorization": None}
            self._clients[url] = AsyncInferenceClient(base_url=url, token=self._token,
                                                      timeout=self._timeout, headers=headers)
        return self._clients[url]

    async def complete(self, url: str, messages: list[dict], payload: dict) -> str:
        out = await self._client(url).chat_completion(messages, **payload)
        return _content(out.choices[0].message.content if out.choices else None)

    async def aclose(self) -> None:
        for client in self._clients.values():
            await client.close()
        self._clients = {}


def make_transport(kind: str, token: str | None, timeout: float, limit: int):
    if kind == "aiohttp":
        return AiohttpChat(token, timeout, limit)
    if kind == "hub":
        return HubChat(token, timeout, limit)
    from mijabench.errors import unknown_name
    raise unknown_name("http client", kind, list(TRANSPORTS), "--http-client")


# --- the event loop and retries ----------------------------------------------------------------
class LoopThread:
    """A private asyncio loop in a daemon thread. One backend keeps one, so its HTTP session and
    keep-alive connections survive across calls, and sync callers work even inside a running
    loop (Jupyter, Gradio)."""

    def __init__(self):
        self.pid = os.getpid()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="mijabench-endpoint",
                                       daemon=True)
        self.thread.start()

    def submit(self, coro) -> concurrent.futures.Future:
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def run(self, coro):
        future = self.submit(coro)
        try:
            return future.result()
        except BaseException:  # e.g. Ctrl-C while waiting: stop the work in the loop too
            future.cancel()
            raise

    def close(self, closer=None) -> None:
        if self.pid != os.getpid() or not self.thread.is_alive():
            return
        if closer is not None:
            try:
                self.submit(closer()).result(timeout=10)
            except Exception:  # noqa: BLE001 -- best effort at shutdown
                pass
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)


class Session:
    """A backend's loop thread and transport, kept apart from the backend so that a finalizer
    can close them without keeping the backend alive."""

    def __init__(self, make_transport):
        self.runner = LoopThread()
        self._make, self._transport = make_transport, None

    def transport(self):
        if self._transport is None:
            self._transport = self._make()
        return self._transport

    def close(self) -> None:
        async def aclose():
            if self._transport is not None:
                await self._transport.aclose()
                self._transport = None
        self.runner.close(aclose)


def backoff_delay(attempt: int, base: float, cap: float, retry_after: float | None = None) -> float:
    """Exponential backoff with full jitter; a server's Retry-After is honoured (up to ``cap``)."""
    delay = random.uniform(0, min(cap, base * (2 ** attempt)))
    if retry_after is not None:
        delay = max(delay, min(retry_after, cap))
    return delay


def probe_problem(url: str, reason: str, retryable: bool, timeout: float) -> str:
    """A one-line explanation for a failed probe, or "" when the run may go on (429/5xx: the
    server answers but is busy or flaky; per-request retries deal with it)."""
    where = f"endpoint {url}"
    if reason == "connection refused":
        return f"{where}: connection refused; start the server or fix --endpoint"
    if reason == "host not found":
        return f"{where}: host not found; fix the host name in --endpoint"
    if reason == "timeout":
        return f"{where}: no answer within {timeout:g}s; check the server or raise --timeout"
    if reason.startswith("connection error"):
        return f"{where}: {reason}; check the server and the URL given to --endpoint"
    if reason in ("HTTP 401", "HTTP 403"):
        return f"{where}: {reason} (not authorized); set HF_TOKEN or pass a token for this endpoint"
    if reason in ("HTTP 404", "HTTP 405"):
        return (f"{where}: {reason}: no OpenAI-compatible /v1/chat/completions route; point "
                "--endpoint at the server root (http://HOST:PORT)")
    if reason in ("HTTP 400", "HTTP 422"):
        return (f"{where}: {reason}: the server rejected a minimal chat request (often a wrong "
                "model name); pass the served model name with --model")
    if retryable:
        log.warning("%s: probe answered %s; going on (requests are retried)", where, reason)
        return ""
    return f"{where}: probe failed ({reason}); check the server and --endpoint"
