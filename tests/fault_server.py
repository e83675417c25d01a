"""A loopback OpenAI-compatible chat server that misbehaves on purpose, for the fault tests.

One server serves every fault at once: the first path segment of the base URL picks it, so
``http://127.0.0.1:PORT/empty_choices`` is a server whose every reply has ``choices: []``
(``mijabench.run.http.chat_url`` appends ``/v1/chat/completions``). Probe requests (the one-token
``ping`` the endpoint backend sends first) are answered normally unless the fault is ``hang``, so a
fault reaches the rows of a run. ``requests[fault]`` counts the chat requests for the rows.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

REPLY = "I'm sorry, but I can't help with that request."
FAULTS = ("ok", "429", "500", "hang", "hang_rows", "invalid_json", "empty_choices", "null_content",
          "oversized", "empty_once")
OVERSIZED_CHARS = 100_000


def completion(content) -> bytes:
    choices = [] if content is _NO_CHOICES else [
        {"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": content}}]
    return json.dumps({"id": "fault", "object": "chat.completion", "created": 0, "model": "m",
                       "choices": choices}).encode()


_NO_CHOICES = object()


class FaultServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.requests: Counter = Counter()
        self.seen: Counter = Counter()
        self.hang_s = 5.0
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def handle_error(self, request, client_address):  # a client that hung up: not our test's story
        pass

    def reset(self) -> None:
        with self.lock:
            self.requests.clear()
            self.seen.clear()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):  # quiet
        pass

    def do_GET(self):
        if self.path.endswith("/v1/models"):
            return self._send(200, json.dumps({"data": [{"id": "m"}]}).encode())
        self._send(404, b'{"error": "not found"}')

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        fault = self.path.strip("/").split("/")[0]
        try:
            prompt = json.loads(body)["messages"][-1]["content"]
        except (ValueError, KeyError, IndexError, TypeError):
            return self._send(400, b'{"error": "bad request"}')
        server: FaultServer = self.server  # type: ignore[assignment]
        probe = prompt == "ping"
        if fault == "hang" or (fault == "hang_rows" and not probe):
            time.sleep(server.hang_s)
            return self._send(200, completion(REPLY))
        if probe or fault == "ok":
            return self._send(200, completion(REPLY))
        with server.lock:
            server.requests[fault] += 1
            server.seen[prompt] += 1
            first = server.seen[prompt] == 1
        if fault in ("429", "500"):
            return self._send(int(fault), b'{"error": "failing on purpose"}', {"Retry-After": "0"})
        if fault == "invalid_json":
            return self._send(200, b'{"choices": [{"message": {"content": "cut')
        if fault == "empty_choices" or (fault == "empty_once" and first):
            return self._send(200, completion(_NO_CHOICES))
        if fault == "null_content":
            return self._send(200, completion(None))
        if fault == "oversized":
            return self._send(200, completion("x" * OVERSIZED_CHARS))
        self._send(200, completion(REPLY))

    def _send(self, status: int, body: bytes, headers: dict | None = None) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (a timeout test)
            pass


def start() -> FaultServer:
    server = FaultServer()
    threading.Thread(target=server.serve_forever, daemon=True, name="fault-server").start()
    return server
