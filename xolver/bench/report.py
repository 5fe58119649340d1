"""Reports over result files: a table per dataset of every method's accuracy against its cost, and plots.

Rows group records by (dataset, method, solver model); each row also says the configuration it ran
with, so a number in the table can be reproduced. Cost-of-pass is cost per correct answer; for local
models, whose cost is 0, tokens per correct answer says the same thing. Accuracy is over the graded
problems; problems whose solve or grading failed are counted apart, never as wrong answers.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path

from pydantic import Field

from xolver.bench.runner import BenchRecord
from xolver.jsonl import BadLine, read_jsonl
from xolver.schema import Record, Settings
from xolver.team.evidence import judge_rule

ALWAYS_SHOWN = ("agents", "iterations", "exemplars", "retrieval", "seed")  # m, I, k, retrieval mode, seed


class MethodSummary(Record):
    dataset: str
    method: str
    model: str
    problems: int
    graded: int
    correct: int
    solve_failures: int
    grade_failures: int
    judge_failures: int
    accuracy: float | None
    verified: int
    verified_precision: float | None = Field(description="of the verified answers, the share that are right")
    verified_recall: float | None = Field(description="of the right answers, the share that were verified")
    judge_rule_precision: float | None = Field(description="verified precision had the judge rule decided")
    judge_rule_verified: int = 0
    mean_tokens: float
    total_cost: float
    cost_of_pass: float | None
    tokens_per_pass: float | None
    mean_iterations: float
    mean_seconds: float
    convergence: list[float | None]
    configs: list[str]


def load_records(paths: Iterable[str | Path]) -> tuple[list[BenchRecord], list[tuple[Path, BadLine]]]:
    """Every record of every file; a line that is not a record is reported, not fatal."""
    records: list[BenchRecord] = []
    bad: list[tuple[Path, BadLine]] = []
    for path in paths:
        good, wrong = read_jsonl(path, BenchRecord.model_validate)
        records += good
        bad += [(Path(path), line) for line in wrong]
    return records, bad


def _model(record: BenchRecord) -> str:
    return record.config.models.get("solver", "?") if record.config is not None else "?"


_DEFAULTS = Settings()


def _config(record: BenchRecord) -> str:
    """m, I, k, retrieval and seed, then every other setting that differs from its default."""
    if record.config is None:
        return ""
    settings = record.config.settings
    shown = [name for name in Settings.model_fields if name in ALWAYS_SHOWN]
    shown += [
        name
        for name in Settings.model_fields
        if name not in ALWAYS_SHOWN and getattr(settings, name) != getattr(_DEFAULTS, name)
    ]
    return ", ".join(f"{name}={getattr(settings, name)}" for name in shown)


def convergence(records: Sequence[BenchRecord]) -> list[float | None]:
    """Accuracy of the best answer after each round; a problem that stopped early keeps its last answer."""
    graded = [r.iteration_correct for r in records if r.iteration_correct and None not in r.iteration_correct]
    if not graded:
        return []
    rounds = max(len(g) for g in graded)
    padded = [list(g) + [g[-1]] * (rounds - len(g)) for g in graded]
    return [sum(bool(p[i]) for p in padded) / len(padded) for i in range(rounds)]


def summarize(records: Sequence[BenchRecord]) -> list[MethodSummary]:
    groups: dict[tuple[str, str, str], list[BenchRecord]] = defaultdict(list)
    latest: dict[tuple[str, str, str, str], BenchRecord] = {}
    for record in records:  # the same problem twice in a group (a file given twice): the last one counts
        latest[(record.dataset or "-", record.method, _model(record), record.id)] = record
    for (dataset, method, model, _), record in latest.items():
        groups[(dataset, method, model)].append(record)
    summaries = []
    for (dataset, method, model), rows in sorted(groups.items()):
        graded = [r for r in rows if r.status == "graded"]
        correct = sum(bool(r.correct) for r in graded)
        verified = [r for r in graded if r.verified]
        by_judge = [r for r in graded if r.verification is not None and judge_rule_verifies(r)]
        cost = sum(r.usage.cost for r in rows)
        tokens = sum(r.usage.total_tokens for r in rows)
        summaries.append(
            MethodSummary(
                dataset=dataset, method=method, model=model, problems=len(rows), graded=len(graded),
                correct=correct, solve_failures=sum(r.status == "solve_failed" for r in rows),
                grade_failures=sum(r.status == "grade_failed" for r in rows),
                judge_failures=sum(r.judge_failures for r in rows),
                accuracy=correct / len(graded) if graded else None, verified=len(verified),
                verified_precision=share(verified), verified_recall=share_verified([r for r in graded if r.correct]),
                judge_rule_precision=share(by_judge), judge_rule_verified=len(by_judge), mean_tokens=tokens / len(rows),
                total_cost=cost, cost_of_pass=cost / correct if correct else None,
                tokens_per_pass=tokens / correct if correct else None,
                mean_iterations=sum(r.iterations for r in rows) / len(rows),
                mean_seconds=sum(r.seconds for r in rows) / len(rows), convergence=convergence(rows),
                configs=sorted({_config(r) for r in rows if r.config}),
            )
        )  # fmt: skip
    return summaries


def share(verified: Sequence[BenchRecord]) -> float | None:
    """Verified precision: of these verified records, the share that are right."""
    return sum(bool(r.correct) for r in verified) / len(verified) if verified else None


def share_verified(right: Sequence[BenchRecord]) -> float | None:
    """Verified recall: of these right records, the share that were verified."""
    return sum(r.verified for r in right) / len(right) if right else None


def judge_rule_verifies(record: BenchRecord) -> bool:
    """What the judge rule (a judge score and agreement) would have said of this record's evidence."""
    assert record.verification is not None
    task = "code" if any(e.kind in ("tests", "unseen_tests") for e in record.verification.evidence) else "math"
    return bool(record.verification.evidence) and judge_rule(task, record.verification.evidence)


