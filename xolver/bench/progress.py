"""Live progress of a run: a rich progress bar on a terminal, one line per finished problem otherwise.

Both show the same figures: problems done, accuracy so far, tokens, cost and the time left.
"""

from __future__ import annotations

import sys
import time
from types import TracebackType
from typing import Any

from xolver.bench.runner import BenchRecord
from xolver.llm.limits import live_limits


class RunProgress:
    """Counts only the problems of this invocation; `resumed` says how many an earlier one finished."""

    def __init__(self, total: int, *, resumed: int = 0, label: str = "", live: bool | None = None) -> None:
        self.total = total
        self.resumed = resumed
        self.label = label
        self.live = sys.stderr.isatty() if live is None else live
        self.records: list[BenchRecord] = []
        self.started = time.monotonic()
        self._progress: Any = None
        self._task: Any = None

    def stats(self) -> str:
        graded = [r for r in self.records if r.status == "graded"]
        right = sum(bool(r.correct) for r in graded)
        accuracy = f"{100 * right / len(graded):.1f}% ({right}/{len(graded)})" if graded else "–"
        tokens = sum(r.usage.total_tokens for r in self.records)
        cost = sum(r.usage.cost for r in self.records)
        failed = sum(r.status in ("solve_failed", "grade_failed") for r in self.records)
        verified = [r for r in graded if r.verified]
        precision = f"{100 * sum(bool(r.correct) for r in verified) / len(verified):.0f}%" if verified else "–"
        return (
            f"accuracy {accuracy} | verified {len(verified)} (precision {precision}) | {tokens:,} tokens "
            f"| ${cost:.4f} | {failed} failed{self.model_limit()} | left {self.eta()}"
        )

    @staticmethod
    def model_limit() -> str:
        """The busiest model endpoint's concurrency limit and calls in flight (this process's; Ray workers
        keep their own)."""
        states = live_limits()
        if not states:
            return ""
        state = states[0]
        return f" | model calls {state.in_flight}/{state.limit} ({state.kind})"

    def eta(self) -> str:
        done = len(self.records)
        left = self.total - self.resumed - done
        if not done:
            return "?"
        seconds = (time.monotonic() - self.started) / done * left
        return f"{int(seconds // 60)}m{int(seconds % 60):02d}s"

    def __enter__(self) -> RunProgress:
        if self.live:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self._progress = Progress(
                TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                TextColumn("{task.fields[stats]}"), transient=False,
            )  # fmt: skip
            self._progress.start()
            self._task = self._progress.add_task(
                self.label, total=self.total, completed=self.resumed, stats=self.stats()
            )
        return self

    def update(self, record: BenchRecord) -> None:
        self.records.append(record)
        if self._progress is not None:
            self._progress.update(self._task, advance=1, stats=self.stats())
            return
        verdict = {"graded": "right" if record.correct else "wrong"}.get(record.status, record.status)
        done = self.resumed + len(self.records)
        print(f"[{done}/{self.total}] {record.id}: {verdict} | {self.stats()}", file=sys.stderr, flush=True)

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        if self._progress is not None:
            self._progress.stop()
