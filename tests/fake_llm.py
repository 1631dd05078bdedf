"""A fake OpenAI-compatible server on 127.0.0.1, for reaching litellm's real client in tests.

``FakeLLM(behaviour)`` serves POST /v1/chat/completions and /v1/completions (a base model's text completions). ``behaviour(body, nth)`` gets the
request body and how many times this same prompt was asked before (0 the first time),
and returns (HTTP status, reply, delay in seconds): a reply that is a str is sent as
the message content; a dict is sent as the JSON body; bytes are sent raw.
"""

import hashlib
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def answer_for(body: dict) -> str:
    """The deterministic normal answer: derived from the prompt, so resumed runs match."""
    prompt = body["prompt"] if "prompt" in body else body["messages"][-1]["content"]
    return f"synthetic query {hashlib.sha1(prompt.encode()).hexdigest()[:8]} about bicycles"


def normal(body, nth):
    return 200, answer_for(body), 0.0


def completion(content: str, model: str = "fake", text: bool = False) -> dict:
    """A chat completion's body, or with ``text`` a text completion's (/v1/completions)."""
    if text:
        return {
            "id": "cmpl-fake",
            "object": "text_completion",
            "created": int(time.time()),
            "model": model,
            "choices": [{"index": 0, "text": content, "finish_reason": "stop", "logprobs": None}],
            "usage": {"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120},
        }
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120},
    }


class _QuietServer(ThreadingHTTPServer):
    """A client that hangs up (litellm closing a kept-alive connection after an error) is no server error: the
    standard server prints a traceback to stderr then, which a test reading the CLI's stderr would take for the CLI's."""

    def handle_error(self, request, client_address):
        import sys

        if not isinstance(sys.exc_info()[1], (ConnectionResetError, BrokenPipeError)):
            super().handle_error(request, client_address)


class FakeLLM:
    def __init__(self, behaviour=normal):
        self.behaviour = behaviour
        self.calls: list[dict] = []
        self.authorizations: list[str] = []  # the Authorization header of each call (the key the client sent)
        self.seen: dict[str, int] = {}
        self.in_flight = 0
        self.max_in_flight = 0
        self.lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as real servers do
            disable_nagle_algorithm = True  # headers and body go out as they are written (no 40 ms delayed-ACK stall)

            def log_message(self, *args):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                prompt = json.dumps(body.get("messages", body.get("prompt")))
                with fake.lock:
                    nth = fake.seen.get(prompt, 0)
                    fake.seen[prompt] = nth + 1
                    fake.calls.append(body)
                    fake.authorizations.append(self.headers.get("Authorization", ""))
                    fake.in_flight += 1
                    fake.max_in_flight = max(fake.max_in_flight, fake.in_flight)
                try:
                    status, reply, delay = fake.behaviour(body, nth)
                    time.sleep(delay)
                    if isinstance(reply, str):
                        reply = completion(
                            reply,
                            body.get("model", "fake"),
                            text=self.path.endswith("/completions") and not self.path.endswith("/chat/completions"),
                        )
                    data = reply if isinstance(reply, bytes) else json.dumps(reply).encode()
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout test)
                finally:
                    with fake.lock:
                        fake.in_flight -= 1

        self.server = _QuietServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()

    @property
    def unique_prompts(self) -> int:
        return len(self.seen)
