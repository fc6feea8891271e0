"""Sends <count> requests of one kind to `llmkp serve` on one keep-alive connection and checks each
answer (status 200, the whole reply text).

usage: client.py <port> <chat|chat-stream|messages|messages-stream> <count>
"""
import http.client
import json
import sys

port, kind, count = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
stream = kind.endswith("-stream")
if kind.startswith("messages"):
    path = "/v1/messages"
    body = {"model": "openai/gpt-4o", "max_tokens": 64, "stream": stream,
            "messages": [{"role": "user", "content": "Say hello"}]}
    headers = {"x-api-key": "proxy-key", "anthropic-version": "2023-06-01", "content-type": "application/json"}
elif kind.startswith("chat"):
    path = "/v1/chat/completions"
    body = {"model": "openai/gpt-4o", "stream": stream, "messages": [{"role": "user", "content": "Say hello"}]}
    headers = {"authorization": "Bearer proxy-key", "content-type": "application/json"}
else:
    sys.exit(f"unknown kind {kind}")
payload = json.dumps(body).encode()
connection = http.client.HTTPConnection("127.0.0.1", port)
for _ in range(count):
    connection.request("POST", path, payload, headers)
    response = connection.getresponse()
    answer = response.read()
    if response.status != 200 or b"token 9" not in answer:
        sys.exit(f"{kind}: status {response.status}: {answer[:300]!r}")
