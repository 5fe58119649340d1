"""Reports over result files: per dataset, every method's accuracy against its cost, how clean memory
stays, memory modes side by side, the learning curve and the accuracy-cost frontier.

Rows group records by (dataset, method and memory mode, solver model, run); each row also says the
configuration it ran with, so a number in the table can be reproduced. Cost-of-pass is cost per correct
answer; for local models, whose cost is 0, tokens per correct answer says the same thing. Accuracy is over
the graded problems; problems whose solve or grading failed are counted apart, never as wrong answers.

Contamination: an exemplar a problem was shown is contaminated when it came from a problem of the
evaluated set (by id, or by the problem's text) and was not learned by this run itself: a corpus or a
store that has seen the test set. A run shown one is flagged, with the count.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Literal

from pydantic import Field

from xolver.bench.calibration import Precision, evidence_precision
from xolver.bench.runner import BenchRecord
from xolver.jsonl import BadLine, read_jsonl
from xolver.schema import Record, Settings
from xolver.team.evidence import judge_rule

ALWAYS_SHOWN = ("agents", "iterations", "exemplars", "retrieval", "memory", "seed")  # m, I, k, retrieval, seed
_DEFAULTS = Settings()


class MethodSummary(Record):
    dataset: str
    method: str
    memory: str | None = Field(None, description="the memory mode of a team run")
    run: str | None = Field(None, description="the results file the records came from")
    model: str
    problems: int
    graded: int
    correct: int
    solve_failures: int
    grade_failures: int
    judge_failures: int
    truncated: int = Field(0, description="model replies cut at their token limit (each retried once, never parsed)")
    reasoning_tokens: int = 0
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
    curve: list[float] = Field(default_factory=list, description="running accuracy over problems, in set order")
    by_instance: list[float] = Field(
        default_factory=list, description="in a family set: accuracy on the first, second, ... instance of each kind"
    )
    exemplars_shown: int = 0
    evidence: dict[str, Precision] = Field(
        default_factory=dict, description="each evidence kind and each rule as a verifier: precision and recall, with n"
    )
    right_from: dict[str, int] = Field(
        default_factory=dict, description="right answers shown this run's own experience, the seed bank's, neither"
    )
    contaminated_exemplars: int = 0
    contaminated_problems: int = 0
    configs: list[str]

    @property
    def label(self) -> str:
        name = f"{self.method} ({self.memory})" if self.memory else self.method
        return f"{name} [{self.run}]" if self.run else name


def load_records(paths: Iterable[str | Path]) -> tuple[list[BenchRecord], list[tuple[Path, BadLine]]]:
    """Every record of every file, each marked with its file; a line that is not a record is reported."""
    records: list[BenchRecord] = []
    bad: list[tuple[Path, BadLine]] = []
    for path in paths:
        good, wrong = read_jsonl(path, BenchRecord.model_validate)
        records += [record.model_copy(update={"run": Path(path).stem}) for record in good]
        bad += [(Path(path), line) for line in wrong]
    return records, bad


def _model(record: BenchRecord) -> str:
    return record.config.models.get("solver", "?") if record.config is not None else "?"


def _memory(record: BenchRecord) -> str | None:
    """The memory mode of a team run: off, read-only, learn, or oracle (read-only, given the references)."""
    if record.config is None or record.method != "xolver":
        return None
    return "oracle" if record.oracle else record.config.settings.memory


Origin = Literal["own", "seed", "neither"]


def origin(record: BenchRecord, own_runs: set[str]) -> Origin:
    """Where a problem's help came from: `own` when it was shown an experience its own run wrote (a solve of
    the run, or the oracle after an earlier problem), else `seed` when shown one from the seed bank or an
    import, else `neither`. An attribution by what was shown, not a proof of what was used."""
    if any(e.written_by in own_runs for e in record.exemplars if e.written_by):
        return "own"
    return "seed" if any(e.written_by is None and e.source != "self" for e in record.exemplars) else "neither"


def right_by_origin(records: Sequence[BenchRecord]) -> dict[str, int]:
    """The right answers of one run by `origin`."""
    own = {r.run_id for r in records if r.run_id}
    counts = dict.fromkeys(("own", "seed", "neither"), 0)
    for record in records:
        if record.status == "graded" and record.correct:
            counts[origin(record, own)] += 1
    return counts


def _config(record: BenchRecord) -> str:
    """m, I, k, retrieval, memory and seed, then every other setting that differs from its default."""
    if record.config is None:
        return ""
    settings = record.config.settings
    names = [name for name in Settings.model_fields if name in ALWAYS_SHOWN]
    names += [
        name for name in Settings.model_fields
        if name not in ALWAYS_SHOWN and getattr(settings, name) != getattr(_DEFAULTS, name)
    ]  # fmt: skip
    return ", ".join(f"{name}={getattr(settings, name)}" for name in names)


def convergence(records: Sequence[BenchRecord]) -> list[float | None]:
    """Accuracy of the best answer after each round; a problem that stopped early keeps its last answer."""
    graded = [r.iteration_correct for r in records if r.iteration_correct and None not in r.iteration_correct]
    if not graded:
        return []
    rounds = max(len(g) for g in graded)
    padded = [list(g) + [g[-1]] * (rounds - len(g)) for g in graded]
    return [sum(bool(p[i]) for p in padded) / len(padded) for i in range(rounds)]


def learning_curve(records: Sequence[BenchRecord]) -> list[float]:
    """Running accuracy over the graded problems in the set's order."""
    ordered = sorted((r for r in records if r.status == "graded"), key=lambda r: (r.index is None, r.index or 0))
    right, curve = 0, []
    for seen, record in enumerate(ordered, 1):
        right += bool(record.correct)
        curve.append(right / seen)
    return curve


