"""OpenTelemetry: each solve a trace, each model call a span with the GenAI conventions, off by default.

One test sends real OTLP over HTTP to a collector running in the test (an HTTP endpoint that decodes the
protobuf export requests), configured by nothing but the standard `OTEL_*` variables.
"""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from helpers import good_team, make_xolver
from recorded import problems as recorded_problems
from recorded import reply, run_program

import xolver.runtime
from xolver import InMemoryExperienceStore, Problem
from xolver.errors import ModelUnreachable
from xolver.llm.testing import ScriptedModel
from xolver.sandbox.testing import ScriptedSandbox
from xolver.telemetry import SolveTracing, open_tracing


class Collector:
    """An OTLP/HTTP trace receiver on loopback: keeps every span it is sent, with its resource."""

    def __init__(self) -> None:
        from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

        self.spans: list[tuple[dict, object]] = []
        self.paths: list[str] = []
        collector = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                request = ExportTraceServiceRequest.FromString(body)
                for resource_spans in request.resource_spans:
                    resource = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
                    for scope in resource_spans.scope_spans:
                        collector.spans += [(resource, span) for span in scope.spans]
                collector.paths.append(self.path)
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.endpoint = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def attributes(span: object) -> dict[str, object]:
    found: dict[str, object] = {}
    for item in span.attributes:  # type: ignore[attr-defined]
        value = item.value
        kind = value.WhichOneof("value")
        found[item.key] = [v.string_value for v in value.array_value.values] if kind == "array_value" else getattr(
            value, kind
        )
    return found


@pytest.fixture
def collector(monkeypatch: pytest.MonkeyPatch) -> Iterator[Collector]:
    receiver = Collector()
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint)
    monkeypatch.setenv("OTEL_SERVICE_NAME", "xolver-tests")
    yield receiver
    receiver.close()


async def test_an_otlp_receiver_gets_one_trace_per_solve_with_the_expected_spans(collector: Collector) -> None:
    chosen = {p.id: p for p in recorded_problems()}
    batch = [chosen["q00"], chosen["q03"], chosen["c1"]]
    model = ScriptedModel(reply, name="openai/scripted-7b")
    async with make_xolver(model, InMemoryExperienceStore(), ScriptedSandbox(run_program), seed=3) as team:
        results = [await team.asolve(problem) for problem in batch]
    # closing the team flushed its exporter: everything has arrived
    assert set(collector.paths) == {"/v1/traces"}
    traces: dict[bytes, list] = {}
    for resource, span in collector.spans:
        assert resource["service.name"] == "xolver-tests"
        traces.setdefault(span.trace_id, []).append(span)
    assert len(traces) == 3, "one trace per solve"
    for result in results:
        (spans,) = [
            s for s in traces.values() if any(attributes(x).get("xolver.problem.id") == result.problem.id for x in s)
        ]
        (root,) = [s for s in spans if not s.parent_span_id]
        assert root.name == "invoke_agent xolver"
        top = attributes(root)
        assert top["gen_ai.operation.name"] == "invoke_agent" and top["xolver.run_id"] == result.run_id
        assert top["xolver.answer"] == result.answer and top["xolver.stop_reason"] == result.stop_reason
        assert top["gen_ai.usage.input_tokens"] == result.usage.prompt_tokens
        phases = [s.name for s in spans if s.parent_span_id == root.span_id and s.name.startswith("xolver.")]
        rounds = [f"xolver.round {i + 1}" for i in range(len(result.iterations))]
        assert phases == ["xolver.plan", *rounds, "xolver.verify"]
        chats = [s for s in spans if s.name.startswith("chat ")]
        assert len(chats) == len(result.calls) and {s.name for s in chats} == {"chat openai/scripted-7b"}
        ids = {s.span_id for s in spans}
        assert all(s.parent_span_id in ids for s in chats), "every call sits in its solve's trace"
        for call in result.calls:
            matching = [
                attributes(s) for s in chats
                if attributes(s)["gen_ai.agent.name"] == call.role
                and attributes(s)["gen_ai.usage.input_tokens"] == call.usage.prompt_tokens
                and attributes(s)["gen_ai.usage.output_tokens"] == call.usage.completion_tokens
            ]  # fmt: skip
            assert matching, f"a span for the {call.role} call"
            assert matching[0]["gen_ai.system"] == "openai" and matching[0]["gen_ai.request.model"] == call.model
            reasons = matching[0].get("gen_ai.response.finish_reasons")
            assert reasons == ([call.finish_reason] if call.finish_reason else None)
            assert matching[0]["gen_ai.request.max_tokens"] == call.max_tokens
            assert "gen_ai.input.messages" not in matching[0], "prompts stay out unless asked for"
        tools = [s for s in spans if s.name == "execute_tool python"]
        assert len(tools) == len(result.runs) and bool(tools), "the code runs, and math's independent check"
        for span in spans:
            assert span.start_time_unix_nano <= span.end_time_unix_nano
            if span is not root:
                assert root.start_time_unix_nano <= span.start_time_unix_nano, span.name


