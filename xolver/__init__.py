"""Xolver: multi-agent reasoning with holistic experience learning, run like an olympiad team."""

from xolver.api import Xolver, solve, solve_many
from xolver.config import XolverConfig, load_config
from xolver.errors import XolverError
from xolver.llm.testing import ScriptedModel
from xolver.memory.base import ExperienceStore
from xolver.memory.inmemory import InMemoryExperienceStore
from xolver.schema import (
    Candidate,
    Experience,
    Judgement,
    Problem,
    Role,
    SolveResult,
    TestCase,
    TraceEvent,
    Usage,
)

__all__ = [
    "Candidate",
    "Experience",
    "ExperienceStore",
    "InMemoryExperienceStore",
    "Judgement",
    "Problem",
    "Role",
    "ScriptedModel",
    "SolveResult",
    "TestCase",
    "TraceEvent",
    "Usage",
    "Xolver",
    "XolverConfig",
    "XolverError",
    "load_config",
    "solve",
    "solve_many",
]
