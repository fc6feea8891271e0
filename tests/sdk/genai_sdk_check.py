"""Drives a running llmkp with the official `google-genai` Python SDK (its base_url pointed at
llmkp): a Gemini upstream (the mock) and an OpenAI-compatible one behind the same Gemini front door.

Usage: LLMKP_BASE_URL=http://127.0.0.1:P LLMKP_PROXY_KEY=... python3 genai_sdk_check.py
"""

import os

from google import genai
from google.genai import errors, types
from sdk_checks import check, raises, run_checks

BASE_URL = os.environ["LLMKP_BASE_URL"]
KEY = os.environ["LLMKP_PROXY_KEY"]
client = genai.Client(api_key=KEY, http_options=types.HttpOptions(base_url=BASE_URL, timeout=20_000))
WEATHER = types.Tool(
    function_declarations=[
        types.FunctionDeclaration(
            name="get_weather",
            description="weather",
            parameters=types.Schema(type="OBJECT", properties={"location": types.Schema(type="STRING")}),
        )
    ]
)
TOOL_CONFIG = types.GenerateContentConfig(
    tools=[WEATHER], automatic_function_calling=types.AutomaticFunctionCallingConfig(disable=True)
)


def streamed_text(model):
    return "".join(c.text or "" for c in client.models.generate_content_stream(model=model, contents="hi there"))


@check
def gemini_generate():
    r = client.models.generate_content(model="gemini/gemini-2.5-flash", contents="hi there")
    assert r.text == "Hello from gemini: hi there", r.text
    assert r.usage_metadata.total_token_count > 0


@check
def gemini_stream():
    text = streamed_text("gemini/gemini-2.5-flash")
    assert text == "Hello from gemini: hi there", text


@check
def gemini_function_call_and_its_signature_round_trip():
    first = client.models.generate_content(model="gemini/tools-3-pro", contents="weather?", config=TOOL_CONFIG)
    call = first.function_calls[0]
    assert call.name == "get_weather" and call.args == {"location": "Paris"}, call
    history = [
        types.Content(role="user", parts=[types.Part(text="weather?")]),
        first.candidates[0].content,
        types.Content(
            role="user",
            parts=[types.Part(function_response=types.FunctionResponse(name="get_weather", response={"t": 21}))],
        ),
    ]
    second = client.models.generate_content(model="gemini/tools-3-pro", contents=history, config=TOOL_CONFIG)
    assert "Hello from gemini" in (second.text or ""), second


@check
def openai_generate():
    r = client.models.generate_content(model="openai/gpt-4o", contents="hi there")
    assert r.text == "Hello! You said: hi there", r.text


@check
def openai_stream():
    text = streamed_text("openai/gpt-4o")
    assert text == "Hello! You said: hi there", text


@check
def openai_function_call():
    r = client.models.generate_content(model="openai/tools", contents="weather?", config=TOOL_CONFIG)
    call = r.function_calls[0]
    assert call.name == "get_weather" and call.args == {"location": "Paris", "unit": "celsius"}, call
    history = [
        types.Content(role="user", parts=[types.Part(text="weather?")]),
        r.candidates[0].content,
        types.Content(
            role="user",
            parts=[types.Part(function_response=types.FunctionResponse(name="get_weather", response={"t": 21}))],
        ),
    ]
    second = client.models.generate_content(model="openai/gpt-4o", contents=history, config=TOOL_CONFIG)
    assert second.text, second


@check
def count_tokens():
    r = client.models.count_tokens(model="openai/gpt-4o", contents="how many tokens is this")
    assert r.total_tokens > 3, r


@check
def wrong_key():
    bad = genai.Client(api_key="wrong", http_options=types.HttpOptions(base_url=BASE_URL))
    e = raises(errors.ClientError, lambda: bad.models.generate_content(model="openai/gpt-4o", contents="x"))
    assert e.code == 401, e


run_checks()
