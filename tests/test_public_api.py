"""The public surface is `xolver.__all__`; this pins it so changes to it are deliberate."""

from __future__ import annotations

import xolver


def test_exported_members() -> None:
    assert sorted(xolver.__all__) == [
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
    for name in xolver.__all__:
        assert getattr(xolver, name) is not None


def test_importing_xolver_does_not_import_litellm() -> None:
    import subprocess
    import sys

    code = "import sys, xolver; print('litellm' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip() == "False"


def test_every_package_is_installed() -> None:
    """pyproject.toml lists the packages (the seed banks are mapped in from memory/): a new one must be listed."""
    import tomllib
    from pathlib import Path

    root = Path(__file__).parents[1]
    listed = set(tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {".".join(p.parent.relative_to(root).parts) for p in (root / "xolver").rglob("__init__.py")}
    assert found | {"xolver.banks"} == listed
