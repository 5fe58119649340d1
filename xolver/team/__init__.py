"""The team: planner, solvers, judge, verifier, and the loop that runs them."""

from xolver.team.loop import EventSink, XolverLoop

__all__ = ["EventSink", "XolverLoop"]
