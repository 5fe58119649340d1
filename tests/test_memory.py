"""Experience memory on a real Chroma store (hashing embedder for speed; the real embedder is `slow`)."""

from __future__ import annotations

import asyncio
import json
import random
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from helpers import make_xolver, planner_reply, printing_sandbox

from xolver import Experience
from xolver.cli import main
from xolver.llm.base import ModelRequest
from xolver.llm.testing import scripted_team
from xolver.memory import ChromaExperienceStore, HashingEmbedder
from xolver.memory.bm25 import BM25Index
from xolver.memory.fusion import drop_near_duplicates
from xolver.memory.jsonl import read_experiences, write_experiences

SEED = Path(__file__).parents[1] / "memory" / "math_seed.jsonl"


def store_at(path: Path, **kwargs: object) -> ChromaExperienceStore:
    return ChromaExperienceStore.open(path, HashingEmbedder(), min_similarity=0.05, **kwargs)  # type: ignore[arg-type]


def solution(problem: str, content: str = "worked", **kwargs: object) -> Experience:
    return Experience(kind="solution", problem=problem, content=content, verified=True, **kwargs)  # type: ignore[arg-type]


async def test_add_search_and_round_trip(tmp_path: Path) -> None:
    store = store_at(tmp_path)
    trains = solution("A train travels 120 km in 2 hours; find its speed", "60 km/h", score=0.9)
    apples = solution("How many apples remain after eating 3 of 10 apples", "7")
    await store.add([trains, apples])
    hits = await store.search("A car travels 150 km in 3 hours. What is its speed?", k=1)
    assert [h.experience.id for h in hits] == [trains.id]
    assert hits[0].experience == trains  # every field comes back
    assert await store.count() == 2


async def test_filters_by_kind_task_kind_and_verified(tmp_path: Path) -> None:
    store = store_at(tmp_path)
    await store.add(
        [
            solution("sum of the first n integers", task_kind="math"),
            solution("sum of the first n integers in python", task_kind="code"),
            Experience(kind="strategy", problem="sum of the first n integers", content="pair terms", verified=True),
            Experience(kind="solution", problem="sum of the first n odd integers", content="guess", verified=False),
        ]
    )
    query = "sum of the first n integers"
    assert {h.experience.task_kind for h in await store.search(query, k=5, task_kind="code", attach=False)} == {"code"}
    assert {h.experience.kind for h in await store.search(query, k=5, kinds=["strategy"])} == {"strategy"}
    assert all(e.verified for h in await store.search(query, k=5) for e in h.records)
    assert any(not e.verified for h in await store.search(query, k=5, trusted_only=False) for e in h.records)


class PlacedEmbedder:
    """Puts each text where a test wants it: the query on the first axis, a record at a chosen similarity."""

    name, dimensions = "placed", 3

    def __init__(self, query: str, similarity: dict[str, float]) -> None:
        self.query, self.similarity = query, similarity

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        rows = []
        for text in texts:
            s = 1.0 if text == self.query else next((v for w, v in self.similarity.items() if w in text), 0.0)
            rest = (1 - s * s) ** 0.5
            rows.append([s, rest, 0.0] if "widgets" in text else [s, 0.0, rest])
        return np.asarray(rows, dtype=np.float32)

    embed_query = embed


async def test_hybrid_finds_exact_words_that_dense_ranks_low(tmp_path: Path) -> None:
    """The rare word only BM25 sees lifts its record over ones the embedder puts nearer the query."""
    embedder = PlacedEmbedder("zorblax", {"widgets": 0.6, "zorblax": 0.55})
    records = [solution(f"problem number {i} about widgets") for i in range(20)]
    records.append(solution("the zorblax constant problem"))
    first = {}
    for mode in ("dense", "bm25", "hybrid"):
        store = ChromaExperienceStore.open(tmp_path / mode, embedder, retrieval=mode, min_similarity=-1.0)
        await store.add(records)
        first[mode] = (await store.search("zorblax", k=1))[0].experience.problem
    assert first["dense"] != "the zorblax constant problem"  # dense alone ranks it low
    assert first["bm25"] == first["hybrid"] == "the zorblax constant problem"


async def test_near_duplicates_are_dropped(tmp_path: Path) -> None:
    store = store_at(tmp_path)
    await store.add(
        [solution("What is 12 times 7?"), solution("What is 12 times 7 ?"), solution("What is 13 times 8?")]
    )
    hits = await store.search("What is 12 times 7?", k=3, attach=False)
    problems = [h.experience.problem for h in hits]
    assert problems.count("What is 12 times 7?") + problems.count("What is 12 times 7 ?") == 1


async def test_nothing_relevant_returns_nothing(tmp_path: Path) -> None:
    store = ChromaExperienceStore.open(tmp_path, HashingEmbedder(), min_similarity=0.5)
    await store.add([solution("geometry of triangles and circles")])
    assert await store.search("how do I bake bread", k=3) == []