def by_instance(records: Sequence[BenchRecord]) -> list[float]:
    """Accuracy on the n-th problem of each family, in set order: whether later siblings gain from earlier ones."""
    seen: dict[str, int] = defaultdict(int)
    right: dict[int, list[bool]] = defaultdict(list)
    for record in sorted(records, key=lambda r: (r.index is None, r.index or 0)):
        if record.family is not None and record.status == "graded":
            right[seen[record.family]].append(bool(record.correct))
            seen[record.family] += 1
    return [sum(right[n]) / len(right[n]) for n in sorted(right)]


def contamination(records: Sequence[BenchRecord], evaluated: Sequence[BenchRecord]) -> tuple[int, int]:
    """(exemplars, problems): exemplars from a problem of the evaluated set that these records' own solves did
    not write, and how many problems were shown one."""
    ids = {r.id for r in evaluated}
    hashes = {r.problem_hash for r in evaluated if r.problem_hash}
    own = {r.run_id for r in records if r.run_id}
    exemplars = problems = 0
    for record in records:
        leaked = [
            e for e in record.exemplars
            if (e.problem_id in ids or e.problem_hash in hashes) and (e.written_by is None or e.written_by not in own)
        ]  # fmt: skip
        exemplars += len(leaked)
        problems += bool(leaked)
    return exemplars, problems


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


Key = tuple[str, str, str, str, str]  # dataset, method, memory mode, model, run


def summarize(records: Sequence[BenchRecord]) -> list[MethodSummary]:
    latest: dict[tuple[Key, str], BenchRecord] = {}
    for record in records:  # the same problem twice in a group (a file given twice): the last one counts
        key = (record.dataset or "-", record.method, _memory(record) or "", _model(record), record.run or "")
        latest[(key, record.id)] = record
    groups: dict[Key, list[BenchRecord]] = defaultdict(list)
    for (key, _), record in latest.items():
        groups[key].append(record)
    by_dataset: dict[str, list[BenchRecord]] = defaultdict(list)
    for key, rows in groups.items():
        by_dataset[key[0]] += rows
    return [summary(key, rows, by_dataset[key[0]]) for key, rows in sorted(groups.items())]


