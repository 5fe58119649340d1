"""`ChromaExperienceStore`: experience memory in Chroma, retrieved by meaning and by words.

Embedded (`PersistentClient` in a directory, crash-safe by Chroma's write-ahead log, held by one process:
Chroma keeps each collection's index in the process, so a second process would read and write a stale one)
or shared (`HttpClient` to a Chroma server, for many processes and machines; `server.py` starts one over an
embedded store's directory).

Two collections: the records (the record itself as the document, small metadata for filters, and the
embedding of its problem, which identifies the problem) and their views (one embedding per view: problem,
content, "when this applies"; see `views.py`). Retrieval takes the records with a view nearest the query
and the best BM25 matches over all views, ranks them by their mean view similarity plus a share of their
BM25 score and a nudge for their confidence, drops what falls below a similarity floor or too far below
the best hit, never returns the problem being solved, and gives each solved problem one slot, with the
other records of that problem attached. tools/bench_retrieval.py measured each of these choices.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import threading
import time
import weakref
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlparse

import numpy as np

from xolver.errors import ConfigError
from xolver.memory.base import ExperienceHit
from xolver.memory.bm25 import BM25Index
from xolver.memory.embeddings import Embedder
from xolver.memory.fusion import drop_near_duplicates
from xolver.memory.graph import ExperienceGraph
from xolver.memory.views import (
    DEFAULT_VIEWS,
    ViewName,
    lexical_text,
    problem_hash,
    problem_key,
    same_problem,
    view_texts,
)
from xolver.schema import Experience, TaskKind

COLLECTION = "xolver-experiences"
VIEWS_COLLECTION = "xolver-experience-views"
RetrievalMode = Literal["hybrid", "dense", "bm25"]
MIN_SIMILARITY = 0.1  # calibrated on tests/data/retrieval with all-MiniLM-L6-v2 (tools/bench_retrieval.py)
RELATIVE_CUT = 0.2  # a slot this far below the best similarity is dropped: on the set it cost no right hit
LEXICAL_WEIGHT = 0.1  # a record's rank score is its mean view similarity + this * its BM25 score / the best one's
CONFIDENCE_PRIOR = 0.02  # ... + this * (confidence - 0.5): stronger evidence wins a near tie
MAX_RELATED = 3  # records of the same problem attached to its slot
DUPLICATE = 0.97  # problem similarity above which two slots show the same problem
_PAGE = 5000  # Chroma's batch limit is a little above this
_RELATED_ORDER = {"strategy": 0, "solution": 1, "code_fragment": 2}


def _document(experience: Experience) -> str:
    """The stored document is the record itself; use counts live in metadata, where they are updated."""
    return experience.model_dump_json(exclude={"uses", "successes"})


def _to_metadata(experience: Experience) -> dict[str, Any]:
    """Small metadata: what filters and ranking read, fetched for every candidate; the record is fetched
    for hits only."""
    return {
        "kind": experience.kind,
        "task_kind": experience.task_kind,
        "source": experience.source,
        "verified": experience.verified,
        "trusted": experience.trusted,
        "score": float(experience.score),
        "confidence": float(experience.confidence),
        "evidence": ",".join(experience.evidence),
        "uses": experience.uses,
        "successes": experience.successes,
        "problem_key": problem_key(experience),
        "problem_hash": problem_hash(experience.problem),
    }


def _from_row(document: str, metadata: dict[str, Any]) -> Experience:
    experience = Experience.model_validate_json(document)
    experience.uses = int(metadata.get("uses", 0))
    experience.successes = int(metadata.get("successes", 0))
    return experience


_HELD: dict[Path, tuple[int, int]] = {}  # directory -> (its lock file's descriptor, stores open on it here; -1: served)
_HELD_LOCK = threading.Lock()


def hold_directory(path: Path, *, serving: bool = False) -> None:
    """Take the embedded store in `path` for this process: for any number of stores in it, or for a server
    alone (`serving`); else say who has it and how to share it instead."""
    with _HELD_LOCK:
        if path in _HELD:
            fd, opened = _HELD[path]
            if serving or opened < 0:
                raise _in_use(path, "a Chroma server this process started" if opened < 0 else "this process")
            _HELD[path] = (fd, opened + 1)
            return
        fd = os.open(path / ".xolver.lock", os.O_RDWR | os.O_CREAT, 0o644)  # not inherited by programs run
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "another process"
            os.close(fd)
            raise _in_use(path, f"another process ({holder})") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()}".encode(), 0)
        _HELD[path] = (fd, -1 if serving else 1)


def _in_use(path: Path, holder: str) -> ConfigError:
    return ConfigError(
        f"the experience memory at {path} is open in {holder}; an embedded store belongs to one process. "
        f"To share it, serve it: chroma run --path {path} --port 8000, and give every process --chroma-url "
        "http://HOST:8000 (a Ray run starts that server itself)"
    )


def release_directory(path: Path) -> None:
    """One store (or the server) in `path` closed; the last one lets the directory go."""
    with _HELD_LOCK:
        fd, opened = _HELD.pop(path)
        if opened > 1:
            _HELD[path] = (fd, opened - 1)
        else:
            os.close(fd)


@dataclass(frozen=True)
class Filter:
    """Which records a search may return."""

    task_kind: TaskKind | None = None
    trusted_only: bool = True
    kinds: tuple[str, ...] = ()

    def where(self) -> dict[str, Any] | None:
        """The same test for Chroma's `where` (records and views carry these fields)."""
        conditions: list[dict[str, Any]] = []
        if self.task_kind is not None:
            conditions.append({"task_kind": self.task_kind})
        if self.trusted_only:
            conditions.append({"trusted": True})
        if self.kinds:
            conditions.append({"kind": {"$in": list(self.kinds)}})
        if not conditions:
            return None
        return conditions[0] if len(conditions) == 1 else {"$and": conditions}

    def passes(self, metadata: dict[str, Any]) -> bool:
        if self.task_kind is not None and metadata["task_kind"] != self.task_kind:
            return False
        if self.trusted_only and not metadata.get("trusted", metadata.get("verified")):
            return False
        return not self.kinds or metadata["kind"] in self.kinds


