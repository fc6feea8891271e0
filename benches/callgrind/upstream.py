"""A mock OpenAI Chat Completions upstream with the proxy bench's replies (benches/proxy/mock.rs):
ten content pieces, usage, `data: [DONE]`. HTTP/1.1 keep-alive, one thread per connection.
A stream goes out in one write with a content-length, or with UPSTREAM_CHUNKED=1 as the bench's
mock sends it: chunked, one write per event.

usage: upstream.py <port>
"""
import json
import os
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PIECES = ["Hello" if i == 0 else f" from bench token {i}" for i in range(10)]
USAGE = {"prompt_tokens": 8, "completion_tokens": len(PIECES), "total_tokens": 8 + len(PIECES)}


def compact(value):
    return json.dumps(value, separators=(",", ":")).encode()


def chunk(choices):
    return {"id": "chatcmpl-bench", "object": "chat.completion.chunk", "created": 1700000000, "model": "gpt-4o",
            "system_fingerprint": "fp_bench", "choices": choices}


def event(value):
    return b"data: " + compact(value) + b"\n\n"


COMPLETION = compact({
    "id": "chatcmpl-bench", "object": "chat.completion", "created": 1700000000, "model": "gpt-4o",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "".join(PIECES), "refusal": None},
                 "logprobs": None, "finish_reason": "stop"}],
    "usage": USAGE, "system_fingerprint": "fp_bench",
})
DELTAS = [event(chunk([{"index": 0, "delta": {"role": "assistant", "content": piece} if i == 0 else {"content": piece},
                        "logprobs": None, "finish_reason": None}])) for i, piece in enumerate(PIECES)]
DELTAS.append(event(chunk([{"index": 0, "delta": {}, "logprobs": None, "finish_reason": "stop"}])))
USAGE_CHUNK = chunk([])
USAGE_CHUNK["usage"] = USAGE
STREAM = DELTAS + [b"data: [DONE]\n\n"]
STREAM_WITH_USAGE = DELTAS + [event(USAGE_CHUNK), b"data: [DONE]\n\n"]
CHUNKED = os.environ.get("UPSTREAM_CHUNKED") == "1"


class Upstream(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # The head and the body go out in two writes: without this, the second waits for a delayed ACK.
    disable_nagle_algorithm = True

    def log_message(self, *args):
        pass

    def do_POST(self):
        request = json.loads(self.rfile.read(int(self.headers["content-length"])))
        if not request.get("stream"):
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(COMPLETION)))
            self.end_headers()
            self.wfile.write(COMPLETION)
            return
        with_usage = (request.get("stream_options") or {}).get("include_usage")
        events = STREAM_WITH_USAGE if with_usage else STREAM
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        if CHUNKED:
            self.send_header("transfer-encoding", "chunked")
            self.end_headers()
            for data in events:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.write(b"0\r\n\r\n")
        else:
            body = b"".join(events)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)


ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Upstream).serve_forever()
