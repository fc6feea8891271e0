"""Drives a running llmkp's Responses API with the official `openai` Python SDK, as a user
would: `responses.create` and `responses.stream` (the SDK's event parser reads every event),
function calling with a second turn by full input and by `previous_response_id`, stored
responses (`retrieve`, `input_items.list`, `delete`), structured output, and errors.

Usage: LLMKP_BASE_URL=http://127.0.0.1:P/v1 LLMKP_PROXY_KEY=... python3 openai_responses_check.py
The gateway serves `openai/*` from the Chat mock. Exits 0 when every check passes.
"""

import json
import os

import openai
from sdk_checks import check, raises, run_checks

BASE_URL = os.environ["LLMKP_BASE_URL"]
KEY = os.environ["LLMKP_PROXY_KEY"]
client = openai.OpenAI(base_url=BASE_URL, api_key=KEY, max_retries=0, timeout=20)
SHELL = [
    {
        "type": "function",
        "name": "exec_command",
        "description": "Runs a command.",
        "parameters": {"type": "object", "properties": {"cmd": {"type": "string"}}, "required": ["cmd"]},
    }
]


@check
def create():
    r = client.responses.create(model="openai/gpt-4o", input="hi there", instructions="Be brief.")
    assert r.output_text == "Hello! You said: hi there", r
    assert r.status == "completed" and r.model == "openai/gpt-4o"
    assert r.id.startswith("resp_")
    assert r.usage.total_tokens == r.usage.input_tokens + r.usage.output_tokens > 0


@check
def stream():
    kinds, text = [], ""
    with client.responses.stream(model="openai/gpt-4o", input="hi there") as events:
        for event in events:
            kinds.append(event.type)
            if event.type == "response.output_text.delta":
                text += event.delta
        final = events.get_final_response()
    assert text == "Hello! You said: hi there", text
    assert kinds[:2] == ["response.created", "response.in_progress"], kinds
    assert kinds[-1] == "response.completed", kinds
    assert "response.output_item.done" in kinds and "response.content_part.done" in kinds
    assert final.output_text == text and final.usage.total_tokens > 0


def shell_call(response):
    calls = [item for item in response.output if item.type == "function_call"]
    assert len(calls) == 1, response.output
    assert calls[0].name == "exec_command" and json.loads(calls[0].arguments)["cmd"]
    return calls[0]


@check
def function_call_then_full_input():
    first = client.responses.create(model="openai/shell-gpt", input="run it", tools=SHELL, store=False)
    call = shell_call(first)
    history = [{"role": "user", "content": "run it"}] + [item.model_dump(exclude_none=True) for item in first.output]
    history.append({"type": "function_call_output", "call_id": call.call_id, "output": "llmkp-shell-ok"})
    second = client.responses.create(model="openai/shell-gpt", input=history, tools=SHELL, store=False)
    assert second.output_text == "The shell said: llmkp-shell-ok", second.output_text


@check
def function_call_then_previous_response_id():
    first = client.responses.create(model="openai/shell-gpt", input="run it", tools=SHELL)
    call = shell_call(first)
    output = [{"type": "function_call_output", "call_id": call.call_id, "output": "llmkp-shell-ok"}]
    second = client.responses.create(
        model="openai/shell-gpt", previous_response_id=first.id, input=output, tools=SHELL
    )
    assert second.output_text == "The shell said: llmkp-shell-ok", second.output_text


@check
def stream_a_function_call():
    with client.responses.stream(model="openai/shell-gpt", input="run it", tools=SHELL) as events:
        deltas = "".join(e.delta for e in events if e.type == "response.function_call_arguments.delta")
        final = events.get_final_response()
    assert json.loads(deltas) == json.loads(shell_call(final).arguments)


@check
def stored_responses():
    r = client.responses.create(model="openai/gpt-4o", input="keep me")
    again = client.responses.retrieve(r.id)
    assert again.id == r.id and again.output_text == r.output_text
    items = client.responses.input_items.list(r.id)
    assert [i.content[0].text for i in items.data] == ["keep me"], items
    assert items.data[0].id and items.data[0].type == "message"
    deleted = client.responses.delete(r.id)
    assert deleted is None or getattr(deleted, "deleted", True)
    e = raises(openai.NotFoundError, lambda: client.responses.retrieve(r.id))
    assert e.status_code == 404


@check
def unknown_previous_response():
    e = raises(
        openai.NotFoundError,
        lambda: client.responses.create(model="openai/gpt-4o", input="x", previous_response_id="resp_nope"),
    )
    assert e.code == "previous_response_not_found", e.body


@check
def structured_output():
    schema = {"type": "object", "properties": {"greeting": {"type": "string"}}, "required": ["greeting"]}
    r = client.responses.create(
        model="openai/gpt-4o",
        input="hi there",
        text={"format": {"type": "json_schema", "name": "greeting", "schema": schema, "strict": True}},
    )
    assert r.status == "completed" and r.output_text, r


@check
def bad_request():
    e = raises(openai.BadRequestError, lambda: client.responses.create(model="openai/gpt-4o", input=42))
    assert e.status_code == 400 and "input" in e.message, e.message


if __name__ == "__main__":
    run_checks()
