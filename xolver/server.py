"""The team as an OpenAI-compatible model (`xolver serve-team`): any client of the OpenAI API, any UI.

The openai SDK, litellm, LangChain or Open WebUI talk to the team as to one model. The last user message
is the problem and earlier turns its context; the team's progress streams as `reasoning_content` (as
reasoning models stream their thinking), the answer comes as `content`, and `usage` is the whole team's.
Every request shares the one team (model client, memory, sandbox) and its limits; options a request sets
(`max_tokens` as the token budget, `temperature`, `seed`, and `extra_body={"xolver": {...}}`) apply to
that request alone, on a team reconfigured to share those services. A client that goes away cancels its
solve, and with it the solve's model calls. Errors come back in the OpenAI error shape.

    async with Xolver(config) as team, running(TeamServer(team, api_key="secret"), port=8100) as base_url:
        ...  # any OpenAI client, pointed at base_url, is talking to the team
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import socket
import time
import uuid
from collections.abc import AsyncIterator, Awaitable
from contextlib import aclosing, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from starlette.exceptions import HTTPException

from xolver.api import Xolver, in_conversation
from xolver.errors import (
    EmbeddedModelError,
    ModelRateLimited,
    ModelServerError,
    ModelTimeout,
    ModelUnreachable,
    UserInputError,
)
from xolver.schema import MemoryMode, Problem, Settings, SolveResult, TaskKind, TraceEvent, Usage
from xolver.team.loop import EventSink
from xolver.team.trace import describe

log = logging.getLogger("xolver.server")
T = TypeVar("T")
UNAVAILABLE = (ModelUnreachable, ModelTimeout, ModelRateLimited, ModelServerError, EmbeddedModelError)


# What a client sends. Fields of the OpenAI API that the team cannot honour are refused (see `_refusal`);
# sampling knobs it has no use for (top_p, stop, penalties, user, metadata) are accepted and ignored.


class ContentPart(BaseModel):
    model_config = ConfigDict(extra="allow")

    type: str
    text: str | None = None


class InMessage(BaseModel):
    model_config = ConfigDict(extra="allow")  # name, tool_calls, ...: nothing the team reads

    role: Literal["system", "developer", "user", "assistant"]
    content: str | list[ContentPart] | None = None

    @field_validator("content")
    @classmethod
    def _text_only(cls, content: str | list[ContentPart] | None) -> str | list[ContentPart] | None:
        for part in content if isinstance(content, list) else []:
            if part.type != "text" or part.text is None:
                raise ValueError(f"the team reads text only, not a content part of type {part.type!r}")
        return content

    @property
    def text(self) -> str:
        if isinstance(self.content, list):
            return "\n".join(part.text or "" for part in self.content)
        return self.content or ""


class TeamOptions(BaseModel):
    """`extra_body={"xolver": {...}}`: the team for this request. A misspelt option is an error."""

    model_config = ConfigDict(extra="forbid")

    agents: int | None = Field(None, description="m: solver agents per iteration")
    iterations: int | None = Field(None, description="I: maximum iterations")
    memory: MemoryMode | bool | None = Field(
        None, description="off, read-only or learn (true: learn; false: off); the server's store, or none"
    )
    kind: TaskKind | None = Field(None, description="the kind of problem (default: the server's --kind)")


class StreamOptions(BaseModel):
    include_usage: bool = False


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    model: str
    messages: list[InMessage] = Field(min_length=1)
    stream: bool = False
    stream_options: StreamOptions | None = None
    n: int | None = None
    max_tokens: int | None = None
    max_completion_tokens: int | None = None
    temperature: float | None = None
    seed: int | None = None
    tools: list[Any] | None = None
    functions: list[Any] | None = None
    response_format: dict[str, Any] | None = None
    logprobs: bool | None = None
    xolver: TeamOptions = Field(default_factory=TeamOptions)


# What the server answers: the OpenAI shapes, plus `xolver` with what the team did.


class ErrorDetail(BaseModel):
    message: str
    type: str
    param: str | None = None
    code: str | None = None


class ErrorBody(BaseModel):
    error: ErrorDetail


class ModelCard(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str = "xolver"


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]


class TokenDetails(BaseModel):
    reasoning_tokens: int


class CompletionUsage(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    completion_tokens_details: TokenDetails

    @classmethod
    def of(cls, usage: Usage) -> CompletionUsage:
        """The team's total over every call of the solve."""
        return cls(
            prompt_tokens=usage.prompt_tokens,
            completion_tokens=usage.completion_tokens,
            total_tokens=usage.total_tokens,
            completion_tokens_details=TokenDetails(reasoning_tokens=usage.reasoning_tokens),
        )


