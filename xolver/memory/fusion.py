"""Removing near-duplicates from a ranking."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def drop_near_duplicates(ids: Sequence[str], vectors: np.ndarray, threshold: float = 0.97) -> list[str]:
    """Keep ids in order, dropping any whose (normalised) vector is within `threshold` of a kept one."""
    kept: list[int] = []
    for i in range(len(ids)):
        if not kept or float(np.max(vectors[kept] @ vectors[i])) < threshold:
            kept.append(i)
    return [ids[i] for i in kept]
