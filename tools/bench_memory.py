"""Retrieval latency of the experience store at 1k, 10k and 100k experiences.

Documents are embedded once with the hashing embedder (precomputed vectors, as a large import would
bring), queries go through the full `search` path: embed, dense query, BM25, fusion, similarity floor,
near-duplicate removal and graph expansion. Dense-only and BM25-only runs on the same store, same
queries, are printed beside hybrid, and so is the cost of encoding a query with the real MiniLM model.

    python tools/bench_memory.py [--sizes 1000 10000 100000] [--queries 200]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import tempfile
import time

from xolver import Experience
from xolver.memory import ChromaExperienceStore, HashingEmbedder

WORDS = [f"{a}{b}" for a in ("tri", "quad", "pent", "hex", "sept", "oct", "non", "dec") for b in range(120)]
NOUNS = ["train", "circle", "prime", "dice", "pipe", "age", "interest", "series", "angle", "apple", "grid", "coin"]


def experiences(n: int, rng: random.Random) -> list[Experience]:
    out = []
    for i in range(n):
        words = " ".join(rng.sample(WORDS, 6) + rng.sample(NOUNS, 2))
        kind = ("solution", "strategy", "code_fragment")[i % 3]
        out.append(
            Experience(kind=kind, problem=f"problem {i}: {words}", content=f"solved with {words}", verified=True)
        )
    return out


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def measure(store: ChromaExperienceStore, queries: list[str]) -> tuple[float, float]:
    await store.search(queries[0], k=5)  # warm: BM25 index built, caches filled
    times = []
    for query in queries:
        start = time.perf_counter()
        await store.search(query, k=5)
        times.append((time.perf_counter() - start) * 1000)
    return percentile(times, 0.5), percentile(times, 0.95)


async def run(sizes: list[int], n_queries: int) -> None:
    rng = random.Random(0)
    queries = [" ".join(rng.sample(WORDS, 4) + rng.sample(NOUNS, 1)) for _ in range(n_queries)]
    print(f"{'experiences':>11} | {'build s':>7} | {'hybrid p50':>10} | {'hybrid p95':>10} | {'dense p95':>9} | "
          f"{'bm25 p95':>8} | {'hybrid/dense p95':>16}")  # fmt: skip
    print("-" * 96)
    for size in sizes:
        with tempfile.TemporaryDirectory() as directory:
            store = ChromaExperienceStore.open(directory, HashingEmbedder(), min_similarity=0.0)
            start = time.perf_counter()
            data = experiences(size, rng)
            for i in range(0, size, 5000):
                await store.add(data[i : i + 5000])
            build = time.perf_counter() - start
            hybrid = await measure(store, queries)
            store.retrieval = "dense"
            dense = await measure(store, queries)
            store.retrieval = "bm25"
            bm25 = await measure(store, queries)
            print(f"{size:>11,} | {build:>7.1f} | {hybrid[0]:>8.1f}ms | {hybrid[1]:>8.1f}ms | {dense[1]:>7.1f}ms | "
                  f"{bm25[1]:>6.1f}ms | {hybrid[1] / dense[1]:>15.2f}x")  # fmt: skip
    try:
        from xolver.memory import SentenceTransformerEmbedder

        embedder = SentenceTransformerEmbedder()
        embedder.embed_query(["warm up"])
        encode = []
        for query in queries[:50]:
            start = time.perf_counter()
            embedder.embed_query([query])
            encode.append((time.perf_counter() - start) * 1000)
        print(f"\nMiniLM query encoding (added to every search with the real embedder): "
              f"p50 {percentile(encode, 0.5):.1f}ms, p95 {percentile(encode, 0.95):.1f}ms")  # fmt: skip
    except Exception as exc:  # the benchmark still reports the store without the embedder installed
        print(f"\nMiniLM query encoding not measured: {exc}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 100000])
    parser.add_argument("--queries", type=int, default=200)
    args = parser.parse_args()
    asyncio.run(run(args.sizes, args.queries))


if __name__ == "__main__":
    main()
