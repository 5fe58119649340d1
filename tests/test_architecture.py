"""The layers of ARCHITECTURE.md hold: each layer imports only the layers below it."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path


def test_import_layers_are_kept() -> None:
    lint = shutil.which("lint-imports")
    assert lint, "import-linter is a dev dependency"
    done = subprocess.run([lint], capture_output=True, text=True, cwd=Path(__file__).parents[1])
    assert done.returncode == 0, done.stdout[-2000:]