class TeamRun(BaseModel):
    """What the team did, beside the OpenAI fields (clients read it as `completion.xolver`)."""

    run_id: str
    verified: bool
    verification: str
    stop_reason: str
    iterations: int
    calls: int
    cost: float
    seconds: float

    @classmethod
    def of(cls, result: SolveResult) -> TeamRun:
        return cls(
            run_id=result.run_id, verified=result.verified, verification=result.verification.method,
            stop_reason=result.stop_reason, iterations=len(result.iterations), calls=result.usage.calls,
            cost=result.usage.cost, seconds=round(result.wall_seconds, 3),
        )  # fmt: skip


class AnswerMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str
    reasoning_content: str


class Choice(BaseModel):
    index: int = 0
    message: AnswerMessage
    finish_reason: Literal["stop"] = "stop"
    logprobs: None = None


class ChatCompletion(BaseModel):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[Choice]
    usage: CompletionUsage
    xolver: TeamRun


class Delta(BaseModel):
    role: Literal["assistant"] | None = None
    content: str | None = None
    reasoning_content: str | None = None


class ChunkChoice(BaseModel):
    index: int = 0
    delta: Delta
    finish_reason: Literal["stop"] | None = None


class ChatCompletionChunk(BaseModel):
    id: str
    object: Literal["chat.completion.chunk"] = "chat.completion.chunk"
    created: int
    model: str
    choices: list[ChunkChoice]
    usage: CompletionUsage | None = None
    xolver: TeamRun | None = None


class ApiError(Exception):
    """A request the server answers with an OpenAI-shaped error."""

    def __init__(
        self, status: int, message: str, *, param: str | None = None, code: str | None = None, kind: str = ""
    ) -> None:
        super().__init__(message)
        self.status = status
        self.body = ErrorBody(
            error=ErrorDetail(message=message, type=kind or _error_type(status), param=param, code=code)
        )

    def response(self) -> JSONResponse:
        return JSONResponse(self.body.model_dump(), status_code=self.status)


def _error_type(status: int) -> str:
    return {401: "authentication_error", 503: "service_unavailable"}.get(
        status, "server_error" if status >= 500 else "invalid_request_error"
    )


def api_error(exc: BaseException) -> ApiError:
    """The status a failure of a solve answers with: the user's input 400, an unavailable backing model 503,
    anything else 500."""
    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, UserInputError):
        return ApiError(400, str(exc))
    if isinstance(exc, UNAVAILABLE):
        return ApiError(503, f"the team's model is unavailable: {exc}", code="model_unavailable")
    return ApiError(500, f"the solve failed: {type(exc).__name__}: {exc}")


def failed(exc: Exception) -> ApiError:
    """`api_error`, with the traceback in the server's log when the fault is not the client's."""
    error = api_error(exc)
    if error.status >= 500:
        log.error("a request failed: %s", error.body.error.message, exc_info=error.status == 500)
    return error


# From a request to a solve.


def memory_changes(memory: MemoryMode | bool | None, team: Xolver) -> dict[str, object]:
    """The settings a request's memory option asks for. Memory is opened once, when the server starts: a
    request may read it only, or leave it out, not open one the server runs without."""
    if memory is None:
        return {}
    mode = {True: "learn", False: "off"}.get(memory, memory) if isinstance(memory, bool) else memory
    if mode != "off" and team.store is None:
        raise ApiError(400, "this server runs without experience memory", param="xolver.memory")
    return {"memory": mode}


@dataclass
class Ask:
    """One request's problem, and what it changes of the team (setting -> value; `params` names the request
    field each change came from)."""

    problem: Problem
    changes: dict[str, object] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)


