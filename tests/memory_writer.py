"""A writer process for the memory tests: adds numbered experiences in batches, reporting each commit.

python memory_writer.py (--dir PATH | --url URL) --prefix P --batches N --size S
"""

from __future__ import annotations

import argparse
import asyncio

from xolver import Experience
from xolver.memory import ChromaExperienceStore, HashingEmbedder


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dir")
    parser.add_argument("--url")
    parser.add_argument("--prefix", required=True)
    parser.add_argument("--batches", type=int, default=10)
    parser.add_argument("--size", type=int, default=100)
    args = parser.parse_args()
    embedder = HashingEmbedder()
    store = (
        ChromaExperienceStore.connect(args.url, embedder)
        if args.url
        else ChromaExperienceStore.open(args.dir, embedder)
    )
    for batch in range(args.batches):
        experiences = [
            Experience(
                id=f"{args.prefix}-{batch}-{i}",
                kind="solution",
                problem=f"{args.prefix} problem {batch} {i} about trains and speeds",
                content=f"answer {batch * args.size + i}",
                verified=True,
            )
            for i in range(args.size)
        ]
        await store.add(experiences)
        print(f"committed {batch}", flush=True)


if __name__ == "__main__":
    asyncio.run(main())
