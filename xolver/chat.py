"""`xolver chat`: a conversation with the team in the terminal, with a live view of who is doing what.

Every message is solved by the team; follow-ups carry the conversation so far. Slash commands change
the team between messages. Ctrl-C cancels the solve in flight, not the session. Without a terminal
(piped input) it prints plain lines with no colour, so it can be scripted and tested.
"""

from __future__ import annotations

import asyncio
import contextlib
import shlex
import signal
import sys
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError
from rich.console import Console
from rich.live import Live
from rich.markdown import Markdown
from rich.table import Table

from xolver.api import Xolver, in_conversation
from xolver.bench.records import save_solves
from xolver.errors import ConfigError
from xolver.schema import (
    AgentStarted,
    CandidateReady,
    Judged,
    PlanReady,
    Problem,
    SolveResult,
    TraceEvent,
)
from xolver.team.trace import describe

HELP = """Commands:
  /help                 this list
  /agents N             solver agents per iteration (m)
  /iterations N         maximum iterations (I)
  /model STR            litellm model string for every role ('embedded' for the default)
  /memory search TEXT   what experience memory holds that is like TEXT
  /trace                the last solve's full trace (JSON)
  /save FILE            the session's solves, one JSON line each (for `xolver view` and `xolver replay`)
  /quit                 leave (Ctrl-D too); Ctrl-C cancels a solve in flight
Anything else is a question for the team."""


class ChatTurn(BaseModel):
    question: str
    result: SolveResult


class TeamView:
    """Renders trace events: a live table on a terminal, one plain line per event otherwise."""

    def __init__(self, console: Console, live: bool) -> None:
        self.console = console
        self.live = live
        self.rows: dict[int, list[str]] = {}
        self.iteration = 0
        self.display: Live | None = None

    def __enter__(self) -> TeamView:
        if self.live:
            self.display = Live(self._table(), console=self.console, refresh_per_second=8, transient=True)
            self.display.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.display is not None:
            self.display.__exit__(None, None, None)

    def _table(self) -> Table:
        table = Table(title=f"iteration {self.iteration + 1}", expand=False)
        for column in ("agent", "role", "status", "score"):
            table.add_column(column)
        for agent, (role, status, score) in sorted(self.rows.items()):
            table.add_row(str(agent + 1), role, status, score)
        return table

    def __call__(self, event: TraceEvent) -> None:
        line = self._apply(event)
        if self.display is not None:
            self.display.update(self._table())
        else:
            self.console.print(line, highlight=False, markup=False)

    def _apply(self, event: TraceEvent) -> str:
        """Update the table's rows; the line is the same narration the team server streams."""
        if isinstance(event, PlanReady):
            self.rows = {i: [r.name, "waiting", ""] for i, r in enumerate(event.roles)}
        elif isinstance(event, AgentStarted):
            self.iteration = event.iteration
            self.rows.setdefault(event.agent, [event.role, "", ""])[1:] = ["working", ""]
        elif isinstance(event, CandidateReady):
            row = self.rows.setdefault(event.candidate.agent, [event.candidate.role, "", ""])
            row[1] = "failed" if event.candidate.error else "being judged"
        elif isinstance(event, Judged):
            j = event.judgement
            score = f"{j.score:.2f}" if j.score is not None else j.status
            for row in self.rows.values():
                if row[0] == event.role:
                    row[1:] = ["judged", score]
        return describe(event)


