"""Spreading a run over a Ray cluster: evaluators live in Ray actors, the driver alone writes results.

Each actor opens its own `Runtime` from the run's picklable `RunSpec` (its own model client and sandbox on
its machine) and evaluates several problems at once. Records (with their whole solves) come back to the
driver, which appends them to the one results file, so resuming after a kill works exactly as in a local
run, and a problem whose worker dies is solved again on a live one, never written twice.

The workers share one experience memory: the Chroma server the run names (`chroma_url`), or one the
driver starts over the run's store directory for the run's length (an embedded store belongs to one
process). The driver seeds it before any worker starts, so what one worker learns the others retrieve.

Each worker has its own model client, so the adaptive concurrency limit per endpoint is found by each
worker on its own; a server's rising latency slows them all, so together they still settle near its
capacity (a cluster-wide limit would cost a round trip to a coordinator per call).

Ray is an optional extra: `pip install 'xolver[ray]'`. Clusters started by `ray start` use Ray's token
authentication; the driver joins them as Ray's own tools do (`RAY_AUTH_MODE=token`, and the token from
`RAY_AUTH_TOKEN`, `RAY_AUTH_TOKEN_PATH` or `~/.ray/auth_token`).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from collections.abc import Iterator
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from xolver.bench.runner import BenchRecord, Evaluator
from xolver.errors import UserInputError
from xolver.memory.server import ChromaServer
from xolver.runtime import seed_shared_store
from xolver.schema import Problem, SolveResult

if TYPE_CHECKING:
    from xolver.bench.batch import RunSpec


class _EvaluatorActor:
    def __init__(self, spec: RunSpec) -> None:
        self.runtime = spec.runtime()
        self.evaluator = Evaluator.of(self.runtime, dataset=spec.dataset)
        import ray

        node = ray.get_runtime_context().get_node_id()[:8]
        self.name = f"{socket.gethostname()}:{os.getpid()} node {node}"

    async def evaluate(self, problem_json: str) -> tuple[str, str | None]:
        """The record and its solve, which the record's JSON leaves out."""
        record = await self.evaluator.evaluate(Problem.model_validate_json(problem_json))
        record = record.model_copy(update={"worker": self.name})
        return record.model_dump_json(), None if record.solve is None else record.solve.model_dump_json()

    async def close(self) -> None:
        await self.runtime.aclose()


def join_cluster(address: str | None) -> Any:
    """Ray, joined to the cluster at `address` (a local instance when None); a refusal is one line."""
    try:
        import ray
    except ImportError as exc:
        raise UserInputError("--executor ray needs Ray: pip install 'xolver[ray]'") from exc
    if ray.is_initialized():
        return ray
    if address and address not in {"auto", "local"} and "://" not in address:
        _probe(ray, address)
    try:
        ray.init(address=address, include_dashboard=False, log_to_driver=False, configure_logging=False)
    except ConnectionError as exc:
        raise UserInputError(f"cannot join the Ray cluster at {address}: {exc}") from exc
    return ray


def _probe(ray: Any, address: str) -> None:
    """Say at once what `ray.init` would take a minute of retries (and a screen of logs) to fail on: no head
    at the address, or a head that refuses the driver's token."""
    host, _, port = address.rpartition(":")
    try:
        socket.create_connection((host, int(port)), timeout=5).close()
    except (OSError, ValueError) as exc:
        raise UserInputError(f"no Ray head answers at {address} ({exc}): start one with `ray start --head`") from None
    try:
        from ray._raylet import GcsClient  # how `ray status` connects; Ray's private API, so only a probe
    except ImportError:
        return
    with _quiet_stderr():  # Ray's core logs each refused try on the process's stderr
        try:
            GcsClient(address=address)
        except ray.exceptions.AuthenticationError:
            token = "the cluster's token in RAY_AUTH_TOKEN, RAY_AUTH_TOKEN_PATH or ~/.ray/auth_token"
            if os.environ.get("RAY_AUTH_MODE", "").lower() != "token":
                hint = f"it uses token authentication: set RAY_AUTH_MODE=token, with {token}"
            else:
                hint = f"its token is not the one RAY_AUTH_MODE=token found: put {token}"
            raise UserInputError(f"the Ray cluster at {address} refused this driver; {hint}") from None
        except Exception:  # anything else: ray.init reports it
            return


