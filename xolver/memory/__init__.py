"""Experience memory: the `ExperienceStore` seam and its implementations."""

from xolver.memory.base import ExperienceHit, ExperienceStore
from xolver.memory.inmemory import InMemoryExperienceStore

__all__ = ["ExperienceHit", "ExperienceStore", "InMemoryExperienceStore"]
