"""BM25 over the store's documents, with numpy postings so a query over 100k documents stays fast."""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence

import numpy as np

_STOP = frozenset(
    {
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "by",
        "for",
        "from",
        "has",
        "have",
        "how",
        "if",
        "in",
        "is",
        "it",
        "its",
        "of",
        "on",
        "or",
        "that",
        "the",
        "then",
        "this",
        "to",
        "was",
        "what",
        "when",
        "where",
        "which",
        "who",
        "will",
        "with",
    }
)


def tokenize(text: str) -> list[str]:
    return [t for t in re.findall(r"[a-z0-9]+", text.lower()) if t not in _STOP]


class BM25Index:
    """An inverted index of documents by position; positions map back to ids through `ids`."""

    def __init__(self, k1: float = 1.5, b: float = 0.75) -> None:
        self.k1, self.b = k1, b
        self.ids: list[str] = []
        self._lengths: list[int] = []
        self._postings: dict[str, tuple[list[int], list[int]]] = {}
        self._arrays: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self._norm: np.ndarray | None = None  # per-document length normalisation, cached between adds

    def __len__(self) -> int:
        return len(self.ids)

    def add(self, ids: Sequence[str], documents: Sequence[str]) -> None:
        for id_, document in zip(ids, documents, strict=True):
            position = len(self.ids)
            self.ids.append(id_)
            self._norm = None
            counts = Counter(tokenize(document))
            self._lengths.append(sum(counts.values()))
            for term, tf in counts.items():
                docs, tfs = self._postings.setdefault(term, ([], []))
                docs.append(position)
                tfs.append(tf)
                self._arrays.pop(term, None)

    def _array(self, term: str) -> tuple[np.ndarray, np.ndarray] | None:
        if term not in self._postings:
            return None
        if term not in self._arrays:
            docs, tfs = self._postings[term]
            self._arrays[term] = (np.asarray(docs, dtype=np.int64), np.asarray(tfs, dtype=np.float32))
        return self._arrays[term]

    def search(self, query: str, top: int, mask: np.ndarray | None = None) -> list[tuple[str, float]]:
        """The `top` best (id, score) pairs; `mask[position]` False excludes a document."""
        n = len(self.ids)
        if n == 0:
            return []
        if self._norm is None:
            lengths = np.asarray(self._lengths, dtype=np.float32)
            self._norm = self.k1 * (1 - self.b + self.b * lengths / max(float(lengths.mean()), 1e-9))
        norm = self._norm
        scores = np.zeros(n, dtype=np.float32)
        for term in set(tokenize(query)):
            posting = self._array(term)
            if posting is None:
                continue
            docs, tfs = posting
            idf = math.log(1 + (n - len(docs) + 0.5) / (len(docs) + 0.5))
            scores[docs] += idf * tfs * (self.k1 + 1) / (tfs + norm[docs])
        if mask is not None:
            scores[~mask] = 0.0
        hits = np.flatnonzero(scores > 0)
        if hits.size == 0:
            return []
        best = hits[np.argsort(-scores[hits], kind="stable")[:top]]
        return [(self.ids[i], float(scores[i])) for i in best]
