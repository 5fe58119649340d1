"""Tools the agents call, each over a `Sandbox`: run Python, run tests, check an answer with sympy."""

from xolver.tools.python import run_python
from xolver.tools.sympy_check import sympy_equal
from xolver.tools.tests import TestOutcome, TestReport, outputs_match, run_tests

__all__ = ["TestOutcome", "TestReport", "outputs_match", "run_python", "run_tests", "sympy_equal"]
