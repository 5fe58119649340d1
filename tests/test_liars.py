"""Models that must verify nothing: a constant liar (42 to everything, a program printing it, full marks for
itself), an echo (the first exemplar's answer) and a copier (the first exemplar's program unchanged), each
answering the independent check as it answered the problem. Over 20 dev problems with the seed bank in
memory and learning on: nothing verified, nothing written."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import make_xolver

from xolver import InMemoryExperienceStore
from xolver.bench.datasets import load_problems
from xolver.memory.jsonl import read_experiences
from xolver.runtime import seed_banks
from xolver.sandbox import ProcessSandbox
from xolver.team.simulated import SimulatedModel, Skill

DEV = Path(__file__).parent / "data" / "sim_dev.jsonl"


def seeded_store() -> InMemoryExperienceStore:
    return InMemoryExperienceStore([e for bank in seed_banks("default") for e in read_experiences(bank)[0]])


@pytest.fixture(scope="module")
def box() -> ProcessSandbox:
    return ProcessSandbox()


@pytest.mark.parametrize("liar", ["constant", "echo", "copier"])
async def test_a_liar_verifies_nothing_and_writes_nothing(liar: str, box: ProcessSandbox) -> None:
    problems = load_problems(DEV)[0][:20]
    store = seeded_store()
    before = len(store.experiences)
    async with make_xolver(SimulatedModel(problems, Skill(liar=liar)), store, box, recall=True) as team:
        results = await team.asolve_many(problems)
    assert [r.verified for r in results] == [False] * 20
    assert len(store.experiences) == before and not any(r.memory_writes for r in results)
    shown = sum(bool(r.exemplars) for r in results)
    assert shown >= 15, "the liars were shown exemplars to echo and copy"
    if liar != "constant":  # it did echo or copy what it was shown: its answers are not all 42
        assert len({r.answer for r in results}) > 1


@pytest.mark.real_model
async def test_the_fake_server_serves_a_liar_that_verifies_nothing(box: ProcessSandbox) -> None:
    """The same liar over HTTP (`tools/fake_server.py --simulate liar=constant`), through litellm."""
    import sys

    sys.path.insert(0, str(Path(__file__).parents[1] / "tools"))
    from fake_server import spawn

    from xolver import Xolver

    problems = load_problems(DEV)[0][:20]
    process, api_base = spawn(["--simulate", "liar=constant", "--problems", str(DEV), "--rate", "200000",
                               "--ttft", "0.01"])  # fmt: skip
    store = seeded_store()
    try:
        async with Xolver(model="openai/my-model", api_base=api_base, sandbox=box, store=store,
                          memory="learn") as team:  # fmt: skip
            results = await team.asolve_many(problems)
    finally:
        process.terminate()
        process.wait()
    assert {r.answer for r in results} == {"42"} and not any(r.verified for r in results)
    assert not any(r.memory_writes for r in results)