def _refusal(request: ChatRequest) -> ApiError | None:
    """A request field the team cannot honour, said rather than silently dropped."""
    if request.n is not None and request.n != 1:
        return ApiError(400, "n must be 1: the team returns one answer per request; send n requests instead "
                        "(they share the team)", param="n")  # fmt: skip
    if request.tools or request.functions:
        return ApiError(400, "the team does not call client tools", param="tools" if request.tools else "functions")
    if request.response_format is not None and request.response_format.get("type", "text") != "text":
        return ApiError(400, "the team answers in text only", param="response_format")
    if request.logprobs:
        return ApiError(400, "the team's answer has no log-probabilities", param="logprobs")
    return None


def ask_of(request: ChatRequest, team: Xolver, kind: TaskKind) -> Ask:
    """The problem (the last user message, in the context of the turns before it) and the team's changes."""
    refusal = _refusal(request)
    if refusal is not None:
        raise refusal
    last = max((i for i, m in enumerate(request.messages) if m.role == "user"), default=None)
    if last is None:
        raise ApiError(400, "no user message: the last user message is the problem", param="messages")
    if last != len(request.messages) - 1:
        raise ApiError(400, "the last message must be the user's: it is the problem", param="messages")
    instructions = "\n".join(m.text for m in request.messages if m.role in ("system", "developer"))
    turns: list[tuple[str, str | None]] = []
    for message in request.messages[:last]:
        if message.role == "user":
            turns.append((message.text, None))
        elif message.role == "assistant" and turns:
            turns[-1] = (turns[-1][0], message.text)
    options = request.xolver
    try:
        problem = in_conversation(
            request.messages[last].text, turns, instructions=instructions, kind=options.kind or kind
        )
    except UserInputError as exc:
        raise ApiError(400, str(exc), param=f"messages.{last}.content") from exc
    ask = Ask(problem)
    budget = request.max_completion_tokens or request.max_tokens
    wanted = {
        "budget": ("max_completion_tokens" if request.max_completion_tokens else "max_tokens", budget),
        "temperature": ("temperature", request.temperature),
        "seed": ("seed", request.seed),
        "agents": ("xolver.agents", options.agents),
        "iterations": ("xolver.iterations", options.iterations),
    }
    for setting, (param, value) in wanted.items():
        if value is not None:
            ask.changes[setting], ask.params[setting] = value, param
    for setting, value in memory_changes(options.memory, team).items():
        ask.changes[setting], ask.params[setting] = value, "xolver.memory"
    try:
        if ask.changes:  # checked before a stream starts, as plain `Settings` (the config's files are not read again)
            Settings.model_validate({**dict(team.config), **ask.changes})
    except ValidationError as exc:
        first = exc.errors()[0]
        param = ask.params.get(str(first["loc"][0]) if first["loc"] else "")
        raise ApiError(400, f"{param}: {first['msg']}" if param else first["msg"], param=param) from exc
    return ask


@dataclass
class Reply:
    """The id, time and model every chunk of one completion carries."""

    id: str
    created: int
    model: str

    def chunk(self, delta: Delta | None, *, finish_reason: Literal["stop"] | None = None, **extra: Any) -> str:
        choices = [] if delta is None else [ChunkChoice(delta=delta, finish_reason=finish_reason)]
        chunk = ChatCompletionChunk(id=self.id, created=self.created, model=self.model, choices=choices, **extra)
        return chunk.model_dump_json(exclude_none=True)


def answer_text(result: SolveResult) -> str:
    """The team's final answer as a chat reply: a program in a fenced block; no answer said as such."""
    if result.answer is None:
        return f"The team reached no answer (stopped: {result.stop_reason})."
    if result.problem.kind == "code":
        return f"```python\n{result.answer.strip()}\n```"
    return result.answer


