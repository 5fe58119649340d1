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


async def test_a_reply_cut_twice_is_a_failure_never_an_answer() -> None:
    def reply(r: ModelRequest) -> ModelResponse:
        return ModelResponse(text="Score: 1", model="m", finish_reason="length")

    client = ModelClient(ScriptedModel(reply), retries=0)
    with usage_scope() as usage, pytest.raises(ModelTruncated, match="cut at its limit"):
        await client.complete("judge", request(), max_tokens=200)
    assert usage.truncated == 2
