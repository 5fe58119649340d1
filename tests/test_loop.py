"""The whole loop driven by scripted models: the happy path, bad replies, failing calls, concurrency."""

from __future__ import annotations

import asyncio
import time

import pytest
from helpers import good_team, make_xolver, planner_reply, printing_sandbox

from xolver import Experience, InMemoryExperienceStore, Problem, SolveResult
from xolver.errors import ModelServerError, ModelTimeout, ModelUnreachable
from xolver.llm.base import ModelRequest
from xolver.llm.testing import ScriptedModel, scripted_team
from xolver.schema import TRACE_EVENT, CandidateReady, Judged, PlanReady, Settings, TraceEvent, Verified
from xolver.team.templates import render


def all_candidates(result: SolveResult):
    return [c for record in result.iterations for c in record.candidates]


async def test_happy_path_converges_and_records_everything() -> None:
    model = good_team()
    events: list[TraceEvent] = []
    team = make_xolver(model, sandbox=printing_sandbox())
    result = await team.asolve("What is 347 times 29?", on_event=events.append)

    assert result.answer == "10063"
    assert result.verified and result.verification.method == "tools"
    assert [r.name for r in result.roles] == ["Algebraist", "Calculator", "Checker"]
    assert all(r.source == "planner" for r in result.roles)
    assert result.stop_reason == "converged" and len(result.iterations) == 1
    assert all(c.judgement and c.judgement.score == 1.0 for c in all_candidates(result))
    # planner draft + selection + 3 solvers + 3 judges + the verifier's independent program
    assert result.usage.calls == 9 == len(model.requests)
    assert result.usage.prompt_tokens > 0 and result.usage.completion_tokens > 0
    settings = result.config.settings
    assert settings.agents == 3 and settings.iterations == 2 and result.config.models["judge"] == "scripted"
    kinds = [e.kind for e in events]
    assert kinds[0] == "plan_ready" and kinds[-1] == "verified"
    assert kinds.count("candidate_ready") == 3 and kinds.count("judged") == 3


async def test_result_and_trace_round_trip_through_json() -> None:
    events: list[TraceEvent] = []
    result = await make_xolver(good_team()).asolve("What is 347 times 29?", on_event=events.append)
    assert SolveResult.model_validate_json(result.model_dump_json()) == result
    for event in events:
        assert TRACE_EVENT.validate_json(TRACE_EVENT.dump_json(event)) == event
    assert isinstance(TRACE_EVENT.validate_json(TRACE_EVENT.dump_json(events[0])), PlanReady)


async def test_m_solver_calls_of_one_iteration_overlap_in_time() -> None:
    spans: list[tuple[float, float]] = []

    async def slow_solver(request: ModelRequest) -> str:
        start = time.perf_counter()
        await asyncio.sleep(0.3)
        spans.append((start, time.perf_counter()))
        return r"\boxed{7}"

    model = scripted_team(planner=planner_reply, solver=slow_solver, judge="Score: 1")
    started = time.perf_counter()
    result = await make_xolver(model, agents=3, iterations=1).asolve("3+4?")
    elapsed = time.perf_counter() - started

    assert len(spans) == 3
    latest_start = max(s for s, _ in spans)
    earliest_end = min(e for _, e in spans)
    assert latest_start < earliest_end, "every solver call was in flight at the same moment"
    assert elapsed < 0.3 * 2, f"three 0.3 s calls took {elapsed:.2f}s: they ran one after another"
    assert result.answer == "7"


async def test_garbled_plan_falls_back_to_stock_roles() -> None:
    model = scripted_team(planner="%%%@@ no roles here ###", solver=r"\boxed{5}", judge="Score: 0.9")
    result = await make_xolver(model).asolve("2+3?")
    assert len(result.roles) == 3 and all(r.source == "fallback" for r in result.roles)
    assert len({r.name for r in result.roles}) == 3
    assert result.answer == "5"


async def test_garbled_selection_keeps_the_first_drafted_roles() -> None:
    def planner(request: ModelRequest) -> str:
        return "I like all of them!" if "Candidate roles" in request.prompt else planner_reply(request)

    model = scripted_team(planner=planner, solver=r"\boxed{5}", judge="Score: 1")
    result = await make_xolver(model).asolve("2+3?")
    assert [r.name for r in result.roles] == ["Algebraist", "Calculator", "Checker"]


