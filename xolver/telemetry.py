"""OpenTelemetry export: each solve a trace, each model call a span named by the GenAI semantic conventions.

Off by default, and then nothing of OpenTelemetry is imported. The standard variables turn it on:
`OTEL_TRACES_EXPORTER` (`otlp`, `console`), `OTEL_EXPORTER_OTLP_ENDPOINT` or
`OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` (with `OTEL_EXPORTER_OTLP_PROTOCOL` `http/protobuf`, the default,
or `grpc`, and `OTEL_EXPORTER_OTLP_HEADERS`), `OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES`, the
batch processor's `OTEL_BSP_*`; `OTEL_SDK_DISABLED=true` keeps it off. An application that set up a
tracer provider of its own (Phoenix's `register()`, Langfuse's client) gets Xolver's spans there.
Prompts and replies go into spans only with `OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true`.

The spans are drawn from what a solve records, when it ends (or fails): its model calls and sandbox runs
with the times they started, and its trace events, which split the solve into plan, rounds and verify.
Nothing in the loop or the model stack knows about OpenTelemetry.

    invoke_agent xolver                      one trace per solve
    ├── xolver.plan                          retrieval and planning
    │   └── chat openai/qwq-32b              one per model call: gen_ai.* request, usage, finish reasons
    ├── xolver.round 1
    │   ├── chat ...
    │   └── execute_tool python              one per sandbox run
    └── xolver.verify                        verification and learning
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Awaitable, Callable, Sequence
from contextvars import ContextVar
from datetime import datetime
from typing import TYPE_CHECKING, Any

from xolver.llm.usage import call_log
from xolver.sandbox.wrappers import run_log
from xolver.schema import (
    IterationDone,
    ModelCall,
    PlanReady,
    Problem,
    SandboxRun,
    SolveResult,
    TraceEvent,
    Verified,
)

if TYPE_CHECKING:
    from opentelemetry.trace import Span, Tracer, TracerProvider

Solve = Callable[[Problem], Awaitable[SolveResult]]
EventSink = Callable[[TraceEvent], Awaitable[None] | None]
CAPTURE_CONTENT = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"
_events: ContextVar[list[TraceEvent] | None] = ContextVar("xolver_trace_events", default=None)


def _ns(moment: datetime) -> int:
    return int(moment.timestamp() * 1_000_000_000)


def provider_of(model: str) -> str:
    """`gen_ai.system` for a litellm model string: its provider prefix (`openai/...` -> `openai`)."""
    if model == "embedded":
        return "llama_cpp"
    return model.split("/", 1)[0] if "/" in model else model


class SolveTracing:
    """Turns solves into traces on `provider`; closes it on `aclose` only when `owned` (built from the
    environment here, not the application's)."""

    def __init__(self, provider: TracerProvider, *, owned: bool, capture_content: bool = False) -> None:
        self.provider = provider
        self.owned = owned
        self.capture_content = capture_content
        self.tracer: Tracer = provider.get_tracer("xolver")

    def listening(self, sink: EventSink | None) -> EventSink:
        """`sink` (if any), and the trace events of the solve in progress kept for its spans."""

        def listen(event: TraceEvent) -> Awaitable[None] | None:
            events = _events.get()
            if events is not None:
                events.append(event)
            return sink(event) if sink is not None else None

        return listen

    def traced(self, solve: Solve) -> Solve:
        """`solve`, each call of it a trace; a solve that raises still exports what it did, with the error."""

        async def run(problem: Problem) -> SolveResult:
            events: list[TraceEvent] = []
            token = _events.set(events)
            attributes = {"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "xolver",
                          "xolver.problem.id": problem.id, "xolver.problem.kind": problem.kind}  # fmt: skip
            try:
                with (
                    self.tracer.start_as_current_span("invoke_agent xolver", attributes=attributes) as root,
                    call_log() as calls,
                    run_log() as runs,
                ):
                    try:
                        result = await solve(problem)
                    except BaseException:
                        self._children(root, calls, runs, events)
                        raise
                    self._children(root, result.calls, result.runs, events)
                    root.set_attributes(_result_attributes(result))
            finally:
                _events.reset(token)
            return result

        return run

    def _children(
        self, root: Span, calls: Sequence[ModelCall], runs: Sequence[SandboxRun], events: Sequence[TraceEvent]
    ) -> None:
        """Phase spans from the events' times, and each call and run under the phase it started in."""
        from opentelemetry import trace

        began: int = root.start_time  # type: ignore[attr-defined]
        start = began
        phases: list[tuple[Span, int, int]] = []
        for event in events:
            name = None
            if isinstance(event, PlanReady):
                name = "xolver.plan"
            elif isinstance(event, IterationDone):
                name = f"xolver.round {event.index + 1}"
            elif isinstance(event, Verified):
                name = "xolver.verify"
            if name is not None:
                end = max(start, _ns(event.at))
                span = self.tracer.start_span(name, context=trace.set_span_in_context(root), start_time=start)
                span.end(end_time=end)
                phases.append((span, start, end))
                start = end

        def parent(moment: int) -> Any:
            inside = next((span for span, begin, end in phases if begin <= moment <= end), root)
            return trace.set_span_in_context(inside)

        for call in calls:
            when = max(began, _ns(call.started_at)) if call.started_at else began
            span = self.tracer.start_span(
                f"chat {call.model}", context=parent(when), start_time=when,
                kind=trace.SpanKind.CLIENT, attributes=self._call_attributes(call),
            )  # fmt: skip
            if call.error is not None:
                span.set_status(trace.Status(trace.StatusCode.ERROR, call.error))
            span.end(end_time=when + int(call.seconds * 1e9))
        for run in runs:
            when = max(began, _ns(run.started_at))
            span = self.tracer.start_span(
                "execute_tool python", context=parent(when), start_time=when, attributes=_run_attributes(run)
            )
            if not run.result.ok:
                span.set_status(trace.Status(trace.StatusCode.ERROR, "the program failed"))
            span.end(end_time=when + int(run.result.duration * 1e9))

    def _call_attributes(self, call: ModelCall) -> dict[str, Any]:
        attributes: dict[str, Any] = {
            "gen_ai.operation.name": "chat",
            "gen_ai.system": provider_of(call.model),
            "gen_ai.provider.name": provider_of(call.model),
            "gen_ai.request.model": call.model,
            "gen_ai.request.max_tokens": call.max_tokens,
            "gen_ai.usage.input_tokens": call.usage.prompt_tokens,
            "gen_ai.usage.output_tokens": call.usage.completion_tokens,
            "gen_ai.agent.name": call.role,
            "xolver.agent.role": call.role,
        }
        if call.temperature is not None:
            attributes["gen_ai.request.temperature"] = call.temperature
        if call.seed is not None:
            attributes["gen_ai.request.seed"] = call.seed
        if call.finish_reason is not None:
            attributes["gen_ai.response.finish_reasons"] = [call.finish_reason]
        if call.usage.reasoning_tokens:
            attributes["gen_ai.usage.reasoning_tokens"] = call.usage.reasoning_tokens
        if call.usage.cost:
            attributes["xolver.usage.cost"] = call.usage.cost
        if call.error is not None:
            attributes["error.type"] = call.error.split(":", 1)[0][:100]
        if self.capture_content:
            messages = [{"role": m.role, "parts": [{"type": "text", "content": m.content}]} for m in call.messages]
            reply = [{"type": "text", "content": call.text}]
            if call.reasoning:
                reply.insert(0, {"type": "reasoning", "content": call.reasoning})
            attributes["gen_ai.input.messages"] = json.dumps(messages)
            attributes["gen_ai.output.messages"] = json.dumps(
                [{"role": "assistant", "parts": reply, "finish_reason": call.finish_reason or ""}]
            )
        return attributes

    async def aclose(self) -> None:
        """Export what is left and stop the exporter, when the provider is ours."""
        if self.owned:
            import asyncio

            await asyncio.to_thread(self.provider.shutdown)  # type: ignore[attr-defined]


def _result_attributes(result: SolveResult) -> dict[str, Any]:
    attributes: dict[str, Any] = {
        "xolver.method": result.config.method,
        "xolver.run_id": result.run_id,
        "xolver.verified": result.verified,
        "xolver.stop_reason": result.stop_reason,
        "xolver.rounds": len(result.iterations),
        "gen_ai.usage.input_tokens": result.usage.prompt_tokens,
        "gen_ai.usage.output_tokens": result.usage.completion_tokens,
    }
    if result.answer is not None:
        attributes["xolver.answer"] = result.answer[:1000]
    return attributes


def _run_attributes(run: SandboxRun) -> dict[str, Any]:
    attributes: dict[str, Any] = {
        "gen_ai.operation.name": "execute_tool",
        "gen_ai.tool.name": "python",
        "xolver.sandbox.backend": run.result.backend,
        "xolver.sandbox.timed_out": run.result.timed_out,
    }
    if run.result.exit_code is not None:
        attributes["xolver.sandbox.exit_code"] = run.result.exit_code
    return attributes


def _true(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() == "true"


def open_tracing() -> SolveTracing | None:
    """Tracing as the `OTEL_*` variables ask, or on the application's own tracer provider; else None."""
    if _true("OTEL_SDK_DISABLED"):
        return None
    exporters = [name.strip() for name in os.environ.get("OTEL_TRACES_EXPORTER", "").split(",") if name.strip()]
    endpoint = os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
    if "none" in exporters:
        return None
    if not exporters and not endpoint:
        return _applications()
    return SolveTracing(_provider(exporters or ["otlp"]), owned=True, capture_content=_true(CAPTURE_CONTENT))


def _applications() -> SolveTracing | None:
    """The application's tracer provider, when it imported OpenTelemetry and set one."""
    if "opentelemetry.trace" not in sys.modules:
        return None
    from opentelemetry import trace

    provider = trace.get_tracer_provider()
    if isinstance(provider, trace.ProxyTracerProvider | trace.NoOpTracerProvider):
        return None
    return SolveTracing(provider, owned=False, capture_content=_true(CAPTURE_CONTENT))


def _provider(exporters: list[str]) -> TracerProvider:
    """An SDK provider exporting in batches to each named exporter; they read their own `OTEL_*` settings."""
    from xolver.errors import ConfigError

    try:
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider as SdkTracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter
    except ImportError as exc:
        raise ConfigError("OpenTelemetry export needs its SDK: pip install 'xolver[otel]'") from exc
    resource = Resource.create()  # OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES
    if str(resource.attributes.get("service.name", "")).startswith("unknown_service"):
        resource = resource.merge(Resource({"service.name": "xolver"}))
    provider = SdkTracerProvider(resource=resource)
    for name in exporters:
        if name == "console":
            provider.add_span_processor(BatchSpanProcessor(ConsoleSpanExporter()))
        elif name == "otlp":
            provider.add_span_processor(BatchSpanProcessor(_otlp_exporter()))
        else:
            raise ConfigError(f"OTEL_TRACES_EXPORTER: unknown exporter {name!r} (otlp, console or none)")
    return provider


def _otlp_exporter() -> Any:
    from xolver.errors import ConfigError

    protocol = os.environ.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL") or os.environ.get(
        "OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"
    )
    try:
        if protocol == "grpc":
            from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
        else:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    except ImportError as exc:
        raise ConfigError(f"OTLP export over {protocol} needs its exporter: pip install 'xolver[otel]'") from exc
    return OTLPSpanExporter()
