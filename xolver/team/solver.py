"""A solver agent: one role's attempt at the problem, given experience, the team's best, and its own last try."""

from __future__ import annotations

from typing import Any

from xolver.errors import ModelError, ModelTruncated
from xolver.llm.base import Message
from xolver.llm.usage import usage_scope
from xolver.memory.views import problem_key
from xolver.schema import Candidate, Experience, Problem, Role, ToolCall, Usage
from xolver.team.agent import Agent, clip
from xolver.team.analogy import adapt, copied_from
from xolver.team.decision import ANALOGY
from xolver.team.parsing import extract_answer, extract_code, without_code
from xolver.team.programs import REPAIRED_NOTE, answer_from_output, repair_stated_results
from xolver.team.templates import render
from xolver.tools.python import run_python

EXEMPLAR_CHARS = 1500
ATTEMPT_CHARS = 1500


def answer_instructions(problem: Problem) -> str:
    if problem.kind == "code":
        entry = f" Define the function `{problem.entry_point}`." if problem.entry_point else ""
        return render("answer_code", entry_point=entry)
    return render(f"answer_{problem.kind}")


def exemplar_slots(exemplars: list[Experience]) -> list[list[Experience]]:
    """Exemplars grouped by the solved problem they came from: a record joins the slot before it when it
    is of the same problem or linked to one of its records (retrieval lists a slot's records together)."""
    slots: list[list[Experience]] = []
    for exp in exemplars:
        slot = slots[-1] if slots else []
        if slot and any(
            problem_key(other) == problem_key(exp) or other.id in exp.links or exp.id in other.links for other in slot
        ):
            slot.append(exp)
        else:
            slots.append([exp])
    return slots


_LABEL = {"solution": "Solution", "strategy": "Strategy", "code_fragment": "Code"}


def render_exemplars(exemplars: list[Experience]) -> str:
    """One example per solved problem: its problem, then its strategy, solution and code."""
    if not exemplars:
        return ""
    parts = ["", "Solved examples from the team's experience:"]
    for i, slot in enumerate(exemplar_slots(exemplars), 1):
        lines = [f"### Example {i}", f"Problem: {clip(slot[0].problem, 600)}"]
        applies = next((e.applies for e in slot if e.applies), "")
        if applies:
            lines.append(f"When this applies: {clip(applies, 300)}")
        for exp in slot:
            lines.append(f"{_LABEL[exp.kind]}:\n{clip(exp.content, EXEMPLAR_CHARS)}")
        parts.append("\n".join(lines))
    return "\n".join(parts) + "\n"


def exemplar_turns(exemplars: list[Experience], problem: Problem) -> tuple[list[Message], list[Experience]]:
    """For a math problem, each solved problem whose records hold a program becomes two earlier turns of the
    conversation, the problem asked and the program answered; the other exemplars stay in the prompt.

    A small model copies the shape of what it "said" before far more readily than an example quoted inside
    the prompt (the embedded profile's `exemplar_turns`, with its measurement). The best exemplar comes last,
    next to the problem.
    """
    if problem.kind != "math":
        return [], exemplars
    turns: list[Message] = []
    rest: list[Experience] = []
    for slot in reversed(exemplar_slots(exemplars)):
        programs = [code for e in slot if e.kind != "strategy" and (code := extract_code(e.content))]
        if not programs:
            rest[:0] = slot
            continue
        turns += [
            Message(role="user", content=render("exemplar_turn", problem=clip(slot[0].problem, 600))),
            Message(role="assistant", content=f"```python\n{clip(programs[0], EXEMPLAR_CHARS)}\n```"),
        ]
    return turns, rest


def analogies(exemplars: list[Experience], problem: Problem) -> list[tuple[str, str]]:
    """For a math problem, the program of each retrieved verified solve rebound to the problem's numbers,
    with the problem it solved (`xolver.team.analogy`); a program two solves share, once."""
    if problem.kind != "math":
        return []
    found: dict[str, str] = {}
    for slot in exemplar_slots(exemplars):
        codes = [code for e in slot if e.verified and e.kind != "strategy" and (code := extract_code(e.content))]
        program = adapt(codes[0], slot[0].problem, problem.text) if codes else None
        if program is not None:
            found.setdefault(program, slot[0].problem)
    return list(found.items())


