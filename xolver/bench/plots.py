"""The report's plots: the accuracy-cost frontier, convergence by round and the learning curve.

matplotlib is an optional extra (`bench`): without it the report has tables only.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from xolver.bench.report import MethodSummary, frontiers


def plot(summaries: Sequence[MethodSummary], out: Path) -> list[str]:
    """The PNG files written into `out`; none when matplotlib is not installed. The frontier is each
    dataset's, as the report's tables mark it."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return []

    def figure(name: str, draw: Callable[[Any], None]) -> str:
        fig, ax = plt.subplots(figsize=(6.5, 4.2))
        draw(ax)
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(out / name, dpi=120)
        plt.close(fig)
        return name

    edges = frontiers(summaries)
    best = [s for edge in edges.values() for s in edge]

    def costs(ax: Any) -> None:
        for s in summaries:
            if s.accuracy is not None:
                ax.scatter(s.mean_tokens, 100 * s.accuracy, s=60 if s in best else 30,
                           marker="o" if s in best else "x")  # fmt: skip
                ax.annotate(f"{s.label} ({s.dataset})", (s.mean_tokens, 100 * s.accuracy), fontsize=7,
                            xytext=(4, 4), textcoords="offset points")  # fmt: skip
        for dataset, edge in edges.items():
            edge = sorted(edge, key=lambda s: s.mean_tokens)
            if len(edge) > 1:
                ax.plot([s.mean_tokens for s in edge], [100 * (s.accuracy or 0) for s in edge], "--", lw=1,
                        label=f"{dataset} frontier: nothing else is both cheaper and more accurate")  # fmt: skip
        ax.set(xlabel="mean tokens per problem", ylabel="accuracy (%)", title="Accuracy against cost")

    def rounds(ax: Any) -> None:
        for s in summaries:
            if s.convergence:
                xs = list(range(1, len(s.convergence) + 1))
                ax.plot(xs, [100 * (v or 0) for v in s.convergence], marker="o", label=f"{s.label} ({s.dataset})")
        ax.set(xlabel="iteration", ylabel="accuracy of the best answer so far (%)", title="Convergence by iteration")
        ax.xaxis.get_major_locator().set_params(integer=True)

    def learning(ax: Any) -> None:
        for s in summaries:
            if s.curve:
                ax.plot(range(1, len(s.curve) + 1), [100 * v for v in s.curve], label=f"{s.label} ({s.dataset})")
        ax.set(xlabel="problems solved, in the set's order", ylabel="running accuracy (%)", title="Learning curve")

    return [
        figure("accuracy_vs_cost.png", costs),
        figure("convergence.png", rounds),
        figure("learning_curve.png", learning),
    ]
