"""Combining ranked lists and removing near-duplicates."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

RRF_K = 60  # the usual constant: ranks beyond the first few matter little


def reciprocal_rank_fusion(rankings: Sequence[Sequence[str]], k: int = RRF_K) -> list[tuple[str, float]]:
    """Ids ranked by the sum of 1 / (k + rank) over every ranking they appear in."""
    scores: dict[str, float] = {}
    for ranking in rankings:
        for rank, id_ in enumerate(ranking, 1):
            scores[id_] = scores.get(id_, 0.0) + 1.0 / (k + rank)
    return sorted(scores.items(), key=lambda item: (-item[1], item[0]))  # ties by id: reproducible


def drop_near_duplicates(ids: Sequence[str], vectors: np.ndarray, threshold: float = 0.97) -> list[str]:
    """Keep ids in order, dropping any whose (normalised) vector is within `threshold` of a kept one."""
    kept: list[int] = []
    for i in range(len(ids)):
        if not kept or float(np.max(vectors[kept] @ vectors[i])) < threshold:
            kept.append(i)
    return [ids[i] for i in kept]
