"""Batch runs: problem files, grading, and a resumable runner that writes one JSON line per problem."""

from xolver.bench.datasets import load_problems
from xolver.bench.runner import BenchRecord, run_benchmark

__all__ = ["BenchRecord", "load_problems", "run_benchmark"]
