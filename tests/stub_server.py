"""A tiny OpenAI-compatible server on 127.0.0.1 whose replies a test scripts, for litellm's real path."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# (status, body) where body is a dict (sent as JSON) or raw bytes (sent as they are)
Handler = Callable[[dict], tuple[int, dict | bytes]]


def completion(text: str, prompt_tokens: int = 11, completion_tokens: int = 7) -> dict:
    return {
        "id": "chatcmpl-stub",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": "stub",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }


@contextmanager
def stub_server(handler: Handler) -> Iterator[str]:
    """Serve `handler` on a free loopback port; yields the api_base."""

    class Handle(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))) or b"{}")
            status, payload = handler(body)
            data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handle)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()
        server.server_close()


def team_handler(body: dict) -> tuple[int, dict]:
    """Plausible replies for every agent, told apart by their prompts."""
    prompt = body["messages"][-1]["content"]
    if "Proposed solution" in prompt:
        return 200, completion("Correct.\nScore: 1")
    if "Propose" in prompt:
        return 200, completion("1. Algebraist: equations\n2. Calculator: arithmetic\n3. Checker: checks")
    if "Candidate roles" in prompt:
        return 200, completion("1, 2")
    if "solves this problem on its own" in prompt:  # the verifier's independent program
        return 200, completion("```python\nprint(347 * 29)\n```")
    return 200, completion(r"347 * 29 = 10063, so \boxed{10063}")
