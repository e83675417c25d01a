"""Shared fixtures. Area-specific fixtures live in their own test modules."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
STUB = Path(__file__).resolve().parent / "openai_stub.py"


@pytest.fixture(scope="session")
def toxigen_dir() -> Path:
    """Real ToxiGen seeds in ../shared (read in place, never copied into the repo)."""
    path = ROOT.parent / "shared" / "seeds" / "toxigen"
    if not path.is_dir():
        pytest.skip(f"{path} not present (it sits beside the checkout in CI)")
    return path


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def free_port() -> int:
    return _free_port()


@pytest.fixture(scope="session")
def smollm2_dir() -> Path:
    """The embedded SmolLM2-135M-Instruct as a plain HF folder (converted once into the user cache)."""
    from mijabench.run.embedded import default_model_dir
    return default_model_dir()


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    """A tiny random Llama (2 layers, hidden 32, fixed seed) with the SmolLM2 tokenizer + template."""
    from mijabench.run.embedded import tiny_model
    return tiny_model(tmp_path_factory.mktemp("models") / "tiny-llama")


def http_env() -> dict:
    """Environment for code that talks to loopback servers: telemetry off, NOT offline mode
    (HF_HUB_OFFLINE=1 makes huggingface_hub refuse even 127.0.0.1)."""
    env = dict(os.environ, HF_HUB_DISABLE_TELEMETRY="1")
    env.pop("HF_HUB_OFFLINE", None)
    return env


def wait_http(url: str, timeout: float, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode} before answering {url}")
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise TimeoutError(f"{url} did not answer within {timeout}s")


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture
def openai_stub():
    """Factory: ``openai_stub(*args) -> (base_url, stats())`` starts ``tests/openai_stub.py`` (a real
    OpenAI-compatible HTTP server on loopback, with latency/failure injection); stopped at teardown."""
    procs = []

    def start(*args: str):
        port = _free_port()
        proc = subprocess.Popen([sys.executable, str(STUB), "--port", str(port), *args],
                                stdout=subprocess.PIPE, text=True, env=http_env())
        procs.append(proc)
        line = proc.stdout.readline()
        assert line.startswith("READY"), line
        url = f"http://127.0.0.1:{port}"

        def stats() -> dict:
            with urllib.request.urlopen(f"{url}/stats", timeout=5) as resp:
                return json.loads(resp.read())

        return url, stats

    yield start
    for proc in procs:
        stop(proc)


@pytest.fixture
def hub_http_env(monkeypatch):
    """In-process variant of :func:`http_env` for tests that call loopback servers directly."""
    monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", "1")
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)


@contextlib.contextmanager
def transformers_serve(model_dir: Path, log_path: Path, timeout: float = 180):
    """A real ``transformers serve`` (OpenAI-compatible) on loopback; yields its base URL."""
    exe = Path(sys.executable).with_name("transformers")
    port = _free_port()
    with open(log_path, "w") as log:
        proc = subprocess.Popen([str(exe), "serve", str(model_dir), "--host", "127.0.0.1",
                                 "--port", str(port)], stdout=log, stderr=subprocess.STDOUT,
                                env=http_env())
        try:
            url = f"http://127.0.0.1:{port}"
            try:
                wait_http(f"{url}/health", timeout=timeout, proc=proc)
            except RuntimeError:
                pytest.fail("transformers serve exited: " + Path(log_path).read_text()[-2000:])
            yield url
        finally:
            stop(proc)