async def test_graph_expansion_brings_the_strategy_behind_a_solution(tmp_path: Path) -> None:
    store = store_at(tmp_path)
    sol = solution("A tank fills in 6 hours with pipe A and 3 with pipe B; how long together?")
    strategy = Experience(
        kind="strategy", problem="unrelated words entirely", content="add rates not times", verified=True
    )
    sol.links.append(strategy.id)
    strategy.links.append(sol.id)
    await store.add([sol, strategy])
    hits = await store.search("pipe A fills a tank in 4 hours and pipe B in 12 hours", k=1)
    assert [h.experience.id for h in hits] == [sol.id]
    assert [e.content for e in hits[0].related] == ["add rates not times"]


async def test_record_use_counts_uses_and_successes(tmp_path: Path) -> None:
    store = store_at(tmp_path)
    exp = solution("x")
    await store.add([exp])
    await store.record_use([exp.id], success=True)
    await store.record_use([exp.id, "missing-id"], success=False)
    (got,) = await store.get([exp.id])
    assert (got.uses, got.successes) == (2, 1)


def test_restart_gives_the_same_results(tmp_path: Path) -> None:
    rng = random.Random(7)
    vocabulary = [f"w{i}" for i in range(400)]
    experiences = [solution(" ".join(rng.sample(vocabulary, 8))) for _ in range(1000)]
    store = store_at(tmp_path)
    asyncio.run(store.add(experiences))
    before = [h.experience.id for h in asyncio.run(store.search("w21 w22 w23 w300", k=5))]
    del store
    code = (
        "import asyncio, json, sys; from xolver.memory import ChromaExperienceStore, HashingEmbedder;"
        f"s = ChromaExperienceStore.open({str(tmp_path)!r}, HashingEmbedder(), min_similarity=0.05);"
        "print(json.dumps([h.experience.id for h in asyncio.run(s.search('w21 w22 w23 w300', k=5))]))"
    )
    after = json.loads(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)
    assert after == before and len(before) == 5


async def test_export_then_import_into_an_empty_store(tmp_path: Path) -> None:
    source = store_at(tmp_path / "a")
    experiences, bad = read_experiences(SEED)
    assert bad == [] and len(experiences) == 30
    await source.add(experiences)
    assert write_experiences(tmp_path / "out.jsonl", await source.all()) == 30
    target = store_at(tmp_path / "b")
    again, _ = read_experiences(tmp_path / "out.jsonl")
    await target.add(again)
    assert await target.count() == 30
    assert sorted(e.id for e in await target.all()) == sorted(e.id for e in experiences)


