"""Telling a reasoning model's thinking apart from its answer.

Servers with a reasoning parser (vLLM, SGLang, DeepSeek, o-series summaries) return the thinking in
`reasoning_content`; served without one, QwQ / R1 distills / Qwen3 write it inline as `<think>…</think>`,
and R1 distills often omit the opening tag. A reply cut while still thinking has no answer at all.
"""

from __future__ import annotations

import re

_THINKERS = re.compile(
    r"(^|[/_\-.])(o1|o3|o4|gpt-5|qwq|r1|deepseek-reasoner|qwen3|magistral|think|thinking|reasoner|reasoning|"
    r"exaone-deep|phi-4-reasoning|marco-o1|skywork-o1|openthinker|sky-t1|s1)([/_\-.:]|$)",
    re.IGNORECASE,
)


def thinks(model: str) -> bool:
    """Whether `model` is a reasoning model, by litellm's model information, else by its name (QwQ, R1
    distills, Qwen3, the o-series ...): what a local server's model string usually says."""
    if _THINKERS.search(model):
        return True
    from xolver.llm.litellm_model import import_litellm

    try:
        return bool(import_litellm().supports_reasoning(model=model))
    except Exception:  # litellm knows nothing of a local server's model names: not a reasoning model then
        return False


_OPEN = re.compile(r"<(think|thinking|reasoning)>", re.IGNORECASE)
_CLOSE = re.compile(r"</(think|thinking|reasoning)>", re.IGNORECASE)


def split_reasoning(content: str, reasoning_content: str | None = None) -> tuple[str, str]:
    """(final text, reasoning). Every thought block is taken out of the text: closed ones, one whose
    opening tag is missing (everything before the first closing tag), and an unclosed one (a reply cut
    mid-thought: everything after its opening tag, which leaves no final text)."""
    thoughts = [reasoning_content.strip()] if reasoning_content and reasoning_content.strip() else []
    text = content or ""
    first_close, first_open = _CLOSE.search(text), _OPEN.search(text)
    if first_close is not None and (first_open is None or first_close.start() < first_open.start()):
        thoughts.append(text[: first_close.start()].strip())
        text = text[first_close.end() :]
    while (opening := _OPEN.search(text)) is not None:
        closing = _CLOSE.search(text, opening.end())
        end = closing.start() if closing is not None else len(text)
        thoughts.append(text[opening.end() : end].strip())
        text = text[: opening.start()] + (text[closing.end() :] if closing is not None else "")
    return text.strip(), "\n\n".join(t for t in thoughts if t)