def _with_feedback(candidate: Candidate) -> str:
    judgement = candidate.judgement
    body = clip(candidate.reasoning, ATTEMPT_CHARS)
    if judgement is None or judgement.status != "scored":
        return f"{body}\nJudge: could not assess this attempt."
    return f"{body}\nJudge (score {judgement.score:.2f}): {clip(judgement.rationale, 400)}"


def render_shared(kept: list[Candidate]) -> str:
    if not kept:
        return ""
    parts = ["", "The team's best attempts so far, with the judge's comments:"]
    for c in kept:
        parts.append(f"### {c.role} (iteration {c.iteration + 1})\n{_with_feedback(c)}")
    return "\n".join(parts) + "\n"


def render_previous(previous: Candidate | None, *, shown_above: bool = False) -> str:
    """The agent's own last attempt; named rather than repeated when the shared memory already shows it,
    which keeps the agent-specific tail of the prompt short (and the shared, cacheable prefix long)."""
    if previous is None:
        return ""
    if previous.error is not None:
        return f"\nYour previous attempt failed ({clip(previous.error, 200)}). Try again.\n"
    if shown_above:
        where = f"{previous.role} (iteration {previous.iteration + 1})"
        return f"\nYour previous attempt is the one shown above as {where}. Improve on it or correct it.\n"
    return f"\nYour previous attempt:\n{_with_feedback(previous)}\nImprove on it or correct it.\n"