def summary(key: Key, rows: list[BenchRecord], evaluated: list[BenchRecord]) -> MethodSummary:
    dataset, method, memory, model, run = key
    graded = [r for r in rows if r.status == "graded"]
    correct = sum(bool(r.correct) for r in graded)
    verified = [r for r in graded if r.verified]
    by_judge = [r for r in graded if r.verification is not None and judge_rule_verifies(r)]
    cost = sum(r.usage.cost for r in rows)
    tokens = sum(r.usage.total_tokens for r in rows)
    leaked, problems = contamination(rows, evaluated)
    return MethodSummary(
        dataset=dataset, method=method, memory=memory or None, run=run or None, model=model,
        problems=len(rows), graded=len(graded), correct=correct,
        solve_failures=sum(r.status == "solve_failed" for r in rows),
        grade_failures=sum(r.status == "grade_failed" for r in rows),
        judge_failures=sum(r.judge_failures for r in rows), accuracy=correct / len(graded) if graded else None,
        truncated=sum(r.usage.truncated for r in rows), reasoning_tokens=sum(r.usage.reasoning_tokens for r in rows),
        verified=len(verified), verified_precision=share(verified),
        verified_recall=share_verified([r for r in graded if r.correct]), judge_rule_precision=share(by_judge),
        judge_rule_verified=len(by_judge), mean_tokens=tokens / len(rows), total_cost=cost,
        cost_of_pass=cost / correct if correct else None, tokens_per_pass=tokens / correct if correct else None,
        mean_iterations=sum(r.iterations for r in rows) / len(rows),
        mean_seconds=sum(r.seconds for r in rows) / len(rows), convergence=convergence(rows),
        curve=learning_curve(rows), by_instance=by_instance(rows), exemplars_shown=sum(len(r.exemplars) for r in rows),
        right_from=right_by_origin(rows) if memory else {}, evidence=evidence_precision(rows),
        contaminated_exemplars=leaked, contaminated_problems=problems,
        configs=sorted({_config(r) for r in rows if r.config}),
    )  # fmt: skip


def frontier(summaries: Sequence[MethodSummary]) -> list[MethodSummary]:
    """The rows no other row beats on both accuracy and tokens per problem (the accuracy-cost frontier)."""
    scored = [s for s in summaries if s.accuracy is not None]
    return [
        s for s in scored
        if not any(o is not s and o.accuracy >= s.accuracy and o.mean_tokens <= s.mean_tokens  # type: ignore[operator]
                   and (o.accuracy, -o.mean_tokens) != (s.accuracy, -s.mean_tokens) for o in scored)
    ]  # fmt: skip


def frontiers(summaries: Sequence[MethodSummary]) -> dict[str, list[MethodSummary]]:
    """Each dataset's frontier: a run is weighed only against runs on the same set (a cheap run on an easy
    set says nothing about a run on a hard one)."""
    datasets = sorted({s.dataset for s in summaries})
    return {d: frontier([s for s in summaries if s.dataset == d]) for d in datasets}


def _percent(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f}%"


def _number(value: float | None, digits: int = 1) -> str:
    return "–" if value is None else f"{value:,.{digits}f}"


def render_markdown(summaries: Sequence[MethodSummary], plots: Sequence[str] = ()) -> str:
    lines = ["# Benchmark report", ""]
    for dataset in sorted({s.dataset for s in summaries}):
        lines += _dataset_section(dataset, [s for s in summaries if s.dataset == dataset])
    if plots:
        lines += ["## Plots", ""] + [f"![{name}]({name})" for name in plots] + [""]
    return "\n".join(lines)


def _dataset_section(dataset: str, rows: list[MethodSummary]) -> list[str]:
    best = frontier(rows)
    lines = [
        f"## {dataset}",
        "",
        "| method | model | problems | accuracy | correct | solve failed | grade failed | judge failures | truncated "
        "| mean tokens | cost ($) | cost of pass ($) | tokens per pass | mean iterations | mean seconds | frontier |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {s.label} | {s.model} | {s.problems} | {_percent(s.accuracy)} | {s.correct}/{s.graded} "
        f"| {s.solve_failures} | {s.grade_failures} | {s.judge_failures} | {s.truncated} "
        f"| {_number(s.mean_tokens, 0)} | {s.total_cost:.4f} | {_number(s.cost_of_pass, 4)} "
        f"| {_number(s.tokens_per_pass, 0)} | {s.mean_iterations:.2f} | {s.mean_seconds:.1f} "
        f"| {'yes' if s in best else ''} |"
        for s in rows
    ]
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
        f"| {s.label} | {s.verified} | {_percent(s.verified_precision)} | {_percent(s.verified_recall)} "
        f"| {s.judge_rule_verified} | {_percent(s.judge_rule_precision)} |"
        for s in rows
    ]
    lines += _evidence_table(rows)
    modes = [s for s in rows if s.memory]
    if len({s.memory for s in modes}) > 1:
        lines += _memory_modes(modes)
    families = [s for s in rows if s.by_instance]
    if families:
        depth = max(len(s.by_instance) for s in families)
        header = "| run | " + " | ".join(f"#{n + 1}" for n in range(depth)) + " |"
        lines += ["", "Accuracy by instance within each family (the n-th problem of each kind, in set order):", "",
                  header, "|---" * (depth + 1) + "|"]  # fmt: skip
        lines += [f"| {s.label} | " + " | ".join(_percent(v) for v in s.by_instance) + " |" for s in families]
    flagged = [s for s in rows if s.contaminated_exemplars]
    lines += [""] + [
        f"**CONTAMINATED: {s.label}** was shown {s.contaminated_exemplars} exemplars from problems of this set "
        f"that it did not learn itself ({s.contaminated_problems} problems affected): its accuracy is not a "
        "held-out score."
        for s in flagged
    ]
    if not flagged:
        lines.append("Contamination: no run was shown an exemplar from a problem of this set it did not learn itself.")
    lines += ["", "Configurations:", ""]
    lines += [f"- {s.label}: {config}" for s in rows for config in s.configs]
    return [*lines, ""]