async def unless_disconnected(request: Request, work: Awaitable[T]) -> T | None:
    """`work`'s result, or None when the client disconnects first: then `work` is cancelled."""

    async def disconnected() -> None:
        while (await request.receive())["type"] != "http.disconnect":
            pass

    working, watching = asyncio.ensure_future(work), asyncio.ensure_future(disconnected())
    try:
        await asyncio.wait({working, watching}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (working, watching):
            task.cancel()
        await asyncio.wait({working, watching})
    return None if working.cancelled() else working.result()


class TeamServer:
    """The routes over one team; the team stays its caller's to close. `api_key`, when set, is required
    as `Authorization: Bearer <key>`; `kind` is the kind of problem a request gets unless it says."""

    def __init__(
        self, team: Xolver, *, name: str = "xolver", kind: TaskKind = "math", api_key: str | None = None
    ) -> None:
        self.team = team
        self.name = name
        self.kind = kind
        self.api_key = api_key
        self.created = int(time.time())

    def app(self) -> FastAPI:
        app = FastAPI(title="Xolver", summary="the team as an OpenAI-compatible model", docs_url=None, redoc_url=None)
        router = APIRouter(prefix="/v1", dependencies=[Depends(self._authorize)])
        router.add_api_route("/models", self.models, methods=["GET"])
        router.add_api_route("/models/{model}", self.model, methods=["GET"])
        router.add_api_route("/chat/completions", self.chat, methods=["POST"])
        app.include_router(router)
        app.add_exception_handler(ApiError, _answer_error)
        app.add_exception_handler(RequestValidationError, _answer_invalid)
        app.add_exception_handler(HTTPException, _answer_http)
        app.add_exception_handler(Exception, _answer_crash)
        return app

    def _authorize(self, request: Request) -> None:
        if self.api_key is None:
            return
        scheme, _, key = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not secrets.compare_digest(key.strip().encode(), self.api_key.encode()):
            raise ApiError(401, "incorrect or missing API key: send `Authorization: Bearer <key>`",
                           code="invalid_api_key")  # fmt: skip

    def _card(self) -> ModelCard:
        return ModelCard(id=self.name, created=self.created)

    async def models(self) -> ModelList:
        return ModelList(data=[self._card()])

    async def model(self, model: str) -> ModelCard:
        self._known(model, param=None)
        return self._card()

    def _known(self, model: str, *, param: str | None = "model") -> None:
        if model != self.name:
            raise ApiError(404, f"the model {model!r} does not exist: this server serves {self.name!r}",
                           param=param, code="model_not_found")  # fmt: skip

    async def chat(self, body: ChatRequest, request: Request) -> Response:
        self._known(body.model)
        ask = ask_of(body, self.team, self.kind)
        reply = Reply(id=f"chatcmpl-{uuid.uuid4().hex}", created=int(time.time()), model=self.name)
        if body.stream:
            from sse_starlette import EventSourceResponse

            include_usage = body.stream_options is not None and body.stream_options.include_usage
            return EventSourceResponse(self._stream(ask, reply, include_usage), ping=15)
        try:
            result = await unless_disconnected(request, self._complete(ask, reply))
        except Exception as exc:
            return failed(exc).response()
        if result is None:
            return Response(status_code=499)  # nginx's "client closed request": nobody reads it
        return JSONResponse(result.model_dump(mode="json"))

    async def _solve(self, ask: Ask, on_event: EventSink) -> SolveResult:
        """One solve on the shared team, reconfigured for this request when it asks for changes."""
        team = self.team.reconfigured(**ask.changes) if ask.changes else self.team
        try:
            return await team.asolve(ask.problem, on_event=on_event)
        finally:
            if team is not self.team:
                await team.aclose()

    async def _narrated(self, ask: Ask) -> AsyncIterator[str | SolveResult]:
        """The solve's progress, a line per trace event as it happens, then its result. Closing this early
        cancels the solve, and with it the model calls in flight."""
        lines: asyncio.Queue[str | None] = asyncio.Queue()

        def narrate(event: TraceEvent) -> None:
            lines.put_nowait(describe(event))

        solving = asyncio.ensure_future(self._solve(ask, narrate))
        solving.add_done_callback(lambda _: lines.put_nowait(None))
        try:
            while (line := await lines.get()) is not None:
                yield line
            yield solving.result()
        finally:
            solving.cancel()
            await asyncio.wait({solving})
            if not solving.cancelled():
                solving.exception()  # retrieved: raised above, or the client that would read it is gone

    async def _complete(self, ask: Ask, reply: Reply) -> ChatCompletion:
        reasoning: list[str] = []
        async with aclosing(self._narrated(ask)) as items:
            async for item in items:
                if isinstance(item, str):
                    reasoning.append(item)
                    continue
                message = AnswerMessage(content=answer_text(item), reasoning_content="\n".join(reasoning))
                return ChatCompletion(
                    id=reply.id, created=reply.created, model=reply.model, choices=[Choice(message=message)],
                    usage=CompletionUsage.of(item.usage), xolver=TeamRun.of(item),
                )  # fmt: skip
        raise AssertionError("a narrated solve ends with its result")

    async def _stream(self, ask: Ask, reply: Reply, include_usage: bool) -> AsyncIterator[str]:
        """Server-sent events: the role, a reasoning delta per progress line, the answer, the finish (and the
        usage when asked), `[DONE]`. A failure mid-stream is an `error` event, as OpenAI sends it."""
        yield reply.chunk(Delta(role="assistant", content=""))
        try:
            async with aclosing(self._narrated(ask)) as items:
                async for item in items:
                    if isinstance(item, str):
                        yield reply.chunk(Delta(reasoning_content=item + "\n"))
                    else:
                        result = item
        except Exception as exc:
            yield failed(exc).body.model_dump_json()
            return
        yield reply.chunk(Delta(content=answer_text(result)))
        yield reply.chunk(Delta(), finish_reason="stop", xolver=TeamRun.of(result))
        if include_usage:
            yield reply.chunk(None, usage=CompletionUsage.of(result.usage))
        yield "[DONE]"


async def _answer_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return exc.response()


async def _answer_invalid(request: Request, exc: Exception) -> JSONResponse:
    """FastAPI's 422 becomes OpenAI's 400, naming the field."""
    assert isinstance(exc, RequestValidationError)
    first = exc.errors()[0]
    where = ".".join(str(part) for part in first["loc"][1:] if part != "body")
    if first["type"] == "json_invalid":
        return ApiError(400, "the body is not valid JSON").response()
    message = f"{where}: {first['msg']}" if where else first["msg"]
    return ApiError(400, message, param=where or None).response()


async def _answer_http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    message = f"no route {request.method} {request.url.path}" if exc.status_code in (404, 405) else str(exc.detail)
    return ApiError(exc.status_code, message).response()


async def _answer_crash(request: Request, exc: Exception) -> JSONResponse:
    return failed(exc).response()


def bind(host: str, port: int) -> socket.socket:
    """A listening socket (port 0: a free one), bound before the server starts so its address is known and
    a port in use is a one-line error. Made from `getaddrinfo`, as asyncio makes its own: a socket that does
    not say it is TCP gets no TCP_NODELAY from asyncio, and every reply then waits ~40 ms for a delayed ACK."""
    listener = None
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        listener = socket.socket(family, kind, proto)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(address)
        listener.listen()
        return listener
    except OSError as exc:
        if listener is not None:
            listener.close()
        raise UserInputError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc


async def serve(server: TeamServer, listener: socket.socket, *, log_level: str = "info") -> None:
    """Serve until stopped (Ctrl-C, SIGTERM); solves in flight get a few seconds, then are cancelled."""
    import uvicorn

    config = uvicorn.Config(server.app(), log_level=log_level, lifespan="off", timeout_graceful_shutdown=5)
    await uvicorn.Server(config).serve(sockets=[listener])


@asynccontextmanager
async def running(server: TeamServer, host: str = "127.0.0.1", port: int = 0) -> AsyncIterator[str]:
    """The server in the background of this event loop (a notebook, a test, a benchmark), stopped on
    leaving the block; yields its base URL, e.g. `http://127.0.0.1:PORT/v1`."""
    import uvicorn

    listener = bind(host, port)
    config = uvicorn.Config(server.app(), log_level="warning", lifespan="off", timeout_graceful_shutdown=5)
    uvicorn_server = uvicorn.Server(config)
    async with asyncio.TaskGroup() as group:
        serving = group.create_task(uvicorn_server.serve(sockets=[listener]))
        while not uvicorn_server.started:
            if serving.done():
                return  # it failed to start: the task group raises why
            await asyncio.sleep(0.01)
        try:
            yield f"http://{host}:{listener.getsockname()[1]}/v1"
        finally:
            uvicorn_server.should_exit = True