class _Index:
    """BM25, the graph and each record's problem key, rebuilt when another writer changed the collection."""

    def __init__(self, views: Sequence[ViewName]) -> None:
        self.views = tuple(views)
        self.bm25 = BM25Index()
        self.graph = ExperienceGraph()
        self.position: dict[str, int] = {}
        self.metadata: list[dict[str, Any]] = []
        self.by_key: dict[str, list[str]] = {}
        self._arrays: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None

    def add(self, ids: Sequence[str], documents: Sequence[str], metadatas: Sequence[dict[str, Any]]) -> None:
        records = [Experience.model_validate_json(d) for d in documents]
        self.bm25.add(ids, [lexical_text(r, self.views) for r in records])
        for id_, record, metadata in zip(ids, records, metadatas, strict=True):
            self.graph.add(id_, record.links)
            self.position[id_] = len(self.metadata)
            self.metadata.append(metadata)
            self.by_key.setdefault(problem_key(record), []).append(id_)
        self._arrays = None

    def mask(self, where: Filter) -> np.ndarray:
        if self._arrays is None:
            self._arrays = (
                np.asarray([m["kind"] for m in self.metadata]),
                np.asarray([m["task_kind"] for m in self.metadata]),
                np.asarray([bool(m.get("trusted", m.get("verified"))) for m in self.metadata], dtype=bool),
            )
        kind, task, trusted = self._arrays
        mask = np.ones(len(kind), dtype=bool)
        if where.task_kind is not None:
            mask &= task == where.task_kind
        if where.trusted_only:
            mask &= trusted
        if where.kinds:
            mask &= np.isin(kind, list(where.kinds))
        return mask

    def related(self, id_: str, key: str, where: Filter) -> list[str]:
        """Other records of the same problem, and those the record links to, that the filter allows."""
        found = [i for i in self.by_key.get(key, []) if i != id_] + self.graph.neighbours([id_])
        return [i for i in dict.fromkeys(found) if i in self.position and where.passes(self.metadata[self.position[i]])]


