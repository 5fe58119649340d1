"""The planner drafts more roles than the team needs, then selects the m that fit the problem best."""

from __future__ import annotations

from xolver.errors import ModelError
from xolver.schema import Problem, Role, TaskKind
from xolver.team.agent import Agent
from xolver.team.parsing import parse_roles, parse_selection
from xolver.team.templates import render

FALLBACK_ROLES: dict[TaskKind, list[tuple[str, str]]] = {
    "math": [
        ("Algebraist", "set up equations and manipulate them exactly"),
        ("Careful calculator", "compute step by step and double-check every arithmetic step"),
        ("Number theorist", "look for structure, divisibility and patterns"),
        ("Combinatorialist", "count cases systematically and check small examples"),
        ("Geometer", "draw the figure and use geometric relations"),
    ],
    "code": [
        ("Algorithm designer", "choose a correct, efficient algorithm and data structures"),
        ("Edge-case tester", "think through edge cases and input limits before coding"),
        ("Python engineer", "write clean, correct, idiomatic Python that reads input exactly as specified"),
        ("Complexity analyst", "make sure the solution is fast enough for the largest inputs"),
    ],
    "general": [
        ("Analyst", "break the question down and reason step by step"),
        ("Skeptic", "look for errors, traps and hidden assumptions"),
        ("Domain expert", "answer precisely from domain knowledge"),
    ],
}



def fallback_roles(kind: TaskKind, count: int, taken: list[Role]) -> list[Role]:
    """Stock roles for `kind` not already taken, cycling with numbered names when more are needed."""
    names = {role.name.lower() for role in taken}
    stock = FALLBACK_ROLES[kind]
    roles: list[Role] = []
    round_ = 0
    while len(roles) < count:
        for name, focus in stock:
            label = name if round_ == 0 else f"{name} {round_ + 1}"
            if label.lower() not in names and len(roles) < count:
                roles.append(Role(name=label, focus=focus, source="fallback"))
                names.add(label.lower())
        round_ += 1
    return roles


class Planner(Agent):
    role = "planner"

    async def plan(self, problem: Problem, m: int) -> list[Role]:
        """Exactly `m` distinct roles; stock roles fill in where the model's plan is unusable."""
        drafted = await self._draft(problem, m + 2)
        chosen = await self._select(problem, drafted, m) if len(drafted) > m else drafted
        return chosen + fallback_roles(problem.kind, m - len(chosen), chosen)

    async def _draft(self, problem: Problem, n: int) -> list[Role]:
        reply = await self.try_ask(render("planner", problem=problem.text, n=n), task="plan")
        return [] if isinstance(reply, ModelError) else parse_roles(reply.text)[:n]

    async def _select(self, problem: Problem, drafted: list[Role], m: int) -> list[Role]:
        listing = "\n".join(f"{i}. {role.name}: {role.focus}" for i, role in enumerate(drafted, 1))
        reply = await self.try_ask(
            render("selector", problem=problem.text, roles=listing, m=m), task="select", seed_offset=1
        )
        picked = [] if isinstance(reply, ModelError) else parse_selection(reply.text, len(drafted))[:m]
        picked += [i for i in range(len(drafted)) if i not in picked][: m - len(picked)]
        return [drafted[i] for i in sorted(picked)]