def test_bad_jsonl_lines_are_reported_by_number_and_skipped(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = solution("fine problem").model_dump_json()
    path = tmp_path / "mixed.jsonl"
    path.write_text(f'{good}\n{{"kind": "solution"\n\n{{"kind": "poem", "problem": "p", "content": "c"}}\n{good}\n')
    code = main(["memory", "import", str(path), "--memory-dir", str(tmp_path / "store")])
    captured = capsys.readouterr()
    assert code == 0 and "imported 2 experiences (2 self, trusted), skipped 2 bad lines" in captured.out
    assert f"{path}:2: skipped: not JSON" in captured.err and f"{path}:4: skipped: kind" in captured.err


def test_a_file_of_only_bad_lines_exits_2(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text("nope\n")
    assert main(["memory", "import", str(path), "--memory-dir", str(tmp_path / "s")]) == 2
    assert main(["memory", "import", str(tmp_path / "missing.jsonl"), "--memory-dir", str(tmp_path / "s")]) == 2


def test_seed_code_fragments_run() -> None:
    experiences, _ = read_experiences(SEED)
    fragments = [e for e in experiences if e.kind == "code_fragment"]
    assert len(fragments) == 10
    for fragment in fragments:
        command = [sys.executable, "-c", fragment.content]
        done = subprocess.run(command, input="1 2 3", capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, (fragment.id, done.stderr)


async def test_prune_removes_unhelpful_and_duplicate_experiences(tmp_path: Path) -> None:
    store = store_at(tmp_path)
    useless, keeper, duplicate = solution("a a a"), solution("b b b", score=1.0), solution("b b b", score=0.1)
    await store.add([useless, keeper, duplicate])
    for _ in range(3):
        await store.record_use([useless.id], success=False)
    assert sorted(await store.prune(dry_run=True)) == sorted([useless.id, duplicate.id])
    assert await store.count() == 3
    await store.prune()
    assert [e.id for e in await store.all()] == [keeper.id]


async def test_prune_drops_own_records_of_weak_evidence_and_keeps_curated_ones(tmp_path: Path) -> None:
    """What a weaker verification rule let in (a judge's word alone) goes; a seed record of the same low
    confidence is curated and stays, and so does the team's own record of strong evidence."""
    store = store_at(tmp_path)
    weak = solution("c c c").model_copy(update={"confidence": 0.3, "source": "self", "verified": True})
    strong = solution("d d d").model_copy(update={"confidence": 0.95, "source": "self", "verified": True})
    seed = solution("e e e").model_copy(update={"confidence": 0.3, "source": "seed"})
    await store.add([weak, strong, seed])
    assert await store.prune(min_confidence=0.6, dry_run=True) == [weak.id]
    assert await store.prune() == [], "no confidence floor by default"
    await store.prune(min_confidence=0.6)
    assert sorted(e.id for e in await store.all()) == sorted([strong.id, seed.id])


def test_memory_on_versus_off_over_related_problems(tmp_path: Path) -> None:
    """Solving a sequence of related problems: with memory, later solvers see earlier verified work."""

    def solver(request: ModelRequest) -> str:
        n = request.prompt.split("Problem:\n")[1].split()[2]
        return f"Multiply: {n} * 3 = {int(n) * 3}. \\boxed{{{int(n) * 3}}}"

    def run(store: ChromaExperienceStore | None) -> tuple[list, object]:
        def verifier(request: ModelRequest) -> str:
            n = request.prompt.split("Problem:\n")[1].split()[2]
            return f"```python\nprint({n} * 3)\n```"

        model = scripted_team(planner=planner_reply, solver=solver, judge="Score: 1", verifier=verifier)
        xolver = make_xolver(model, store, printing_sandbox(), iterations=1, exemplars=2)
        problems = [f"Each of {n} boxes holds 3 pens. How many pens?" for n in (4, 5, 6)]
        return [xolver.solve(p) for p in problems], model

    with_memory, model_on = run(store_at(tmp_path))
    without, model_off = run(None)

    assert with_memory[0].exemplars == [] and with_memory[1].exemplars and with_memory[2].exemplars
    assert all(r.exemplars == [] for r in without)
    later_prompts = [r.prompt for r in model_on.requests if r.role == "solver"][3:]
    assert all("Solved examples from the team's experience" in p for p in later_prompts)
    assert all("Solved examples" not in r.prompt for r in model_off.requests)
    first = with_memory[0]
    written = asyncio.run(store_at(tmp_path).get(first.memory_writes))
    assert {e.kind for e in written} == {"solution", "strategy", "code_fragment"}  # the check's program, kept
    for e in written:
        assert e.provenance == {"run_id": first.run_id, "problem_id": first.problem.id, "model": "scripted",
                                "rule": "evidence"}  # fmt: skip
        assert e.verified and e.source == "self"
    used = asyncio.run(store_at(tmp_path).get([with_memory[1].exemplars[0].id]))
    assert used[0].uses >= 1 and used[0].successes >= 1


def test_bm25_ranks_rare_words_higher() -> None:
    index = BM25Index()
    index.add(["a", "b", "c"], ["the cat sat", "the dog sat", "a rare aardvark sat"])
    assert index.search("aardvark sat", 3)[0][0] == "c"
    assert index.search("nothing matches", 3) == []


def test_drop_near_duplicates_keeps_order() -> None:
    v = np.array([[1, 0], [0.999, 0.0447], [0, 1]], dtype=np.float32)
    assert drop_near_duplicates(["x", "y", "z"], v) == ["x", "z"]


async def test_a_selective_filter_still_finds_the_rare_matches(tmp_path: Path) -> None:
    store = store_at(tmp_path)
    await store.add([solution(f"train speed problem {i}", task_kind="math") for i in range(300)])
    rare = [solution("train speed program in python", task_kind="code"), solution("train speed code", task_kind="code")]
    await store.add(rare)
    hits = await store.search("train speed problem", k=2, task_kind="code")
    assert sorted(h.experience.id for h in hits) == sorted(e.id for e in rare)


async def test_searches_while_other_solves_write_never_read_a_half_added_index(tmp_path: Path) -> None:
    """Eight solves of one batch search and write one store at once (threads under asyncio.to_thread): a search
    that read the lexical index between a writer's two updates of it failed with 'operands could not be
    broadcast together' (seen on a simulated model's learning run)."""
    store = store_at(tmp_path)
    await store.add([solution(f"A shop sells {n} pens in a box; how many pens in {n + 3} boxes?") for n in range(40)])
    rng = random.Random(3)

    async def write(n: int) -> None:
        await store.add([solution(f"A farm has {n} goats and {n + 7} hens; how many legs in all?")])

    async def read(n: int) -> None:
        await store.search(f"how many legs do {rng.randint(1, 99)} goats have", k=3, exclude=f"{n} pens")

    for _ in range(3):
        await asyncio.gather(*(write(n) if n % 2 else read(n) for n in range(60)))
    assert await store.count() == 40 + 90
    await store.aclose()