@contextlib.contextmanager
def _quiet_stderr() -> Iterator[None]:
    saved = os.dup(2)
    try:
        with open(os.devnull, "wb") as devnull:
            os.dup2(devnull.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _server_host(ray: Any) -> str:
    """Where the run's Chroma server listens: loopback when the whole cluster is this machine, else this
    node's cluster address (the server has no authentication: name your own with --chroma-url to add it)."""
    here = ray.util.get_node_ip_address()
    nodes = {node["NodeManagerAddress"] for node in ray.nodes() if node.get("Alive")}
    return "127.0.0.1" if nodes <= {here} else here


class RayPool:
    """`workers` actors, each with `per_worker` problems in flight; `evaluate` is the runner's hook."""

    def __init__(self, spec: RunSpec, *, workers: int = 2, per_worker: int = 4, address: str | None = None) -> None:
        self._ray = join_cluster(address)
        self.spec, self.workers, self.per_worker = spec, workers, per_worker
        self.server: ChromaServer | None = None
        self.actors: list[Any] = []
        self._in_flight: dict[int, int] = {}

    async def start(self) -> None:
        """The shared memory (served and seeded) first, then the actors, one node after another."""
        spec, config = self.spec, self.spec.config
        if spec.method == "xolver" and config.memory != "off":
            if not config.chroma_url:
                self.server = ChromaServer(config.memory_path(), host=_server_host(self._ray))
                url = await asyncio.to_thread(self.server.start)
                spec = replace(spec, config=config.changed(chroma_url=url))
            await seed_shared_store(spec.config)
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        nodes = sorted(node["NodeID"] for node in self._ray.nodes() if node.get("Alive"))
        actor = self._ray.remote(num_cpus=0)(_EvaluatorActor)
        self.actors = [  # round robin over the nodes: Ray's SPREAD, and a soft affinity, packed them on one node
            actor.options(max_concurrency=self.per_worker, scheduling_strategy=NodeAffinitySchedulingStrategy(
                nodes[i % len(nodes)], soft=False)).remote(spec)
            for i in range(self.workers)
        ]  # fmt: skip
        self._in_flight = dict.fromkeys(range(self.workers), 0)

    async def evaluate(self, problem: Problem) -> BenchRecord:
        """On the live actor with the fewest problems in flight; again on another if that one is lost."""
        ray = self._ray
        while self._in_flight:
            index = min(self._in_flight, key=self._in_flight.__getitem__)
            self._in_flight[index] += 1
            try:
                record_json, solve_json = await self.actors[index].evaluate.remote(problem.model_dump_json())
            except (ray.exceptions.RayActorError, ray.exceptions.ActorUnschedulableError):
                self._in_flight.pop(index, None)  # lost (or its node was gone at the start): nothing more goes to it
                continue
            finally:
                if index in self._in_flight:
                    self._in_flight[index] -= 1
            solve = None if solve_json is None else SolveResult.model_validate_json(solve_json)
            return BenchRecord.model_validate_json(record_json).model_copy(update={"solve": solve})
        raise RuntimeError("every Ray worker of the run was lost")

    async def aclose(self) -> None:
        """Let every live actor close its runtime, end them all, then stop the run's Chroma server."""
        ray = self._ray
        for index, actor in enumerate(self.actors):
            if index in self._in_flight:
                with contextlib.suppress(Exception):  # lost since its last problem: nothing left to close
                    await asyncio.wait_for(actor.close.remote(), timeout=30)
            with contextlib.suppress(Exception):
                ray.kill(actor)
        self.actors = []
        if self.server is not None:
            await asyncio.to_thread(self.server.stop)
