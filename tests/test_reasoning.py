"""Reasoning models: thinking kept apart from the answer, cut replies never read as answers."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from xolver.errors import ModelTruncated
from xolver.llm import Message, ModelClient
from xolver.llm.base import ModelRequest, ModelResponse
from xolver.llm.litellm_model import read_response
from xolver.llm.reasoning import split_reasoning
from xolver.llm.testing import ScriptedModel
from xolver.llm.usage import call_log, usage_scope
from xolver.schema import Usage


@pytest.mark.parametrize(
    ("content", "field", "text", "reasoning"),
    [
        ("The answer is \\boxed{4}.", None, "The answer is \\boxed{4}.", ""),
        ("<think>2+2 is 4, or is it 5?</think>\\boxed{4}", None, "\\boxed{4}", "2+2 is 4, or is it 5?"),
        ("2+2... Score: 1 maybe</think>\nScore: 0", None, "Score: 0", "2+2... Score: 1 maybe"),  # no opening tag
        ("<think>still thinking, \\boxed{5} perhaps", None, "", "still thinking, \\boxed{5} perhaps"),  # cut
        ("\\boxed{4}", "Let me add: 2+2=4.", "\\boxed{4}", "Let me add: 2+2=4."),  # a reasoning parser
        ("<THINKING>a</THINKING>b<think>c</think>d", None, "bd", "a\n\nc"),
        ("", "thinking only", "", "thinking only"),
    ],
)
def test_thinking_is_split_from_the_answer(content: str, field: str | None, text: str, reasoning: str) -> None:
    assert split_reasoning(content, field) == (text, reasoning)


def litellm_reply(content: str, *, reasoning: str | None = None, finish: str = "stop", tokens: int = 100,
                  reasoning_tokens: int | None = None) -> SimpleNamespace:  # fmt: skip
    message = SimpleNamespace(content=content, reasoning_content=reasoning)
    details = SimpleNamespace(reasoning_tokens=reasoning_tokens) if reasoning_tokens is not None else None
    usage = SimpleNamespace(prompt_tokens=10, completion_tokens=tokens, completion_tokens_details=details)
    return SimpleNamespace(choices=[SimpleNamespace(message=message, finish_reason=finish)], usage=usage)


def test_a_reply_reads_as_text_reasoning_finish_reason_and_reasoning_tokens() -> None:
    reply = read_response(litellm_reply("\\boxed{4}", reasoning="2+2=4", reasoning_tokens=80), "m")
    assert (reply.text, reply.reasoning, reply.finish_reason) == ("\\boxed{4}", "2+2=4", "stop")
    assert reply.usage.reasoning_tokens == 80 and reply.usage.completion_tokens == 100
    estimated = read_response(litellm_reply("<think>" + "x" * 300 + "</think>" + "y" * 100), "m")
    assert estimated.usage.reasoning_tokens == 75, "the reasoning's share of the characters"
    cut = read_response(litellm_reply("<think>half a thought", finish="length"), "m")
    assert cut.text == "" and cut.finish_reason == "length"


def request(max_tokens: int = 100) -> list[Message]:
    return [Message(role="user", content=f"hello {max_tokens}")]


async def test_a_cut_reply_is_retried_once_with_a_larger_limit() -> None:
    limits: list[int] = []

    def reply(r: ModelRequest) -> ModelResponse:
        limits.append(r.max_tokens)
        finish = "length" if r.max_tokens < 300 else "stop"
        return ModelResponse(text="\\boxed{4}", model="m", finish_reason=finish, usage=Usage(completion_tokens=10))

    client = ModelClient(ScriptedModel(reply), retries=0)
    with usage_scope() as usage, call_log() as calls:
        answer = await client.complete("judge", request(), max_tokens=200)
    assert answer.finish_reason == "stop" and limits == [200, 400]
    assert usage.truncated == 1 and usage.calls == 2
    assert [c.finish_reason for c in calls] == ["length", "stop"] and calls[0].max_tokens == 200


def thinker(thinking: int, limits: list[int]):
    """A model that thinks `thinking` tokens inline, without the opening tag, before `\\boxed{4}`: a reply cut
    inside its thinking shows no sign of it."""

    def reply(r: ModelRequest) -> ModelResponse:
        limits.append(r.max_tokens)
        if r.max_tokens < thinking + 10:
            return ModelResponse(text="Okay, so I need to add. " * 20, model="m", finish_reason="length")
        return ModelResponse(text="\\boxed{4}", reasoning="Okay, so I need to add.", model="m", finish_reason="stop")

    return reply


async def test_a_model_not_yet_known_to_think_is_asked_again_with_a_thinkers_budget() -> None:
    """Under a name that says nothing (`openai/my-model`), a reply cut before `</think>` may be thinking: it is
    asked again with a reasoning model's budget, not twice a budget meant for an answer; once a reply has
    thought, the model's calls get a thinker's budget at once; a model seen to answer without thinking is
    retried at twice the limit."""
    limits: list[int] = []
    client = ModelClient(ScriptedModel(thinker(2000, limits), name="openai/my-model"), retries=0)
    assert client.thinking("solver") is None
    reply = await client.complete("solver", request(), max_tokens=512, cut_retry_tokens=16384)
    assert reply.text == "\\boxed{4}" and limits == [512, 16384]
    assert client.thinking("solver") is True

    plain: list[int] = []
    answers = ModelClient(ScriptedModel(lambda r: plain.append(r.max_tokens) or "\\boxed{4}", name="x"), retries=0)
    await answers.complete("judge", request(), max_tokens=256)
    assert answers.thinking("judge") is False, "a complete reply without thinking: this model answers at once"


async def test_a_team_on_an_unknown_thinker_loses_no_call_and_its_agents_ask_for_thinkers_budgets() -> None:
    from helpers import make_xolver

    limits: list[int] = []
    result = await make_xolver(ScriptedModel(thinker(3000, limits), name="openai/my-model"), agents=2,
                               iterations=1).asolve("What is 2 plus 2?")  # fmt: skip
    assert result.answer == "4" and result.usage.failed_calls == 0
    assert result.usage.truncated <= 1, "only the first call, before any reply showed thinking"
    assert min(limits[1:]) >= 4096, "every later call had a thinker's budget"


async def test_the_embedded_profile_never_asks_for_a_thinkers_budget() -> None:
    """SmolLM2-135M does not think: a reply of it cut at its limit is rambling, asked again at twice the limit."""
    limits: list[int] = []

    def ramble(r: ModelRequest) -> ModelResponse:
        limits.append(r.max_tokens)
        return ModelResponse(text="and so on " * 50, model="m", finish_reason="length")

    client = ModelClient(ScriptedModel(ramble, name="embedded/smollm2"), retries=0)
    assert client.thinking("solver") is False
    with pytest.raises(ModelTruncated):
        await client.complete("solver", request(), max_tokens=512)
    assert limits == [512, 1024]


async def test_a_reply_cut_twice_is_a_failure_never_an_answer() -> None:
    def reply(r: ModelRequest) -> ModelResponse:
        return ModelResponse(text="Score: 1", model="m", finish_reason="length")

    client = ModelClient(ScriptedModel(reply), retries=0)
    with usage_scope() as usage, pytest.raises(ModelTruncated, match="cut at its limit"):
        await client.complete("judge", request(), max_tokens=200)
    assert usage.truncated == 2


async def test_a_team_whose_every_reply_is_cut_answers_nothing_and_learns_nothing() -> None:
    """A model that rambles past every limit is a model that did not answer, not a dead server: the solve
    ends unanswered (graded wrong), with the cuts counted, and nothing is written to memory."""
    from helpers import make_xolver

    from xolver import InMemoryExperienceStore

    def reply(r: ModelRequest) -> ModelResponse:
        return ModelResponse(text="Let me think. \\boxed{8} and so on and so", model="m", finish_reason="length")

    store = InMemoryExperienceStore()
    result = await make_xolver(ScriptedModel(reply), store, agents=2).asolve("What is 4 plus 4?")
    candidates = [c for r in result.iterations for c in r.candidates]
    assert candidates and all(c.cut and c.answer is None and "cut at its limit" in (c.error or "") for c in candidates)
    assert result.answer is None and not result.verified and result.usage.truncated >= 2 * len(candidates)
    assert store.experiences == {}


import sys  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).parents[1] / "tools"))
from fake_server import spawn  # noqa: E402

from xolver import InMemoryExperienceStore, Xolver  # noqa: E402
from xolver.sandbox import ProcessSandbox  # noqa: E402


def thinking_server(mode: str, thinking: int) -> tuple[object, str]:
    return spawn(["--reasoning", mode, "--thinking-tokens", str(thinking), "--rate", "200000", "--ttft", "0.01"])


@pytest.mark.real_model
@pytest.mark.parametrize("mode", ["field", "inline", "inline-open-missing"])
async def test_no_thought_reaches_a_prompt_an_answer_or_memory(mode: str) -> None:
    """The fake model thinks 2,000 tokens full of decoys (a boxed 31337, 'Score: 0', 'VERDICT: WRONG', a
    program printing 31337) before each answer; none of it may be parsed, judged, shared, verified or stored."""
    process, api_base = thinking_server(mode, 2000)
    store = InMemoryExperienceStore()
    try:
        async with Xolver(model="openai/qwq-32b", api_base=api_base, store=store, sandbox=ProcessSandbox(),
                          memory="learn", agents=2, iterations=2, recall=False) as team:  # fmt: skip
            result = await team.asolve("What is 347 times 29?")
    finally:
        process.terminate()
    assert result.answer == "10063" and result.verified
    assert result.usage.truncated == 0 and result.usage.reasoning_tokens >= 2000 * result.usage.calls * 0.9
    for call in result.calls:  # every prompt the team sent: the judge's input, shared memory, the verifier's
        assert "31337" not in "".join(m.content for m in call.messages), call.role
        assert "31337" in call.reasoning and "31337" not in call.text  # the thought is kept, apart, in the trace
    candidates = [c for r in result.iterations for c in r.candidates]
    assert all("31337" not in c.reasoning and c.judgement and c.judgement.score == 1.0 for c in candidates)
    assert store.experiences and all("31337" not in e.content + e.applies for e in store.experiences.values())


@pytest.mark.real_model
async def test_a_cut_reply_is_counted_retried_once_and_never_an_answer() -> None:
    """The judge's limit (300) is far below the thinking (12,000): it is cut, asked once more with 8,192,
    cut again, and recorded as a judge that failed: no verdict is read from a thought."""
    process, api_base = thinking_server("inline", 12000)
    try:
        async with Xolver(model="openai/qwq-32b", api_base=api_base, token_limits={"judge": 300}, agents=2,
                          iterations=1, recall=False, memory="off", sandbox="none") as team:  # fmt: skip
            result = await team.asolve("What is 347 times 29?")
    finally:
        process.terminate()
    judgements = [c.judgement for r in result.iterations for c in r.candidates]
    assert all(j is not None and j.status == "failed" and "cut at its limit" in (j.error or "") for j in judgements)
    judge_calls = [c for c in result.calls if c.role == "judge"]
    assert [c.max_tokens for c in judge_calls].count(300) == 2 and [c.max_tokens for c in judge_calls].count(8192) == 2
    assert all(c.finish_reason == "length" for c in judge_calls)
    assert result.usage.truncated == sum(c.finish_reason == "length" for c in result.calls) >= 4
    assert result.answer == "10063" and not result.verified and result.judge_failures == 2


@pytest.mark.real_model
async def test_an_o_series_model_is_sent_no_temperature() -> None:
    process, api_base = spawn(["--o-series", "--rate", "200000", "--ttft", "0.01"])
    try:
        team = Xolver(model="openai/o3-mini", api_base=api_base, agents=1, iterations=1, recall=False, memory="off",
                      sandbox="none", params={"judge": {"reasoning_effort": "low"}})  # fmt: skip
        async with team:
            result = await team.asolve("What is 347 times 29?")
    finally:
        process.terminate()
    assert result.answer == "10063" and result.usage.failed_calls == 0
