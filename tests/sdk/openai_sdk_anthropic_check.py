"""Drives a running llmkp with the official `openai` Python SDK against `anthropic/…` models
(an Anthropic mock behind llmkp): OpenAI requests and answers, translated both ways.

Usage: LLMKP_BASE_URL=http://127.0.0.1:P/v1 LLMKP_PROXY_KEY=... python3 openai_sdk_anthropic_check.py
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
    r = client.chat.completions.create(model="anthropic/claude-sonnet-4-5", messages=USER)
    assert r.choices[0].message.content == "Hello from mock: hi there", r
    assert r.model == "anthropic/claude-sonnet-4-5", r.model
    assert r.choices[0].finish_reason == "stop"
    assert r.usage.prompt_tokens > 0 and r.usage.completion_tokens > 0


@check
def stream():
    chunks = list(client.chat.completions.create(model="anthropic/claude-sonnet-4-5", messages=USER, stream=True))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Hello from mock: hi there", text
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finishes == ["stop"], finishes


@check
def tools():
    r = client.chat.completions.create(model="anthropic/tools-1", messages=USER, tools=TOOLS)
    call = r.choices[0].message.tool_calls[0]
    assert r.choices[0].finish_reason == "tool_calls"
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"location": "Paris"}


@check
def tools_stream():
    args, name, finish = "", None, None
    for c in client.chat.completions.create(model="anthropic/tools-1", messages=USER, tools=TOOLS, stream=True):
        if not c.choices:
            continue
        for tc in c.choices[0].delta.tool_calls or []:
            name = tc.function.name or name
            args += tc.function.arguments or ""
        finish = c.choices[0].finish_reason or finish
    assert name == "get_weather" and finish == "tool_calls", (name, finish)
    assert json.loads(args) == {"location": "Paris"}, args


@check
def tool_result_turn():
    first = client.chat.completions.create(model="anthropic/tools-1", messages=USER, tools=TOOLS)
    call = first.choices[0].message.tool_calls[0]
    history = USER + [
        first.choices[0].message.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": call.id, "content": "sunny"},
    ]
    r = client.chat.completions.create(model="anthropic/claude-sonnet-4-5", messages=history, tools=TOOLS)
    assert r.choices[0].message.content == "Hello from mock: sunny", r.choices[0].message.content


@check
def length():
    r = client.chat.completions.create(model="anthropic/length-1", messages=USER, max_tokens=5)
    assert r.choices[0].finish_reason == "length", r.choices[0].finish_reason


@check
def rate_limited():
    raises(openai.RateLimitError, lambda: client.chat.completions.create(model="limited/claude-x", messages=USER))


run_checks()
