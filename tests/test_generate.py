"""Local batched generation (``mijabench.run.local``): batching by length keeps prompt order and
gives the same greedy text as one prompt at a time; options are checked with one-line errors."""

from __future__ import annotations

import itertools

import pytest

from mijabench.errors import MijaError
from mijabench.run.local import TransformersBackend, length_batches
from mijabench.run.types import GenParams

# Lengths differ a lot (from 3 words to ~60), so batches mix pads on the left.
PROMPTS = [
    "Hi.",
    "Write two sentences about the history of tea in Portugal and its trade routes.",
    "Say hello",
    ("Explain, step by step and with an example from a kitchen, why bread rises when it bakes, "
     "and what yeast does to the dough over a long night in a cold room."),
    "Qual é a capital do Brasil?",
    "List three rivers.",
    "Descreva em poucas palavras uma manhã de domingo numa pequena cidade do interior.",
]


@pytest.fixture(scope="module")
def fp32_backend(tiny_model_dir):
    return TransformersBackend(tiny_model_dir, batch_size=3, dtype="float32", threads=1)


def _one_at_a_time(backend, prompts, max_new_tokens):
    """The plain reference: ``model.generate`` on each prompt alone, no padding, default cache."""
    import torch
    tok, model = backend.tokenizer, backend.model
    out = []
    for prompt in prompts:
        text = tok.apply_chat_template([{"role": "user", "content": prompt}], tokenize=False,
                                       add_generation_prompt=True)
        enc = tok(text, return_tensors="pt", add_special_tokens=False)
        with torch.inference_mode():
            ids = model.generate(**enc, max_new_tokens=max_new_tokens, do_sample=False,
                                 pad_token_id=tok.pad_token_id)
        out.append(tok.decode(ids[0, enc["input_ids"].shape[1]:], skip_special_tokens=True).strip())
    return out


def test_batched_greedy_equals_one_at_a_time_in_prompt_order(fp32_backend):
    params = GenParams(max_new_tokens=12)
    got = fp32_backend.generate(PROMPTS, params, progress=False)
    assert fp32_backend.last_run["batches"] == 3  # 7 prompts, 3 per batch: padding is exercised
    assert [g.error for g in got] == [""] * len(PROMPTS)
    reference = _one_at_a_time(fp32_backend, PROMPTS, 12)
    assert len(set(reference)) > 3  # the random model answers prompts differently
    assert [g.text for g in got] == reference


def test_order_of_the_prompts_does_not_change_any_answer(fp32_backend):
    params = GenParams(max_new_tokens=8)
    straight = [g.text for g in fp32_backend.generate(PROMPTS, params, progress=False)]
    flipped = [g.text for g in fp32_backend.generate(PROMPTS[::-1], params, progress=False)]
    assert flipped[::-1] == straight
    run = fp32_backend.last_run
    assert run["prompts"] == len(PROMPTS) and 0 < run["new_tokens"] <= 8 * len(PROMPTS)


def test_length_batches_group_neighbours_and_respect_the_budget():
    lengths = [50, 400, 52, 390, 48, 210, 205, 900]
    batches = length_batches(lengths, batch_size=3, batch_tokens=1300, max_new_tokens=100)
    assert sorted(i for b in batches for i in b) == list(range(len(lengths)))
    assert batches[0] == [7]  # 900 + 100 tokens: no second row fits in 1,300
    for batch in batches:
        assert len(batch) <= 3
        assert len(batch) == 1 or len(batch) * (max(lengths[i] for i in batch) + 100) <= 1300
    # neighbours by length: the batches, longest first, never interleave
    spans = [(min(lengths[i] for i in b), max(lengths[i] for i in b)) for b in batches]
    assert all(lo_prev >= hi for (lo_prev, _), (_, hi) in itertools.pairwise(spans))
    assert [sorted(lengths[i] for i in b) for b in batches[1:]] == [[390, 400], [205, 210], [48, 50, 52]]


def test_batches_depend_on_the_prompt_set_not_its_order():
    lengths, keys = [10, 10, 10, 10], ["d", "b", "a", "c"]
    a = length_batches(lengths, 2, 10_000, 5, keys=keys)
    b = length_batches(lengths[::-1], 2, 10_000, 5, keys=keys[::-1])
    def as_keys(batches, ks):
        return [[ks[i] for i in x] for x in batches]
    assert as_keys(a, keys) == as_keys(b, keys[::-1]) == [["a", "b"], ["c", "d"]]


@pytest.mark.parametrize("kwargs, field", [
    ({"dtype": "float8"}, "--dtype"), ({"dtype": "int8"}, "--dtype"),
    ({"batch_size": 0}, "--batch-size"), ({"batch_tokens": 0}, "batch_tokens"),
])
def test_bad_options_are_one_line_errors(tiny_model_dir, kwargs, field):
    with pytest.raises(MijaError) as info:
        TransformersBackend(tiny_model_dir, **kwargs)
    message = str(info.value)
    assert message.startswith(field) and "\n" not in message


def test_default_dtype_follows_the_cpu(tiny_model_dir):
    import torch

    from mijabench.run.local import cpu_has_bf16
    backend = TransformersBackend(tiny_model_dir, threads=1)
    assert backend.dtype == (torch.bfloat16 if cpu_has_bf16() else torch.float32)
    texts = [g.text for g in backend.generate(PROMPTS[:3], GenParams(max_new_tokens=6), progress=False)]
    assert all(texts)


def test_a_failing_static_cache_falls_back_to_the_default_cache(tiny_model_dir, monkeypatch):
    backend = TransformersBackend(tiny_model_dir, batch_size=3, dtype="float32", threads=1)
    assert backend.static_cache  # a Llama on CPU gets the preallocated cache
    want = [g.text for g in backend.generate(PROMPTS[:4], GenParams(max_new_tokens=6), progress=False)]
    generate = backend.model.generate

    def no_static(*args, generation_config=None, **kw):
        if generation_config.cache_implementation == "static":
            raise ValueError("this architecture has no static cache")
        return generate(*args, generation_config=generation_config, **kw)

    monkeypatch.setattr(backend.model, "generate", no_static)
    got = backend.generate(PROMPTS[:4], GenParams(max_new_tokens=6), progress=False)
    assert [g.text for g in got] == want and not backend.static_cache