def in_memory(capture: bool = False) -> tuple[SolveTracing, object]:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return SolveTracing(provider, owned=True, capture_content=capture), exporter


async def test_a_failed_solve_is_a_trace_with_its_error(monkeypatch: pytest.MonkeyPatch) -> None:
    tracing, exporter = in_memory()
    monkeypatch.setattr(xolver.runtime, "open_tracing", lambda: tracing)

    def unreachable(request: object) -> str:
        if getattr(request, "role", "") == "solver":
            raise ModelUnreachable("no server at http://127.0.0.1:9", model="x")
        return "1. Algebraist: equations"

    team = make_xolver(ScriptedModel(unreachable), retries=0)
    raised = False
    try:
        await team.asolve("What is 2 + 2?")
    except* ModelUnreachable:  # the solvers' task group raises it as a group
        raised = True
    await team.aclose()
    assert raised
    spans = exporter.get_finished_spans()  # type: ignore[attr-defined]
    (root,) = [s for s in spans if s.parent is None]
    assert root.status.status_code.name == "ERROR" and root.events[0].name == "exception"
    failed = [s for s in spans if s.name.startswith("chat ") and s.status.status_code.name == "ERROR"]
    assert failed and failed[0].attributes["error.type"] == "no server at http"


async def test_message_content_only_when_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    tracing, exporter = in_memory(capture=True)
    monkeypatch.setattr(xolver.runtime, "open_tracing", lambda: tracing)
    async with make_xolver(good_team(), iterations=1) as team:
        await team.asolve(Problem(text="What is 347 times 29?"))
    chats = [s for s in exporter.get_finished_spans() if s.name.startswith("chat ")]  # type: ignore[attr-defined]
    judge = next(s for s in chats if s.attributes["gen_ai.agent.name"] == "judge")
    assert "Proposed solution" in judge.attributes["gen_ai.input.messages"]
    assert "Score: 1" in judge.attributes["gen_ai.output.messages"]


@pytest.mark.parametrize(
    ("env", "on"),
    [
        ({}, False),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318", "OTEL_SDK_DISABLED": "true"}, False),
        ({"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}, False),
        ({"OTEL_TRACES_EXPORTER": "console"}, True),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://127.0.0.1:4318/v1/traces"}, True),
    ],
)
def test_the_standard_variables_turn_it_on(env: dict[str, str], on: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [n for n in os.environ if n.startswith("OTEL_")]:
        monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    tracing = open_tracing()
    assert (tracing is not None) == on
    if tracing is not None:
        tracing.provider.shutdown()  # type: ignore[attr-defined]


def test_off_by_default_imports_nothing_of_opentelemetry() -> None:
    code = (
        "import sys\nfrom xolver import Xolver\nfrom xolver.llm.testing import scripted_team\n"
        "with Xolver(model=scripted_team(solver='\\\\boxed{4}', judge='Score: 1'), iterations=1) as team:\n"
        "    team.solve('What is 2 + 2?')\n"
        "print(team.runtime.tracing, sorted(m for m in sys.modules if m.startswith('opentelemetry')))\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "None []"
