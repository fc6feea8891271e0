"""Drives a running llmkp with the official `openai` Python SDK against `gemini/…` models (the
Gemini mock behind llmkp), and embeddings from Gemini and from an OpenAI-compatible upstream.

Usage: LLMKP_BASE_URL=http://127.0.0.1:P/v1 LLMKP_PROXY_KEY=... python3 openai_sdk_gemini_check.py
"""

import json
import math
import os

import openai
from sdk_checks import check, run_checks

BASE_URL = os.environ["LLMKP_BASE_URL"]
KEY = os.environ["LLMKP_PROXY_KEY"]
client = openai.OpenAI(base_url=BASE_URL, api_key=KEY, max_retries=0, timeout=20)
USER = [{"role": "user", "content": "hi there"}]
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "parameters": {"type": "object", "properties": {"location": {"type": "string"}}},
        },
    }
]


@check
def non_stream():
    r = client.chat.completions.create(model="gemini/gemini-2.5-flash", messages=USER)
    assert r.choices[0].message.content == "Hello from gemini: hi there", r
    assert r.choices[0].finish_reason == "stop"
    assert r.usage.prompt_tokens > 0 and r.usage.completion_tokens > 0


@check
def stream():
    chunks = list(client.chat.completions.create(model="gemini/gemini-2.5-flash", messages=USER, stream=True))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Hello from gemini: hi there", text


@check
def tool_call_with_arguments():
    r = client.chat.completions.create(model="gemini/tools-2.5-flash", messages=USER, tools=TOOLS)
    call = r.choices[0].message.tool_calls[0]
    assert r.choices[0].finish_reason == "tool_calls"
    assert call.function.name == "get_weather" and json.loads(call.function.arguments) == {"location": "Paris"}


@check
def tool_result_turn_brings_the_thought_signature_back():
    first = client.chat.completions.create(model="gemini/tools-3-pro", messages=USER, tools=TOOLS)
    call = first.choices[0].message.tool_calls[0]
    history = USER + [
        first.choices[0].message.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": call.id, "content": "sunny"},
    ]
    # The Gemini mock refuses a replayed call without the signature it issued.
    r = client.chat.completions.create(model="gemini/tools-3-pro", messages=history, tools=TOOLS)
    assert r.choices[0].message.content.startswith("Hello from gemini"), r


@check
def reasoning_comes_as_reasoning_content():
    r = client.chat.completions.create(model="gemini/thinking-2.5-flash", messages=USER, reasoning_effort="low")
    extra = r.choices[0].message.model_extra or {}
    assert extra.get("reasoning_content"), r.choices[0].message
    assert r.choices[0].message.content == "Hello from gemini: hi there"


@check
def gemini_embeddings_in_order():
    r = client.embeddings.create(model="gemini/text-embedding-004", input=["alpha", "beta", "gamma"])
    assert [d.index for d in r.data] == [0, 1, 2]
    vectors = [d.embedding for d in r.data]
    assert all(len(v) == 8 for v in vectors), vectors
    # The mock's vectors have unit length: base64 float32 decoding must give them back.
    assert all(abs(math.sqrt(sum(x * x for x in v)) - 1.0) < 1e-4 for v in vectors), vectors
    assert len({tuple(v) for v in vectors}) == 3
    assert r.usage.prompt_tokens > 0


@check
def openai_compatible_embeddings_in_order():
    r = client.embeddings.create(model="openai/text-embedding-3-small", input=["a", "bb", "ccc"])
    assert [d.index for d in r.data] == [0, 1, 2]
    # The OpenAI mock puts -0.002 × (index + 1) second.
    assert [round(d.embedding[1], 4) for d in r.data] == [-0.002, -0.004, -0.006], r.data


run_checks()
