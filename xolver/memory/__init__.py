"""Experience memory: the `ExperienceStore` seam and its implementations."""

from xolver.memory.base import ExperienceHit, ExperienceStore
from xolver.memory.chroma import ChromaExperienceStore
from xolver.memory.embeddings import Embedder, HashingEmbedder, SentenceTransformerEmbedder
from xolver.memory.inmemory import InMemoryExperienceStore
from xolver.schema import Settings

__all__ = [
    "ChromaExperienceStore",
    "Embedder",
    "ExperienceHit",
    "ExperienceStore",
    "HashingEmbedder",
    "InMemoryExperienceStore",
    "SentenceTransformerEmbedder",
    "open_store",
]


def open_store(config: Settings) -> ChromaExperienceStore:
    """The configured experience store: a Chroma server when `chroma_url` is set, else the embedded one."""
    embedder = SentenceTransformerEmbedder(config.embedding_model)
    mode = config.retrieval if config.retrieval != "none" else "hybrid"
    if config.chroma_url:
        return ChromaExperienceStore.connect(
            config.chroma_url, embedder, retrieval=mode, min_similarity=config.min_similarity
        )
    return ChromaExperienceStore.open(
        config.memory_path(), embedder, retrieval=mode, min_similarity=config.min_similarity
    )
