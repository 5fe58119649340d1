"""The viewer's pages, rendered from recorded runs with Jinja2: the same pages are served or written out.

    index.html                       runs side by side: accuracy, tokens, cost of pass, the report's plots
    runs/RUN/index.html              a run's problems, with filters (wrong only, changed between rounds, errors)
    runs/RUN/PROBLEM.html            one problem: team, rounds, code and output, exemplars, memory, calls

Links are relative, so the written pages open from disk as they are served. Model output is escaped
(autoescape): a reply holding HTML shows as text.
"""

from __future__ import annotations

import re
import shutil
from collections import defaultdict
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from xolver.bench.plots import plot
from xolver.bench.records import SavedRun, load_run
from xolver.bench.report import MethodSummary, summarize
from xolver.bench.runner import BenchRecord, solves_path
from xolver.schema import Candidate, SolveResult, Usage

FILTERS = {"wrong": "wrong only", "changed": "changed between rounds", "errors": "errors"}
PLOTS = ("accuracy_vs_cost.png", "convergence.png", "learning_curve.png")


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_.") or "_"


def flags(record: BenchRecord) -> list[str]:
    """Which filters a problem passes: wrong, changed (its best answer or grade moved between rounds), errors."""
    found = []
    if record.status == "graded" and record.correct is False:
        found.append("wrong")
    solve = record.solve
    answers = {r.best_answer for r in solve.iterations} if solve is not None else set()
    if len(answers) > 1 or len(set(record.iteration_correct)) > 1:
        found.append("changed")
    troubles = [
        record.error, record.status in ("solve_failed", "grade_failed"), record.judge_failures,
        record.usage.failed_calls, solve is not None and any(c.error for r in solve.iterations for c in r.candidates),
        solve is not None and any(run.result.timed_out for run in solve.runs),
    ]  # fmt: skip
    if any(troubles):
        found.append("errors")
    return found


@dataclass
class RunPage:
    """A run as the pages show it: its records, their slugs and filter flags."""

    run: SavedRun
    slug: str
    problems: dict[str, BenchRecord]  # by problem slug

    def summaries(self) -> list[MethodSummary]:
        """The report's rows for this run, named after the run so runs of one method stay apart."""
        rows = summarize(self.run.records)
        return [s.model_copy(update={"method": self.run.name if len(rows) == 1 else f"{self.run.name}: {s.method}"})
                for s in rows]  # fmt: skip


def _problem_slugs(records: list[BenchRecord]) -> dict[str, BenchRecord]:
    slugs: dict[str, BenchRecord] = {}
    for record in records:
        name = slug(record.id)
        while name in slugs:
            name += "_"
        slugs[name] = record
    return slugs


def role_usage(solve: SolveResult) -> list[dict[str, Any]]:
    """Calls, tokens and seconds per agent role (planner, solver, coder, judge, verifier), from the calls."""
    totals: dict[str, Usage] = defaultdict(Usage)
    for call in solve.calls:
        totals[call.role].add(call.usage)
    return [{"role": role, "usage": usage} for role, usage in totals.items()]


def team_usage(solve: SolveResult) -> dict[str, Usage]:
    """Tokens and seconds per team member (a planned role), over its attempts in every round."""
    totals: dict[str, Usage] = defaultdict(Usage)
    for record in solve.iterations:
        for candidate in record.candidates:
            totals[candidate.role].add(candidate.usage)
    return totals