async def test_unparsable_judgement_is_retried_once_and_recorded_apart_from_scores() -> None:
    judge_calls = 0

    def judge(request: ModelRequest) -> str:
        nonlocal judge_calls
        judge_calls += 1
        return "Looks fine to me, nice work."  # never a score

    model = scripted_team(planner=planner_reply, solver=r"\boxed{5}", judge=judge, verifier=r"\boxed{5}")
    result = await make_xolver(model, iterations=1).asolve("2+3?")
    judgements = [c.judgement for c in all_candidates(result)]
    assert all(j is not None and j.status == "unparsed" and j.score is None for j in judgements)
    assert all(j.attempts == 2 for j in judgements) and judge_calls == 6
    assert result.judge_failures == 3
    assert result.verified is False and result.verification.method == "none"
    assert {e.kind: e.passed for e in result.verification.evidence}["judge"] is None
    assert result.answer == "5"  # the answer still comes out; it is just not verified


async def test_judge_retry_recovers_a_score_on_the_second_attempt() -> None:
    replies = iter(["Hmm.", "Score: 0.5"] * 3)
    model = scripted_team(planner=planner_reply, solver=r"\boxed{5}", judge=lambda _: next(replies))
    result = await make_xolver(model, iterations=1, agents=1).asolve("2+3?")
    judgement = all_candidates(result)[0].judgement
    assert judgement.status == "scored" and judgement.score == 0.5 and judgement.attempts == 2
    assert result.judge_failures == 0


async def test_empty_replies_are_survived() -> None:
    model = scripted_team()  # every agent answers ""
    result = await make_xolver(model).asolve("2+3?")
    assert len(result.roles) == 3
    assert all(c.judgement.judge == "rule" and c.judgement.score == 0.0 for c in all_candidates(result))
    assert result.verified is False
    assert result.stop_reason in {"max_iterations", "stable"}


async def test_a_500_and_a_timeout_inside_one_iteration_are_survived() -> None:
    calls: dict[int, int] = {}

    async def solver(request: ModelRequest) -> str:
        agent = 0 if "Algebraist" in request.prompt else 1 if "Calculator" in request.prompt else 2
        calls[agent] = calls.get(agent, 0) + 1
        if agent == 0:
            raise ModelServerError("upstream 500", status=500)
        if agent == 1:
            await asyncio.sleep(10)  # beyond the 0.2 s per-call deadline, every attempt
        return r"The sum is \boxed{5}"

    model = scripted_team(planner=planner_reply, solver=solver, judge="Correct.\nScore: 1")
    result = await make_xolver(model, timeout=0.2, iterations=1).asolve("2+3?")
    candidates = all_candidates(result)
    assert "500" in candidates[0].error and "no reply within" in candidates[1].error
    assert candidates[0].judgement.status == "failed" and candidates[1].judgement.status == "failed"
    assert candidates[2].error is None and result.answer == "5"
    assert calls[0] == 2 and calls[1] == 2  # one retry each (retries=1)
    assert result.usage.retries == 2 and result.usage.failed_calls == 2
    assert result.judge_failures == 0  # a failed candidate is not a judge failure


async def test_transient_failures_are_retried_transparently() -> None:
    failures = iter([ModelTimeout("slow"), ModelServerError("502", status=502)])

    def solver(request: ModelRequest) -> str:
        error = next(failures, None)
        if error is not None:
            raise error
        return r"\boxed{5}"

    model = scripted_team(planner=planner_reply, solver=solver, judge="Score: 1")
    result = await make_xolver(model, retries=3, iterations=1).asolve("2+3?")
    assert all(c.error is None for c in all_candidates(result))
    assert result.usage.retries == 2 and result.answer == "5"


async def test_an_unreachable_model_fails_the_solve_with_a_clear_error() -> None:
    def refuse(request: ModelRequest) -> str:
        raise ModelUnreachable("connection refused")

    with pytest.raises(ModelUnreachable):
        await make_xolver(ScriptedModel(refuse)).asolve("2+3?")


async def test_every_solver_failing_fails_the_solve() -> None:
    def solver(request: ModelRequest) -> str:
        raise ModelServerError("always down", status=503)

    with pytest.raises(Exception, match="every solver call of iteration 1 failed"):
        await make_xolver(scripted_team(planner=planner_reply, solver=solver)).asolve("2+3?")