def _percent(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f}%"


def _number(value: float | None, digits: int = 1) -> str:
    return "–" if value is None else f"{value:,.{digits}f}"


def render_markdown(summaries: Sequence[MethodSummary], plots: Sequence[str] = ()) -> str:
    lines = ["# Benchmark report", ""]
    for dataset in sorted({s.dataset for s in summaries}):
        rows = [s for s in summaries if s.dataset == dataset]
        lines += [
            f"## {dataset}",
            "",
            "| method | model | problems | accuracy | correct | solve failed | grade failed | judge failures "
            "| mean tokens | cost ($) | cost of pass ($) | tokens per pass | mean iterations | mean seconds |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for s in rows:
            lines.append(
                f"| {s.method} | {s.model} | {s.problems} | {_percent(s.accuracy)} | {s.correct}/{s.graded} "
                f"| {s.solve_failures} | {s.grade_failures} | {s.judge_failures} "
                f"| {_number(s.mean_tokens, 0)} | {s.total_cost:.4f} | {_number(s.cost_of_pass, 4)} "
                f"| {_number(s.tokens_per_pass, 0)} | {s.mean_iterations:.2f} | {s.mean_seconds:.1f} |"
            )
        lines += [
            "",
            "How clean memory stays: verified precision (verified and right / verified) and recall (verified and "
            "right / right), under the run's rule and under the judge rule (judge score and agreement) on the same "
            "evidence.",
            "",
            "| method | verified | precision | recall | judge rule: verified | judge rule: precision |",
            "|---|---|---|---|---|---|",
        ]
        lines += [
            f"| {s.method} | {s.verified} | {_percent(s.verified_precision)} | {_percent(s.verified_recall)} "
            f"| {s.judge_rule_verified} | {_percent(s.judge_rule_precision)} |"
            for s in rows
        ]
        lines += ["", "Configurations:", ""]
        lines += [f"- {s.method}: {config}" for s in rows for config in s.configs]
        lines.append("")
    if plots:
        lines += ["## Plots", ""] + [f"![{name}]({name})" for name in plots] + [""]
    return "\n".join(lines)


def plot(summaries: Sequence[MethodSummary], out: Path) -> list[str]:
    """accuracy_vs_tokens.png and convergence.png; none when matplotlib is not installed."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return []
    names = []
    fig, ax = plt.subplots(figsize=(6, 4))
    for s in summaries:
        if s.accuracy is not None:
            ax.scatter(s.mean_tokens, 100 * s.accuracy, s=50)
            ax.annotate(f"{s.method} ({s.dataset})", (s.mean_tokens, 100 * s.accuracy), fontsize=8,
                        xytext=(4, 4), textcoords="offset points")  # fmt: skip
    ax.set(xlabel="mean tokens per problem", ylabel="accuracy (%)", title="Accuracy against tokens")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out / "accuracy_vs_tokens.png", dpi=120)
    plt.close(fig)
    names.append("accuracy_vs_tokens.png")
    fig, ax = plt.subplots(figsize=(6, 4))
    for s in summaries:
        if s.convergence:
            rounds = list(range(1, len(s.convergence) + 1))
            ax.plot(rounds, [100 * (v or 0) for v in s.convergence], marker="o", label=f"{s.method} ({s.dataset})")
    ax.set(xlabel="iteration", ylabel="accuracy of the best answer so far (%)", title="Convergence by iteration")
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.grid(alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "convergence.png", dpi=120)
    plt.close(fig)
    names.append("convergence.png")
    return names


def write_report(records: Sequence[BenchRecord], out: str | Path) -> Path:
    """report.md (and its plots) in `out`; returns the report's path."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    summaries = summarize(records)
    plots = plot(summaries, out)
    path = out / "report.md"
    path.write_text(render_markdown(summaries, plots), encoding="utf-8")
    (out / "summary.json").write_text(
        "[\n" + ",\n".join(s.model_dump_json() for s in summaries) + "\n]\n", encoding="utf-8"
    )
    return path
