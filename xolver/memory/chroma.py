"""`ChromaExperienceStore`: experience memory in Chroma, retrieved by meaning and by words.

Embedded (`PersistentClient` in a directory, one writer at a time through a file lock, crash-safe by
Chroma's write-ahead log) or shared (`HttpClient` to a Chroma server, for many machines). Retrieval
fuses dense and BM25 rankings by reciprocal rank, drops hits below a similarity floor and near-
duplicates, and expands through the experience graph to the strategies and fragments linked to a hit.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlparse

import numpy as np
from filelock import FileLock

from xolver.errors import ConfigError
from xolver.memory.base import ExperienceHit
from xolver.memory.bm25 import BM25Index
from xolver.memory.embeddings import Embedder
from xolver.memory.fusion import drop_near_duplicates, reciprocal_rank_fusion
from xolver.memory.graph import ExperienceGraph
from xolver.schema import Experience, TaskKind

COLLECTION = "xolver-experiences"
RetrievalMode = Literal["hybrid", "dense", "bm25"]
_PAGE = 5000  # Chroma's batch limit is a little above this


def search_text(experience: Experience) -> str:
    """What is embedded and indexed: the problem for a solution, the insight and its problem otherwise."""
    if experience.kind == "solution":
        return experience.problem
    return f"{experience.content}\n{experience.problem}"


def _document(experience: Experience) -> str:
    """The stored document is the record itself; use counts live in metadata, where they are updated."""
    return experience.model_dump_json(exclude={"uses", "successes"})


def _to_metadata(experience: Experience) -> dict[str, Any]:
    """Small metadata: what filters read, fetched for every candidate; the record is fetched for hits only."""
    return {
        "kind": experience.kind,
        "task_kind": experience.task_kind,
        "source": experience.source,
        "verified": experience.verified,
        "score": float(experience.score),
        "uses": experience.uses,
        "successes": experience.successes,
    }


def _from_row(document: str, metadata: dict[str, Any]) -> Experience:
    experience = Experience.model_validate_json(document)
    experience.uses = int(metadata.get("uses", 0))
    experience.successes = int(metadata.get("successes", 0))
    return experience


def _where(task_kind: TaskKind | None, verified_only: bool, kinds: Sequence[str] | None) -> dict[str, Any] | None:
    conditions: list[dict[str, Any]] = []
    if task_kind is not None:
        conditions.append({"task_kind": task_kind})
    if verified_only:
        conditions.append({"verified": True})
    if kinds:
        conditions.append({"kind": {"$in": list(kinds)}})
    if not conditions:
        return None
    return conditions[0] if len(conditions) == 1 else {"$and": conditions}


def _passes(
    metadata: dict[str, Any], task_kind: TaskKind | None, verified_only: bool, kinds: Sequence[str] | None
) -> bool:
    """The filters of `_where`, applied to one record's metadata here rather than by Chroma."""
    if task_kind is not None and metadata["task_kind"] != task_kind:
        return False
    if verified_only and not metadata["verified"]:
        return False
    return not kinds or metadata["kind"] in kinds


class _Index:
    """BM25 and the graph, rebuilt from the collection when another writer has changed it."""

    def __init__(self) -> None:
        self.bm25 = BM25Index()
        self.graph = ExperienceGraph()
        self.kind: list[str] = []
        self.task_kind: list[str] = []
        self.verified: list[bool] = []
        self._arrays: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None

    def add(self, ids: Sequence[str], documents: Sequence[str], metadatas: Sequence[dict[str, Any]]) -> None:
        records = [json.loads(d) for d in documents]
        self.bm25.add(ids, [search_text(Experience.model_construct(**r)) for r in records])
        for id_, record in zip(ids, records, strict=True):
            self.graph.add(id_, record.get("links", []))
        for m in metadatas:
            self.kind.append(m["kind"])
            self.task_kind.append(m["task_kind"])
            self.verified.append(bool(m["verified"]))
        self._arrays = None

    def mask(self, task_kind: TaskKind | None, verified_only: bool, kinds: Sequence[str] | None) -> np.ndarray:
        if self._arrays is None:
            self._arrays = (np.asarray(self.kind), np.asarray(self.task_kind), np.asarray(self.verified, dtype=bool))
        kind, task, verified = self._arrays
        mask = np.ones(len(kind), dtype=bool)
        if task_kind is not None:
            mask &= task == task_kind
        if verified_only:
            mask &= verified
        if kinds:
            mask &= np.isin(kind, list(kinds))
        return mask