class Site:
    """The pages over `paths` (results files or saved solves), read again whenever a file changes."""

    def __init__(self, paths: list[str] | list[Path]) -> None:
        self.paths = [Path(p) for p in paths]
        self.env = Environment(
            loader=PackageLoader("xolver.view", "templates"),
            autoescape=select_autoescape(default=True, default_for_string=True),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.env.filters.update(mark=_mark, score=_score, number=_number, clip=_clip)
        self.env.globals.update(FILTERS=FILTERS, flags=flags)
        self._stamp: tuple[tuple[float, int], ...] | None = None
        self.runs: dict[str, RunPage] = {}
        self.refresh()

    def _stamp_now(self) -> tuple[tuple[float, int], ...]:
        stamps = []
        for path in self.paths:
            for file in (path, solves_path(path)):
                stat = file.stat() if file.exists() else None
                stamps.append((stat.st_mtime, stat.st_size) if stat else (0.0, 0))
        return tuple(stamps)

    def refresh(self) -> bool:
        """Read the files again if any changed (a run still being written grows); True when it did."""
        stamp = self._stamp_now()
        if stamp == self._stamp:
            return False
        runs: dict[str, RunPage] = {}
        for path in self.paths:
            run = load_run(path)
            name = slug(run.name)
            while name in runs:
                name += "_"
            runs[name] = RunPage(run, name, _problem_slugs(run.records))
        self.runs, self._stamp = runs, stamp
        return True

    def summaries(self) -> list[MethodSummary]:
        return [s for page in self.runs.values() for s in page.summaries()]

    def pages(self) -> list[str]:
        """Every page's path, relative to the site's root."""
        found = ["index.html"]
        for name, page in self.runs.items():
            found.append(f"runs/{name}/index.html")
            found += [f"runs/{name}/{problem}.html" for problem in page.problems]
        return found

    def render(self, path: str) -> str | None:
        """The page at `path`, or None when there is none."""
        if path in ("", "index.html"):
            return self._index()
        parts = path.split("/")
        if len(parts) != 3 or parts[0] != "runs" or parts[1] not in self.runs or not parts[2].endswith(".html"):
            return None
        page = self.runs[parts[1]]
        if parts[2] == "index.html":
            return self._run(page)
        record = page.problems.get(parts[2].removesuffix(".html"))
        return None if record is None else self._problem(page, parts[2].removesuffix(".html"), record)

    def _index(self) -> str:
        ids = sorted({r.id for page in self.runs.values() for r in page.run.records})
        matrix = [
            (problem_id, [(page, next(((s, r) for s, r in page.problems.items() if r.id == problem_id), None))
                          for page in self.runs.values()])
            for problem_id in ids
        ] if len(self.runs) > 1 else []  # fmt: skip
        return self.env.get_template("index.html").render(
            root="", runs=list(self.runs.values()), summaries=self.summaries(), matrix=matrix, plots=PLOTS
        )

    def _run(self, page: RunPage) -> str:
        counts = {name: sum(name in flags(r) for r in page.problems.values()) for name in FILTERS}
        return self.env.get_template("run.html").render(root="../../", page=page, counts=counts)

    def _problem(self, page: RunPage, problem_slug: str, record: BenchRecord) -> str:
        solve = record.solve
        names = list(page.problems)
        at = names.index(problem_slug)
        context: dict[str, Any] = {
            "root": "../../", "page": page, "record": record, "solve": solve,
            "previous": names[at - 1] if at > 0 else None, "next": names[at + 1] if at + 1 < len(names) else None,
            "roles": role_usage(solve) if solve else [], "team": team_usage(solve) if solve else {},
            "kept": {cid for r in solve.iterations for cid in r.kept} if solve else set(),
        }  # fmt: skip
        return self.env.get_template("problem.html").render(**context, candidate_answer=_candidate_answer)

    def write_plots(self, out: Path) -> list[str]:
        """The report's plots of every run, side by side, into `out` (none without matplotlib)."""
        out.mkdir(parents=True, exist_ok=True)
        return plot(self.summaries(), out)

    def write(self, out: Path) -> Path:
        """Every page, the static files and the plots, under `out`; returns its index page."""
        out.mkdir(parents=True, exist_ok=True)
        static = files("xolver.view") / "static"
        (out / "static").mkdir(exist_ok=True)
        for item in static.iterdir():
            if item.is_file():
                (out / "static" / item.name).write_bytes(item.read_bytes())
        shutil.rmtree(out / "plots", ignore_errors=True)
        self.write_plots(out / "plots")
        for path in self.pages():
            html = self.render(path)
            assert html is not None
            target = out / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(html, encoding="utf-8")
        return out / "index.html"


def _candidate_answer(candidate: Candidate) -> str:
    return candidate.code or candidate.answer or ""


def _mark(value: bool | None) -> str:
    return {True: "✓", False: "✗"}.get(value, "–") if value is not None else "–"


def _score(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"


def _number(value: float | None, digits: int = 0) -> str:
    return "–" if value is None else f"{value:,.{digits}f}"


def _clip(text: str | None, limit: int = 80) -> str:
    text = (text or "").strip().replace("\n", " ")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def write_site(paths: list[str] | list[Path], out: str | Path) -> Path:
    """`xolver view PATH... --out DIR`: the pages as static files."""
    return Site(paths).write(Path(out))