@dataclass
class _Candidate:
    id: str
    score: float
    similarity: float
    metadata: dict[str, Any]
    problem_vector: np.ndarray


class ChromaExperienceStore:
    """Experience memory over a Chroma collection. All methods are async; Chroma runs in worker threads."""

    def __init__(
        self,
        client: Any,
        embedder: Embedder,
        *,
        collection: str = COLLECTION,
        directory: Path | None = None,
        retrieval: RetrievalMode = "hybrid",
        views: Sequence[ViewName] = DEFAULT_VIEWS,
        min_similarity: float = MIN_SIMILARITY,
        relative_cut: float = RELATIVE_CUT,
        confidence_prior: float = CONFIDENCE_PRIOR,
        location: str = "",
    ) -> None:
        self.client = client
        self.embedder = embedder
        self.collection = client.get_or_create_collection(
            collection, embedding_function=None, configuration={"hnsw": {"space": "cosine"}}
        )
        self.views = tuple(views)
        self._views_name = f"{collection}-views" if collection != COLLECTION else VIEWS_COLLECTION
        self._views_are_new = self._views_name not in {c if isinstance(c, str) else c.name
                                                       for c in client.list_collections()}  # fmt: skip
        self.view_collection = self._open_views()
        self.retrieval = retrieval
        self.min_similarity = min_similarity
        self.relative_cut = relative_cut
        self.confidence_prior = confidence_prior
        self.location = location
        # the embedded store's directory, which this process holds until the store is closed or collected
        self._release = None if directory is None else weakref.finalize(self, release_directory, directory)
        self._state = threading.RLock()
        self._index: _Index | None = None
        self._counts: tuple[float, int, int] | None = None  # (when, records, views): count() costs ~15 ms at 100k
        self._views_checked = False

    def _open_views(self) -> Any:
        return self.client.get_or_create_collection(
            self._views_name, embedding_function=None, metadata={"views": ",".join(self.views)},
            configuration={"hnsw": {"space": "cosine"}},
        )  # fmt: skip

    @classmethod
    def open(cls, path: str | Path, embedder: Embedder, **kwargs: Any) -> ChromaExperienceStore:
        """The embedded store in directory `path` (created if missing)."""
        import chromadb
        from chromadb.config import Settings

        path = Path(path).expanduser().resolve()
        path.mkdir(parents=True, exist_ok=True)
        hold_directory(path)
        try:
            client = chromadb.PersistentClient(path=str(path), settings=Settings(anonymized_telemetry=False))
            return cls(client, embedder, directory=path, location=str(path), **kwargs)
        except BaseException:
            release_directory(path)
            raise

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
        """One writer at a time across this process's threads (an embedded store has no other process)."""
        with self._state:
            yield

    def _embed(self, experiences: Sequence[Experience]) -> tuple[np.ndarray, list[tuple[str, dict, np.ndarray]]]:
        """Each record's problem vector, and one (id, metadata, vector) row per view; one embedder call."""
        texts: dict[str, int] = {}
        for e in experiences:
            texts.setdefault(e.problem.strip() or e.problem, len(texts))
            for _, text in view_texts(e, self.views):
                texts.setdefault(text, len(texts))
        vectors = self.embedder.embed(list(texts))
        problems = np.stack([vectors[texts[e.problem.strip() or e.problem]] for e in experiences])
        rows = [
            (f"{e.id}:{view}", {"record": e.id, "view": view, "kind": e.kind, "task_kind": e.task_kind,
                                "trusted": e.trusted}, vectors[texts[text]])
            for e in experiences
            for view, text in view_texts(e, self.views)
        ]  # fmt: skip
        return problems, rows

    async def add(self, experiences: Sequence[Experience]) -> list[str]:
        experiences = list({e.id: e for e in experiences}.values())  # one record per id: the last wins
        if not experiences:
            return []
        await self._check_views()
        problems, rows = await asyncio.to_thread(self._embed, experiences)
        await asyncio.to_thread(self._add_sync, experiences, problems, rows)
        return [e.id for e in experiences]

    def _add_sync(
        self, experiences: list[Experience], problems: np.ndarray, rows: list[tuple[str, dict, np.ndarray]]
    ) -> None:
        ids = [e.id for e in experiences]
        documents = [_document(e) for e in experiences]
        metadatas = [_to_metadata(e) for e in experiences]
        with self._writing():
            self._counts = None
            known = set(self._index.position) if self._index is not None else set()
            self.view_collection.delete(where={"record": {"$in": ids}})  # an update may have fewer views
            for start in range(0, len(ids), _PAGE):
                end = start + _PAGE
                self.collection.upsert(
                    ids=ids[start:end], embeddings=problems[start:end], documents=documents[start:end],
                    metadatas=metadatas[start:end],
                )  # fmt: skip
            for start in range(0, len(rows), _PAGE):
                page = rows[start : start + _PAGE]
                self.view_collection.upsert(
                    ids=[r[0] for r in page], metadatas=[r[1] for r in page], embeddings=np.stack([r[2] for r in page])
                )
            if self._index is not None:
                if any(i in known for i in ids):
                    self._index = None  # an update: rebuild on the next search
                else:
                    self._index.add(ids, documents, metadatas)

    async def _check_views(self) -> None:
        """Embed the views again when the store was built with other views (or before views existed)."""
        if not self._views_checked:
            await asyncio.to_thread(self._check_views_sync)
            self._views_checked = True

    def _check_views_sync(self) -> None:
        """Only a store built before views existed (its view collection is new here while it holds records),
        or with other views, is embedded again; into the same collection, never deleted: other processes
        sharing a Chroma server hold it open."""
        with self._writing():
            built = (self.view_collection.metadata or {}).get("views")
            stale = built != ",".join(self.views) or (self._views_are_new and self.collection.count() > 0)
            if not stale:
                return
            for got in self.iter_all("documents"):
                experiences = [Experience.model_validate_json(d) for d in got["documents"]]
                _, rows = self._embed(experiences)
                for start in range(0, len(rows), _PAGE):
                    page = rows[start : start + _PAGE]
                    self.view_collection.upsert(
                        ids=[r[0] for r in page], metadatas=[r[1] for r in page],
                        embeddings=np.stack([r[2] for r in page]),
                    )  # fmt: skip
            self.view_collection.modify(metadata={"views": ",".join(self.views)})
            self._views_are_new = False
            self._counts = None

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
            self._counts = None
            for start in range(0, len(ids), _PAGE):
                page = ids[start : start + _PAGE]
                self.collection.delete(ids=page)
                self.view_collection.delete(where={"record": {"$in": page}})
            self._index = None

    async def aclose(self) -> None:
        """Drop the in-process index and let go of the embedded store's directory; Chroma's client keeps no
        connection of its own to close."""
        with self._state:
            self._index = None
        if self._release is not None:
            self._release()  # once: a finalizer runs at most one time

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
        trusted = [bool(m.get("trusted", m.get("verified"))) for m in metadatas]
        return {
            "count": len(metadatas),
            "kinds": dict(Counter(m["kind"] for m in metadatas)),
            "sources": dict(Counter(m["source"] for m in metadatas)),
            "verified": sum(bool(m["verified"]) for m in metadatas),
            "trusted": sum(trusted),
            "untrusted": len(trusted) - sum(trusted),
            "trusted_by_source": dict(Counter(m["source"] for m, t in zip(metadatas, trusted, strict=True) if t)),
            "mean_confidence": round(float(np.mean([m.get("confidence", 0.5) for m in metadatas])), 3)
            if metadatas
            else None,
            "location": self.location,
            "embedder": self.embedder.name,
            "views": list(self.views),
        }

    def _totals(self) -> tuple[int, int]:
        """Record and view counts, re-read at most once a second (other writers may share a server)."""
        now = time.monotonic()
        if self._counts is None or now - self._counts[0] > 1.0:
            self._counts = (now, int(self.collection.count()), int(self.view_collection.count()))
        return self._counts[1], self._counts[2]

    def _ensure_index(self) -> _Index:
        with self._state:
            if self._index is not None and len(self._index.bm25) == self._totals()[0]:
                return self._index
            index = _Index(self.views)
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
        trusted_only: bool = True,
        exclude: str | None = None,
        kinds: Sequence[str] | None = None,
        attach: bool = True,
    ) -> list[ExperienceHit]:
        if k <= 0 or not query.strip():
            return []
        await self._check_views()
        vector, excluded_vector = await asyncio.to_thread(self._embed_search, query, exclude)
        where = Filter(task_kind, trusted_only, tuple(kinds or ()))
        excluded = None if exclude is None else (exclude, excluded_vector)
        return await asyncio.to_thread(self._search_sync, query, vector, k, where, excluded, attach)

    def _embed_search(self, query: str, exclude: str | None) -> tuple[np.ndarray, np.ndarray | None]:
        """The query as a query; the problem to keep out as a stored text, since it is compared with the
        stored problems' vectors."""
        vector = self.embedder.embed_query([query])[0]
        return vector, None if exclude is None else self.embedder.embed([exclude])[0]

    def _search_sync(
        self,
        query: str,
        vector: np.ndarray,
        k: int,
        where: Filter,
        exclude: tuple[str, np.ndarray] | None,
        attach: bool,
    ) -> list[ExperienceHit]:
        records, views = self._totals()
        if records == 0:
            return []
        pool = min(records, max(8 * k, 30))
        found: list[str] = []
        if self.retrieval in ("hybrid", "dense"):
            found += self._dense(vector, pool, views, where)
        lexical: dict[str, float] = {}
        with self._state:  # a writer adds to the index in place: read it whole, between two writes
            index = self._ensure_index()
            if self.retrieval in ("hybrid", "bm25"):
                lexical = dict(index.bm25.search(query, pool, index.mask(where)))
        found += lexical
        candidates = self._cut(self._candidates(list(dict.fromkeys(found)), lexical, vector), exclude)
        slots: list[_Candidate] = []
        for candidate in candidates:
            key = candidate.metadata["problem_key"]
            if any(s.metadata["problem_key"] == key for s in slots):
                continue
            if any(float(s.problem_vector @ candidate.problem_vector) >= DUPLICATE for s in slots):
                continue
            slots.append(candidate)
            if len(slots) == k:
                break
        with self._state:
            related = {
                s.id: index.related(s.id, s.metadata["problem_key"], where)[:MAX_RELATED] if attach else []
                for s in slots
            }
        got = self._records([s.id for s in slots] + [i for ids in related.values() for i in ids])
        return [
            ExperienceHit(
                experience=got[s.id], score=s.score, similarity=s.similarity,
                related=sorted((got[i] for i in related[s.id] if i in got), key=lambda e: _RELATED_ORDER[e.kind]),
            )
            for s in slots
            if s.id in got
        ]  # fmt: skip

    def _dense(self, vector: np.ndarray, pool: int, views: int, where: Filter) -> list[str]:
        """The `pool` records with a view nearest the query that pass the filters, nearest first.

        Chroma's `where` scans metadata (40 ms at 10k records here), so the nearest views are fetched
        unfiltered and filtered here; only when that leaves too few records is the filter handed to Chroma.
        """
        fetch = min(views, 4 * pool * len(self.views))
        found = self._nearest(vector, fetch, where, None)
        condition = where.where()
        if len(found) < pool and fetch < views and condition is not None:
            found = self._nearest(vector, pool * len(self.views), where, condition)
        return found[:pool]

    def _nearest(self, vector: np.ndarray, n: int, where: Filter, condition: dict[str, Any] | None) -> list[str]:
        got = self.view_collection.query(query_embeddings=[vector], n_results=n, where=condition, include=["metadatas"])
        return list(dict.fromkeys(m["record"] for m in got["metadatas"][0] if where.passes(m)))

    def _candidates(self, ids: list[str], lexical: dict[str, float], vector: np.ndarray) -> list[_Candidate]:
        """Each record found, ranked by its mean view similarity plus a share of its relative BM25 score,
        nudged by its confidence."""
        if not ids:
            return []
        got = self.collection.get(ids=ids, include=["metadatas", "embeddings"])
        views = self.view_collection.get(ids=[f"{i}:{v}" for i in ids for v in self.views], include=["embeddings"])
        per_record: dict[str, list[float]] = {}
        for view_id, embedding in zip(views["ids"], views["embeddings"], strict=True):
            per_record.setdefault(view_id.rsplit(":", 1)[0], []).append(float(np.asarray(embedding) @ vector))
        top_lexical = max(lexical.values(), default=0.0) or 1.0
        candidates = []
        for i, metadata, embedding in zip(got["ids"], got["metadatas"], got["embeddings"], strict=True):
            similarity = float(np.mean(per_record[i])) if i in per_record else -1.0
            score = similarity if self.retrieval != "bm25" else 0.0
            score += LEXICAL_WEIGHT * lexical.get(i, 0.0) / top_lexical
            score += self.confidence_prior * (float(metadata.get("confidence", 0.5)) - 0.5)
            candidates.append(_Candidate(i, score, similarity, metadata, np.asarray(embedding, dtype=np.float32)))
        return sorted(candidates, key=lambda c: (-c.score, c.id))

    def _cut(self, candidates: list[_Candidate], exclude: tuple[str, np.ndarray] | None) -> list[_Candidate]:
        """Drop the problem being solved (every record of it), then what is below the floor or too far
        below the best hit left."""
        if exclude is not None:
            text, vector = exclude
            banned = {c.metadata["problem_key"] for c in candidates if self._is_problem(c, text, vector)}
            candidates = [c for c in candidates if c.metadata["problem_key"] not in banned]
        kept = [c for c in candidates if c.similarity >= self.min_similarity]
        if not kept:
            return []
        top = max(c.similarity for c in kept)
        return [c for c in kept if c.similarity >= top - self.relative_cut]

    def _is_problem(self, candidate: _Candidate, text: str, vector: np.ndarray) -> bool:
        if candidate.metadata.get("problem_hash") == problem_hash(text):
            return True
        if float(candidate.problem_vector @ vector) < 0.9:
            return False  # a near-exact copy embeds almost the same
        record = self._records([candidate.id]).get(candidate.id)
        return record is not None and same_problem(record.problem, text)

    async def prune(
        self,
        *,
        min_uses: int = 3,
        duplicate_similarity: float = 0.98,
        min_confidence: float = 0.0,
        dry_run: bool = False,
    ) -> list[str]:
        """Remove experiences that never helped after `min_uses` uses, the team's own records whose evidence
        was weaker than `min_confidence` (what a weaker verification rule let in), and near-duplicates of a
        better one. Seed and imported records are curated and kept whatever their confidence.

        Of two records of one kind whose problems are near-duplicates, the one with more successes (then
        higher score) stays.
        """

        def plan() -> list[str]:
            rows: list[tuple[str, dict[str, Any], np.ndarray]] = []
            for got in self.iter_all("metadatas", "embeddings"):
                rows += [
                    (i, m, np.asarray(e, dtype=np.float32))
                    for i, m, e in zip(got["ids"], got["metadatas"], got["embeddings"], strict=True)
                ]
            doomed = {i for i, m, _ in rows if int(m.get("uses", 0)) >= min_uses and int(m.get("successes", 0)) == 0}
            weak = {i for i, m, _ in rows if m["source"] == "self" and float(m.get("confidence", 0.5)) < min_confidence}
            doomed |= weak
            rows = [r for r in rows if r[0] not in doomed]
            rows.sort(key=lambda r: (int(r[1].get("successes", 0)), float(r[1].get("score", 0.0))), reverse=True)
            for kind in {m["kind"] for _, m, _ in rows}:
                group = [r for r in rows if r[1]["kind"] == kind]
                keep = set(
                    drop_near_duplicates([r[0] for r in group], np.stack([r[2] for r in group]), duplicate_similarity)
                )
                doomed |= {r[0] for r in group if r[0] not in keep}
            return sorted(doomed)

        doomed = await asyncio.to_thread(plan)
        if not dry_run:
            await self.delete(doomed)
        return doomed