async def test_judge_rationale_and_shared_memory_reach_the_next_iteration() -> None:
    model = scripted_team(
        planner=planner_reply,
        solver=lambda r: r"I think \boxed{6}" if "iteration 1" not in r.prompt else r"Fixed: \boxed{5}",
        judge=lambda r: "Wrong: 2+3 is not 6.\nScore: 0.1" if "{6}" in r.prompt else "Right.\nScore: 1",
    )
    result = await make_xolver(model, iterations=2).asolve("2+3?")
    second_round = [r for r in model.requests if r.role == "solver"][3:]
    assert len(second_round) == 3
    for request in second_round:
        assert "Wrong: 2+3 is not 6." in request.prompt  # the judge's rationale, not only its score
        assert "Your previous attempt" in request.prompt
        assert "The team's best attempts so far" in request.prompt
    assert [c.answer for c in result.iterations[1].candidates] == ["5"] * 3
    assert result.answer == "6", "agents shown the team's answers are no independent samples: the consensus stands"
    assert result.iterations[0].best_score == pytest.approx(0.1)


async def test_revisions_after_the_judges_comments_decide_a_split_first_round() -> None:
    first = iter([r"\boxed{6}", r"\boxed{5}", r"\boxed{7}"])
    model = scripted_team(
        planner=planner_reply,
        solver=lambda r: next(first) if "iteration 1" not in r.prompt else r"Fixed: \boxed{5}",
        judge=lambda r: "Right.\nScore: 1" if "{5}" in r.prompt else "Wrong.\nScore: 0",
    )
    result = await make_xolver(model, iterations=2, agents=3).asolve("2+3?")
    assert [c.answer for c in result.iterations[0].candidates] == ["6", "5", "7"]
    assert result.answer == "5"


async def test_solver_prompts_share_their_prefix_and_end_with_the_role() -> None:
    model = good_team()
    await make_xolver(model, iterations=1).asolve("What is 347 times 29?")
    prompts = [r.prompt for r in model.requests if r.role == "solver"]
    role_at = [p.index("You are the") for p in prompts]
    assert len(set(role_at)) == 1
    assert len({p[: role_at[0]] for p in prompts}) == 1


async def test_stops_early_when_the_top_answer_is_stable() -> None:
    model = scripted_team(planner=planner_reply, solver=r"\boxed{5}", judge="Score: 0.6")
    result = await make_xolver(model, iterations=5, patience=2).asolve("2+3?")
    assert result.stop_reason == "stable" and len(result.iterations) == 2
    assert result.verified is False  # 0.6 is below the 0.8 threshold


async def test_a_solve_deadline_ends_the_rounds_and_keeps_what_was_found() -> None:
    async def solver(request: ModelRequest) -> str:
        if "iteration 1" in request.prompt:  # second round hangs
            await asyncio.sleep(10)
        return r"\boxed{5}"

    model = scripted_team(planner=planner_reply, solver=solver, judge="Score: 0.7")
    result = await make_xolver(model, iterations=3, patience=5, timeout=30, solve_deadline=0.5).asolve("2+3?")
    assert result.stop_reason == "deadline"
    assert len(result.iterations) == 1 and result.answer == "5"


async def test_verifier_extracts_an_answer_the_solver_never_boxed() -> None:
    model = scripted_team(
        planner=planner_reply,
        solver="Adding them up gives a total of five apples.",
        judge="Score: 1",
        verifier=r"\boxed{5}",
    )
    result = await make_xolver(model, iterations=1).asolve(Problem(text="2+3 apples?", kind="general"))
    assert result.answer == "5"
    assert any(r.role == "verifier" for r in model.requests)


async def test_code_problems_carry_the_code_block_as_the_answer() -> None:
    code = "def add(a, b):\n    return a + b"
    model = scripted_team(planner=planner_reply, coder=f"Easy.\n```python\n{code}\n```", judge="Score: 1")
    problem = Problem(text="Write add(a, b).", kind="code", entry_point="add")
    result = await make_xolver(model, iterations=1).asolve(problem)
    assert result.answer == code and result.code == code
    assert "Define the function `add`" in next(r for r in model.requests if r.role == "coder").prompt
    assert not any(r.role == "solver" for r in model.requests), "code problems are the coder model's"


async def test_exemplars_reach_the_solvers_and_verified_solutions_are_learned() -> None:
    store = InMemoryExperienceStore(
        [Experience(kind="solution", problem="What is 12 times 7?", content=r"12*7=84 \boxed{84}", verified=True)]
    )
    model = good_team()
    xolver = make_xolver(model, store, printing_sandbox(), exemplars=2)
    events: list[TraceEvent] = []
    result = await xolver.asolve("What is 347 times 29?", on_event=events.append)

    assert [e.problem for e in result.exemplars] == ["What is 12 times 7?"]
    solver_prompts = [r.prompt for r in model.requests if r.role == "solver"]
    assert all(r"12*7=84 \boxed{84}" in p for p in solver_prompts)
    assert len(result.memory_writes) == 3  # the solution, the check's program (the answer was prose), a strategy
    written, fragment, strategy = (store.experiences[i] for i in result.memory_writes)
    assert fragment.kind == "code_fragment" and "347" in fragment.content
    assert written.verified and written.kind == "solution" and written.source == "self"
    assert written.provenance == {"run_id": result.run_id, "problem_id": result.problem.id, "model": "scripted",
                                  "rule": "evidence"}  # fmt: skip
    assert strategy.kind == "strategy" and strategy.links == [written.id]
    assert written.links == [fragment.id, strategy.id]
    used = store.experiences[result.exemplars[0].id]
    assert used.uses == 1 and used.successes == 1
    assert any(e.kind == "memory_written" for e in events)


