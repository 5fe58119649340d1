"""Running untrusted code: the `Sandbox` seam, Docker and process backends, and choosing between them."""

from xolver.sandbox.base import ExecResult, Limits, Sandbox
from xolver.sandbox.docker import DockerSandbox
from xolver.sandbox.process import ProcessSandbox
from xolver.sandbox.select import doctor, open_sandbox

__all__ = ["DockerSandbox", "ExecResult", "Limits", "ProcessSandbox", "Sandbox", "doctor", "open_sandbox"]