class ChromaExperienceStore:
    """Experience memory over a Chroma collection. All methods are async; Chroma runs in worker threads."""

    def __init__(
        self,
        client: Any,
        embedder: Embedder,
        *,
        collection: str = COLLECTION,
        lock_path: Path | None = None,
        retrieval: RetrievalMode = "hybrid",
        min_similarity: float = 0.3,
        location: str = "",
    ) -> None:
        self.client = client
        self.embedder = embedder
        self.collection = client.get_or_create_collection(
            collection, embedding_function=None, configuration={"hnsw": {"space": "cosine"}}
        )
        self.retrieval = retrieval
        self.min_similarity = min_similarity
        self.location = location
        self._file_lock = FileLock(str(lock_path)) if lock_path is not None else None
        self._state = threading.RLock()
        self._index: _Index | None = None
        self._count: tuple[float, int] | None = None  # (when, count): count() costs ~15 ms at 100k

    @classmethod
    def open(cls, path: str | Path, embedder: Embedder, **kwargs: Any) -> ChromaExperienceStore:
        """The embedded store in directory `path` (created if missing)."""
        import chromadb
        from chromadb.config import Settings

        path = Path(path).expanduser()
        path.mkdir(parents=True, exist_ok=True)
        client = chromadb.PersistentClient(path=str(path), settings=Settings(anonymized_telemetry=False))
        return cls(client, embedder, lock_path=path / ".write.lock", location=str(path), **kwargs)

    @classmethod
    def connect(cls, url: str, embedder: Embedder, **kwargs: Any) -> ChromaExperienceStore:
        """A store on a Chroma server, e.g. `http://127.0.0.1:8000`."""
        import chromadb
        from chromadb.config import Settings

        parsed = urlparse(url)
        if parsed.scheme not in {"http", "https"} or not parsed.hostname:
            raise ConfigError(f"chroma URL must look like http://HOST:PORT, got {url!r}")
        port = parsed.port or (443 if parsed.scheme == "https" else 8000)
        try:
            client = chromadb.HttpClient(
                host=parsed.hostname, port=port, ssl=parsed.scheme == "https",
                settings=Settings(anonymized_telemetry=False),
            )  # fmt: skip
        except Exception as exc:  # chromadb raises plain exceptions for a dead server
            raise ConfigError(f"cannot reach the Chroma server at {url}: {exc}") from exc
        return cls(client, embedder, location=url, **kwargs)

    # -- writing ------------------------------------------------------------------------------------

    @contextmanager
    def _writing(self) -> Iterator[None]:
        """One writer at a time: across threads, and across processes for an embedded store."""
        with self._state:
            if self._file_lock is None:
                yield
            else:
                with self._file_lock:
                    yield

    async def add(self, experiences: Sequence[Experience]) -> list[str]:
        experiences = list({e.id: e for e in experiences}.values())  # one record per id: the last wins
        if not experiences:
            return []
        vectors = await asyncio.to_thread(self.embedder.embed, [search_text(e) for e in experiences])
        await asyncio.to_thread(self._add_sync, experiences, [_document(e) for e in experiences], vectors)
        return [e.id for e in experiences]

    def _add_sync(self, experiences: list[Experience], documents: list[str], vectors: np.ndarray) -> None:
        ids = [e.id for e in experiences]
        metadatas = [_to_metadata(e) for e in experiences]
        with self._writing():
            self._count = None
            for start in range(0, len(ids), _PAGE):
                end = start + _PAGE
                self.collection.upsert(
                    ids=ids[start:end], embeddings=vectors[start:end], documents=documents[start:end],
                    metadatas=metadatas[start:end],
                )  # fmt: skip
            if self._index is not None:
                known = set(self._index.bm25.ids)
                if any(i in known for i in ids):
                    self._index = None  # an update: rebuild on the next search
                else:
                    self._index.add(ids, documents, metadatas)

    async def record_use(self, ids: Sequence[str], *, success: bool) -> None:
        if ids:
            await asyncio.to_thread(self._record_use_sync, list(ids), success)

    def _record_use_sync(self, ids: list[str], success: bool) -> None:
        with self._writing():
            got = self.collection.get(ids=ids, include=["metadatas"])
            metadatas = []
            for metadata in got["metadatas"]:
                metadata = dict(metadata)
                metadata["uses"] = int(metadata.get("uses", 0)) + 1
                metadata["successes"] = int(metadata.get("successes", 0)) + int(success)
                metadatas.append(metadata)
            if got["ids"]:
                self.collection.update(ids=got["ids"], metadatas=metadatas)

    async def delete(self, ids: Sequence[str]) -> None:
        if ids:
            await asyncio.to_thread(self._delete_sync, list(ids))

    def _delete_sync(self, ids: list[str]) -> None:
        with self._writing():
            self._count = None
            for start in range(0, len(ids), _PAGE):
                self.collection.delete(ids=ids[start : start + _PAGE])
            self._index = None

    async def aclose(self) -> None:
        """Drop the in-process index; Chroma's client keeps no connection of its own to close."""
        with self._state:
            self._index = None

    # -- reading ------------------------------------------------------------------------------------

    async def count(self) -> int:
        return int(await asyncio.to_thread(self.collection.count))

    async def get(self, ids: Sequence[str]) -> list[Experience]:
        by_id = await asyncio.to_thread(self._records, list(ids))
        return [by_id[i] for i in ids if i in by_id]

    def _records(self, ids: list[str]) -> dict[str, Experience]:
        if not ids:
            return {}
        got = self.collection.get(ids=ids, include=["documents", "metadatas"])
        return {i: _from_row(d, m) for i, d, m in zip(got["ids"], got["documents"], got["metadatas"], strict=True)}

    def iter_all(self, *fields: str) -> Iterator[Any]:
        """Pages of Chroma's `get` over the whole collection, fetching only `fields` (and ids)."""
        offset = 0
        while True:
            got = self.collection.get(include=list(fields), limit=_PAGE, offset=offset)
            if not got["ids"]:
                return
            yield got
            offset += len(got["ids"])

    async def all(self) -> list[Experience]:
        def collect() -> list[Experience]:
            return [
                _from_row(d, m)
                for got in self.iter_all("documents", "metadatas")
                for d, m in zip(got["documents"], got["metadatas"], strict=True)
            ]

        return await asyncio.to_thread(collect)

    async def stats(self) -> dict[str, Any]:
        """Counts from the small metadata alone: no record is parsed."""

        def collect() -> list[dict[str, Any]]:
            return [m for got in self.iter_all("metadatas") for m in got["metadatas"]]

        metadatas = await asyncio.to_thread(collect)
        return {
            "count": len(metadatas),
            "kinds": dict(Counter(m["kind"] for m in metadatas)),
            "sources": dict(Counter(m["source"] for m in metadatas)),
            "verified": sum(bool(m["verified"]) for m in metadatas),
            "location": self.location,
            "embedder": self.embedder.name,
        }

    def _total(self) -> int:
        """The record count, re-read at most once a second (other writers may share a server)."""
        now = time.monotonic()
        if self._count is None or now - self._count[0] > 1.0:
            self._count = (now, int(self.collection.count()))
        return self._count[1]

    def _ensure_index(self) -> _Index:
        with self._state:
            if self._index is not None and len(self._index.bm25) == self._total():
                return self._index
            index = _Index()
            for got in self.iter_all("documents", "metadatas"):
                index.add(got["ids"], got["documents"], got["metadatas"])
            self._index = index
            return index

    async def search(
        self,
        query: str,
        *,
        k: int,
        task_kind: TaskKind | None = None,
        verified_only: bool = True,
        kinds: Sequence[str] | None = None,
        expand: bool = True,
    ) -> list[ExperienceHit]:
        if k <= 0 or not query.strip():
            return []
        vector = (await asyncio.to_thread(self.embedder.embed, [query]))[0]
        return await asyncio.to_thread(self._search_sync, query, vector, k, task_kind, verified_only, kinds, expand)

    def _search_sync(
        self,
        query: str,
        vector: np.ndarray,
        k: int,
        task_kind: TaskKind | None,
        verified_only: bool,
        kinds: Sequence[str] | None,
        expand: bool,
    ) -> list[ExperienceHit]:
        total = self._total()
        if total == 0:
            return []
        pool = min(total, max(4 * k, 20))
        rankings: list[list[str]] = []
        found: dict[str, tuple[dict[str, Any], np.ndarray]] = {}
        if self.retrieval in ("hybrid", "dense"):
            dense = self._dense(vector, pool, total, task_kind, verified_only, kinds)
            rankings.append([i for i, _, _ in dense])
            found.update((i, (m, e)) for i, m, e in dense)
        if self.retrieval in ("hybrid", "bm25"):
            index = self._ensure_index()
            lexical = index.bm25.search(query, pool, index.mask(task_kind, verified_only, kinds))
            rankings.append([i for i, _ in lexical])
        fused = reciprocal_rank_fusion(rankings)
        self._fetch([i for i, _ in fused if i not in found], found)
        similarity = {i: float(found[i][1] @ vector) for i, _ in fused if i in found}
        ranked = [(i, s) for i, s in fused if similarity.get(i, -1.0) >= self.min_similarity]
        if not ranked:
            return []
        ids = drop_near_duplicates([i for i, _ in ranked], np.stack([found[i][1] for i, _ in ranked]))[:k]
        scores = dict(ranked)
        records = self._records(ids)
        hits = [ExperienceHit(experience=records[i], score=scores[i], similarity=similarity[i]) for i in ids]
        if expand:
            hits += self._expand(ids, k, task_kind, verified_only, kinds, vector)
        return hits

    def _dense(
        self,
        vector: np.ndarray,
        pool: int,
        total: int,
        task_kind: TaskKind | None,
        verified_only: bool,
        kinds: Sequence[str] | None,
    ) -> list[tuple[str, dict[str, Any], np.ndarray]]:
        """The `pool` nearest experiences that pass the filters.

        Chroma's `where` scans metadata (40 ms at 10k records here), so the nearest 4 x pool are fetched
        unfiltered and filtered here; only when that leaves too few is the filter handed to Chroma.
        """
        include = ["metadatas", "embeddings"]
        fetch = min(total, 4 * pool)
        got = self.collection.query(query_embeddings=[vector], n_results=fetch, include=include)
        rows = [
            (i, m, np.asarray(e, dtype=np.float32))
            for i, m, e in zip(got["ids"][0], got["metadatas"][0], got["embeddings"][0], strict=True)
            if _passes(m, task_kind, verified_only, kinds)
        ]
        where = _where(task_kind, verified_only, kinds)
        if len(rows) < pool and fetch < total and where is not None:
            got = self.collection.query(query_embeddings=[vector], n_results=pool, where=where, include=include)
            rows = [
                (i, m, np.asarray(e, dtype=np.float32))
                for i, m, e in zip(got["ids"][0], got["metadatas"][0], got["embeddings"][0], strict=True)
            ]
        return rows[:pool]

    def _fetch(self, ids: list[str], found: dict[str, tuple[dict[str, Any], np.ndarray]]) -> None:
        if ids:
            got = self.collection.get(ids=ids, include=["metadatas", "embeddings"])
            for i, m, e in zip(got["ids"], got["metadatas"], got["embeddings"], strict=True):
                found[i] = (m, np.asarray(e, dtype=np.float32))

    def _expand(
        self,
        ids: list[str],
        k: int,
        task_kind: TaskKind | None,
        verified_only: bool,
        kinds: Sequence[str] | None,
        vector: np.ndarray,
    ) -> list[ExperienceHit]:
        """Up to `k` experiences linked to the hits (the strategy and fragments behind a solution)."""
        linked = self._ensure_index().graph.neighbours(ids)
        if not linked:
            return []
        found: dict[str, tuple[dict[str, Any], np.ndarray]] = {}
        self._fetch(linked, found)
        kept = [i for i in linked if i in found and _passes(found[i][0], task_kind, verified_only, kinds)][:k]
        records = self._records(kept)
        return [
            ExperienceHit(experience=records[i], score=0.0, similarity=float(found[i][1] @ vector), via="graph")
            for i in kept
        ]

    async def prune(self, *, min_uses: int = 3, duplicate_similarity: float = 0.98, dry_run: bool = False) -> list[str]:
        """Remove experiences that never helped after `min_uses` uses, and near-duplicates of a better one.

        Of two near-duplicates of one kind, the one with more successes (then higher score) stays.
        """

        def plan() -> list[str]:
            rows: list[tuple[str, dict[str, Any], np.ndarray]] = []
            for got in self.iter_all("metadatas", "embeddings"):
                rows += [
                    (i, m, np.asarray(e, dtype=np.float32))
                    for i, m, e in zip(got["ids"], got["metadatas"], got["embeddings"], strict=True)
                ]
            doomed = {i for i, m, _ in rows if int(m.get("uses", 0)) >= min_uses and int(m.get("successes", 0)) == 0}
            rows = [r for r in rows if r[0] not in doomed]
            rows.sort(key=lambda r: (int(r[1].get("successes", 0)), float(r[1].get("score", 0.0))), reverse=True)
            for kind in {m["kind"] for _, m, _ in rows}:
                group = [r for r in rows if r[1]["kind"] == kind]
                if not group:
                    continue
                keep = set(
                    drop_near_duplicates([r[0] for r in group], np.stack([r[2] for r in group]), duplicate_similarity)
                )
                doomed |= {r[0] for r in group if r[0] not in keep}
            return sorted(doomed)

        doomed = await asyncio.to_thread(plan)
        if not dry_run:
            await self.delete(doomed)
        return doomed