class Solver(Agent):
    """Math and general problems are the solver model's; code problems are the coder model's."""

    role = "solver"
    follows_format = False

    async def attempt(
        self,
        problem: Problem,
        role: Role,
        *,
        agent: int,
        iteration: int,
        exemplars: list[Experience],
        shared: str,
        previous: Candidate | None,
        previous_shown: bool = False,
    ) -> Candidate:
        """One attempt. A failed model call becomes a candidate with `error` set, for the next round."""
        turns = self.config.profile_for(self.client.model_name("solver")).exemplar_turns
        history, quoted = exemplar_turns(exemplars, problem) if turns else ([], exemplars)
        system, prompt = self.messages(problem, role, history, quoted, shared, previous, previous_shown)
        base: dict[str, Any] = {"role": role.name, "agent": agent, "iteration": iteration}
        asks = "coder" if problem.kind == "code" else "solver"
        with usage_scope() as usage:
            reply = await self.try_ask(
                prompt, task="code" if asks == "coder" else "solve", seed_offset=1000 * iteration + agent, role=asks,
                logprobs=self.config.wants_logprobs(asks, problem.kind), history=history, system=system,
            )  # fmt: skip
            if isinstance(reply, ModelError):
                return Candidate(**base, error=str(reply), cut=isinstance(reply, ModelTruncated), usage=usage)
            base["certainty"] = reply.certainty
            text = reply.text.strip()
            if problem.kind == "code":
                return await self._code_candidate(problem, prompt, text, base, usage, iteration, agent)
            slots = exemplar_slots(exemplars)
            programs = {slot[0].problem: [code for e in slot if (code := extract_code(e.content))] for slot in slots}
            return await self._reasoned_candidate(problem, text, base, usage, programs)

    @staticmethod
    def messages(
        problem: Problem,
        role: Role,
        history: list[Message],
        quoted: list[Experience],
        shared: str,
        previous: Candidate | None,
        previous_shown: bool,
    ) -> tuple[str | None, str]:
        """The system prompt (None: the team's) and the user prompt of an attempt.

        After exemplar turns the problem is asked exactly as theirs were, and what to do and the agent's role
        move to the system prompt: SmolLM2-135M, shown a solved program of the same kind as an earlier turn,
        wrote a right program for 5 of 36 family problems asked that way and for 1 of 36 with the instructions
        around the problem (README "Experience memory"); a strategy quoted after the problem was copied as the
        answer. So exemplars without a program join the system prompt; the team's attempts and the agent's own
        come after the problem.
        """
        focus = role.focus or "solve the problem"
        instructions = answer_instructions(problem)
        earlier = render_previous(previous, shown_above=previous_shown)
        if not history:
            prompt = render("solver", problem=problem.text, exemplars=render_exemplars(quoted), shared=shared,
                            role_name=role.name, role_focus=focus, previous=earlier,
                            instructions=instructions)  # fmt: skip
            return None, prompt
        system = render("solver_system", system=render("system"), instructions=instructions, role_name=role.name,
                        role_focus=focus, exemplars=render_exemplars(quoted))  # fmt: skip
        return system, render("solver_turn", problem=problem.text, shared=shared, previous=earlier)

    async def analogy(self, program: str, solved: str, *, agent: int) -> Candidate:
        """An adapted program as a candidate of the first round: what it prints is its answer, as for any
        candidate's program."""
        assert self.sandbox is not None
        call = await run_python(self.sandbox, program, timeout=self.config.sandbox_timeout)
        printed = call.output.strip() if call.ok else ""
        text = f"Adapted from the solved problem: {clip(solved, 600)}\n```python\n{program}\n```"
        note = f"\n[program output]\n{call.output}" if call.output else ""
        answer = answer_from_output(printed) if printed else None
        return Candidate(role=ANALOGY, agent=agent, iteration=0, reasoning=text + note, answer=answer,
                         tool_calls=[call])  # fmt: skip

    async def _reasoned_candidate(
        self, problem: Problem, text: str, base: dict[str, Any], usage: Usage, examples: dict[str, list[str]]
    ) -> Candidate:
        """A math or general answer. Python the solver wrote is run: what it printed beats the model's
        arithmetic; a program that crashed or printed nothing leaves the prose's answer, if any; one that
        computes with an example's numbers is marked a copy (it gets no vote and is never verified)."""
        code = extract_code(text)
        if code is None or self.sandbox is None:
            return Candidate(**base, reasoning=text, answer=extract_answer(text, problem.kind), usage=usage)
        repaired = repair_stated_results(code) if problem.kind == "math" else None
        if repaired is not None and repaired != code:
            code, text = repaired, f"{text}\n{REPAIRED_NOTE}"
        call = await run_python(self.sandbox, code, timeout=self.config.sandbox_timeout)
        printed = call.output.strip() if call.ok else ""
        if printed:
            answer = answer_from_output(printed) if problem.kind == "math" else printed.splitlines()[-1].strip()
        else:  # the program computed nothing: only what the prose says stands, never a number from the code
            answer = extract_answer(without_code(text), problem.kind)
        note = f"\n[program output]\n{call.output}" if call.output else ""
        copied = copied_from(code, problem.text, list(examples), examples) if problem.kind == "math" else None
        return Candidate(**base, reasoning=text + note, answer=answer, tool_calls=[call], usage=usage, copied=copied)

    async def _code_candidate(
        self, problem: Problem, prompt: str, text: str, base: dict[str, Any], usage: Usage, iteration: int, agent: int
    ) -> Candidate:
        """A program. With a sandbox it is run on the first test's input, and a crash is shown to the model
        for one repair before the program is submitted."""
        code = extract_code(text)
        calls: list[ToolCall] = []
        sample = next((t for t in problem.tests if t.call is None), None)
        if code is not None and self.sandbox is not None and sample is not None:
            call = await run_python(self.sandbox, code, stdin=sample.input, timeout=self.config.sandbox_timeout)
            calls.append(call)
            if not call.ok:
                repair = (
                    f"{prompt}\n\nYour program:\n```python\n{code}\n```\nfailed on the sample input:\n{call.output}\n"
                )
                fixed = await self.try_ask(
                    repair + "Fix it. Reply with the corrected complete program in one ```python block.",
                    task="code", seed_offset=1000 * iteration + agent + 500, role="coder",
                )  # fmt: skip
                if not isinstance(fixed, ModelError) and extract_code(fixed.text):
                    text = f"{text}\n\n[after running the sample]\n{fixed.text.strip()}"
                    code = extract_code(fixed.text)
        return Candidate(**base, reasoning=text, code=code, tool_calls=calls, usage=usage)
