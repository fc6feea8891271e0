"""Drives a running llmkp with the official `openai` Python SDK, as a user would.

Usage: LLMKP_BASE_URL=http://127.0.0.1:P/v1 LLMKP_PROXY_KEY=... python3 openai_sdk_check.py
Exits 0 when every check passes; prints one line per check.
"""

import json
import os

import openai
from sdk_checks import check, raises, run_checks

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
    r = client.chat.completions.create(model="openai/gpt-4o", messages=USER)
    assert r.choices[0].message.content == "Hello! You said: hi there", r
    assert r.model == "openai/gpt-4o", r.model
    assert r.choices[0].finish_reason == "stop"
    assert r.usage.total_tokens > 0


@check
def stream():
    chunks = list(client.chat.completions.create(model="openai/gpt-4o", messages=USER, stream=True))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Hello! You said: hi there", text
    finishes = [i for i, c in enumerate(chunks) if c.choices and c.choices[0].finish_reason]
    assert finishes == [len(chunks) - 1], finishes
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert all(c.usage is None for c in chunks)


@check
def stream_with_usage():
    chunks = list(
        client.chat.completions.create(
            model="openai/gpt-4o", messages=USER, stream=True, stream_options={"include_usage": True}
        )
    )
    assert chunks[-1].choices == [] and chunks[-1].usage.total_tokens > 0


@check
def tools():
    r = client.chat.completions.create(model="openai/tools", messages=USER, tools=TOOLS)
    call = r.choices[0].message.tool_calls[0]
    assert r.choices[0].finish_reason == "tool_calls"
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"location": "Paris", "unit": "celsius"}


@check
def tools_stream():
    args, name, finish = "", None, None
    for c in client.chat.completions.create(model="openai/tools", messages=USER, tools=TOOLS, stream=True):
        if not c.choices:
            continue
        for tc in c.choices[0].delta.tool_calls or []:
            name = tc.function.name or name
            args += tc.function.arguments or ""
        finish = c.choices[0].finish_reason or finish
    assert name == "get_weather" and finish == "tool_calls"
    assert json.loads(args) == {"location": "Paris", "unit": "celsius"}


@check
def wrong_key():
    bad = openai.OpenAI(base_url=BASE_URL, api_key="wrong", max_retries=0)
    e = raises(openai.AuthenticationError, lambda: bad.chat.completions.create(model="openai/gpt-4o", messages=USER))
    assert e.status_code == 401


@check
def model_without_provider():
    e = raises(openai.NotFoundError, lambda: client.chat.completions.create(model="gpt-4o", messages=USER))
    assert "provider/model" in str(e), e


@check
def upstream_client_error():
    e = raises(openai.BadRequestError, lambda: client.chat.completions.create(model="openai/invalid", messages=USER))
    assert "temperature" in e.message, e.message


@check
def models():
    ids = [m.id for m in client.models.list()]
    assert "openai/gpt-4o" in ids, ids
    assert client.models.retrieve("openai/gpt-4o").id == "openai/gpt-4o"


run_checks()
