"""Fixtures for the probe Space tests: a scripted chat server, a results set, the app process.

* ``ScriptedChatServer`` is a real OpenAI-compatible HTTP server on loopback (``/v1/models`` and
  ``/v1/chat/completions``, streaming and not) whose model refuses when the prompt targets
  ``REFUSED_GROUP`` and "complies" otherwise, so probes get known verdicts from the rules judge.
  Its compliant answer holds no hateful text: the artifact is a placeholder.
* ``known_results`` writes a small audit table (AUDIT_SCHEMA) whose Defense Rates are known by
  construction.
* ``space_app`` starts ``spaces/probe/app.py`` as a subprocess (exactly as a user runs it) on a
  free loopback port with a YAML config listing the tiny model, the scripted endpoint, an
  unreachable endpoint, the paper's reported numbers and the results sets; its log is captured
  for the no-token check.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pyarrow as pa
import pytest

ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "spaces" / "probe" / "app.py"
DEMO_RESULTS = ROOT / "spaces" / "probe" / "data" / "demo_results.parquet"
REFUSED_GROUP = "Black people"
REFUSAL = "I can't help with that. I don't write content that demeans a group of people."
COMPLIANCE = ("Sure, here is the speech you asked for.\n\nTitle: Remarks for the meeting\n"
              "[test placeholder where the requested text would be]")
SECRET_PATH = "private-route-7f3a"      # part of the endpoint URL: must never reach the page
FAKE_TOKEN = "hf_SpaceTestTokenDoNotLeak0123456789"
PAPER_NAME = "MiJaBench paper (reported)"
SHARED_PAPER = ROOT.parent / "shared" / "paper" / "mijabench_v1_results.yaml"  # read in place


def scripted_reply(prompt: str) -> str:
    return REFUSAL if REFUSED_GROUP in prompt else COMPLIANCE


class _ChatHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):  # keep pytest output clean
        pass

    def _send(self, status: int, body: bytes, ctype: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path.endswith("/v1/models"):
            self._send(200, json.dumps({"object": "list", "data": [{"id": "scripted"}]}).encode())
        else:
            self._send(404, b"{}")

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
        if not self.path.endswith("/v1/chat/completions"):
            self._send(404, b"{}")
            return
        server = self.server
        with server.lock:
            server.requests += 1
            server.inflight += 1
            server.max_inflight = max(server.max_inflight, server.inflight)
        try:
            time.sleep(server.delay)  # tests raise it to make overlapping calls visible
            self._reply(body)
        finally:
            with server.lock:
                server.inflight -= 1

    def _reply(self, body: dict) -> None:
        text = scripted_reply(body["messages"][-1]["content"])
        if body.get("max_tokens") == 1:
            text = "ok"
        if body.get("stream"):
            self._send(200, _sse(text), "text/event-stream")
            return
        out = {"id": "x", "object": "chat.completion", "created": 0, "model": "scripted",
               "choices": [{"index": 0, "finish_reason": "stop",
                            "message": {"role": "assistant", "content": text}}],
               "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}
        self._send(200, json.dumps(out).encode())


def _sse(text: str) -> bytes:
    words = text.split(" ")
    chunks = [w + (" " if i < len(words) - 1 else "") for i, w in enumerate(words)]
    lines = []
    for piece in chunks:
        event = {"id": "x", "object": "chat.completion.chunk", "created": 0, "model": "scripted",
                 "choices": [{"index": 0, "delta": {"role": "assistant", "content": piece},
                              "finish_reason": None}]}
        lines.append(f"data: {json.dumps(event)}\n\n")
    lines.append("data: [DONE]\n\n")
    return "".join(lines).encode()


@contextlib.contextmanager
def scripted_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _ChatHandler)
    server.requests = server.inflight = server.max_inflight = 0
    server.delay = 0.0
    server.lock = threading.Lock()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server, f"http://127.0.0.1:{server.server_address[1]}/{SECRET_PATH}"
    finally:
        server.shutdown()
        server.server_close()


# --- a results set with known Defense Rates --------------------------------------------------------
KNOWN_DR = {("base", "black"): 0.5, ("base", "jewish"): 0.25, ("base", "women"): 1.0,
            ("aligned", "black"): 1.0, ("aligned", "jewish"): 0.75, ("aligned", "women"): 1.0}


def known_results(path: Path) -> Path:
    """Two models x three groups x four shared prompts, plus benign twins (one refusal each)."""
    from mijabench import atomic
    from mijabench.bench import configs as benchmark
    from mijabench.schema import AUDIT_SCHEMA
    prompts = benchmark.build_configs(("counterfactual",), ("en",), per_group=4)["counterfactual"]
    rows = []
    for kind in ("harmful", "benign"):
        part = [r for r in prompts[kind].to_pylist() if r["group"] in ("black", "jewish", "women")]
        for (model, group), dr in KNOWN_DR.items():
            mine = [r for r in part if r["group"] == group]
            assert len(mine) == 4
            for i, row in enumerate(mine):
                safe = i < round(dr * 4)
                verdict = "safe" if kind == "benign" or safe else "harmful"
                rows.append({**row, "model": model, "model_family": "fam-" + model,
                             "model_params": None, "gen_params": "{}", "gen_key": f"{model}-{row['id']}",
                             "response": "r", "error": "", "latency_s": 0.0, "truncated": False,
                             "verdict": verdict, "judge": "scripted", "rationale": "",
                             "refusal": kind == "benign" and i == 0, "judge_verdicts": "{}",
                             "outcome": ("refusal" if safe else "compliance") if kind == "harmful" else ""})
    atomic.write_parquet(path, pa.Table.from_pylist(rows, schema=AUDIT_SCHEMA))
    return path


# --- the app process --------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def write_config(path: Path, tiny_dir: Path, endpoint: str, results: dict[str, Path]) -> Path:
    import yaml
    dead = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    config = {"models": {"tiny": str(tiny_dir), "scripted": {"spec": endpoint, "family": "test"},
                         "offline": dead},
              "results": {**{k: str(v) for k, v in results.items()}, PAPER_NAME: "paper"},
              "limits": {"max_new_tokens": 8, "max_custom_chars": 300, "compare_per_group": 2}}
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path


@contextlib.contextmanager
def run_app(config: Path, log: Path, timeout: float = 120.0):
    """Start the app as a user would; yields its URL once it serves the page."""
    port = free_port()
    env = {**os.environ, "MIJABENCH_SPACE_CONFIG": str(config), "GRADIO_SERVER_PORT": str(port),
           "GRADIO_SERVER_NAME": "127.0.0.1", "GRADIO_ANALYTICS_ENABLED": "False",
           "HF_HUB_DISABLE_TELEMETRY": "1", "OMP_NUM_THREADS": "1", "HF_TOKEN": FAKE_TOKEN}
    env.pop("HF_HUB_OFFLINE", None)  # it would block huggingface_hub's loopback calls
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, str(APP)], env=env, stdout=out,
                                stderr=subprocess.STDOUT, cwd=ROOT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"the app exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
            with contextlib.suppress(OSError):
                with urllib.request.urlopen(url + "/", timeout=2) as resp:
                    if resp.status == 200:
                        break
            if time.monotonic() > deadline:
                raise RuntimeError(f"the app did not start in {timeout:.0f}s:\n{log.read_text()[-3000:]}")
            time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


_SHARED: dict = {"users": 0}


@pytest.fixture(scope="session")
def space_app(tiny_model_dir, tmp_path_factory):
    """(url, log path, scripted server) of a running app with the test config.

    Each test module that imports this fixture gets its own fixture definition, so the running
    app is kept in this module's state and shared: start-up is the slow part."""
    if not _SHARED["users"]:
        stack = contextlib.ExitStack()
        folder = tmp_path_factory.mktemp("space")
        known = known_results(folder / "known.parquet")
        server, endpoint = stack.enter_context(scripted_server())
        config = write_config(folder / "space.yaml", tiny_model_dir, endpoint,
                              {"known": known, "demo": DEMO_RESULTS})
        log = folder / "app.log"
        try:
            url = stack.enter_context(run_app(config, log))
        except BaseException:
            stack.close()
            raise
        _SHARED.update(stack=stack, value=(url, log, server))
    _SHARED["users"] += 1
    try:
        yield _SHARED["value"]
    finally:
        _SHARED["users"] -= 1
        if not _SHARED["users"]:
            _SHARED.pop("stack").close()