def _evidence_table(rows: list[MethodSummary]) -> list[str]:
    """Each piece of evidence and each rule as a verifier, against the references: n, precision, recall."""
    measured = [s for s in rows if s.evidence]
    if not measured:
        return []
    lines = ["", "Evidence against the references (passed / right among them: precision; share of all right answers "
             "that passed: recall):", "", "| method | evidence or rule | passed (n) | precision | recall |",
             "|---|---|---|---|---|"]  # fmt: skip
    lines += [
        f"| {s.label} | {name} | {p.verified} | {_percent(p.precision)} | {_percent(p.recall)} |"
        for s in measured
        for name, p in s.evidence.items()
    ]
    return lines


MODES = ("off", "read-only", "learn", "oracle")


def _memory_modes(modes: list[MethodSummary]) -> list[str]:
    """The memory modes side by side, each right answer by where its help came from, and, with read-only,
    learn and oracle runs, the learning decomposition."""
    order = {mode: n for n, mode in enumerate(MODES)}
    modes = sorted(modes, key=lambda s: (order.get(s.memory or "", len(MODES)), s.run or ""))
    header = "| run | memory | accuracy | right | own | seed | neither | verified precision | exemplars | tokens |"
    lines = ["", "Memory modes side by side (right answers by what they were shown: this run's own experience, the "
             "seed bank's, neither):", "", header, "|---" * 10 + "|"]  # fmt: skip
    lines += [
        f"| {s.run or s.method} | {s.memory} | {_percent(s.accuracy)} | {s.correct}/{s.graded} "
        f"| {s.right_from.get('own', 0)} | {s.right_from.get('seed', 0)} | {s.right_from.get('neither', 0)} "
        f"| {_percent(s.verified_precision)} | {s.exemplars_shown} | {_number(s.mean_tokens, 0)} |"
        for s in modes
    ]
    decomposition = learning_decomposition(modes)
    if decomposition is not None:
        lines += ["", decomposition]
    return lines


def learning_decomposition(modes: Sequence[MethodSummary]) -> str | None:
    """What the run learned against what memory could give: read side = oracle - read-only (retrieval and
    use, with perfect verification), learned = learn - read-only, share = learned / read side (the write
    side: verifying and writing). None without a read-only, a learn and an oracle run of the same set."""
    first = {mode: next((s for s in modes if s.memory == mode and s.graded), None) for mode in MODES}
    ro, learn, oracle = first["read-only"], first["learn"], first["oracle"]
    if ro is None or learn is None or oracle is None:
        return None
    reach, learned = oracle.correct - ro.correct, learn.correct - ro.correct
    share = f"{learned / reach:.2f}" if reach > 0 else "– (the oracle adds nothing)"
    return (
        f"Learning decomposition (n = {ro.graded}): read-only {ro.correct}, learn {learn.correct}, oracle "
        f"{oracle.correct}; read side (oracle - read-only) {reach:+d}, learned (learn - read-only) {learned:+d}, "
        f"learning's share {share}."
    )


def write_report(records: Sequence[BenchRecord], out: str | Path) -> Path:
    """report.md, summary.json and the plots in `out`; returns the report's path."""
    from xolver.bench.plots import plot

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