async def test_in_the_embedded_profile_a_solved_program_is_an_earlier_turn_and_a_strategy_stays_quoted() -> None:
    program = "boxes = 4\npens_per_box = 3\nprint(boxes * pens_per_box)"
    store = InMemoryExperienceStore([
        Experience(kind="solution", problem="Each of 4 boxes holds 3 pens. How many pens?", verified=True,
                   content=f"Program:\n```python\n{program}\n```\nAnswer: 12"),
        Experience(kind="strategy", problem="How many pens in 7 boxes of 2?", verified=True,
                   content="Multiply the groups by their size."),
    ])  # fmt: skip
    problem = "Each of 6 boxes holds 5 pens. How many pens?"
    general = good_team()
    await make_xolver(general, store, printing_sandbox(), exemplars=2, iterations=1).asolve(problem)
    for request in (r for r in general.requests if r.role == "solver"):
        system, final = request.messages
        assert system.content == render("system") and "boxes = 4" in final.content, "the general profile quotes"
    model = good_team()
    await make_xolver(model, store, printing_sandbox(), exemplars=2, iterations=1, profile="embedded").asolve(problem)
    for request in (r for r in model.requests if r.role == "solver"):
        system, asked, answered, final = request.messages
        assert (system.role, asked.role, answered.role, final.role) == ("system", "user", "assistant", "user")
        assert asked.content == "Problem:\nEach of 4 boxes holds 3 pens. How many pens?"
        assert answered.content == f"```python\n{program}\n```", "the program alone, as the model's own reply"
        assert final.content == "Problem:\nEach of 6 boxes holds 5 pens. How many pens?", "asked as they were"
        assert "You are the " in system.content and "```python block" in system.content, "the role and what to do"
        assert "Multiply the groups by their size." in system.content and "boxes = 4" not in system.content


async def test_without_exemplar_turns_the_team_system_prompt_stays_and_the_prompt_holds_the_role() -> None:
    model = good_team()
    await make_xolver(model, iterations=1).asolve("Each of 6 boxes holds 5 pens. How many pens?")
    for request in (r for r in model.requests if r.role == "solver"):
        system, final = request.messages
        assert system.content == render("system") and "You are the " in final.content


async def test_code_problems_keep_their_exemplars_in_the_prompt() -> None:
    fragment = "def add(a, b):\n    return a + b"
    store = InMemoryExperienceStore([Experience(kind="code_fragment", task_kind="code", problem="Write add(a, b).",
                                                content=f"```python\n{fragment}\n```", verified=True)])  # fmt: skip
    model = scripted_team(planner=planner_reply, coder=f"```python\n{fragment}\n```", judge="Score: 1")
    problem = Problem(text="Write plus(a, b).", kind="code", entry_point="plus")
    await make_xolver(model, store, exemplars=1, iterations=1).asolve(problem)
    coder = next(r for r in model.requests if r.role == "coder")
    assert [m.role for m in coder.messages] == ["system", "user"] and "return a + b" in coder.messages[-1].content


async def test_unverified_solutions_are_never_written() -> None:
    store = InMemoryExperienceStore()
    xolver = make_xolver(good_team(score="0.3"), store, exemplars=2)
    result = await xolver.asolve("What is 347 times 29?")
    assert not result.verified and result.memory_writes == [] and store.experiences == {}


async def test_solve_many_runs_problems_concurrently_and_keeps_order() -> None:
    in_flight = 0
    peak = 0

    async def solver(request: ModelRequest) -> str:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0.05)
        in_flight -= 1
        number = request.prompt.split("Problem:\n")[1].split()[0]
        return rf"\boxed{{{number}}}"

    model = scripted_team(planner=planner_reply, solver=solver, judge="Score: 1")
    problems = [f"{n} is the answer" for n in range(6)]
    results = await make_xolver(model, iterations=1).asolve_many(problems, concurrency=3)
    assert [r.answer for r in results] == [str(n) for n in range(6)]
    assert peak > 3, "solvers of different problems overlapped"


