"""Drives a running llmkp with the official `anthropic` Python SDK, as Claude Code's users would.

Usage: LLMKP_BASE_URL=http://127.0.0.1:P LLMKP_PROXY_KEY=... python3 anthropic_sdk_check.py
Exits 0 when every check passes; prints one line per check and a final "N passed, M failed".
"""

import os

import anthropic
from sdk_checks import check, raises, run_checks

BASE_URL = os.environ["LLMKP_BASE_URL"]
KEY = os.environ["LLMKP_PROXY_KEY"]
client = anthropic.Anthropic(base_url=BASE_URL, api_key=KEY, max_retries=0, timeout=20)
USER = [{"role": "user", "content": "hi there"}]
TOOLS = [{"name": "get_weather", "description": "weather", "input_schema": {"type": "object", "properties": {"location": {"type": "string"}}}}]


@check
def create_text():
    m = client.messages.create(model="openai/gpt-4o", max_tokens=100, messages=USER)
    assert m.content[0].text == "Hello! You said: hi there", m
    assert m.stop_reason == "end_turn"
    assert m.usage.input_tokens > 0


@check
def stream_text():
    with client.messages.stream(model="openai/gpt-4o", max_tokens=100, messages=USER) as stream:
        events = list(stream)
        final = stream.get_final_message()
    start = next(e for e in events if e.type == "message_start")
    assert start.message.usage.input_tokens > 0
    assert final.content[0].text == "Hello! You said: hi there", final
    assert final.stop_reason == "end_turn"


@check
def tool_use_and_result():
    m = client.messages.create(model="openai/tools", max_tokens=100, messages=USER, tools=TOOLS)
    call = next(b for b in m.content if b.type == "tool_use")
    assert m.stop_reason == "tool_use"
    assert call.input == {"location": "Paris", "unit": "celsius"}, call.input
    history = USER + [
        {"role": "assistant", "content": [{"type": "tool_use", "id": call.id, "name": call.name, "input": call.input}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "18 C"}]},
    ]
    follow = client.messages.create(model="openai/gpt-4o", max_tokens=100, messages=history, tools=TOOLS)
    assert follow.content[0].type == "text"


@check
def stream_tool_use():
    with client.messages.stream(model="openai/tools", max_tokens=100, messages=USER, tools=TOOLS) as stream:
        final = stream.get_final_message()
    call = next(b for b in final.content if b.type == "tool_use")
    assert call.input == {"location": "Paris", "unit": "celsius"}, call.input
    assert final.stop_reason == "tool_use"


@check
def max_tokens_stop():
    m = client.messages.create(model="openai/length", max_tokens=5, messages=USER)
    assert m.stop_reason == "max_tokens"


@check
def errors_have_the_right_classes():
    bad = anthropic.Anthropic(base_url=BASE_URL, api_key="wrong", max_retries=0)
    raises(anthropic.AuthenticationError, lambda: bad.messages.create(model="openai/gpt-4o", max_tokens=5, messages=USER))
    e = raises(anthropic.BadRequestError, lambda: client.messages.create(model="openai/invalid", max_tokens=5, messages=USER))
    assert "temperature" in str(e)
    raises(anthropic.NotFoundError, lambda: client.messages.create(model="gpt-4o", max_tokens=5, messages=USER))
    raises(anthropic.RateLimitError, lambda: client.messages.create(model="ratelimited/gpt-4o", max_tokens=5, messages=USER))


@check
def count_tokens():
    n = client.messages.count_tokens(model="claude-sonnet-4-5", messages=USER)
    assert n.input_tokens > 0


run_checks()