class ChatSession:
    def __init__(self, xolver: Xolver, console: Console, *, live: bool) -> None:
        self.xolver = xolver
        self.console = console
        self.live = live
        self.turns: list[ChatTurn] = []
        self.replaced: list[Xolver] = []  # teams made by /agents, /model ...: closed when the session ends

    def _problem(self, text: str) -> Problem:
        return in_conversation(text, [(turn.question, turn.result.answer) for turn in self.turns])

    async def ask(self, text: str) -> None:
        with TeamView(self.console, self.live) as view:
            task = asyncio.ensure_future(self.xolver.asolve(self._problem(text), on_event=view))
            loop = asyncio.get_running_loop()
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(signal.SIGINT, task.cancel)
            try:
                result = await task
            except asyncio.CancelledError:
                self.console.print("cancelled", style="yellow")
                return
            finally:
                with contextlib.suppress(NotImplementedError, RuntimeError):
                    loop.remove_signal_handler(signal.SIGINT)
        self.turns.append(ChatTurn(question=text, result=result))
        self.console.print(Markdown(f"**Answer:** {result.answer if result.answer is not None else '(none)'}"))
        usage = result.usage
        self.console.print(
            f"verified: {result.verified} · iterations: {len(result.iterations)} ({result.stop_reason}) · "
            f"{usage.calls} calls, {usage.total_tokens} tokens · {result.wall_seconds:.1f}s",
            style="dim",
            highlight=False,
        )

    def _reconfigure(self, **changes: Any) -> None:
        try:
            team = self.xolver.reconfigured(**changes)
        except (ValidationError, ConfigError) as exc:
            message = exc.errors()[0]["msg"] if isinstance(exc, ValidationError) else str(exc)
            self.console.print(f"not changed: {message}", style="red")
            return
        self.replaced.append(team)
        self.xolver = team
        self.console.print(", ".join(f"{k} = {v}" for k, v in changes.items()))

    async def aclose(self) -> None:
        """Close the teams this session made (the one it was given stays its caller's), newest first."""
        while self.replaced:
            await self.replaced.pop().aclose()

    async def command(self, line: str) -> bool:
        """Run a slash command; False means leave."""
        parts = shlex.split(line[1:]) if line[1:].strip() else [""]
        name, args = parts[0].lower(), parts[1:]
        if name in ("quit", "exit", "q"):
            return False
        if name == "help":
            self.console.print(HELP, highlight=False)
        elif name in ("agents", "iterations") and len(args) == 1 and args[0].isdigit():
            self._reconfigure(**{name: int(args[0])})
        elif name == "model" and len(args) == 1:
            self._reconfigure(model=args[0])
        elif name == "memory" and args[:1] == ["search"] and len(args) > 1:
            await self._memory_search(" ".join(args[1:]))
        elif name == "trace":
            if self.turns:
                self.console.print_json(self.turns[-1].result.model_dump_json())
            else:
                self.console.print("no solve yet")
        elif name == "save" and len(args) == 1:
            solves = [turn.result for turn in self.turns]
            await asyncio.to_thread(save_solves, args[0], solves, append=False)
            self.console.print(f"saved {len(self.turns)} turns to {args[0]}")
        else:
            self.console.print(f"unknown command or arguments: {line.strip()} (try /help)", style="red")
        return True

    async def _memory_search(self, text: str) -> None:
        if self.xolver.store is None:
            self.console.print("experience memory is off")
            return
        hits = await self.xolver.store.search(text, k=5, trusted_only=False)
        for hit in hits:
            self.console.print(f"[{hit.experience.kind}] {hit.experience.content[:160]}", highlight=False)
        if not hits:
            self.console.print("nothing relevant")


async def _read_line(prompt_session: Any) -> str | None:
    if prompt_session is not None:
        try:
            return await prompt_session.prompt_async("you> ")
        except EOFError:
            return None
    line = await asyncio.to_thread(sys.stdin.readline)
    return None if line == "" else line


async def run_chat(xolver: Xolver) -> int:
    interactive = sys.stdin.isatty() and sys.stdout.isatty()
    console = Console(no_color=not interactive, force_terminal=interactive, highlight=interactive)
    session = ChatSession(xolver, console, live=interactive)
    prompt_session = None
    if interactive:
        from prompt_toolkit import PromptSession
        from prompt_toolkit.history import FileHistory

        history = Path.home() / ".xolver_history"
        prompt_session = PromptSession(history=FileHistory(str(history)))
        console.print("Xolver chat: ask a question, or /help.", style="bold")
    try:
        return await _converse(session, prompt_session)
    finally:
        await session.aclose()


async def _converse(session: ChatSession, prompt_session: Any) -> int:
    while True:
        try:
            line = await _read_line(prompt_session)
        except KeyboardInterrupt:
            continue  # Ctrl-C at the prompt clears the line; /quit or Ctrl-D leaves
        if line is None:
            return 0
        line = line.strip()
        if not line:
            continue
        if line.startswith("/"):
            if not await session.command(line):
                return 0
            continue
        await session.ask(line)
