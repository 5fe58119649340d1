"""Running untrusted code: the `Sandbox` seam and its backends."""

from xolver.sandbox.base import ExecResult, Limits, Sandbox

__all__ = ["ExecResult", "Limits", "Sandbox"]
