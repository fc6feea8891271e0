"""Drives a running llmkp with the official `anthropic` Python SDK against `gemini/…` models (the
Gemini mock behind llmkp): text, tool use, tool results and streams, translated both ways.

Usage: LLMKP_BASE_URL=http://127.0.0.1:P LLMKP_PROXY_KEY=... python3 anthropic_sdk_gemini_check.py
"""

import os

import anthropic
from sdk_checks import check, run_checks

BASE_URL = os.environ["LLMKP_BASE_URL"]
KEY = os.environ["LLMKP_PROXY_KEY"]
client = anthropic.Anthropic(base_url=BASE_URL, api_key=KEY, max_retries=0, timeout=20)
USER = [{"role": "user", "content": "hi there"}]
TOOLS = [{"name": "get_weather", "input_schema": {"type": "object", "properties": {"location": {"type": "string"}}}}]


@check
def text():
    m = client.messages.create(model="gemini/gemini-2.5-flash", max_tokens=100, messages=USER)
    assert m.content[0].text == "Hello from gemini: hi there", m
    assert m.stop_reason == "end_turn" and m.usage.input_tokens > 0


@check
def tool_use_and_result():
    m = client.messages.create(model="gemini/tools-3-pro", max_tokens=100, messages=USER, tools=TOOLS)
    assert m.stop_reason == "tool_use", m
    use = next(b for b in m.content if b.type == "tool_use")
    assert use.name == "get_weather" and use.input == {"location": "Paris"}, use
    history = USER + [
        {"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in m.content]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": use.id, "content": "sunny"}]},
    ]
    again = client.messages.create(model="gemini/tools-3-pro", max_tokens=100, messages=history, tools=TOOLS)
    assert again.content[0].text.startswith("Hello from gemini"), again


@check
def stream():
    with client.messages.stream(model="gemini/gemini-2.5-flash", max_tokens=100, messages=USER) as s:
        text = "".join(s.text_stream)
        final = s.get_final_message()
    assert text == "Hello from gemini: hi there", text
    assert final.stop_reason == "end_turn" and final.usage.output_tokens > 0


run_checks()