async def test_solve_many_records_a_failing_problem_and_finishes_the_rest() -> None:
    def solver(request: ModelRequest) -> str:
        if "poison" in request.prompt:
            raise ModelServerError("down", status=500)
        return r"\boxed{1}"

    model = scripted_team(planner=planner_reply, solver=solver, judge="Score: 1")
    results = await make_xolver(model, iterations=1).asolve_many(["ok one", "poison", "ok two"], return_exceptions=True)
    assert isinstance(results[1], Exception)
    assert [r.answer for r in (results[0], results[2])] == ["1", "1"]


def test_sync_facade_refuses_to_run_inside_an_event_loop() -> None:
    xolver = make_xolver(good_team())

    async def inside() -> None:
        with pytest.raises(RuntimeError, match=r"await xolver\.asolve"):
            xolver.solve("2+3?")

    asyncio.run(inside())
    assert xolver.solve("What is 347 times 29?").answer == "10063"


async def test_event_kinds_are_typed() -> None:
    events: list[TraceEvent] = []
    await make_xolver(good_team(), iterations=1).asolve("2+3?", on_event=events.append)
    assert any(isinstance(e, CandidateReady) for e in events)
    assert any(isinstance(e, Judged) for e in events)
    assert isinstance(events[-1], Verified)


async def test_self_retrieval_recalls_a_problem_when_memory_has_nothing() -> None:
    def solver(request: ModelRequest) -> str:
        if "Recall a different problem" in request.prompt:
            return "Similar problem: What is 12 times 7?\nSolution: 12*7 = 84, so \\boxed{84}."
        return r"\boxed{10063}"

    model = scripted_team(planner=planner_reply, solver=solver, judge="Score: 1")
    result = await make_xolver(model, InMemoryExperienceStore(), recall=True, iterations=1).asolve("What is 347*29?")
    assert [e.problem for e in result.exemplars] == ["What is 12 times 7?"]
    assert result.exemplars[0].verified is False and result.exemplars[0].provenance["recalled_for"] == result.problem.id
    solver_prompts = [r.prompt for r in model.requests if r.role == "solver" and "Recall" not in r.prompt]
    assert all("12*7 = 84" in p for p in solver_prompts)


async def test_an_unusable_recollection_is_no_exemplar() -> None:
    model = scripted_team(planner=planner_reply, solver=r"\boxed{5}", judge="Score: 1")
    result = await make_xolver(model, recall=True, iterations=1).asolve("2+3?")
    assert result.exemplars == []


async def test_a_judge_approving_one_of_several_different_answers_does_not_verify() -> None:
    answers = iter([r"\boxed{7}", r"\boxed{35}", r"\boxed{10063}"])
    model = scripted_team(planner=planner_reply, solver=lambda r: next(answers), judge="Score: 1")
    store = InMemoryExperienceStore()
    result = await make_xolver(model, store, iterations=1).asolve("What is 347 times 29?")
    assert result.verification.method == "judge" and not result.verified
    assert "1 of 3 kept candidates agree (2 needed)" in result.verification.detail
    assert store.experiences == {} and result.memory_writes == []


async def test_an_unreachable_model_in_a_round_is_raised_as_itself() -> None:
    """Not as an ExceptionGroup of the round's tasks: the CLI and callers catch ModelUnreachable."""

    def solver(request: ModelRequest) -> str:
        raise ModelUnreachable("connection refused")

    with pytest.raises(ModelUnreachable, match="connection refused"):
        await make_xolver(scripted_team(planner=planner_reply, solver=solver)).asolve("2+3?")
    with pytest.raises(ModelUnreachable):
        await make_xolver(scripted_team(planner=planner_reply, solver=solver)).asolve_many(["2+3?", "4+4?"])


@pytest.mark.parametrize(
    ("configured", "profile", "model", "expected"),
    [(None, "auto", "embedded/smollm2-135m-instruct", 0.0), (None, "auto", "openai/qwq-32b", 0.7),
     (None, "auto", "scripted", 0.7), (0.4, "auto", "embedded/smollm2-135m-instruct", 0.4),
     (0.0, "auto", "openai/qwq-32b", 0.0), (None, "embedded", "openai/qwq-32b", 0.0),
     (None, "general", "embedded/smollm2-135m-instruct", 0.7)],
)  # fmt: skip
def test_solvers_sample_unless_the_embedded_profile_serves_them_and_a_set_temperature_wins(
    configured: float | None, profile: str, model: str, expected: float
) -> None:
    assert Settings(temperature=configured, profile=profile).solver_temperature(model) == expected
